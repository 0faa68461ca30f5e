//! Data-parallel gradients. Each worker encodes its share of a batch's windows with its own
//! copy of the model on its own thread and device; rank 0 gathers the features and runs
//! everything that couples the frames of a batch (the projector's batch norm, the predictor,
//! every loss and its normalisation, SIGReg's characteristic function) once, on the global
//! batch; the gradient of the features goes back to the workers, whose encoder gradients
//! rank 0 sums in rank order. The loss, the batch statistics and every parameter's gradient
//! are therefore the one-worker ones up to float rounding, and fixed for a fixed number of
//! workers. Each step copies the parameters to every worker (a broadcast, on GPUs), gathers
//! and scatters `[N, D]` features and sums the encoder's gradients: the same code on CPU
//! threads and on GPUs.

use std::ops::Range;
use std::sync::mpsc;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend, Device as _, DeviceId, DeviceOps};

use crate::WorldModelError;
use crate::config::TrainingConfig;
use crate::data::Batch;
use crate::model::WorldModel;
use crate::train::{Learner, StepLosses};

/// The devices of `training.workers` workers for a run on `device`: worker `r` gets the
/// device of the same kind with index `i + r`. Where a backend has one device of the kind
/// (the CPU; wgpu's default adapter), every worker is a thread on it. An error when the
/// batch cannot give every worker a window or a device does not exist.
pub fn worker_devices<B: Backend>(
    device: &B::Device,
    training: &TrainingConfig,
) -> Result<Vec<B::Device>, WorldModelError> {
    let workers = training.workers;
    if let Some(message) = training.workers_problem(workers) {
        return Err(WorldModelError::Workers { message });
    }
    let DeviceId { type_id, index_id } = device.id();
    let devices: Vec<B::Device> = (0..workers)
        .map(|rank| match rank {
            0 => device.clone(),
            _ => B::Device::from_id(DeviceId::new(type_id, index_id + rank as u16)),
        })
        .collect();
    let available = B::device_count(type_id);
    let distinct = devices.iter().any(|other| other != device);
    if distinct && usize::from(index_id) + workers > available {
        return Err(WorldModelError::Workers {
            message: format!(
                "{workers} workers on {device:?} need devices {index_id}…{} of its kind, and {available} exist",
                usize::from(index_id) + workers - 1
            ),
        });
    }
    Ok(devices)
}

/// Splits `windows` into `workers` contiguous ranges of sizes differing by at most one,
/// the longer ones first.
pub fn shard_windows(windows: usize, workers: usize) -> Vec<Range<usize>> {
    let (base, extra) = (windows / workers, windows % workers);
    let mut start = 0;
    (0..workers)
        .map(|rank| {
            let len = base + usize::from(rank < extra);
            start += len;
            start - len..start
        })
        .collect()
}

/// What rank 0 and one worker pass each other during a step.
struct Link<B: AutodiffBackend> {
    /// The worker's features `[n, D]`, without graph, on rank 0's device.
    features: mpsc::Receiver<Tensor<B::InnerBackend, 2>>,
    /// The loss's gradient for those features `[n, D]`; dropped to abandon the step.
    gradient: mpsc::Sender<Tensor<B::InnerBackend, 2>>,
    /// Frames of the worker's share: rows of the batch's frames.
    rows: Range<usize>,
    device: B::Device,
}

/// Gradients and losses of `batch` with its windows shared out over `devices` (see the
/// module's documentation).
pub(crate) fn gradients<B: AutodiffBackend>(
    learner: &Learner<B>,
    batch: &Batch<B>,
    step: u64,
    devices: &[B::Device],
) -> Result<(GradientsParams, StepLosses), WorldModelError> {
    let frames = batch.frames_per_window;
    let home = batch.observed.frames.device();
    std::thread::scope(|scope| {
        let mut links = Vec::with_capacity(devices.len());
        let mut workers = Vec::with_capacity(devices.len());
        for (windows, device) in shard_windows(batch.windows, devices.len())
            .into_iter()
            .zip(devices)
        {
            let rows = windows.start * frames..windows.end * frames;
            let (features_out, features_in) = mpsc::channel();
            let (gradient_out, gradient_in) = mpsc::channel();
            // Each worker has its own copy of the parameters, with its own autodiff graph.
            let model = learner.model.clone().fork(device);
            let shard = batch
                .observed
                .frames
                .clone()
                .narrow(0, rows.start, rows.len())
                .to_device(device); // [n, 3, H, W]
            let home = &home;
            workers.push(
                scope.spawn(move || encode_share(model, shard, home, &features_out, &gradient_in)),
            );
            links.push(Link::<B> {
                features: features_in,
                gradient: gradient_out,
                rows,
                device: device.clone(),
            });
        }
        let shares: Option<Vec<_>> = links.iter().map(|link| link.features.recv().ok()).collect();
        let Some(shares) = shares else {
            // A worker hung up without its features: it panicked; pass its panic on.
            drop(links);
            for worker in workers {
                if let Err(panic) = worker.join() {
                    std::panic::resume_unwind(panic);
                }
            }
            unreachable!("a worker ended without features or a panic");
        };
        let features = Tensor::<B, 2>::from_inner(Tensor::cat(shares, 0)).require_grad(); // [N, D]
        let (total, losses) = learner.losses_from(features.clone(), batch, step);
        if !losses.total.is_finite() {
            // Dropping the links tells the workers to stop.
            return Err(WorldModelError::Diverged {
                step,
                loss: losses.total,
            });
        }
        let graph = total.backward();
        let feature_gradient = features
            .grad(&graph)
            .expect("the loss depends on the features"); // [N, D]
        let mut gradients = GradientsParams::from_grads(graph, &learner.model);
        for link in &links {
            let share = feature_gradient
                .clone()
                .narrow(0, link.rows.start, link.rows.len())
                .to_device(&link.device);
            // A worker that hung up has panicked; its join below passes the panic on.
            let _ = link.gradient.send(share);
        }
        for worker in workers {
            let encoder = match worker.join() {
                Ok(encoder) => encoder.expect("rank 0 sent every worker its gradient"),
                Err(panic) => std::panic::resume_unwind(panic),
            };
            let encoder = encoder.to_device::<B, _>(&home, &learner.model);
            learner.model.visit(&mut AddGradients {
                into: &mut gradients,
                from: encoder,
            });
        }
        Ok((gradients, losses))
    })
}

/// One worker's step: encodes `frames` `[n, 3, H, W]`, sends the features to `home`, waits
/// for their gradient and returns the gradients of the model's parameters (the encoder's);
/// `None` when rank 0 abandons the step.
fn encode_share<B: AutodiffBackend>(
    model: WorldModel<B>,
    frames: Tensor<B, 4>,
    home: &B::Device,
    features_out: &mpsc::Sender<Tensor<B::InnerBackend, 2>>,
    gradient_in: &mpsc::Receiver<Tensor<B::InnerBackend, 2>>,
) -> Option<GradientsParams> {
    let device = frames.device();
    let features = model.features(frames); // [n, D]
    features_out
        .send(features.clone().inner().to_device(home))
        .ok()?;
    let gradient = Tensor::<B, 2>::from_inner(gradient_in.recv().ok()?.to_device(&device));
    // The sum's gradient for `features` is `gradient`, so backward carries it into the encoder.
    let graph = (features * gradient).sum().backward();
    Some(GradientsParams::from_grads(graph, &model))
}

/// Adds every gradient in `from` to the one in `into` for the same parameter.
struct AddGradients<'a> {
    into: &'a mut GradientsParams,
    from: GradientsParams,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for AddGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let Some(added) = self.from.remove::<B::InnerBackend, D>(param.id) else {
            return;
        };
        let sum = match self.into.remove::<B::InnerBackend, D>(param.id) {
            Some(gradient) => gradient + added,
            None => added,
        };
        self.into.register(param.id, sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_windows_in_order_with_sizes_within_one() {
        for (windows, workers) in [(32, 1), (32, 2), (33, 2), (5, 3), (4, 4)] {
            let shards = shard_windows(windows, workers);
            assert_eq!(shards.len(), workers);
            assert_eq!(shards[0].start, 0);
            assert_eq!(shards[workers - 1].end, windows);
            assert!(shards.windows(2).all(|pair| pair[0].end == pair[1].start));
            let sizes: Vec<usize> = shards.iter().map(|shard| shard.len()).collect();
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(max - min <= 1, "{windows} over {workers}: {sizes:?}");
        }
    }

    #[test]
    fn cpu_workers_share_the_one_cpu_device_and_need_a_window_each() {
        use burn::backend::flex::FlexDevice;
        let mut training = TrainingConfig {
            workers: 3,
            batch_size: 4,
            ..TrainingConfig::default()
        };
        let devices = worker_devices::<burn::backend::Flex>(&FlexDevice, &training).unwrap();
        assert_eq!(devices, vec![FlexDevice; 3]);
        for workers in [0, 5] {
            training.workers = workers;
            let error = worker_devices::<burn::backend::Flex>(&FlexDevice, &training).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("must be between 1 and training.batch_size (4)"),
                "{error}"
            );
        }
    }
}
