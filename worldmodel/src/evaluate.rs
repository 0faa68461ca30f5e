//! Validation: prediction against the "no change" baseline, open-loop rollout error,
//! latent spread and rank, and the linear probe to privileged state.

use burn::tensor::ElementConversion;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::config::WorldModelConfig;
use crate::data::{EpisodeSet, EpisodeStep};
use crate::metrics::{Latents, LinearProbe, ProbeScore, probe_targets};
use crate::model::WorldModel;
use crate::objective::distance;

/// Horizons at which open-loop rollout error is reported.
pub const ROLLOUT_HORIZONS: [usize; 3] = [1, 5, 10];

/// Most windows or frames one metric looks at (evenly spread over the data).
const MAX_WINDOWS: usize = 256;
const MAX_PROBE_TRAIN_FRAMES: usize = 2048;
const MAX_PROBE_VALIDATION_FRAMES: usize = 1024;
/// Frames encoded per forward pass.
const ENCODE_CHUNK: usize = 256;

/// One validation pass.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// Optimiser steps done when it ran.
    pub step: u64,
    /// Teacher-forced one-step prediction loss on validation windows.
    pub loss_pred: f64,
    /// The same loss for predicting "no change" (`ẑ_{t+1} = z_t`).
    pub loss_no_change: f64,
    /// Open-loop rollout error (the objective's distance) at each reported horizon that fits the episodes.
    pub rollout_error: Vec<(usize, f64)>,
    /// Mean per-dimension standard deviation of validation latents.
    pub latent_std: f64,
    /// Effective rank of validation latents.
    pub effective_rank: f64,
    /// Ridge probe from latents to privileged positions, R² on validation episodes (none
    /// when the latents are not finite).
    pub probe: ProbeScore,
    /// That probe, fitted on training episodes; `None` when the latents are not finite.
    pub probe_fit: Option<LinearProbe>,
}

/// At most `count` items of `items`, evenly spread.
fn spread<T: Copy>(items: &[T], count: usize) -> Vec<T> {
    if items.len() <= count {
        return items.to_vec();
    }
    (0..count).map(|i| items[i * items.len() / count]).collect()
}

/// Every frame of the given episodes.
fn all_frames(data: &EpisodeSet, episodes: &[usize]) -> Vec<EpisodeStep> {
    data.windows(episodes, 1, 1)
}

/// Encodes frames in chunks: latents `[N, D]` on the CPU and the frames' privileged state.
pub fn encode_frames<B: Backend>(
    model: &WorldModel<B>,
    data: &EpisodeSet,
    picks: &[EpisodeStep],
    device: &B::Device,
) -> (Latents, Vec<f32>) {
    let mut values = Vec::new();
    let mut state = Vec::new();
    let mut dim = 0;
    for chunk in picks.chunks(ENCODE_CHUNK) {
        let frames = data.frames::<B>(chunk, device);
        let z = model.encode(frames.frames, frames.proprio); // [n, D]
        dim = z.dims()[1];
        values.extend(z.into_data().to_vec::<f32>().expect("latents are f32"));
        state.extend(frames.state);
    }
    (Latents { values, dim }, state)
}

/// Encodes a batch of windows: latents `[W, F, D]` and actions `[W, F-1, A]`.
fn encode_windows<B: Backend>(
    model: &WorldModel<B>,
    data: &EpisodeSet,
    starts: &[EpisodeStep],
    frames: usize,
    config: &WorldModelConfig,
    device: &B::Device,
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let batch = data.batch::<B>(starts, frames, config.model.frameskip, device);
    let z = model.encode(batch.observed.frames, batch.observed.proprio); // [W*F, D]
    let dim = z.dims()[1];
    (z.reshape([starts.len(), frames, dim]), batch.actions)
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_scalar().elem::<f32>() as f64
}

/// Runs every validation metric of `model` on the validation episodes of `data`.
pub fn evaluate<B: Backend>(
    model: &WorldModel<B>,
    data: &EpisodeSet,
    config: &WorldModelConfig,
    step: u64,
    device: &B::Device,
) -> EvalReport {
    let history = config.model.history;
    let kind = config.objective.distance;
    let frameskip = config.model.frameskip;
    let validation = data.validation_episodes();

    // One-step prediction against the no-change baseline.
    let starts = spread(
        &data.windows(validation, history + 1, frameskip),
        MAX_WINDOWS,
    );
    let (mut loss_pred, mut loss_no_change) = (f64::NAN, f64::NAN);
    if !starts.is_empty() {
        let (z, actions) = encode_windows(model, data, &starts, history + 1, config, device);
        let context = z.clone().narrow(1, 0, history);
        let next = z.narrow(1, 1, history);
        loss_pred = scalar(distance(
            kind,
            model.predict(context.clone(), actions),
            next.clone(),
        ));
        loss_no_change = scalar(distance(kind, context, next));
    }

    // Open-loop rollout error at each horizon the episodes allow.
    let mut rollout_error = Vec::new();
    let longest = ROLLOUT_HORIZONS
        .iter()
        .copied()
        .filter(|&h| !data.windows(validation, history + h, frameskip).is_empty())
        .max();
    if let Some(longest) = longest {
        let frames = history + longest;
        let starts = spread(
            &data.windows(validation, frames, frameskip),
            MAX_WINDOWS / 2,
        );
        let (z, actions) = encode_windows(model, data, &starts, frames, config, device);
        let imagined = model.rollout(z.clone().narrow(1, 0, history), actions); // [W, longest, D]
        for horizon in ROLLOUT_HORIZONS.into_iter().filter(|&h| h <= longest) {
            let error = distance(
                kind,
                imagined.clone().narrow(1, horizon - 1, 1),
                z.clone().narrow(1, history + horizon - 1, 1),
            );
            rollout_error.push((horizon, scalar(error)));
        }
    }

    // Spread, rank and probe.
    let validation_frames = spread(&all_frames(data, validation), MAX_PROBE_VALIDATION_FRAMES);
    let train_frames = spread(
        &all_frames(data, data.train_episodes()),
        MAX_PROBE_TRAIN_FRAMES,
    );
    let (validation_latents, validation_state) =
        encode_frames(model, data, &validation_frames, device);
    let (train_latents, train_state) = encode_frames(model, data, &train_frames, device);
    let names = &data.spec().state_names;
    let targets = probe_targets(names, &train_state);
    let probe_fit = LinearProbe::fit(&train_latents, &train_state, names, &targets);
    let probe = probe_fit
        .as_ref()
        .map(|fit| fit.score(&validation_latents, &validation_state, names))
        .unwrap_or(ProbeScore {
            per_target: Vec::new(),
        });
    EvalReport {
        step,
        loss_pred,
        loss_no_change,
        rollout_error,
        latent_std: validation_latents.mean_std(),
        effective_rank: validation_latents.effective_rank(),
        probe,
        probe_fit,
    }
}
