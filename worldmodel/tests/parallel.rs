//! Data-parallel training: N workers compute the one-worker losses and gradients (SIGReg,
//! VICReg and batch norm on the global batch), follow its loss curve, are deterministic for a
//! fixed N, and resume with another N; seeded models built on several threads at once (as
//! tests and runs in one process do) are the same as one built alone.

mod common;

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use common::{options, run, small_config, write_toy_dataset};
use prefrontal_worldmodel::config::AntiCollapse;
use prefrontal_worldmodel::train::StepLosses;
use prefrontal_worldmodel::{
    EpisodeSet, Learner, RonConfig, WorldModel, WorldModelConfig, WorldModelError,
};

type B = Autodiff<Flex>;

/// Every parameter's gradient, flattened, in visiting order (`None` where it has none).
fn gradient_values(learner: &Learner<B>, gradients: &GradientsParams) -> Vec<Option<Vec<f32>>> {
    struct Collect<'a>(&'a GradientsParams, Vec<Option<Vec<f32>>>);
    impl ModuleVisitor<B> for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let values = self
                .0
                .get::<Flex, D>(param.id)
                .map(|g| g.into_data().to_vec::<f32>().unwrap());
            self.1.push(values);
        }
    }
    let mut collect = Collect(gradients, Vec::new());
    learner.model.visit(&mut collect);
    collect.1
}

fn loss_terms(losses: &StepLosses) -> [f32; 7] {
    [
        losses.total,
        losses.prediction,
        losses.no_change,
        losses.rollout,
        losses.sigreg,
        losses.variance,
        losses.covariance,
    ]
}

/// The Euclidean norm of `values`.
fn norm(values: &[f32]) -> f32 {
    values.iter().map(|v| v * v).sum::<f32>().sqrt()
}

/// The scale a parameter's gradient is compared at: its norm, or the model's `largest`
/// gradient norm where it is under 1e-3 of that. (The biases in front of a batch norm have a
/// zero gradient in exact arithmetic, since the norm removes a constant shift; theirs is
/// rounding noise.)
fn own_scale(gradient: &[f32], largest: f32) -> f32 {
    let own = norm(gradient);
    if own < 1e-3 * largest { largest } else { own }
}

/// Whether `b` equals `a` to `relative` of `scale` in the Euclidean norm.
fn close(a: &[f32], b: &[f32], relative: f32, scale: f32) -> bool {
    let difference: Vec<f32> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    a.len() == b.len() && norm(&difference) <= relative * scale
}

#[test]
fn workers_compute_the_one_worker_loss_and_every_gradient() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 6, 30, 3);
    let base = small_config(10);
    let episodes = EpisodeSet::load(&data, 0.2, 0).unwrap();
    let (frames, frameskip) = (base.window_frames(), base.model.frameskip);
    let windows = episodes.windows(episodes.train_episodes(), frames, frameskip);
    let device = Default::default();
    // 16 windows: 8 + 8 for two workers, 6 + 5 + 5 for three.
    let batch = episodes.batch::<B>(&windows[..16], frames, frameskip, &device);
    let objectives = [
        base.objective.anti_collapse.clone(),
        AntiCollapse::Vicreg {
            variance: 1.0,
            covariance: 0.04,
        },
        AntiCollapse::Ema { momentum: 0.99 },
    ];
    assert!(matches!(objectives[0], AntiCollapse::Sigreg { .. }));
    for anti_collapse in objectives {
        for use_proprio in [false, true] {
            let mut config = base.clone();
            config.objective.anti_collapse = anti_collapse.clone();
            config.model.use_proprio = use_proprio;
            let gradients = |workers: usize| {
                let mut config: WorldModelConfig = config.clone();
                config.training.workers = workers;
                let learner = Learner::<B>::new(&config, episodes.spec(), &device).unwrap();
                let (gradients, losses) = learner.gradients(&batch, 7).unwrap();
                (gradient_values(&learner, &gradients), losses)
            };
            let (one, one_losses) = gradients(1);
            let largest = one.iter().flatten().map(|g| norm(g)).fold(0.0f32, f32::max);
            let trained = one.iter().filter(|g| g.is_some()).count();
            assert!(trained > 20, "{trained} parameters have gradients");
            // Three uneven shares round a little more: the last convolution's bias, a sum over
            // every position of every frame, differs by up to 1.2e-5 of its norm there.
            for (workers, tolerance) in [(2, 1e-5), (3, 2e-5)] {
                let what = format!("{anti_collapse:?}, proprio {use_proprio}, {workers} workers");
                let (many, many_losses) = gradients(workers);
                assert!(
                    close(
                        &loss_terms(&one_losses),
                        &loss_terms(&many_losses),
                        1e-5,
                        norm(&loss_terms(&one_losses))
                    ),
                    "{what}: losses {one_losses:?} vs {many_losses:?}"
                );
                for (index, (a, b)) in one.iter().zip(&many).enumerate() {
                    match (a, b) {
                        (Some(a), Some(b)) => assert!(
                            close(a, b, tolerance, own_scale(a, largest)),
                            "{what}: parameter {index}'s gradient differs by {:e} of its norm: {:?}… vs {:?}…",
                            norm(&a.iter().zip(b).map(|(x, y)| x - y).collect::<Vec<_>>())
                                / own_scale(a, largest),
                            &a[..a.len().min(4)],
                            &b[..b.len().min(4)]
                        ),
                        (None, None) => {}
                        _ => panic!(
                            "{what}: parameter {index} has a gradient with one worker count only"
                        ),
                    }
                }
            }
        }
    }
}

#[test]
fn two_workers_follow_the_one_worker_curve_deterministically_and_resume_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 8, 40, 5);
    let curve = |name: &str, workers: usize| {
        let mut config = small_config(24);
        config.training.workers = workers;
        let summary = run(&options(&data, &dir.path().join(name), config)).unwrap();
        summary
            .history
            .iter()
            .map(|(_, losses, _)| losses.total)
            .collect::<Vec<f32>>()
    };
    let one = curve("one", 1);
    let two = curve("two", 2);
    assert_eq!((one.len(), two.len()), (24, 24));
    for (step, (a, b)) in one.iter().zip(&two).enumerate() {
        assert!(
            (a - b).abs() <= 1e-3 * a.abs(),
            "step {step}: one worker {a}, two {b}"
        );
    }
    assert!(
        two[23] < two[0],
        "two workers learn: {} → {}",
        two[0],
        two[23]
    );
    assert_eq!(curve("two-again", 2), two, "two workers repeat to the bit");

    // Stop a two-worker run half way, resume it with one: the same curve, and the resumed
    // run records the worker count it continued with.
    let out = dir.path().join("switch");
    let mut config = small_config(24);
    config.training.workers = 2;
    let mut first = options(&data, &out, config);
    first.stop_after = Some(12);
    let head = run(&first).unwrap();
    assert_eq!(head.step, 12);
    let mut rest = options(&data, &out, None);
    rest.resume = true;
    rest.workers = Some(1);
    let tail = run(&rest).unwrap();
    let switched: Vec<f32> = head
        .history
        .iter()
        .chain(&tail.history)
        .map(|(_, losses, _)| losses.total)
        .collect();
    assert_eq!(switched.len(), 24);
    assert_eq!(
        &switched[..12],
        &two[..12],
        "the first half is the two-worker run"
    );
    for (step, (a, b)) in one.iter().zip(&switched).enumerate().skip(12) {
        assert!(
            (a - b).abs() <= 1e-3 * a.abs(),
            "step {step}: one worker {a}, switched {b}"
        );
    }
    let saved = std::fs::read_to_string(out.join("config.ron")).unwrap();
    assert!(saved.contains("workers: 1"), "{saved}");
}

#[test]
fn worker_counts_a_batch_cannot_share_are_refused_from_options_and_configs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 4, 20, 1);
    for workers in [0, 17] {
        let mut asked = options(&data, &dir.path().join("run"), small_config(2));
        asked.workers = Some(workers);
        let error = run(&asked).unwrap_err();
        assert!(
            matches!(error, WorldModelError::Workers { .. }),
            "{workers}: {error}"
        );
        assert!(
            error
                .to_string()
                .contains(&format!(
                    "training.workers: {workers} workers: must be between 1 and training.batch_size (16)"
                )),
            "{error}"
        );
    }
    let file = dir.path().join("many.ron");
    let mut config = small_config(2);
    config.training.workers = 17;
    std::fs::write(&file, config.to_ron()).unwrap();
    let error = WorldModelConfig::load(&file).unwrap_err().to_string();
    assert!(
        error.contains(
            "training.workers: 17 workers: must be between 1 and training.batch_size (16)"
        ),
        "{error}"
    );
}

#[test]
fn seeded_models_built_on_many_threads_at_once_are_the_serial_one() {
    let config = small_config(1);
    let spec = common::spec();
    let device = Default::default();
    /// Every parameter's values in visiting order.
    struct Values(Vec<Vec<f32>>);
    impl ModuleVisitor<B> for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0
                .push(param.val().into_data().to_vec::<f32>().unwrap());
        }
    }
    let weights = || {
        let mut values = Values(Vec::new());
        WorldModel::<B>::seeded(&config.model, &spec, 3, &device).visit(&mut values);
        values.0
    };
    let serial = weights();
    std::thread::scope(|scope| {
        let builders: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| (0..10).all(|_| weights() == serial)))
            .collect();
        for builder in builders {
            assert!(
                builder.join().unwrap(),
                "a model built beside others has other weights"
            );
        }
    });
}
