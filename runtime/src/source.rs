//! Where a front end's agent comes from: an experiment run folder, or a checkpoint with an
//! agent config.

use std::path::{Path, PathBuf};

use prefrontal_agent::eval::Protocol;
use prefrontal_agent::{AgentConfig, RonConfig};
use prefrontal_sim::Scene;
use prefrontal_worldmodel::Checkpoint;

use crate::experiment::Experiment;
use crate::{ResultExt, RuntimeError};

/// An agent's parts, before a backend is chosen: the world model, the agent config, how
/// goals are chosen and the camera the model sees.
#[derive(Debug, Clone)]
pub struct AgentSource {
    /// The world model.
    pub checkpoint: Checkpoint,
    /// Planner, energy, replanning.
    pub config: AgentConfig,
    /// How goals are chosen.
    pub protocol: Protocol,
    /// The camera the model was trained on (the scene's first when `None`).
    pub camera: Option<String>,
}

impl AgentSource {
    /// A checkpoint (a run folder or a `step-N` folder) with an agent config file (CEM's
    /// defaults without one), on random goals.
    pub fn from_checkpoint(
        checkpoint: &Path,
        agent: Option<&Path>,
    ) -> Result<AgentSource, RuntimeError> {
        Ok(AgentSource {
            checkpoint: Checkpoint::open(checkpoint)?,
            config: match agent {
                Some(path) => AgentConfig::load(path)?,
                None => AgentConfig::default(),
            },
            protocol: Protocol::default(),
            camera: None,
        })
    }

    /// What a front end names: a run folder (its scene and agent), or a scene with,
    /// optionally, a checkpoint and its agent config.
    pub fn resolve(
        run: Option<&Path>,
        scene: Option<Scene>,
        checkpoint: Option<&Path>,
        agent: Option<&Path>,
    ) -> Result<(Scene, Option<AgentSource>), RuntimeError> {
        match (run, scene) {
            (Some(run), _) => {
                let (scene, source) = AgentSource::from_run(run)?;
                Ok((scene, Some(source)))
            }
            (None, Some(scene)) => {
                let source = checkpoint
                    .map(|checkpoint| AgentSource::from_checkpoint(checkpoint, agent))
                    .transpose()?;
                Ok((scene, source))
            }
            (None, None) => Err(RuntimeError::invalid("give a scene (file) or a run folder")),
        }
    }

    /// The scene the checkpoint's training data was recorded in.
    pub fn scene(&self) -> Result<Scene, RuntimeError> {
        let spec = &self.checkpoint.state.spec;
        Ok(Scene::parse(&spec.scene_source, &self.checkpoint.dir)?)
    }

    /// The scene and agent of an experiment run folder (`runs/<name>/seed-<s>`, or
    /// `runs/<name>` for its first seed).
    pub fn from_run(run: &Path) -> Result<(Scene, AgentSource), RuntimeError> {
        let (seed_dir, experiment) = load_run(run)?;
        let scene = Scene::load(&experiment.scene)?;
        let checkpoint = Checkpoint::open(seed_dir.join("model")).with_context(|| {
            format!(
                "{} has no trained model yet: run the experiment first",
                seed_dir.display()
            )
        })?;
        Ok((
            scene,
            AgentSource {
                checkpoint,
                config: experiment.agent,
                protocol: experiment.evaluation.protocol,
                camera: experiment.data.camera,
            },
        ))
    }
}

/// The folder of one seed of an experiment run (`runs/<name>/seed-<s>`, or the first seed's
/// of `runs/<name>`) and the experiment written there (its `seeds` is that one seed).
pub fn load_run(run: &Path) -> Result<(PathBuf, Experiment), RuntimeError> {
    let seed_dir = if run.join("experiment.ron").is_file() {
        run.to_owned()
    } else {
        let mut seeds: Vec<PathBuf> = std::fs::read_dir(run)
            .with_context(|| format!("reading the run folder {}", run.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.join("experiment.ron").is_file())
            .collect();
        seeds.sort();
        seeds.into_iter().next().ok_or_else(|| {
            RuntimeError::invalid(format!(
                "{} is not a run folder: it holds no experiment.ron (nor does any seed-<s> folder in it)",
                run.display()
            ))
        })?
    };
    let experiment = Experiment::load(&seed_dir.join("experiment.ron"), &[])?;
    Ok((seed_dir, experiment))
}
