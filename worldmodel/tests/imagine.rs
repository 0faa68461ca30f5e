//! `WorldModel::imagine` (the planners' rollout: shared past computed once, candidates split
//! over the cores) gives what `WorldModel::rollout` gives on the expanded inputs.

mod common;

use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::tensor::{Distribution, Tensor};
use common::{SIZE, spec};
use prefrontal_worldmodel::data::{Batch, Frames};
use prefrontal_worldmodel::{Learner, WorldModel, WorldModelConfig};

type B = Flex;

/// The default model after a few large training steps on noise: every weight, the
/// predictor's zero-initialised output head included, has moved.
fn trained_model() -> (WorldModel<B>, WorldModelConfig) {
    let mut config = WorldModelConfig::default();
    config.model.encoder = prefrontal_worldmodel::config::EncoderConfig::Cnn {
        channels: vec![8, 8],
    };
    config.training.batch_size = 4;
    let device = Default::default();
    let spec = spec();
    let frames = config.window_frames();
    let width = spec.action_dim * config.model.frameskip;
    let uniform = Distribution::Uniform(-1.0, 1.0);
    let batch = Batch::<Autodiff<B>> {
        observed: Frames {
            frames: Tensor::random([4 * frames, 3, SIZE, SIZE], uniform, &device),
            proprio: Tensor::random([4 * frames, spec.proprio_dim], uniform, &device),
            state: Vec::new(),
        },
        actions: Tensor::random([4, frames - 1, width], uniform, &device),
        windows: 4,
        frames_per_window: frames,
    };
    let mut learner = Learner::<Autodiff<B>>::new(&config, &spec, &device).unwrap();
    for step in 0..3 {
        learner.step(&batch, step, 1e-2).unwrap();
    }
    (learner.model.valid(), config)
}

/// `rollout` on the past repeated for every candidate.
fn expanded_rollout(
    model: &WorldModel<B>,
    history: &Tensor<B, 3>,
    past: Option<&Tensor<B, 3>>,
    candidates: &Tensor<B, 3>,
) -> Tensor<B, 3> {
    let [n, _, m] = candidates.dims();
    let [_, h, d] = history.dims();
    let actions = match past {
        Some(past) => Tensor::cat(
            vec![past.clone().expand([n, h - 1, m]), candidates.clone()],
            1,
        ),
        None => candidates.clone(),
    };
    model.rollout(history.clone().expand([n, h, d]), actions)
}

fn max_difference(a: Tensor<B, 3>, b: Tensor<B, 3>) -> f32 {
    (a - b).abs().max().into_scalar()
}

#[test]
fn imagining_candidates_equals_rolling_out_each() {
    let (model, config) = trained_model();
    let device = Default::default();
    let d = config.model.latent_dim;
    let m = 2 * config.model.frameskip;
    let uniform = Distribution::Uniform(-1.0, 1.0);
    // Observed latents: one, as many as the predictor's context, and more than it.
    for observed in [1, config.model.history, config.model.history + 1] {
        // 70 candidates are split over the cores on a multi-core machine, 5 are not.
        for (candidates, steps) in [(70, 5), (5, 2)] {
            let history = Tensor::<B, 3>::random([1, observed, d], uniform, &device);
            let past = (observed > 1)
                .then(|| Tensor::<B, 3>::random([1, observed - 1, m], uniform, &device));
            let sequences = Tensor::<B, 3>::random([candidates, steps, m], uniform, &device);
            let reference = expanded_rollout(&model, &history, past.as_ref(), &sequences);
            let imagined = model.imagine(history.clone(), past.clone(), sequences.clone());
            assert_eq!(imagined.dims(), [candidates, steps, d]);
            let error = max_difference(imagined, reference.clone());
            assert!(
                error < 1e-4,
                "{observed} observed, {candidates} × {steps}: imagine differs by {error}"
            );
            // The comparison means something: the prediction moves away from the last latent.
            let last = history
                .narrow(1, observed - 1, 1)
                .expand([candidates, steps, d]);
            let moved = max_difference(reference, last);
            assert!(
                moved > 1e-2,
                "the trained predictor predicts no change ({moved})"
            );
        }
    }
}

#[test]
fn a_candidate_imagines_the_same_whatever_else_is_in_the_batch() {
    let (model, config) = trained_model();
    let device = Default::default();
    let (d, h) = (config.model.latent_dim, config.model.history);
    let m = 2 * config.model.frameskip;
    let uniform = Distribution::Uniform(-1.0, 1.0);
    let history = Tensor::<B, 3>::random([1, h, d], uniform, &device);
    let past = Some(Tensor::<B, 3>::random([1, h - 1, m], uniform, &device));
    // 70 candidates are split over the cores where there are several; 3 never are.
    let all = Tensor::<B, 3>::random([70, 5, m], uniform, &device);
    let together = model.imagine(history.clone(), past.clone(), all.clone());
    for start in [0, 40, 67] {
        let alone = model.imagine(
            history.clone(),
            past.clone(),
            all.clone().narrow(0, start, 3),
        );
        assert_eq!(
            together.clone().narrow(0, start, 3).into_data(),
            alone.into_data(),
            "candidates {start}..{} differ with the batch around them",
            start + 3
        );
    }
}
