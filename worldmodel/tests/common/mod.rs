//! A toy dataset without a simulator: a red square on a grey floor, pushed by 2-D actions
//! with momentum, seen from above. Its privileged state is the square's position.

#![allow(dead_code)]

use std::ops::Range;
use std::path::Path;

use burn::backend::{Autodiff, Flex};
use prefrontal_dataset::{Dataset, Episode, FrameInfo, Header, SpaceInfo};
use prefrontal_worldmodel::config::{EncoderConfig, PredictorConfig};
use prefrontal_worldmodel::{
    DataSpec, TrainOptions, TrainSummary, WorldModelConfig, WorldModelError, train,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Frame side of the toy data.
pub const SIZE: usize = 32;

/// The shape of synthetic data: `SIZE`² frames, 2-D actions, 4-D proprioception.
pub fn spec() -> DataSpec {
    DataSpec {
        scene: "synthetic".into(),
        scene_source: String::new(),
        camera: "top".to_owned(),
        height: SIZE,
        width: SIZE,
        action_dim: 2,
        proprio_dim: 4,
        proprio_names: Vec::new(),
        state_names: Vec::new(),
    }
}

fn header() -> Header {
    Header {
        scene: "toy".into(),
        scene_source: String::new(),
        control_hz: 10.0,
        frame: FrameInfo {
            camera: "top".into(),
            width: SIZE as u32,
            height: SIZE as u32,
        },
        action: SpaceInfo {
            names: vec!["force.x".into(), "force.z".into()],
            low: vec![-1.0, -1.0],
            high: vec![1.0, 1.0],
        },
        proprio_names: ["agent.x", "agent.z", "agent.vx", "agent.vz"]
            .map(String::from)
            .into(),
        state_names: vec![
            "agent.pos.x".into(),
            "agent.pos.y".into(),
            "agent.pos.z".into(),
        ],
    }
}

fn render(position: [f32; 2], frames: &mut Vec<u8>) {
    let centre = position.map(|p| (p + 1.0) / 2.0 * (SIZE as f32 - 6.0) + 3.0);
    for row in 0..SIZE {
        for column in 0..SIZE {
            let inside = (column as f32 + 0.5 - centre[0]).abs() < 3.0
                && (row as f32 + 0.5 - centre[1]).abs() < 3.0;
            frames.extend_from_slice(if inside {
                &[220, 40, 40]
            } else {
                &[90, 90, 90]
            });
        }
    }
}

/// Writes `episodes` toy episodes of `steps` steps into a new dataset at `dir`.
pub fn write_toy_dataset(dir: &Path, episodes: usize, steps: usize, seed: u64) {
    write_toy_episodes(dir, 0..episodes, steps, seed);
}

/// Writes toy episodes `indices` of `steps` steps into the dataset at `dir`, creating it
/// or appending to it.
pub fn write_toy_episodes(dir: &Path, indices: Range<usize>, steps: usize, seed: u64) {
    let mut dataset = Dataset::create_or_append(dir, header()).unwrap();
    for index in indices {
        let mut rng = ChaCha8Rng::seed_from_u64(seed * 1000 + index as u64);
        let mut position = [rng.random_range(-0.8..0.8), rng.random_range(-0.8..0.8)];
        let mut velocity = [0.0f32; 2];
        let mut action = [0.0f32; 2];
        let mut episode = Episode::new();
        for t in 0..=steps {
            render(position, &mut episode.frames);
            episode.proprio.extend_from_slice(&[
                position[0],
                position[1],
                velocity[0],
                velocity[1],
            ]);
            episode
                .state
                .extend_from_slice(&[position[0], 0.1, position[1]]);
            episode.success.push(0);
            if t == steps {
                break;
            }
            // Smooth exploration: actions persist for a few steps.
            if t % 4 == 0 {
                action = [rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)];
            }
            for k in 0..2 {
                velocity[k] = 0.7 * velocity[k] + 0.3 * action[k];
                position[k] = (position[k] + 0.12 * velocity[k]).clamp(-1.0, 1.0);
            }
            episode.actions.extend_from_slice(&action);
            episode.rewards.push(0.0);
        }
        dataset
            .write_episode(index as u64, index as u64, "toy", &episode)
            .unwrap();
    }
}

/// A small, fast config for the toy data.
pub fn small_config(steps: u64) -> WorldModelConfig {
    let mut config = WorldModelConfig::default();
    config.model.encoder = EncoderConfig::Cnn {
        channels: vec![8, 16, 32],
    };
    config.model.latent_dim = 32;
    config.model.projector = Some(64);
    config.model.history = 2;
    config.model.frameskip = 4;
    config.model.predictor = PredictorConfig::Transformer {
        width: 32,
        depth: 1,
        heads: 2,
    };
    config.training.steps = steps;
    config.training.batch_size = 16;
    config.training.warmup_steps = 10;
    config.training.learning_rate = 2e-3;
    config.training.checkpoint_every = 1000;
    config.training.eval_every = 1000;
    config.training.validation_fraction = 0.2;
    config
}

/// Options of a plain training run.
pub fn options(
    data: &Path,
    out: &Path,
    config: impl Into<Option<WorldModelConfig>>,
) -> TrainOptions {
    TrainOptions {
        data: data.to_owned(),
        out: out.to_owned(),
        config: config.into(),
        steps: None,
        resume: false,
        stop_after: None,
        interrupt: None,
        workers: None,
    }
}

/// Trains on the CPU without reporting progress.
pub fn run(options: &TrainOptions) -> Result<TrainSummary, WorldModelError> {
    train::<Autodiff<Flex>>(options, &Default::default(), &mut |_| {})
}
