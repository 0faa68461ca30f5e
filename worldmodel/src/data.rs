//! Training windows from a recorded dataset: episode split, seeded order, batches as tensors.

use std::path::Path;

use burn::tensor::{Tensor, TensorData, backend::Backend};
use prefrontal_dataset::{Dataset, Header};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::WorldModelError;

/// Shapes of the data a model is built for; stored in checkpoints to refuse mismatched data.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Scene name of the dataset.
    pub scene: String,
    /// The text of the scene file the data was collected in; empty in checkpoints written
    /// before it was recorded.
    #[serde(default)]
    pub scene_source: String,
    /// The scene camera the frames were rendered from; empty in checkpoints written before
    /// it was recorded.
    #[serde(default)]
    pub camera: String,
    /// Frame height in pixels.
    pub height: usize,
    /// Frame width in pixels.
    pub width: usize,
    /// Simulator action width A.
    pub action_dim: usize,
    /// Proprioception width P.
    pub proprio_dim: usize,
    /// Names of the proprioception components (`body.x`, `body.vx`, `joint.rate`, …);
    /// empty in checkpoints written before they were recorded.
    #[serde(default)]
    pub proprio_names: Vec<String>,
    /// Names of the privileged state components.
    pub state_names: Vec<String>,
}

impl DataSpec {
    /// The spec of a dataset header.
    pub fn from_header(header: &Header) -> Self {
        DataSpec {
            scene: header.scene.clone(),
            scene_source: header.scene_source.clone(),
            camera: header.frame.camera.clone(),
            height: header.frame.height as usize,
            width: header.frame.width as usize,
            action_dim: header.action.names.len(),
            proprio_dim: header.proprio_names.len(),
            proprio_names: header.proprio_names.clone(),
            state_names: header.state_names.clone(),
        }
    }

    /// Floats in one frame.
    pub fn frame_len(&self) -> usize {
        self.height * self.width * 3
    }
}

/// Which episodes a run trained on: stored in checkpoints so that `--resume` and `probe` use
/// the same episodes and split after episodes were appended, and refuse changed data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFingerprint {
    /// Episodes in the dataset when the run started; later ones are not the run's.
    pub episodes: usize,
    /// [`prefrontal_dataset::Index::digest`] of those episodes.
    pub digest: String,
    /// Dataset indices of the validation episodes.
    pub validation: Vec<u64>,
}

/// One episode held in memory.
#[derive(Debug)]
struct EpisodeArrays {
    /// `u8 [T+1, H, W, 3]`.
    frames: Vec<u8>,
    /// `f32 [T, A]`.
    actions: Vec<f32>,
    /// `f32 [T+1, P]`.
    proprio: Vec<f32>,
    /// `f32 [T+1, S]`.
    state: Vec<f32>,
    /// Actions T.
    steps: usize,
}

/// Converts an RGB frame's HWC bytes into the encoder's input: CHW floats in [-1, 1].
/// `target` holds `pixels.len()` floats.
pub fn pixels_to_input(pixels: &[u8], target: &mut [f32]) {
    let plane = pixels.len() / 3;
    for (i, &byte) in pixels.iter().enumerate() {
        target[(i % 3) * plane + i / 3] = byte as f32 / 127.5 - 1.0;
    }
}

/// A place in the data: episode (position in the loaded set) and simulator step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpisodeStep {
    /// Episode position in [`EpisodeSet`].
    pub episode: usize,
    /// Simulator step (a frame index).
    pub step: usize,
}

/// A dataset loaded into memory and split into training and validation episodes.
#[derive(Debug)]
pub struct EpisodeSet {
    spec: DataSpec,
    fingerprint: DataFingerprint,
    episodes: Vec<EpisodeArrays>,
    train: Vec<usize>,
    validation: Vec<usize>,
}

/// Frames with their proprioception and privileged state.
#[derive(Debug, Clone)]
pub struct Frames<B: Backend> {
    /// Frames scaled to [-1, 1]: `[N, 3, H, W]`.
    pub frames: Tensor<B, 4>,
    /// Proprioception: `[N, P]`.
    pub proprio: Tensor<B, 2>,
    /// Privileged state `f32 [N, S]` (for probes only, never for training).
    pub state: Vec<f32>,
}

/// A batch of windows, as tensors on a device.
#[derive(Debug, Clone)]
pub struct Batch<B: Backend> {
    /// Observations of every frame, window-major: `N = windows * frames_per_window`.
    pub observed: Frames<B>,
    /// Model actions (`frameskip` simulator actions concatenated): `[windows, F-1, A*frameskip]`.
    pub actions: Tensor<B, 3>,
    /// Windows in the batch.
    pub windows: usize,
    /// Frames per window F.
    pub frames_per_window: usize,
}

impl EpisodeSet {
    /// Loads every episode of the dataset at `dir` and splits episodes into train and validation.
    pub fn load(dir: &Path, validation_fraction: f64, seed: u64) -> Result<Self, WorldModelError> {
        Self::load_first(&Dataset::open(dir)?, None, validation_fraction, seed)
    }

    /// Loads the first `episodes` episodes of an opened dataset (all when `None`) and
    /// splits them into train and validation; the split depends only on their count, the
    /// fraction and the seed.
    pub fn load_first(
        dataset: &Dataset,
        episodes: Option<usize>,
        validation_fraction: f64,
        seed: u64,
    ) -> Result<Self, WorldModelError> {
        let dir = dataset.dir();
        let index = dataset.index();
        let spec = DataSpec::from_header(&index.header);
        let count = episodes.unwrap_or(index.episodes.len());
        if count > index.episodes.len() {
            return Err(WorldModelError::Data {
                path: dir.to_owned(),
                message: format!(
                    "has {} episodes; {count} were asked for",
                    index.episodes.len()
                ),
            });
        }
        if count < 2 {
            return Err(WorldModelError::Data {
                path: dir.to_owned(),
                message: format!(
                    "has {count} episode(s); training needs at least 2 (one held out for validation)"
                ),
            });
        }
        let mut episodes = Vec::with_capacity(count);
        for position in 0..count {
            let episode = dataset.read_episode(position)?;
            let steps = episode.steps();
            episodes.push(EpisodeArrays {
                frames: episode.frames,
                actions: episode.actions,
                proprio: episode.proprio,
                state: episode.state,
                steps,
            });
        }
        let mut order: Vec<usize> = (0..count).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5151_7e5e_ed00_0001));
        let held_out = ((count as f64 * validation_fraction).ceil() as usize).clamp(1, count - 1);
        let mut validation = order[..held_out].to_vec();
        let mut train = order[held_out..].to_vec();
        validation.sort_unstable();
        train.sort_unstable();
        let fingerprint = DataFingerprint {
            episodes: count,
            digest: index.digest(count),
            validation: validation
                .iter()
                .map(|&position| index.episodes[position].index)
                .collect(),
        };
        Ok(EpisodeSet {
            spec,
            fingerprint,
            episodes,
            train,
            validation,
        })
    }

    /// Shapes of this data.
    pub fn spec(&self) -> &DataSpec {
        &self.spec
    }

    /// Which episodes were loaded and how they were split.
    pub fn fingerprint(&self) -> &DataFingerprint {
        &self.fingerprint
    }

    /// Training episode positions.
    pub fn train_episodes(&self) -> &[usize] {
        &self.train
    }

    /// Validation episode positions.
    pub fn validation_episodes(&self) -> &[usize] {
        &self.validation
    }

    /// Every window of `frames` frames `frameskip` steps apart within the given episodes.
    pub fn windows(&self, episodes: &[usize], frames: usize, frameskip: usize) -> Vec<EpisodeStep> {
        let span = (frames - 1) * frameskip;
        episodes
            .iter()
            .flat_map(|&episode| {
                let steps = self.episodes[episode].steps;
                (0..(steps + 1).saturating_sub(span)).map(move |step| EpisodeStep { episode, step })
            })
            .collect()
    }

    /// Frames (scaled to [-1, 1], `[N, 3, H, W]`), proprioception `[N, P]` and privileged
    /// state (`f32 [N, S]`, on the CPU) at the given (episode, step) picks.
    pub fn frames<B: Backend>(&self, picks: &[EpisodeStep], device: &B::Device) -> Frames<B> {
        let spec = &self.spec;
        let (h, w, p) = (spec.height, spec.width, spec.proprio_dim);
        let s = spec.state_names.len();
        let frame_len = spec.frame_len();
        let n = picks.len();
        let mut pixels = vec![0f32; n * frame_len];
        let mut proprio = Vec::with_capacity(n * p);
        let mut state = Vec::with_capacity(n * s);
        for (target, pick) in pixels.chunks_exact_mut(frame_len).zip(picks) {
            let episode = &self.episodes[pick.episode];
            let t = pick.step;
            pixels_to_input(&episode.frames[t * frame_len..(t + 1) * frame_len], target);
            proprio.extend_from_slice(&episode.proprio[t * p..(t + 1) * p]);
            state.extend_from_slice(&episode.state[t * s..(t + 1) * s]);
        }
        Frames {
            frames: Tensor::from_data(TensorData::new(pixels, [n, 3, h, w]), device),
            proprio: Tensor::from_data(TensorData::new(proprio, [n, p]), device),
            state,
        }
    }

    /// Builds a batch of windows of `frames` frames, `frameskip` simulator steps apart.
    pub fn batch<B: Backend>(
        &self,
        starts: &[EpisodeStep],
        frames: usize,
        frameskip: usize,
        device: &B::Device,
    ) -> Batch<B> {
        let a = self.spec.action_dim;
        let picks: Vec<EpisodeStep> = starts
            .iter()
            .flat_map(|start| {
                (0..frames).map(move |f| EpisodeStep {
                    episode: start.episode,
                    step: start.step + f * frameskip,
                })
            })
            .collect();
        let mut actions = Vec::with_capacity(starts.len() * (frames - 1) * a * frameskip);
        for start in starts {
            let episode = &self.episodes[start.episode];
            let span = (frames - 1) * frameskip;
            actions.extend_from_slice(&episode.actions[start.step * a..(start.step + span) * a]);
        }
        Batch {
            observed: self.frames(&picks, device),
            actions: Tensor::from_data(
                TensorData::new(actions, [starts.len(), frames - 1, a * frameskip]),
                device,
            ),
            windows: starts.len(),
            frames_per_window: frames,
        }
    }
}

/// An endless, seeded stream of training windows: epoch `e` is a fresh permutation
/// seeded by `(seed, e)`, so the batch of any step can be recomputed after a resume.
#[derive(Debug)]
pub struct WindowSampler {
    windows: Vec<EpisodeStep>,
    seed: u64,
    epoch: u64,
    order: Vec<usize>,
}

impl WindowSampler {
    /// A sampler over `windows`; panics on an empty list (callers check first).
    pub fn new(windows: Vec<EpisodeStep>, seed: u64) -> Self {
        assert!(!windows.is_empty(), "a sampler needs windows");
        let mut sampler = WindowSampler {
            windows,
            seed,
            epoch: u64::MAX,
            order: Vec::new(),
        };
        sampler.shuffle(0);
        sampler
    }

    fn shuffle(&mut self, epoch: u64) {
        if self.epoch == epoch {
            return;
        }
        self.order = (0..self.windows.len()).collect();
        let seed = self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ epoch;
        self.order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        self.epoch = epoch;
    }

    /// The windows of optimiser step `step` with batches of `batch_size`.
    pub fn batch(&mut self, step: u64, batch_size: usize) -> Vec<EpisodeStep> {
        let n = self.windows.len() as u64;
        (0..batch_size as u64)
            .map(|i| {
                let position = step * batch_size as u64 + i;
                self.shuffle(position / n);
                self.windows[self.order[(position % n) as usize]]
            })
            .collect()
    }
}
