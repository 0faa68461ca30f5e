//! `prefrontal bench sim|render|train|plan`: throughput tables.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Tensor, TensorData};
use prefrontal_agent::{
    AgentConfig, Bounds, JepaModel, LatentModel, LatentSpec, PlanRequest, PlannerConfig,
    PlannerKind, build_planner, sampling_planner,
};
use prefrontal_runtime::{BackendTask, on_device};
use prefrontal_sim::policy::RandomPolicy;
use prefrontal_worldmodel::RonConfig;
use prefrontal_worldmodel::config::{EncoderConfig, PredictorConfig};
use prefrontal_worldmodel::data::{Batch, Frames};
use prefrontal_worldmodel::{Checkpoint, DataSpec, Learner, WorldModel, WorldModelConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use prefrontal_sim::{Action, RenderOptions, Scene, VecEnv};
use prefrontal_worldmodel::Device;

#[derive(Debug, clap::Args)]
pub struct SimBenchArgs {
    /// Folder of `*.scene.ron` files to measure.
    #[arg(long, default_value = "scenes")]
    scenes: PathBuf,
    /// Environment counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    envs: Vec<usize>,
    /// Seconds of stepping per measurement, after a warm-up.
    #[arg(long, default_value_t = 2.0, value_parser = positive_seconds)]
    seconds: f64,
}

/// A measurement's length: a positive, finite number of seconds (at most a day).
fn positive_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0 {
        Ok(seconds)
    } else {
        Err(format!(
            "{text} is not a measurement length: give seconds above 0 and at most 86400"
        ))
    }
}

#[derive(Debug, clap::Args)]
pub struct RenderBenchArgs {
    /// The scene to render.
    #[arg(long, default_value = "scenes/push.scene.ron")]
    scene: PathBuf,
    /// Environment counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    envs: Vec<usize>,
    /// Square frame sizes to measure.
    #[arg(long, value_delimiter = ',', default_value = "64,128")]
    sizes: Vec<u32>,
    /// Seconds of stepping per measurement, after a warm-up.
    #[arg(long, default_value_t = 2.0, value_parser = positive_seconds)]
    seconds: f64,
}

/// Prints the head of a Markdown table with one column per environment count.
fn print_header(first: &str, unit: &str, envs: &[usize]) {
    print!("| {first} |");
    for n in envs {
        print!(" {n} env{} ({unit}) |", if *n == 1 { "" } else { "s" });
    }
    println!();
    println!("|---|{}", "---:|".repeat(envs.len()));
}

/// Env-steps per second of `env` under random actions (auto-reset on).
fn measure(mut env: VecEnv, seconds: f64) -> Result<f64> {
    let envs = env.num_envs();
    let seeds: Vec<u64> = (0..envs as u64).collect();
    env.reset(&seeds)?;
    let space = env.action_space();
    let mut policies: Vec<RandomPolicy> = seeds
        .iter()
        .map(|&s| RandomPolicy::new(&space, s))
        .collect();
    let mut act = || -> Vec<Action> { policies.iter_mut().map(RandomPolicy::act).collect() };
    for _ in 0..20 {
        env.step(&act())?;
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut steps = 0_u64;
    while start.elapsed() < budget {
        env.step(&act())?;
        steps += 1;
    }
    Ok((steps * envs as u64) as f64 / start.elapsed().as_secs_f64())
}

pub fn run_render_bench(args: &RenderBenchArgs) -> Result<()> {
    let scene = Scene::load(&args.scene)?;
    println!(
        "rendered, read-back frames/s of scene \"{}\", physics included",
        scene.name
    );
    print_header("frame", "frames/s", &args.envs);
    for &size in &args.sizes {
        print!("| {size}×{size} |");
        for &envs in &args.envs {
            let options = RenderOptions {
                camera: None,
                resolution: Some((size, size)),
            };
            let env = VecEnv::with_rendering(scene.clone(), envs, options)?;
            print!(" {:.0} |", measure(env, args.seconds)?);
        }
        println!();
    }
    Ok(())
}

pub fn run_sim_bench(args: &SimBenchArgs) -> Result<()> {
    let files = Scene::files_in(&args.scenes)?;
    print_header("scene", "env-steps/s", &args.envs);
    for file in files {
        let scene = Scene::load(&file)?;
        print!("| {} |", scene.name);
        for &envs in &args.envs {
            let rate = measure(VecEnv::new(scene.clone(), envs)?, args.seconds)?;
            print!(" {rate:.0} |");
        }
        println!();
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct TrainBenchArgs {
    /// World-model config (`*.ron`); the defaults when omitted.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Square frame size.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Where to run: cpu, cuda, cuda:N, wgpu or wgpu:N.
    #[arg(long, default_value_t = Device::default())]
    device: Device,
    /// Data-parallel worker counts to time the training step with (overrides
    /// `training.workers`), e.g. `1,2`.
    #[arg(long, value_delimiter = ',', value_parser = crate::choices::workers())]
    workers: Vec<usize>,
    /// Seconds per measurement, after a warm-up.
    #[arg(long, default_value_t = 10.0, value_parser = positive_seconds)]
    seconds: f64,
}

pub fn run_train_bench(args: &TrainBenchArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => WorldModelConfig::load(path)?,
        None => WorldModelConfig::default(),
    };
    struct TrainBench<'a> {
        args: &'a TrainBenchArgs,
        config: &'a WorldModelConfig,
    }
    impl BackendTask for TrainBench<'_> {
        type Output = Result<()>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Result<()> {
            train_bench::<B>(self.args, self.config, device)
        }
    }
    on_device(
        args.device,
        TrainBench {
            args,
            config: &config,
        },
    )?
}

/// Calls `work` repeatedly for about `seconds` after two warm-up calls; returns seconds per call.
fn time_per_call(seconds: f64, mut work: impl FnMut() -> Result<()>) -> Result<f64> {
    work()?;
    work()?;
    let start = Instant::now();
    let mut calls = 0u32;
    while calls == 0 || start.elapsed().as_secs_f64() < seconds {
        work()?;
        calls += 1;
    }
    Ok(start.elapsed().as_secs_f64() / calls as f64)
}

fn train_bench<B: AutodiffBackend>(
    args: &TrainBenchArgs,
    config: &WorldModelConfig,
    device: &B::Device,
) -> Result<()> {
    let spec = synthetic_spec(args.size);
    let batch_size = config.training.batch_size;
    let frames = config.window_frames();
    let action_width = spec.action_dim * config.model.frameskip;
    let uniform = Distribution::Uniform(-1.0, 1.0);
    let train = SyntheticBatch::new(config, &spec, 0).on::<B>(device);
    let worker_counts = match args.workers.as_slice() {
        [] => vec![config.training.workers],
        counts => counts.to_vec(),
    };
    let mut train_s = Vec::new();
    let mut learner = None;
    for &workers in &worker_counts {
        let mut config = config.clone();
        config.training.workers = workers;
        let mut timed = Learner::<B>::new(&config, &spec, device)?;
        let mut step = 0;
        train_s.push(time_per_call(args.seconds, || {
            timed.step(&train, step, 1e-4)?;
            step += 1;
            Ok(())
        })?);
        learner = Some(timed);
    }
    let model = learner.expect("at least one worker count").model.valid();
    type Inner<B> = <B as AutodiffBackend>::InnerBackend;
    let encode = |n: usize| {
        let frames = Tensor::<Inner<B>, 4>::random([n, 3, args.size, args.size], uniform, device);
        let proprio = Tensor::<Inner<B>, 2>::random([n, spec.proprio_dim], uniform, device);
        time_per_call(args.seconds / 4.0, || {
            let _ = model.encode(frames.clone(), proprio.clone()).into_data();
            Ok(())
        })
    };
    let (encode_1, encode_batch) = (encode(1)?, encode(batch_size)?);
    let dim = config.model.latent_dim;
    let rollout = |samples: usize, horizon: usize| {
        let history = Tensor::<Inner<B>, 3>::random([samples, 1, dim], uniform, device);
        let actions =
            Tensor::<Inner<B>, 3>::random([samples, horizon, action_width], uniform, device);
        time_per_call(args.seconds / 4.0, || {
            let _ = model.rollout(history.clone(), actions.clone()).into_data();
            Ok(())
        })
    };
    let rollout_plan = rollout(300, 5)?;
    // The planners' path: one shared observed latent, 300 candidate action sequences.
    let imagine_plan = {
        let history = Tensor::<Inner<B>, 3>::random([1, 1, dim], uniform, device);
        let candidates = Tensor::<Inner<B>, 3>::random([300, 5, action_width], uniform, device);
        time_per_call(args.seconds / 4.0, || {
            let _ = model
                .imagine(history.clone(), None, candidates.clone())
                .into_data();
            Ok(())
        })?
    };
    println!(
        "world model ({} encoder, {} predictor, latent {dim}), {}×{} frames, batch {batch_size} windows of {frames} frames",
        encoder_name(config),
        predictor_name(config),
        args.size,
        args.size
    );
    println!("| measurement | value |\n|---|---:|");
    for (workers, train_s) in worker_counts.iter().zip(&train_s) {
        let by = match workers {
            1 => String::new(),
            n => format!(", {n} workers"),
        };
        println!("| train step{by} | {:.1} ms |", train_s * 1e3);
        println!(
            "| training samples/s (windows){by} | {:.1} |",
            batch_size as f64 / train_s
        );
        println!(
            "| training frames/s (encoded){by} | {:.0} |",
            (batch_size * frames) as f64 / train_s
        );
    }
    println!("| encoder forward, 1 frame | {:.2} ms |", encode_1 * 1e3);
    println!(
        "| encoder forward, {batch_size} frames | {:.2} ms |",
        encode_batch * 1e3
    );
    println!(
        "| predictor rollout, 300 samples × 5 steps | {:.2} ms |",
        rollout_plan * 1e3
    );
    println!(
        "| predictor imagine (planners' path), 300 candidates × 5 steps | {:.2} ms |",
        imagine_plan * 1e3
    );
    Ok(())
}

/// A reach-like data shape: `size`² frames, 2-D actions, 4-D proprioception.
pub(crate) fn synthetic_spec(size: usize) -> DataSpec {
    DataSpec {
        scene: "synthetic".into(),
        scene_source: String::new(),
        camera: "top".to_owned(),
        height: size,
        width: size,
        action_dim: 2,
        proprio_dim: 4,
        proprio_names: Vec::new(),
        state_names: Vec::new(),
    }
}

/// A training batch drawn on the CPU from a seed: the same numbers on every backend.
#[derive(Debug)]
pub(crate) struct SyntheticBatch {
    /// `[W·F, 3, H, W]`.
    frames: Vec<f32>,
    /// `[W·F, P]`.
    proprio: Vec<f32>,
    /// `[W, F-1, A·frameskip]`.
    actions: Vec<f32>,
    windows: usize,
    frames_per_window: usize,
    /// `[H, W, P, A·frameskip]`.
    widths: [usize; 4],
}

impl SyntheticBatch {
    /// A batch of `training.batch_size` windows shaped by `config` and `spec`.
    pub(crate) fn new(config: &WorldModelConfig, spec: &DataSpec, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (windows, frames) = (config.training.batch_size, config.window_frames());
        let action_width = spec.action_dim * config.model.frameskip;
        let mut uniform =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        SyntheticBatch {
            frames: uniform(windows * frames * 3 * spec.height * spec.width),
            proprio: uniform(windows * frames * spec.proprio_dim),
            actions: uniform(windows * (frames - 1) * action_width),
            windows,
            frames_per_window: frames,
            widths: [spec.height, spec.width, spec.proprio_dim, action_width],
        }
    }

    /// The batch as tensors on `device`.
    pub(crate) fn on<B: Backend>(&self, device: &B::Device) -> Batch<B> {
        let n = self.windows * self.frames_per_window;
        let [height, width, proprio, action] = self.widths;
        let tensor = |values: &[f32], shape: Vec<usize>| TensorData::new(values.to_vec(), shape);
        Batch {
            observed: Frames {
                frames: Tensor::from_data(tensor(&self.frames, vec![n, 3, height, width]), device),
                proprio: Tensor::from_data(tensor(&self.proprio, vec![n, proprio]), device),
                state: Vec::new(),
            },
            actions: Tensor::from_data(
                tensor(
                    &self.actions,
                    vec![self.windows, self.frames_per_window - 1, action],
                ),
                device,
            ),
            windows: self.windows,
            frames_per_window: self.frames_per_window,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PlanBenchArgs {
    /// A checkpoint to plan with; a freshly initialised default model (reach-shaped,
    /// 64×64 frames) when omitted. Planning cost does not depend on the weights.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Where to run: cpu, cuda, cuda:N, wgpu or wgpu:N.
    #[arg(long, default_value_t = Device::default())]
    device: Device,
    /// Seconds per measurement, after a warm-up.
    #[arg(long, default_value_t = 10.0, value_parser = positive_seconds)]
    seconds: f64,
    /// An agent config (`*.agent.ron`) measured after the default planners.
    #[arg(long)]
    agent: Option<PathBuf>,
}

pub fn run_plan_bench(args: &PlanBenchArgs) -> Result<()> {
    struct PlanBench<'a>(&'a PlanBenchArgs);
    impl BackendTask for PlanBench<'_> {
        type Output = Result<()>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Result<()> {
            plan_bench::<B>(self.0, device)
        }
    }
    on_device(args.device, PlanBench(args))?
}

fn plan_bench<B: AutodiffBackend>(args: &PlanBenchArgs, device: &B::Device) -> Result<()> {
    type Inner<B> = <B as AutodiffBackend>::InnerBackend;
    let checkpoint = args.checkpoint.as_ref().map(Checkpoint::open).transpose()?;
    let (config, spec) = match &checkpoint {
        Some(checkpoint) => (checkpoint.config.clone(), checkpoint.state.spec.clone()),
        None => (WorldModelConfig::default(), synthetic_spec(64)),
    };
    let inference = match &checkpoint {
        Some(checkpoint) => JepaModel::<Inner<B>>::load(checkpoint, device)?,
        None => JepaModel::from_model(
            WorldModel::new(&config.model, &spec, device),
            &config.model,
            spec.clone(),
            "default model".into(),
        ),
    };
    let differentiable = match &checkpoint {
        Some(checkpoint) => JepaModel::<B>::load_differentiable(checkpoint, device)?,
        None => JepaModel::differentiable(
            WorldModel::<B>::new(&config.model, &spec, device),
            &config.model,
            spec.clone(),
            "default model".into(),
        ),
    };
    let latent = inference.spec();
    let bounds = Bounds::tiled(
        &vec![-1.0; spec.action_dim],
        &vec![1.0; spec.action_dim],
        latent.frameskip,
    );
    let h = latent.history;
    let agent = |planner: PlannerConfig| AgentConfig {
        planner,
        ..AgentConfig::default()
    };
    println!(
        "planning with the {} ({} encoder, {} predictor, latent {}, history {h}, frameskip {})",
        if checkpoint.is_some() {
            "checkpoint's model"
        } else {
            "default model"
        },
        encoder_name(&config),
        predictor_name(&config),
        latent.latent_dim,
        latent.frameskip
    );
    println!("| planner | candidates × horizon × iterations | ms per call | imagined steps/s |");
    println!("|---|---|---:|---:|");
    let row = |name: &str, samples: usize, horizon: usize, iterations: usize, seconds: f64| {
        let steps = (samples * horizon * iterations) as f64;
        println!(
            "| {name} | {samples} × {horizon} × {iterations} | {:.1} | {:.0} |",
            seconds * 1e3,
            steps / seconds
        );
    };
    let mut configs: Vec<(String, AgentConfig)> = PlannerKind::ALL
        .into_iter()
        .map(|kind| (kind.label().to_owned(), agent(kind.default_config())))
        .collect();
    if let Some(path) = &args.agent {
        let config = AgentConfig::load(path)?;
        configs.push((
            format!("{} ({})", config.planner.name(), path.display()),
            config,
        ));
    }
    let inference_request = random_request::<Inner<B>>(latent, device);
    let differentiable_request = random_request::<B>(latent, device);
    for (name, config) in configs {
        let (samples, iterations) = (config.planner.samples(), config.planner.iterations());
        let seconds = match sampling_planner::<Inner<B>>(&config, bounds.clone(), 0) {
            Some(mut planner) => time_per_call(args.seconds, || {
                planner.plan(&inference, &inference_request)?;
                Ok(())
            })?,
            None => {
                let mut planner = build_planner::<B>(&config, bounds.clone(), 0);
                time_per_call(args.seconds, || {
                    planner.plan(&differentiable, &differentiable_request)?;
                    Ok(())
                })?
            }
        };
        row(
            &name,
            samples,
            config.planner.horizon(),
            iterations,
            seconds,
        );
    }
    Ok(())
}

/// A planning request from random latents and actions.
fn random_request<B: Backend>(latent: LatentSpec, device: &B::Device) -> PlanRequest<B> {
    let uniform = Distribution::Uniform(-1.0, 1.0);
    let (h, d, m) = (latent.history, latent.latent_dim, latent.model_action_dim());
    PlanRequest {
        history: Tensor::random([1, h, d], uniform, device),
        past_actions: (h > 1).then(|| Tensor::random([1, h - 1, m], uniform, device)),
        goal: Tensor::random([1, d], uniform, device),
        shift: 0,
    }
}

fn encoder_name(config: &WorldModelConfig) -> &'static str {
    match config.model.encoder {
        EncoderConfig::Cnn { .. } => "CNN",
        EncoderConfig::Vit { .. } => "ViT",
    }
}

fn predictor_name(config: &WorldModelConfig) -> &'static str {
    match config.model.predictor {
        PredictorConfig::Transformer { .. } => "transformer",
        PredictorConfig::Mlp { .. } => "MLP",
    }
}
