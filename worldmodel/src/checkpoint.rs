//! Checkpoints: weights, optimiser state, EMA target, resolved config and training state,
//! written to a temporary folder and renamed into place so that a kill never leaves half a checkpoint.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Record, Recorder};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::WorldModelError;
use crate::config::WorldModelConfig;
use crate::data::{DataFingerprint, DataSpec, EpisodeSet};
use crate::model::WorldModel;
use prefrontal_ronfile::RonConfig;

/// Version of the checkpoint layout.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Checkpoints kept in a run; older ones are removed after a new one lands.
pub const CHECKPOINTS_KEPT: usize = 3;

/// `state.json` of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingState {
    /// Layout version, [`CHECKPOINT_VERSION`].
    pub format_version: u32,
    /// Optimiser steps completed.
    pub step: u64,
    /// Shapes of the data the model was built for.
    pub spec: DataSpec,
    /// Wall-clock seconds of training so far.
    pub elapsed_s: f64,
    /// The episodes trained on and their split; absent in checkpoints written before it
    /// was recorded (their data is checked by shape only).
    #[serde(default)]
    pub data: Option<DataFingerprint>,
}

/// A checkpoint folder on disk, with its config and state read and checked.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The `step-NNNNNNNN` folder.
    pub dir: PathBuf,
    /// Resolved config of the run.
    pub config: WorldModelConfig,
    /// Training state.
    pub state: TrainingState,
}

fn recorder() -> NamedMpkFileRecorder<FullPrecisionSettings> {
    NamedMpkFileRecorder::new()
}

fn corrupt(path: &Path, message: impl std::fmt::Display) -> WorldModelError {
    WorldModelError::Checkpoint {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WorldModelError + '_ {
    move |source| WorldModelError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Folder that holds a run's checkpoints.
pub fn checkpoints_dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

fn step_dir(run: &Path, step: u64) -> PathBuf {
    checkpoints_dir(run).join(format!("step-{step:08}"))
}

/// Completed checkpoint folders of a run, oldest first.
pub fn list(run: &Path) -> Result<Vec<(u64, PathBuf)>, WorldModelError> {
    let dir = checkpoints_dir(run);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let path = entry.map_err(io(&dir))?.path();
        let step = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("step-"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(step) = step {
            found.push((step, path));
        }
    }
    found.sort();
    Ok(found)
}

impl Checkpoint {
    /// Opens a checkpoint: either a `step-N` folder or a run folder (its latest checkpoint).
    pub fn open(path: impl AsRef<Path>) -> Result<Checkpoint, WorldModelError> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(corrupt(path, "does not exist"));
        }
        let dir = if path.join("state.json").exists() {
            path.to_owned()
        } else {
            list(path)?.pop().map(|(_, dir)| dir).ok_or_else(|| {
                corrupt(
                    path,
                    "holds no checkpoint (no checkpoints/step-N folder with state.json)",
                )
            })?
        };
        let state_path = dir.join("state.json");
        let text = std::fs::read_to_string(&state_path).map_err(io(&state_path))?;
        let state: TrainingState = serde_json::from_str(&text)
            .map_err(|e| corrupt(&state_path, format!("unreadable training state: {e}")))?;
        if state.format_version != CHECKPOINT_VERSION {
            return Err(corrupt(
                &state_path,
                format!(
                    "checkpoint format {} is not the supported format {CHECKPOINT_VERSION}",
                    state.format_version
                ),
            ));
        }
        let config = WorldModelConfig::load(dir.join("config.ron"))?;
        Ok(Checkpoint { dir, config, state })
    }

    /// Loads the weights into a model built from the checkpoint's config.
    pub fn load_model<B: Backend>(
        &self,
        device: &B::Device,
    ) -> Result<WorldModel<B>, WorldModelError> {
        let model = WorldModel::new(&self.config.model, &self.state.spec, device);
        let record = load_record(&self.dir.join("model"), device)?;
        Ok(model.load_record(record))
    }

    /// Refuses data whose shapes differ from those the model was trained on.
    pub fn check_compatible(&self, spec: &DataSpec, data: &Path) -> Result<(), WorldModelError> {
        check_spec(&self.state.spec, spec, &self.dir, data)
    }

    /// Loads the episodes of `data` that this checkpoint's run trained on, split as in
    /// training. Episodes appended since the run started are left out, and the returned note
    /// says so; data of other shapes, or whose first episodes are not the run's, is refused.
    pub fn load_data(&self, data: &Path) -> Result<(EpisodeSet, Option<String>), WorldModelError> {
        let training = &self.config.training;
        let (fraction, seed) = (training.validation_fraction, training.seed);
        let Some(recorded) = &self.state.data else {
            let set = EpisodeSet::load(data, fraction, seed)?;
            self.check_compatible(set.spec(), data)?;
            return Ok((set, None));
        };
        let refuse = |message: String| WorldModelError::Incompatible {
            checkpoint: self.dir.clone(),
            data: data.to_owned(),
            message,
        };
        let dataset = prefrontal_dataset::Dataset::open(data)?;
        let index = dataset.index();
        check_spec(
            &self.state.spec,
            &DataSpec::from_header(&index.header),
            &self.dir,
            data,
        )?;
        let (then, now) = (recorded.episodes, index.episodes.len());
        if now < then {
            return Err(refuse(format!(
                "the run trained on {then} episodes and the dataset now holds {now} (episodes were removed, or it was collected again)"
            )));
        }
        if index.digest(then) != recorded.digest {
            return Err(refuse(format!(
                "the dataset's scene, spaces or first {then} episodes are not the ones the run trained on (collected again, or another dataset)"
            )));
        }
        let set = EpisodeSet::load_first(&dataset, Some(then), fraction, seed)?;
        if set.fingerprint() != recorded {
            return Err(refuse(format!(
                "its {then} episodes split into other validation episodes than in training ({:?} then, {:?} now)",
                recorded.validation,
                set.fingerprint().validation
            )));
        }
        let note = (now > then).then(|| {
            format!(
                "{}: {} episodes appended since the run started are left out; using its first {then} ({} train / {} validation, as in training)",
                data.display(),
                now - then,
                set.train_episodes().len(),
                set.validation_episodes().len()
            )
        });
        Ok((set, note))
    }
}

/// Refuses `found` data when the model was built for `expected`.
pub fn check_spec(
    expected: &DataSpec,
    found: &DataSpec,
    checkpoint: &Path,
    data: &Path,
) -> Result<(), WorldModelError> {
    let mut problems = Vec::new();
    if !expected.camera.is_empty() && expected.camera != found.camera {
        problems.push(format!(
            "frames come from camera \"{}\" there, \"{}\" here",
            expected.camera, found.camera
        ));
    }
    if (expected.height, expected.width) != (found.height, found.width) {
        problems.push(format!(
            "frames are {}×{} there, {}×{} here",
            expected.width, expected.height, found.width, found.height
        ));
    }
    if expected.action_dim != found.action_dim {
        problems.push(format!(
            "actions have {} components there, {} here",
            expected.action_dim, found.action_dim
        ));
    }
    if expected.proprio_dim != found.proprio_dim {
        problems.push(format!(
            "proprioception has {} components there, {} here",
            expected.proprio_dim, found.proprio_dim
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(WorldModelError::Incompatible {
            checkpoint: checkpoint.to_owned(),
            data: data.to_owned(),
            message: problems.join("; "),
        })
    }
}

/// Loads a record written by [`save_record`]; `path` has no extension.
pub fn load_record<B: Backend, R: Record<B>>(
    path: &Path,
    device: &B::Device,
) -> Result<R, WorldModelError> {
    let file = path.with_extension("mpk");
    if !file.exists() {
        return Err(corrupt(&file, "is missing"));
    }
    recorder().load(path.to_owned(), device).map_err(|e| {
        corrupt(
            &file,
            format!("cannot be loaded (corrupt, or written by another model config): {e}"),
        )
    })
}

/// Writes a record to `path.mpk`.
pub fn save_record<B: Backend, R: Record<B>>(
    record: R,
    path: &Path,
) -> Result<(), WorldModelError> {
    recorder().record(record, path.to_owned()).map_err(|e| {
        corrupt(
            &path.with_extension("mpk"),
            format!("cannot be written: {e}"),
        )
    })
}

/// Writes checkpoint `state.step` of `run`: `write` fills a temporary folder with the records,
/// then config and state are added and the folder is renamed into place; old ones are pruned.
pub fn write(
    run: &Path,
    config: &WorldModelConfig,
    state: &TrainingState,
    write: impl FnOnce(&Path) -> Result<(), WorldModelError>,
) -> Result<PathBuf, WorldModelError> {
    let target = step_dir(run, state.step);
    let temporary = target.with_extension("partial");
    if temporary.exists() {
        std::fs::remove_dir_all(&temporary).map_err(io(&temporary))?;
    }
    std::fs::create_dir_all(&temporary).map_err(io(&temporary))?;
    write(&temporary)?;
    let config_path = temporary.join("config.ron");
    std::fs::write(&config_path, config.to_ron()).map_err(io(&config_path))?;
    let state_path = temporary.join("state.json");
    let json = serde_json::to_string_pretty(state).expect("training state serialises");
    std::fs::write(&state_path, json).map_err(io(&state_path))?;
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(io(&target))?;
    }
    std::fs::rename(&temporary, &target).map_err(io(&target))?;
    let all = list(run)?;
    for (_, old) in all.iter().take(all.len().saturating_sub(CHECKPOINTS_KEPT)) {
        std::fs::remove_dir_all(old).map_err(io(old))?;
    }
    Ok(target)
}
