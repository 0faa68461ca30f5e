//! Stages of a run and their fingerprints: a stage whose inputs are unchanged and whose
//! outputs exist is skipped; a changed input re-runs it and every stage after it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::experiment::ExperimentError;
use crate::experiment::spec::Experiment;

/// The stages of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Record the dataset (or check the reused one).
    Collect,
    /// Train the world model (resumable).
    Train,
    /// Validation losses and the linear probe of the final checkpoint.
    Probe,
    /// The agent and its baselines in closed loop.
    Evaluate,
    /// `summary.json`, `report.md` and the TensorBoard summary run.
    Report,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 5] = [
        Stage::Collect,
        Stage::Train,
        Stage::Probe,
        Stage::Evaluate,
        Stage::Report,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Collect => "collect",
            Stage::Train => "train",
            Stage::Probe => "probe",
            Stage::Evaluate => "evaluate",
            Stage::Report => "report",
        }
    }
}

/// The paths of one run seed's folder `runs/<experiment>/seed-<s>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLayout {
    /// The folder.
    pub dir: PathBuf,
}

impl RunLayout {
    /// The folder of run seed `seed` of `experiment` under `out`.
    pub fn new(out: &Path, experiment: &str, seed: u64) -> Self {
        RunLayout {
            dir: out.join(experiment).join(format!("seed-{seed}")),
        }
    }

    /// The resolved experiment.
    pub fn experiment(&self) -> PathBuf {
        self.dir.join("experiment.ron")
    }
    /// Stage records.
    pub fn stages(&self) -> PathBuf {
        self.dir.join("stages.json")
    }
    /// The collected dataset.
    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
    /// Where a reused dataset is named.
    pub fn data_reference(&self) -> PathBuf {
        self.dir.join("data.json")
    }
    /// The world-model run (checkpoints, TensorBoard events).
    pub fn model(&self) -> PathBuf {
        self.dir.join("model")
    }
    /// The probe's results.
    pub fn probe(&self) -> PathBuf {
        self.dir.join("probe.json")
    }
    /// One folder per contender.
    pub fn eval(&self) -> PathBuf {
        self.dir.join("eval")
    }
    /// The TensorBoard run with the HParams session, final metrics and the experiment text.
    pub fn board(&self) -> PathBuf {
        self.dir.join("summary")
    }
    /// Final metrics.
    pub fn summary(&self) -> PathBuf {
        self.dir.join("summary.json")
    }
    /// The human-readable report.
    pub fn report(&self) -> PathBuf {
        self.dir.join("report.md")
    }
}

/// The input fingerprint of every stage of one run seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints(BTreeMap<Stage, String>);

impl Fingerprints {
    /// Fingerprints of run seed `seed`: `scene_text` is the scene file's text, `dataset` the
    /// reused dataset's index text (when the experiment reuses one).
    pub fn new(
        experiment: &Experiment,
        seed: u64,
        scene_text: &str,
        dataset: Option<&str>,
    ) -> Self {
        let seeded = experiment.seeded(seed);
        let collect = match dataset {
            Some(index) => hash(&["reuse", index]),
            None => hash(&[
                "collect",
                &json(&experiment.data),
                &seeded.collect_seed.to_string(),
                scene_text,
            ]),
        };
        let train = hash(&[
            "train",
            &collect,
            &json(&seeded.world_model),
            &json(&experiment.training.device),
        ]);
        let probe = hash(&["probe", &train]);
        let evaluate = hash(&[
            "evaluate",
            &train,
            &json(&experiment.agent),
            &json(&experiment.evaluation),
            &seeded.evaluation_seed.to_string(),
            &json(&experiment.data.camera),
            scene_text,
        ]);
        let report = hash(&[
            "report",
            &probe,
            &evaluate,
            &json(&experiment.for_seed(seed)),
        ]);
        Fingerprints(BTreeMap::from([
            (Stage::Collect, collect),
            (Stage::Train, train),
            (Stage::Probe, probe),
            (Stage::Evaluate, evaluate),
            (Stage::Report, report),
        ]))
    }

    /// The fingerprint of `stage`.
    pub fn of(&self, stage: Stage) -> &str {
        &self.0[&stage]
    }
}

/// `value` as JSON text: a stable rendering of a config.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("configs serialise")
}

/// Changes whenever what a stage writes changes shape, so that older outputs are re-made.
const OUTPUT_FORMAT: &str = "prefrontal-run-1";

fn hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(OUTPUT_FORMAT);
    for part in parts {
        // Length-prefixed, so that no two part lists hash alike.
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a stage finished or was started (and maybe killed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageState {
    /// Started, not finished (running, or killed).
    Started,
    /// Finished.
    Done,
}

/// One stage's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// Fingerprint of the stage's inputs.
    pub fingerprint: String,
    /// Started or done.
    pub state: StageState,
    /// Wall-clock seconds of the session that finished it.
    pub seconds: f64,
}

/// `stages.json`: what each stage last did, rewritten atomically after every change.
#[derive(Debug, Clone, PartialEq)]
pub struct StageLog {
    path: PathBuf,
    records: BTreeMap<Stage, StageRecord>,
}

impl StageLog {
    /// Reads the log of a run folder (empty when there is none). An unreadable log is an
    /// error: deleting it re-runs everything.
    pub fn open(layout: &RunLayout) -> Result<StageLog, ExperimentError> {
        let path = layout.stages();
        let records = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| ExperimentError::Corrupt {
                path: path.clone(),
                message: format!("{e}; delete it to run every stage again"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(ExperimentError::Io { path, source }),
        };
        Ok(StageLog { path, records })
    }

    /// The record of `stage`.
    pub fn get(&self, stage: Stage) -> Option<&StageRecord> {
        self.records.get(&stage)
    }

    /// Whether `stage` finished with inputs of `fingerprint`.
    pub fn is_done(&self, stage: Stage, fingerprint: &str) -> bool {
        self.get(stage)
            .is_some_and(|r| r.state == StageState::Done && r.fingerprint == fingerprint)
    }

    /// Whether `stage` was started with inputs of `fingerprint` and did not finish.
    pub fn was_started(&self, stage: Stage, fingerprint: &str) -> bool {
        self.get(stage)
            .is_some_and(|r| r.state == StageState::Started && r.fingerprint == fingerprint)
    }

    /// Marks `stage` started (forgetting it and every later stage's record).
    pub fn start(&mut self, stage: Stage, fingerprint: &str) -> Result<(), ExperimentError> {
        self.records.retain(|s, _| *s < stage);
        self.records.insert(
            stage,
            StageRecord {
                fingerprint: fingerprint.to_owned(),
                state: StageState::Started,
                seconds: 0.0,
            },
        );
        self.save()
    }

    /// Marks `stage` done after `seconds`.
    pub fn finish(
        &mut self,
        stage: Stage,
        fingerprint: &str,
        seconds: f64,
    ) -> Result<(), ExperimentError> {
        self.records.insert(
            stage,
            StageRecord {
                fingerprint: fingerprint.to_owned(),
                state: StageState::Done,
                seconds,
            },
        );
        self.save()
    }

    fn save(&self) -> Result<(), ExperimentError> {
        let text = serde_json::to_string_pretty(&self.records).expect("records serialise");
        crate::experiment::write_atomically(&self.path, text.as_bytes())
    }
}
