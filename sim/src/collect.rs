//! Recording episodes: K rendered worlds step together under a policy, and every finished
//! episode becomes a shard of a dataset.

use prefrontal_dataset::{Dataset, DatasetError, Episode, FrameInfo, Header, SpaceInfo};

use crate::env::{Action, SimError, VecEnv};
use crate::observation::Observation;
use crate::policy::{Policy, PolicyKind};
use crate::render::RenderOptions;
use crate::scene::Scene;

/// What to record.
#[derive(Debug, Clone)]
pub struct CollectConfig {
    /// Episodes to add to the dataset.
    pub episodes: usize,
    /// Most actions per episode; an episode also ends at success or the task's step limit.
    pub steps: usize,
    /// Episode `e` of this collection is sampled from, and acted with, seed `seed + e`.
    pub seed: u64,
    /// The action source.
    pub policy: PolicyKind,
    /// Worlds stepping together.
    pub envs: usize,
    /// Camera and frame size.
    pub render: RenderOptions,
}

/// Why a collection stopped.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The simulation or renderer failed.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The dataset could not be written (or does not match this collection).
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// A configuration value is out of range.
    #[error("{0}")]
    Config(String),
}

/// Totals of a finished collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CollectSummary {
    /// Episodes written.
    pub episodes: usize,
    /// Actions recorded.
    pub steps: usize,
    /// Episodes that ended at their goal.
    pub successes: usize,
}

/// An episode being recorded in one world.
struct Recording {
    index: u64,
    seed: u64,
    policy: Policy,
    episode: Episode,
}

impl Recording {
    fn observe(&mut self, observation: &Observation, success: bool) {
        let frame = observation
            .frame
            .as_ref()
            .expect("collection environments render");
        self.episode.frames.extend_from_slice(&frame.pixels);
        self.episode.proprio.extend_from_slice(&observation.proprio);
        self.episode.state.extend_from_slice(&observation.state);
        self.episode.success.push(u8::from(success));
    }
}

/// The dataset header that episodes of `env` under `scene_source` carry.
pub fn header(env: &VecEnv, scene_source: &str) -> Header {
    let scene = env.scene();
    let camera = env.camera().expect("collection environments render");
    let actions = env.action_space();
    let observations = env.observation_space();
    Header {
        scene: scene.name.clone(),
        scene_source: scene_source.to_owned(),
        control_hz: scene.physics.control_hz,
        frame: FrameInfo {
            camera: camera.name.clone(),
            width: camera.width,
            height: camera.height,
        },
        action: SpaceInfo {
            names: actions.names,
            low: actions.low,
            high: actions.high,
        },
        proprio_names: observations.proprio.names,
        state_names: observations.state.names,
    }
}

/// Records `config.episodes` episodes of the scene (parsed from `scene_source`) into the
/// dataset folder `out`, appending when it already holds a matching dataset. `progress`
/// hears the number of episodes written so far.
pub fn collect(
    scene: Scene,
    scene_source: &str,
    config: &CollectConfig,
    out: &std::path::Path,
    mut progress: impl FnMut(usize),
) -> Result<CollectSummary, CollectError> {
    if config.envs == 0 || config.steps == 0 {
        return Err(CollectError::Config(
            "--envs and --steps must be at least 1".into(),
        ));
    }
    let envs = config.envs.min(config.episodes.max(1));
    let mut env = VecEnv::with_rendering(scene, envs, config.render.clone())?;
    env.set_auto_reset(false);
    let mut dataset = Dataset::create_or_append(out, header(&env, scene_source))?;
    let first = dataset.next_episode_index();
    let space = env.action_space();
    let mut started = 0;
    let mut summary = CollectSummary {
        episodes: 0,
        steps: 0,
        successes: 0,
    };
    let mut recordings: Vec<Option<Recording>> = (0..envs).map(|_| None).collect();
    // Starts the next episode in world `i`, or parks the world on a throw-away episode
    // (its data is ignored) once every episode has started.
    let start =
        |env: &mut VecEnv, i: usize, started: &mut usize| -> Result<Option<Recording>, SimError> {
            if *started >= config.episodes {
                env.reset_env(i, u64::MAX - i as u64)?;
                return Ok(None);
            }
            let seed = config.seed + *started as u64;
            let index = first + *started as u64;
            *started += 1;
            let (observation, info) = env.reset_env(i, seed)?;
            let mut recording = Recording {
                index,
                seed,
                policy: Policy::new(config.policy, &space, seed),
                episode: Episode::new(),
            };
            recording.observe(&observation, info.success);
            Ok(Some(recording))
        };
    for (i, slot) in recordings.iter_mut().enumerate() {
        *slot = start(&mut env, i, &mut started)?;
    }
    while summary.episodes < config.episodes {
        let actions: Vec<Action> = recordings
            .iter_mut()
            .enumerate()
            .map(|(i, recording)| match recording {
                Some(recording) => recording.policy.act(env.sim(), i),
                None => Action(vec![0.0; space.dim()]),
            })
            .collect();
        let steps = env.step(&actions)?;
        for (i, step) in steps.into_iter().enumerate() {
            let ended = step.terminated || step.truncated;
            let Some(recording) = recordings[i].as_mut() else {
                if ended {
                    env.reset_env(i, u64::MAX - i as u64)?;
                }
                continue;
            };
            let action = &actions[i].0;
            let clipped = action
                .iter()
                .zip(space.low.iter().zip(&space.high))
                .map(|(a, (lo, hi))| a.clamp(*lo, *hi));
            recording.episode.actions.extend(clipped);
            recording.episode.rewards.push(step.reward);
            recording.observe(&step.observation, step.info.success);
            if ended || recording.episode.steps() >= config.steps {
                let done = recordings[i].take().expect("recording");
                dataset.write_episode(
                    done.index,
                    done.seed,
                    config.policy.name(),
                    &done.episode,
                )?;
                summary.episodes += 1;
                summary.steps += done.episode.steps();
                summary.successes += usize::from(step.terminated);
                progress(summary.episodes);
                recordings[i] = start(&mut env, i, &mut started)?;
            }
        }
    }
    Ok(summary)
}
