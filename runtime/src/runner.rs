//! An experiment's stages — collect → train → probe → evaluate → report — per run seed:
//! stages whose inputs are unchanged are skipped, a killed training stage resumes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use prefrontal_agent::Suite;
use prefrontal_agent::eval::{EpisodeSpec, EvalSummary};
use prefrontal_agent::suite::contenders;
use prefrontal_board::Board;
use prefrontal_dataset::Dataset;
use prefrontal_sim::{RenderOptions, Scene};
use prefrontal_worldmodel::{Checkpoint, TrainOptions, checkpoint};

use crate::backend::{BackendTask, check_device, on_device};
use crate::collect::{CollectRequest, collect_in};
use crate::evaluate::run_suite_on;
use crate::events::{Event, Observer};
use crate::experiment::{
    DataFacts, Experiment, Fingerprints, ProbeFacts, ProtocolFacts, RunLayout, RunSummary, Stage,
    StageLog, read_json, write_atomically,
};
use crate::train::{probe_on, train_on};
use crate::{ResultExt, RuntimeError};

/// How a run is driven from outside.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Set from outside (e.g. on Ctrl-C) to stop: training stops at its next step with a
    /// checkpoint, and the run stops after the current stage. The caller owns the flag: the
    /// runtime never clears it.
    pub stop: Option<Arc<AtomicBool>>,
}

impl RunOptions {
    fn stop_requested(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::SeqCst))
    }
}

/// An experiment whose files, references, evaluation episodes and device were checked: ready
/// to run, or to say what would run.
#[derive(Debug)]
pub struct PreparedExperiment {
    experiment: Experiment,
    scene: Scene,
    scene_text: String,
    /// The reused dataset's folder and index text.
    reused: Option<(PathBuf, String)>,
    /// Evaluation episodes per run seed.
    episodes: BTreeMap<u64, Vec<EpisodeSpec>>,
    /// The camera the model sees: the reused dataset's, or the one collected with.
    camera: Option<String>,
    out: PathBuf,
}

impl PreparedExperiment {
    /// Checks every file and reference of `experiment` (loaded from `file`), picks the
    /// evaluation episodes and checks the device; writes nothing. Runs go to
    /// `out/<name>/seed-<s>/`.
    pub fn prepare(
        experiment: Experiment,
        out: &Path,
        file: &Path,
    ) -> Result<PreparedExperiment, RuntimeError> {
        let scene_text = std::fs::read_to_string(&experiment.scene)
            .with_context(|| format!("{}: scene {}", file.display(), experiment.scene.display()))?;
        let scene = Scene::parse(&scene_text, &experiment.scene)?;
        let data = &experiment.data;
        let reused = match &data.dataset {
            Some(dir) => {
                let dataset = Dataset::open(dir)
                    .with_context(|| format!("{}: data.dataset", file.display()))?;
                let header = &dataset.index().header;
                if header.scene != scene.name {
                    return Err(RuntimeError::invalid(format!(
                        "{}: data.dataset {} holds scene \"{}\", the experiment's scene is \"{}\"",
                        file.display(),
                        dir.display(),
                        header.scene,
                        scene.name
                    )));
                }
                if let Ok(collected) = Scene::parse(&header.scene_source, dir)
                    && let Some(difference) = collected.difference(&scene)
                {
                    return Err(RuntimeError::invalid(format!(
                        "{}: data.dataset {} was collected in another variant of scene \"{}\": {difference}",
                        file.display(),
                        dir.display(),
                        scene.name
                    )));
                }
                let index = dir.join("dataset.json");
                let text = std::fs::read_to_string(&index)
                    .with_context(|| format!("reading {}", index.display()))?;
                Some((dir.clone(), text, header.frame.camera.clone()))
            }
            None => {
                if let Some(camera) = &data.camera
                    && !scene.cameras.iter().any(|c| &c.name == camera)
                {
                    let names: Vec<&str> = scene.cameras.iter().map(|c| c.name.as_str()).collect();
                    return Err(RuntimeError::invalid(format!(
                        "{}: data.camera: scene \"{}\" has no camera \"{camera}\" (it has: {})",
                        file.display(),
                        scene.name,
                        names.join(", ")
                    )));
                }
                let model = &experiment.world_model;
                let window = (model.window_frames() - 1) * model.model.frameskip;
                if data.steps < window {
                    return Err(RuntimeError::invalid(format!(
                        "{}: data.steps: episodes of at most {} steps are shorter than one training window ({window} simulator steps: history {} + rollout {}, frameskip {})",
                        file.display(),
                        data.steps,
                        model.model.history,
                        model.objective.rollout_steps,
                        model.model.frameskip
                    )));
                }
                None
            }
        };
        let mut episodes = BTreeMap::new();
        for &seed in &experiment.seeds {
            let picked = experiment
                .evaluation_episodes(&scene, seed)
                .with_context(|| format!("{}: evaluation", file.display()))?;
            episodes.insert(seed, picked);
        }
        check_device(experiment.training.device)
            .with_context(|| format!("{}: training.device", file.display()))?;
        let camera = match &reused {
            Some((_, _, camera)) => Some(camera.clone()),
            None => experiment.data.camera.clone(),
        };
        Ok(PreparedExperiment {
            reused: reused.map(|(dir, index, _)| (dir, index)),
            camera,
            experiment,
            scene,
            scene_text,
            episodes,
            out: out.to_owned(),
        })
    }

    /// The experiment as resolved.
    pub fn experiment(&self) -> &Experiment {
        &self.experiment
    }

    /// Its scene.
    pub fn scene(&self) -> &Scene {
        &self.scene
    }

    /// The folder of the experiment's runs: `out/<name>`.
    pub fn dir(&self) -> PathBuf {
        self.out.join(&self.experiment.name)
    }

    /// The folder of run seed `seed`.
    pub fn layout(&self, seed: u64) -> RunLayout {
        RunLayout::new(&self.out, &self.experiment.name, seed)
    }

    /// Whether each stage of run seed `seed` would run (`true`) or be skipped as up to date.
    pub fn pending_stages(&self, seed: u64) -> Result<Vec<(Stage, bool)>, RuntimeError> {
        let layout = self.layout(seed);
        let log = StageLog::open(&layout)?;
        let first_stale = self.first_stale_stage(&layout, &log, &self.fingerprints(seed));
        Ok(Stage::ALL
            .iter()
            .enumerate()
            .map(|(index, &stage)| (stage, index >= first_stale))
            .collect())
    }

    /// Every stage of every run seed, in order, on the experiment's training device.
    pub fn run(
        &self,
        options: &RunOptions,
        observe: Observer,
    ) -> Result<Vec<RunSummary>, RuntimeError> {
        let mut summaries = Vec::new();
        for &seed in &self.experiment.seeds {
            let summary = self
                .run_seed(seed, options, observe)
                .with_context(|| format!("experiment {}, seed {seed}", self.experiment.name))?;
            observe(Event::RunFinished(&summary));
            summaries.push(summary);
        }
        Ok(summaries)
    }

    /// Every stage of run seed `seed` (one of the experiment's seeds).
    pub fn run_seed(
        &self,
        seed: u64,
        options: &RunOptions,
        observe: Observer,
    ) -> Result<RunSummary, RuntimeError> {
        if !self.episodes.contains_key(&seed) {
            return Err(RuntimeError::invalid(format!(
                "experiment {} has no run seed {seed} (its seeds: {:?})",
                self.experiment.name, self.experiment.seeds
            )));
        }
        struct RunSeed<'a, 'o> {
            prepared: &'a PreparedExperiment,
            seed: u64,
            options: &'a RunOptions,
            observe: Observer<'o>,
        }
        impl BackendTask for RunSeed<'_, '_> {
            type Output = Result<RunSummary, RuntimeError>;
            fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output {
                self.prepared
                    .run_seed_on::<B>(self.seed, self.options, device, self.observe)
            }
        }
        on_device(
            self.experiment.training.device,
            RunSeed {
                prepared: self,
                seed,
                options,
                observe,
            },
        )?
    }

    fn fingerprints(&self, seed: u64) -> Fingerprints {
        Fingerprints::new(
            &self.experiment,
            seed,
            &self.scene_text,
            self.reused.as_ref().map(|(_, index)| index.as_str()),
        )
    }

    fn run_seed_on<B: AutodiffBackend>(
        &self,
        seed: u64,
        options: &RunOptions,
        device: &B::Device,
        observe: Observer,
    ) -> Result<RunSummary, RuntimeError> {
        let e = &self.experiment;
        let layout = self.layout(seed);
        let fingerprints = self.fingerprints(seed);
        let mut log = StageLog::open(&layout)?;
        let mut resolved = e.for_seed(seed);
        resolved.scene = std::fs::canonicalize(&e.scene).unwrap_or_else(|_| e.scene.clone());
        if let Some((dir, _)) = &self.reused {
            resolved.data.dataset =
                Some(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone()));
        }
        write_atomically(&layout.experiment(), resolved.to_ron().as_bytes())?;
        observe(Event::RunStarted {
            experiment: &e.name,
            seed,
            dir: &layout.dir,
        });
        let first_stale = self.first_stale_stage(&layout, &log, &fingerprints);
        if first_stale < Stage::ALL.len() {
            // Until the report is remade, the folder holds no finished run (compare skips it).
            for old in [layout.summary(), layout.report()] {
                if old.exists() {
                    std::fs::remove_file(&old)
                        .with_context(|| format!("removing {}", old.display()))?;
                }
            }
        }
        for (index, stage) in Stage::ALL.into_iter().enumerate() {
            let fingerprint = fingerprints.of(stage);
            if index < first_stale {
                observe(Event::StageSkipped(stage));
                continue;
            }
            let resume = stage == Stage::Train && log.was_started(stage, fingerprint);
            log.start(stage, fingerprint)?;
            observe(Event::StageStarted(stage));
            let clock = Instant::now();
            match stage {
                Stage::Collect => self.collect_stage(&layout, seed, observe)?,
                Stage::Train => {
                    self.train_stage::<B>(&layout, seed, resume, options, device, observe)?
                }
                Stage::Probe => self.probe_stage::<B>(&layout, device, observe)?,
                Stage::Evaluate => self.evaluate_stage::<B>(&layout, seed, device, observe)?,
                Stage::Report => self.report_stage(&layout, seed, &log)?,
            }
            let seconds = clock.elapsed().as_secs_f64();
            log.finish(stage, fingerprint, seconds)?;
            observe(Event::StageFinished { stage, seconds });
            if options.stop_requested() {
                return Err(RuntimeError::invalid(format!(
                    "interrupted after {}; run the same command again to continue",
                    stage.name()
                )));
            }
        }
        Ok(read_json(&layout.summary())?)
    }

    /// The position in [`Stage::ALL`] of the first stage that must run: its inputs
    /// changed, it never finished, or its outputs are gone (every later stage runs too);
    /// `Stage::ALL.len()` when all are up to date.
    fn first_stale_stage(
        &self,
        layout: &RunLayout,
        log: &StageLog,
        fingerprints: &Fingerprints,
    ) -> usize {
        Stage::ALL
            .iter()
            .position(|&stage| {
                !(log.is_done(stage, fingerprints.of(stage)) && self.outputs_exist(layout, stage))
            })
            .unwrap_or(Stage::ALL.len())
    }

    /// The folder the world model trains on.
    fn dataset_dir(&self, layout: &RunLayout) -> PathBuf {
        match &self.reused {
            Some((dir, _)) => dir.clone(),
            None => layout.data(),
        }
    }

    /// Contender names in evaluation order: the agent, then the baselines that apply.
    fn contenders(&self) -> Vec<&'static str> {
        contenders(
            &self.experiment.agent,
            &self.experiment.evaluation.baselines,
        )
    }

    /// Whether a stage's outputs are on disk.
    fn outputs_exist(&self, layout: &RunLayout, stage: Stage) -> bool {
        match stage {
            Stage::Collect => match &self.reused {
                Some(_) => layout.data_reference().exists(),
                None => layout.data().join("dataset.json").exists(),
            },
            Stage::Train => Checkpoint::open(layout.model())
                .is_ok_and(|c| c.state.step == self.experiment.world_model.training.steps),
            Stage::Probe => layout.probe().exists(),
            Stage::Evaluate => self
                .contenders()
                .iter()
                .all(|name| layout.eval().join(name).join("summary.json").exists()),
            Stage::Report => layout.summary().exists() && layout.report().exists(),
        }
    }

    fn collect_stage(
        &self,
        layout: &RunLayout,
        seed: u64,
        observe: Observer,
    ) -> Result<(), RuntimeError> {
        if let Some((dir, index)) = &self.reused {
            let reference = serde_json::json!({ "dataset": dir, "index_bytes": index.len() });
            write_atomically(&layout.data_reference(), reference.to_string().as_bytes())?;
            observe(Event::Notice(format!("collect: reusing {}", dir.display())));
            return Ok(());
        }
        let data = &self.experiment.data;
        let out = layout.data();
        remove_dir(&out)?;
        let request = CollectRequest {
            policies: data.policy.split(data.episodes),
            steps: data.steps,
            seed: self.experiment.seeded(seed).collect_seed,
            envs: data.envs,
            render: RenderOptions {
                camera: data.camera.clone(),
                resolution: data.size.map(|s| (s, s)),
            },
            out: out.clone(),
        };
        collect_in(&self.scene, &self.scene_text, &request, observe)
            .with_context(|| format!("collecting into {}", out.display()))?;
        Ok(())
    }

    fn train_stage<B: AutodiffBackend>(
        &self,
        layout: &RunLayout,
        seed: u64,
        resume: bool,
        options: &RunOptions,
        device: &B::Device,
        observe: Observer,
    ) -> Result<(), RuntimeError> {
        let out = layout.model();
        let resume = resume && !checkpoint::list(&out)?.is_empty();
        if !resume {
            remove_dir(&out)?;
        }
        let options = TrainOptions {
            data: self.dataset_dir(layout),
            out,
            config: Some(self.experiment.seeded(seed).world_model),
            steps: None,
            resume,
            stop_after: None,
            interrupt: options.stop.clone(),
            workers: None,
        };
        let summary = train_on::<B>(&options, device, observe)?;
        if summary.stopped_early {
            return Err(RuntimeError::invalid(format!(
                "interrupted at step {} (checkpoint {}); run the same command again to resume",
                summary.step,
                summary.checkpoint.display()
            )));
        }
        Ok(())
    }

    fn probe_stage<B: AutodiffBackend>(
        &self,
        layout: &RunLayout,
        device: &B::Device,
        observe: Observer,
    ) -> Result<(), RuntimeError> {
        let checkpoint = Checkpoint::open(layout.model())?;
        let (report, _) =
            probe_on::<B::InnerBackend>(&checkpoint, &self.dataset_dir(layout), device, observe)?;
        let facts = ProbeFacts::of(&report, &checkpoint.dir)?;
        write_atomically(&layout.probe(), facts.to_json().as_bytes())?;
        observe(Event::Probed(&facts));
        Ok(())
    }

    fn evaluate_stage<B: AutodiffBackend>(
        &self,
        layout: &RunLayout,
        seed: u64,
        device: &B::Device,
        observe: Observer,
    ) -> Result<(), RuntimeError> {
        let e = &self.experiment;
        remove_dir(&layout.eval())?;
        let checkpoint = Checkpoint::open(layout.model())?;
        let suite = Suite {
            scene: &self.scene,
            checkpoint: &checkpoint,
            config: &e.agent,
            baselines: &e.evaluation.baselines,
            episodes: &self.episodes[&seed],
            protocol: e.evaluation.protocol,
            out: layout.eval(),
            gifs: e.evaluation.gifs,
            camera: self.camera.clone(),
        };
        run_suite_on::<B>(&suite, device, observe)?;
        Ok(())
    }

    fn report_stage(
        &self,
        layout: &RunLayout,
        seed: u64,
        log: &StageLog,
    ) -> Result<(), RuntimeError> {
        let e = &self.experiment;
        let world_model: ProbeFacts = read_json(&layout.probe())?;
        let contenders = self
            .contenders()
            .iter()
            .map(|name| read_json::<EvalSummary>(&layout.eval().join(name).join("summary.json")))
            .collect::<Result<Vec<_>, _>>()?;
        let checkpoint = Checkpoint::open(layout.model())?;
        let dataset_dir = self.dataset_dir(layout);
        let dataset = Dataset::open(&dataset_dir)?;
        let entries = &dataset.index().episodes;
        let mut policies: Vec<String> = entries.iter().map(|x| x.policy.clone()).collect();
        policies.sort_unstable();
        policies.dedup();
        let (distance_low, distance_high) = e.evaluation.distance_range();
        let summary = RunSummary {
            experiment: e.name.clone(),
            seed,
            scene: self.scene.name.clone(),
            protocol: ProtocolFacts {
                episodes: e.evaluation.episodes,
                seed: e.seeded(seed).evaluation_seed,
                goals: format!(
                    "{}, start-to-goal distance in [{distance_low}, {distance_high}]",
                    e.evaluation.protocol.describe(&self.scene)
                ),
                step_limit: e.evaluation.protocol.budget(&self.scene),
            },
            agent: e.agent.planner.name().to_owned(),
            inputs: checkpoint.config.model.inputs().to_owned(),
            contenders,
            world_model,
            training_wall_s: checkpoint.state.elapsed_s,
            data: DataFacts {
                dataset: dataset_dir.display().to_string(),
                episodes: entries.len(),
                steps: entries.iter().map(|x| x.steps).sum(),
                successes: entries.iter().filter(|x| x.success).count(),
                policies,
            },
        };
        let stage_seconds: Vec<(&str, f64)> = Stage::ALL
            .iter()
            .filter_map(|&s| log.get(s).map(|r| (s.name(), r.seconds)))
            .filter(|(name, _)| *name != "report")
            .collect();
        write_board(layout, e, &summary, seed)?;
        write_atomically(
            &layout.report(),
            summary.markdown(e, &stage_seconds).as_bytes(),
        )?;
        let text = serde_json::to_string_pretty(&summary).expect("summaries serialise");
        write_atomically(&layout.summary(), text.as_bytes())?;
        Ok(())
    }
}

/// Removes a folder and everything in it; a missing folder is fine.
fn remove_dir(dir: &Path) -> Result<(), RuntimeError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// The TensorBoard summary run: the experiment as text, an HParams session with the
/// flattened experiment, and the final metrics it is compared on.
fn write_board(
    layout: &RunLayout,
    e: &Experiment,
    summary: &RunSummary,
    seed: u64,
) -> Result<(), RuntimeError> {
    let dir = layout.board();
    remove_dir(&dir)?;
    let mut board = Board::create(&dir)?;
    let step = summary.world_model.step;
    let indented: String = e
        .for_seed(seed)
        .to_ron()
        .lines()
        .map(|line| format!("    {line}\n"))
        .collect();
    board.text("experiment", step, &indented)?;
    board.hparams_start(&crate::experiment::hparams(e, seed))?;
    let agent = summary.agent();
    let w = &summary.world_model;
    let data = &summary.data;
    let mut metrics = vec![
        ("eval/success_rate".to_owned(), agent.success_rate),
        ("eval/final_distance".to_owned(), agent.final_distance),
        ("repr/probe_r2".to_owned(), w.probe_r2),
        ("val/loss_pred".to_owned(), w.loss_pred),
        ("val/loss_no_change".to_owned(), w.loss_no_change),
        (
            "perf/plan_ms_per_action".to_owned(),
            agent.plan_ms_per_action,
        ),
        ("perf/train_wall_s".to_owned(), summary.training_wall_s),
        ("data/episodes".to_owned(), data.episodes as f64),
        (
            "data/success_rate".to_owned(),
            data.successes as f64 / data.episodes.max(1) as f64,
        ),
    ];
    for baseline in &summary.contenders[1..] {
        metrics.push((
            format!("eval/success_rate_{}", baseline.name),
            baseline.success_rate,
        ));
    }
    for (tag, value) in metrics {
        board.scalar(&tag, value, step)?;
    }
    board.hparams_end(true)?;
    board.flush()?;
    Ok(())
}
