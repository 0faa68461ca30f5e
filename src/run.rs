//! `prefrontal run`: one experiment file, every stage — collect → train → probe → evaluate
//! → report — per run seed, skipping stages whose inputs are unchanged and resuming a
//! killed training run; and `prefrontal compare`: a table of finished runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use prefrontal_agent::eval::{EpisodeSpec, EvalSummary, pick_episodes};
use prefrontal_agent::{Baseline, PlannerConfig, Suite};
use prefrontal_board::Board;
use prefrontal_dataset::Dataset;
use prefrontal_experiment::{
    DataFacts, Experiment, Fingerprints, ProbeFacts, Protocol, RunLayout, RunSummary, Stage,
    StageLog, read_json, write_atomically,
};
use prefrontal_sim::collect::{CollectConfig, collect};
use prefrontal_sim::{RenderOptions, Scene};
use prefrontal_worldmodel::{Checkpoint, DeviceKind, EvalReport, TrainOptions, checkpoint};

use crate::interrupt;
use crate::progress::Progress;
use crate::train::{probe_checkpoint, train_with, with_backend};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The `*.experiment.ron` file.
    file: PathBuf,
    /// Where runs go: OUT/<experiment name>/seed-<s>/.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Overrides a field of the resolved experiment, e.g. `--set evaluation.episodes=50`
    /// or `--set world_model.model.latent_dim=64` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// Validate the experiment, every file and reference, the evaluation protocol and the
    /// device, say which stages would run, and stop without writing anything.
    #[arg(long)]
    dry_run: bool,
}

/// An experiment checked and ready to run.
struct Plan {
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

pub fn run_experiment(args: &RunArgs) -> Result<()> {
    let started = Instant::now();
    let experiment = Experiment::load(&args.file, &args.set)?;
    let plan = prepare(experiment, &args.out, &args.file)?;
    let experiment = &plan.experiment;
    if args.dry_run {
        return describe_plan(&plan);
    }
    interrupt::install()?;
    let mut summaries = Vec::new();
    for &seed in &experiment.seeds {
        let summary = with_backend!(experiment.training.device, |B, device| {
            run_seed::<B>(&plan, seed, &device)
        })
        .with_context(|| format!("experiment {}, seed {seed}", experiment.name))?;
        println!("{}", summary.result_line());
        summaries.push(summary);
    }
    if summaries.len() > 1 {
        print!("{}", prefrontal_experiment::compare(&summaries));
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    println!(
        "{}: {} in {minutes:.1} min; runs in {}",
        experiment.name,
        pooled_line(&summaries),
        plan.out.join(&experiment.name).display()
    );
    Ok(())
}

/// The agent's success pooled over seeds, against each baseline's.
fn pooled_line(summaries: &[RunSummary]) -> String {
    format!(
        "{} over {} seed(s)",
        prefrontal_experiment::report::versus_line(&prefrontal_experiment::report::tallies(
            summaries
        )),
        summaries.len()
    )
}

/// Checks every file, reference, the protocol and the device; writes nothing.
fn prepare(experiment: Experiment, out: &Path, file: &Path) -> Result<Plan> {
    let scene_text = std::fs::read_to_string(&experiment.scene)
        .with_context(|| format!("{}: scene {}", file.display(), experiment.scene.display()))?;
    let scene = Scene::parse(&scene_text, &experiment.scene)?;
    let data = &experiment.data;
    let reused = match &data.dataset {
        Some(dir) => {
            let dataset =
                Dataset::open(dir).with_context(|| format!("{}: data.dataset", file.display()))?;
            let header = &dataset.index().header;
            if header.scene != scene.name {
                bail!(
                    "{}: data.dataset {} holds scene \"{}\", the experiment's scene is \"{}\"",
                    file.display(),
                    dir.display(),
                    header.scene,
                    scene.name
                );
            }
            if let Ok(collected) = Scene::parse(&header.scene_source, dir)
                && let Some(difference) = collected.difference(&scene)
            {
                bail!(
                    "{}: data.dataset {} was collected in another variant of scene \"{}\": {difference}",
                    file.display(),
                    dir.display(),
                    scene.name
                );
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
                bail!(
                    "{}: data.camera: scene \"{}\" has no camera \"{camera}\" (it has: {})",
                    file.display(),
                    scene.name,
                    names.join(", ")
                );
            }
            let model = &experiment.world_model;
            let window = (model.window_frames() - 1) * model.model.frameskip;
            if data.steps < window {
                bail!(
                    "{}: data.steps: episodes of at most {} steps are shorter than one training window ({window} simulator steps: history {} + rollout {}, frameskip {})",
                    file.display(),
                    data.steps,
                    model.model.history,
                    model.objective.rollout_steps,
                    model.model.frameskip
                );
            }
            None
        }
    };
    let mut episodes = BTreeMap::new();
    for &seed in &experiment.seeds {
        let evaluation = &experiment.evaluation;
        let picked = pick_episodes(
            &scene,
            evaluation.episodes,
            experiment.seeded(seed).evaluation_seed,
            evaluation.distance_range(),
            evaluation.protocol,
        )
        .with_context(|| format!("{}: evaluation", file.display()))?;
        episodes.insert(seed, picked);
    }
    check_device(experiment.training.device)
        .with_context(|| format!("{}: training.device", file.display()))?;
    let camera = match &reused {
        Some((_, _, camera)) => Some(camera.clone()),
        None => experiment.data.camera.clone(),
    };
    Ok(Plan {
        reused: reused.map(|(dir, index, _)| (dir, index)),
        camera,
        experiment,
        scene,
        scene_text,
        episodes,
        out: out.to_owned(),
    })
}

/// Allocates a tensor on the device and reads it back.
fn check_device(kind: DeviceKind) -> Result<()> {
    with_backend!(kind, |B, device| {
        let value = Tensor::<B, 1>::ones([1], &device).sum().into_scalar();
        anyhow::ensure!(
            burn::tensor::ElementConversion::elem::<f32>(value) == 1.0,
            "the {kind} device computes 1 ≠ 1"
        );
        Ok(())
    })
}

fn fingerprints(plan: &Plan, seed: u64) -> Fingerprints {
    Fingerprints::new(
        &plan.experiment,
        seed,
        &plan.scene_text,
        plan.reused.as_ref().map(|(_, index)| index.as_str()),
    )
}

/// The dry run's account: what is valid and which stages would run.
fn describe_plan(plan: &Plan) -> Result<()> {
    let e = &plan.experiment;
    println!(
        "{}: ok — scene \"{}\", {} seed(s), {} on {}",
        e.name,
        plan.scene.name,
        e.seeds.len(),
        e.agent.planner.name(),
        e.training.device
    );
    println!(
        "  evaluation: {} goals per seed, {}",
        e.evaluation.episodes,
        e.evaluation.protocol.describe(&plan.scene)
    );
    for &seed in &e.seeds {
        let layout = RunLayout::new(&plan.out, &e.name, seed);
        let log = StageLog::open(&layout)?;
        let first_stale = first_stale_stage(plan, &layout, &log, &fingerprints(plan, seed));
        let stages: Vec<String> = Stage::ALL
            .iter()
            .enumerate()
            .map(|(index, stage)| {
                let verdict = if index < first_stale {
                    "skipped"
                } else {
                    "runs"
                };
                format!("{} {verdict}", stage.name())
            })
            .collect();
        println!(
            "  seed {seed} → {}: {}",
            layout.dir.display(),
            stages.join(", ")
        );
    }
    println!("dry run: nothing was written");
    Ok(())
}

/// Every stage of one run seed.
fn run_seed<B: AutodiffBackend>(plan: &Plan, seed: u64, device: &B::Device) -> Result<RunSummary> {
    let e = &plan.experiment;
    let layout = RunLayout::new(&plan.out, &e.name, seed);
    let fingerprints = fingerprints(plan, seed);
    let mut log = StageLog::open(&layout)?;
    let mut resolved = e.for_seed(seed);
    resolved.scene = std::fs::canonicalize(&e.scene).unwrap_or_else(|_| e.scene.clone());
    if let Some((dir, _)) = &plan.reused {
        resolved.data.dataset = Some(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone()));
    }
    write_atomically(&layout.experiment(), resolved.to_ron().as_bytes())?;
    eprintln!("== {} seed {seed}: {}", e.name, layout.dir.display());
    let first_stale = first_stale_stage(plan, &layout, &log, &fingerprints);
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
            eprintln!("{}: up to date, skipped", stage.name());
            continue;
        }
        let resume = stage == Stage::Train && log.was_started(stage, fingerprint);
        log.start(stage, fingerprint)?;
        let clock = Instant::now();
        match stage {
            Stage::Collect => collect_stage(plan, &layout, seed)?,
            Stage::Train => train_stage::<B>(plan, &layout, seed, resume, device)?,
            Stage::Probe => probe_stage::<B>(plan, &layout, device)?,
            Stage::Evaluate => evaluate_stage::<B>(plan, &layout, seed, device)?,
            Stage::Report => report_stage(plan, &layout, seed, &log)?,
        }
        let seconds = clock.elapsed().as_secs_f64();
        log.finish(stage, fingerprint, seconds)?;
        eprintln!("{}: done in {seconds:.1} s", stage.name());
        if interrupt::requested() {
            bail!(
                "interrupted after {}; run the same command again to continue",
                stage.name()
            );
        }
    }
    Ok(read_json(&layout.summary())?)
}

/// The position in [`Stage::ALL`] of the first stage that must run: its inputs changed, it
/// never finished, or its outputs are gone (every later stage runs too); `Stage::ALL.len()`
/// when all are up to date.
fn first_stale_stage(
    plan: &Plan,
    layout: &RunLayout,
    log: &StageLog,
    fingerprints: &Fingerprints,
) -> usize {
    Stage::ALL
        .iter()
        .position(|&stage| {
            !(log.is_done(stage, fingerprints.of(stage)) && outputs_exist(plan, layout, stage))
        })
        .unwrap_or(Stage::ALL.len())
}

/// The folder the world model trains on.
fn dataset_dir(plan: &Plan, layout: &RunLayout) -> PathBuf {
    match &plan.reused {
        Some((dir, _)) => dir.clone(),
        None => layout.data(),
    }
}

/// Contender names in evaluation order: the agent, then the baselines that apply.
fn contenders(plan: &Plan) -> Vec<&'static str> {
    let agent = &plan.experiment.agent;
    let mut names = vec![agent.planner.name()];
    for baseline in &plan.experiment.evaluation.baselines {
        let skipped =
            *baseline == Baseline::Oracle && matches!(agent.planner, PlannerConfig::Gradient(_));
        if !skipped {
            names.push(baseline.name());
        }
    }
    names
}

/// Whether a stage's outputs are on disk.
fn outputs_exist(plan: &Plan, layout: &RunLayout, stage: Stage) -> bool {
    match stage {
        Stage::Collect => match &plan.reused {
            Some(_) => layout.data_reference().exists(),
            None => layout.data().join("dataset.json").exists(),
        },
        Stage::Train => Checkpoint::open(layout.model())
            .is_ok_and(|c| c.state.step == plan.experiment.world_model.training.steps),
        Stage::Probe => layout.probe().exists(),
        Stage::Evaluate => contenders(plan)
            .iter()
            .all(|name| layout.eval().join(name).join("summary.json").exists()),
        Stage::Report => layout.summary().exists() && layout.report().exists(),
    }
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn collect_stage(plan: &Plan, layout: &RunLayout, seed: u64) -> Result<()> {
    if let Some((dir, index)) = &plan.reused {
        let reference = serde_json::json!({ "dataset": dir, "index_bytes": index.len() });
        write_atomically(&layout.data_reference(), reference.to_string().as_bytes())?;
        eprintln!("collect: reusing {}", dir.display());
        return Ok(());
    }
    let data = &plan.experiment.data;
    let out = layout.data();
    remove_dir(&out)?;
    let mut bar = Progress::new("collect", data.episodes as u64, "episodes");
    let mut first_seed = plan.experiment.seeded(seed).collect_seed;
    let mut done = 0;
    for (policy, episodes) in data.policy.split(data.episodes) {
        if episodes == 0 {
            continue;
        }
        let config = CollectConfig {
            episodes,
            steps: data.steps,
            seed: first_seed,
            policy,
            envs: data.envs,
            render: RenderOptions {
                camera: data.camera.clone(),
                resolution: data.size.map(|s| (s, s)),
            },
        };
        collect(
            plan.scene.clone(),
            &plan.scene_text,
            &config,
            &out,
            |written| bar.set((done + written) as u64, policy.name().to_owned()),
        )
        .with_context(|| format!("collecting into {}", out.display()))?;
        done += episodes;
        first_seed += episodes as u64;
    }
    bar.finish();
    Ok(())
}

fn train_stage<B: AutodiffBackend>(
    plan: &Plan,
    layout: &RunLayout,
    seed: u64,
    resume: bool,
    device: &B::Device,
) -> Result<()> {
    let out = layout.model();
    let resume = resume && !checkpoint::list(&out)?.is_empty();
    if !resume {
        remove_dir(&out)?;
    }
    let training = interrupt::Training::start()?;
    let options = TrainOptions {
        data: dataset_dir(plan, layout),
        out,
        config: Some(plan.experiment.seeded(seed).world_model),
        steps: None,
        resume,
        stop_after: None,
        interrupt: Some(training.flag()),
    };
    let summary = train_with::<B>(&options, device)?;
    if summary.stopped_early {
        bail!(
            "interrupted at step {} (checkpoint {}); run the same command again to resume",
            summary.step,
            summary.checkpoint.display()
        );
    }
    Ok(())
}

fn probe_stage<B: AutodiffBackend>(
    plan: &Plan,
    layout: &RunLayout,
    device: &B::Device,
) -> Result<()> {
    let checkpoint = Checkpoint::open(layout.model())?;
    let (report, _) =
        probe_checkpoint::<B::InnerBackend>(&checkpoint, &dataset_dir(plan, layout), device)?;
    let facts = probe_facts(&report);
    let text = serde_json::to_string_pretty(&facts).expect("facts serialise");
    if text.contains("null") {
        bail!(
            "the probe of {} gave a non-finite metric (NaN or infinity; written as null): {text}",
            checkpoint.dir.display()
        );
    }
    write_atomically(&layout.probe(), text.as_bytes())?;
    eprintln!(
        "probe: R² {:.3}, validation prediction loss {:.4} (no change {:.4})",
        facts.probe_r2, facts.loss_pred, facts.loss_no_change
    );
    Ok(())
}

fn probe_facts(report: &EvalReport) -> ProbeFacts {
    ProbeFacts {
        step: report.step,
        loss_pred: report.loss_pred,
        loss_no_change: report.loss_no_change,
        rollout_error: report.rollout_error.iter().map(|(h, e)| (*h, *e)).collect(),
        latent_std: report.latent_std,
        effective_rank: report.effective_rank,
        probe_r2: report.probe.mean(),
        probe: report.probe.per_target.iter().cloned().collect(),
    }
}

fn evaluate_stage<B: AutodiffBackend>(
    plan: &Plan,
    layout: &RunLayout,
    seed: u64,
    device: &B::Device,
) -> Result<()> {
    let e = &plan.experiment;
    remove_dir(&layout.eval())?;
    let checkpoint = Checkpoint::open(layout.model())?;
    let suite = Suite {
        scene: &plan.scene,
        checkpoint: &checkpoint,
        config: &e.agent,
        baselines: &e.evaluation.baselines,
        episodes: &plan.episodes[&seed],
        protocol: e.evaluation.protocol,
        out: layout.eval(),
        gifs: e.evaluation.gifs,
        camera: plan.camera.clone(),
    };
    let summaries = crate::eval::run_suite::<B>(&suite, device)?;
    print!(
        "{}",
        prefrontal_experiment::report::contender_table(&summaries)
    );
    Ok(())
}

fn report_stage(plan: &Plan, layout: &RunLayout, seed: u64, log: &StageLog) -> Result<()> {
    let e = &plan.experiment;
    let world_model: ProbeFacts = read_json(&layout.probe())?;
    let contenders = contenders(plan)
        .iter()
        .map(|name| read_json::<EvalSummary>(&layout.eval().join(name).join("summary.json")))
        .collect::<Result<Vec<_>, _>>()?;
    let checkpoint = Checkpoint::open(layout.model())?;
    let dataset_dir = dataset_dir(plan, layout);
    let dataset = Dataset::open(&dataset_dir)?;
    let entries = &dataset.index().episodes;
    let mut policies: Vec<String> = entries.iter().map(|x| x.policy.clone()).collect();
    policies.sort_unstable();
    policies.dedup();
    let (distance_low, distance_high) = e.evaluation.distance_range();
    let summary = RunSummary {
        experiment: e.name.clone(),
        seed,
        scene: plan.scene.name.clone(),
        protocol: Protocol {
            episodes: e.evaluation.episodes,
            seed: e.seeded(seed).evaluation_seed,
            goals: format!(
                "{}, start-to-goal distance in [{distance_low}, {distance_high}]",
                e.evaluation.protocol.describe(&plan.scene)
            ),
            step_limit: e.evaluation.protocol.budget(&plan.scene),
        },
        agent: e.agent.planner.name().to_owned(),
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

/// The TensorBoard summary run: the experiment as text, an HParams session with the
/// flattened experiment, and the final metrics it is compared on.
fn write_board(layout: &RunLayout, e: &Experiment, summary: &RunSummary, seed: u64) -> Result<()> {
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
    board.hparams_start(&prefrontal_experiment::hparams(e, seed))?;
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

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Run folders, experiment folders or globs (`runs/reach-*`): every run below them
    /// that finished (has `summary.json` beside `experiment.ron`).
    #[arg(required = true)]
    runs: Vec<String>,
}

pub fn run_compare(args: &CompareArgs) -> Result<()> {
    let mut found = Vec::new();
    for pattern in &args.runs {
        let paths: Vec<PathBuf> = glob::glob(pattern)
            .with_context(|| format!("`{pattern}` is not a valid pattern"))?
            .filter_map(Result::ok)
            .collect();
        if paths.is_empty() {
            bail!("no file or folder matches `{pattern}`");
        }
        let before = found.len();
        for path in paths {
            let path = std::fs::canonicalize(&path).unwrap_or(path);
            find_runs(&path, 3, &mut found);
        }
        if found.len() == before {
            bail!(
                "`{pattern}` holds no finished run (a folder with summary.json beside experiment.ron): has `prefrontal run` finished there?"
            );
        }
    }
    found.sort();
    found.dedup();
    let mut summaries = Vec::with_capacity(found.len());
    for dir in &found {
        let path = dir.join("summary.json");
        let summary: RunSummary = read_json(&path)?;
        if summary.contenders.is_empty() {
            bail!("{}: lists no contender", path.display());
        }
        if let Some(index) = summaries.iter().position(|s: &RunSummary| {
            (s.experiment.as_str(), s.seed) == (summary.experiment.as_str(), summary.seed)
        }) {
            bail!(
                "{} and {} are both seed {} of experiment \"{}\"; compare one of them (rename a run with --set name=…)",
                found[index].display(),
                dir.display(),
                summary.seed,
                summary.experiment
            );
        }
        summaries.push(summary);
    }
    print!("{}", prefrontal_experiment::compare(&summaries));
    Ok(())
}

/// Run folders at or below `path`, at most `depth` levels down.
fn find_runs(path: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    if path.join("summary.json").is_file() && path.join("experiment.ron").is_file() {
        found.push(path.to_owned());
        return;
    }
    if depth == 0 {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(path) {
        let mut children: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        children.sort();
        for child in children {
            find_runs(&child, depth - 1, found);
        }
    }
}
