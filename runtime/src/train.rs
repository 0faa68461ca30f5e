//! Training and probing a world model, on any backend, with progress as events.

use std::path::Path;

use burn::tensor::backend::{AutodiffBackend, Backend};
use prefrontal_worldmodel::{
    Checkpoint, Device, EpisodeSet, EvalReport, TrainOptions, TrainSummary, evaluate,
};

use crate::RuntimeError;
use crate::backend::{BackendTask, on_device};
use crate::events::{Event, Observer};

/// Trains (or resumes) a world model as `options` say, on `device`.
pub fn train(
    options: &TrainOptions,
    device: impl Into<Device>,
    observe: Observer,
) -> Result<TrainSummary, RuntimeError> {
    struct Train<'a, 'o> {
        options: &'a TrainOptions,
        observe: Observer<'o>,
    }
    impl BackendTask for Train<'_, '_> {
        type Output = Result<TrainSummary, RuntimeError>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output {
            train_on::<B>(self.options, device, self.observe)
        }
    }
    on_device(device, Train { options, observe })?
}

/// [`train`] with the backend chosen.
pub(crate) fn train_on<B: AutodiffBackend>(
    options: &TrainOptions,
    device: &B::Device,
    observe: Observer,
) -> Result<TrainSummary, RuntimeError> {
    let summary = prefrontal_worldmodel::train::<B>(options, device, &mut |event| {
        observe(Event::Train(event))
    })?;
    observe(Event::TrainFinished);
    Ok(summary)
}

/// Validation losses, latent statistics and a linear probe of `checkpoint` on the dataset
/// in `data`, split as in training; the fitted probe is saved with the checkpoint (the
/// viewer decodes imagined latents with it).
pub fn probe(
    checkpoint: &Checkpoint,
    data: &Path,
    device: impl Into<Device>,
    observe: Observer,
) -> Result<(EvalReport, EpisodeSet), RuntimeError> {
    struct Probe<'a, 'o> {
        checkpoint: &'a Checkpoint,
        data: &'a Path,
        observe: Observer<'o>,
    }
    impl BackendTask for Probe<'_, '_> {
        type Output = Result<(EvalReport, EpisodeSet), RuntimeError>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output {
            probe_on::<B::InnerBackend>(self.checkpoint, self.data, device, self.observe)
        }
    }
    on_device(
        device,
        Probe {
            checkpoint,
            data,
            observe,
        },
    )?
}

/// [`probe`] with the backend chosen.
pub(crate) fn probe_on<B: Backend>(
    checkpoint: &Checkpoint,
    data: &Path,
    device: &B::Device,
    observe: Observer,
) -> Result<(EvalReport, EpisodeSet), RuntimeError> {
    let (episodes, note) = checkpoint.load_data(data)?;
    if let Some(note) = note {
        observe(Event::Notice(note));
    }
    let model = checkpoint.load_model::<B>(device)?;
    let report = evaluate(
        &model,
        &episodes,
        &checkpoint.config,
        checkpoint.state.step,
        device,
    );
    match &report.probe_fit {
        Some(probe) => probe.save(&checkpoint.dir)?,
        None => {
            return Err(RuntimeError::invalid(format!(
                "{}: the latents of the training episodes are not finite; no probe can be fitted",
                checkpoint.dir.display()
            )));
        }
    }
    Ok((report, episodes))
}
