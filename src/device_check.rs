//! `prefrontal check-device`: another backend (a GPU's, or LibTorch's) against the CPU
//! backend (`flex`). Both train a few steps from the same seeded model on the same batches,
//! then plan from the same latents with every planner; the losses and plans must agree
//! within stated tolerances.

use anyhow::{Result, bail};
use burn::module::AutodiffModule;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use prefrontal_agent::{
    AgentConfig, Bounds, JepaModel, Plan, PlanRequest, PlannerKind, build_planner, sampling_planner,
};
use prefrontal_runtime::{BackendTask, on_device};
use prefrontal_worldmodel::config::EncoderConfig;
use prefrontal_worldmodel::{DataSpec, Device, DeviceKind, Learner, WorldModelConfig};

use crate::bench::{SyntheticBatch, synthetic_spec};

/// Largest relative difference between the backends' training losses at any step.
const LOSS_TOLERANCE: f32 = 1e-3;
/// Largest difference between the backends' planned actions (actions lie in [-1, 1]). CEM
/// ranks candidates and agrees to 1e-7; MPPI's exponential weights and the gradient planner's
/// Adam steps carry the last bits further (6e-3 and 7e-3 on lavapipe).
const ACTION_TOLERANCE: f32 = 2e-2;
/// Largest relative difference between the backends' plan energies (lavapipe: CEM 5e-5,
/// MPPI 7e-4, gradient 8e-3).
const ENERGY_TOLERANCE: f32 = 2e-2;

#[derive(Debug, clap::Args)]
pub struct CheckDeviceArgs {
    /// The device to check against the CPU: cuda, cuda:N, wgpu, wgpu:N or libtorch.
    #[arg(long)]
    device: Device,
    /// Optimiser steps on each backend.
    #[arg(long, default_value_t = 5)]
    steps: u64,
    /// World-model config (`*.ron`); a small CNN model when omitted.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
}

/// Frame side of the synthetic batches.
const SIZE: usize = 32;

pub fn run_check_device(args: &CheckDeviceArgs) -> Result<()> {
    if args.device.kind == DeviceKind::Cpu {
        bail!("--device: give the backend to check against the CPU (cuda, cuda:N, wgpu, libtorch)");
    }
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let config = match &args.config {
        Some(path) => prefrontal_worldmodel::RonConfig::load(path)?,
        None => small_config(),
    };
    let spec = synthetic_spec(SIZE);
    let batches: Vec<SyntheticBatch> = (0..args.steps)
        .map(|step| SyntheticBatch::new(&config, &spec, step))
        .collect();
    #[derive(Clone)]
    struct Check<'a> {
        config: &'a WorldModelConfig,
        spec: &'a DataSpec,
        batches: &'a [SyntheticBatch],
    }
    impl BackendTask for Check<'_> {
        type Output = Result<Outcome>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Result<Outcome> {
            run_on::<B>(self.config, self.spec, self.batches, device)
        }
    }
    let check = Check {
        config: &config,
        spec: &spec,
        batches: &batches,
    };
    let cpu = on_device(DeviceKind::Cpu, check.clone())??;
    let checked = on_device(args.device, check)??;
    println!(
        "{} against cpu: {} training steps from the same seeded model, then each planner from the same latents",
        args.device, args.steps
    );
    println!(
        "| quantity | cpu | {} | difference |\n|---|---:|---:|---:|",
        args.device
    );
    let mut failures = Vec::new();
    for (step, (a, b)) in cpu.losses.iter().zip(&checked.losses).enumerate() {
        let relative = (a - b).abs() / a.abs().max(1e-6);
        println!(
            "| loss, step {} | {a:.6} | {b:.6} | {relative:.1e} (relative) |",
            step + 1
        );
        if !within(relative, LOSS_TOLERANCE) {
            failures.push(format!(
                "the loss of step {} differs by {relative:.1e}",
                step + 1
            ));
        }
    }
    for ((name, a), (_, b)) in cpu.plans.iter().zip(&checked.plans) {
        let energy = (a.energy - b.energy).abs() / a.energy.abs().max(1e-6);
        let actions = a
            .actions
            .iter()
            .zip(&b.actions)
            .fold(0.0f32, |worst, (x, y)| worst.max((x - y).abs()));
        println!(
            "| {name} plan energy | {:.6} | {:.6} | {energy:.1e} (relative) |",
            a.energy, b.energy
        );
        println!("| {name} plan actions | | | {actions:.1e} (largest) |");
        if !within(energy, ENERGY_TOLERANCE) {
            failures.push(format!("the {name} plan's energy differs by {energy:.1e}"));
        }
        if !within(actions, ACTION_TOLERANCE) {
            failures.push(format!("the {name} plan's actions differ by {actions:.1e}"));
        }
    }
    println!(
        "tolerances: loss {LOSS_TOLERANCE:.0e} relative, plan energy {ENERGY_TOLERANCE:.0e} relative, plan actions {ACTION_TOLERANCE:.0e}"
    );
    if !failures.is_empty() {
        bail!(
            "{} disagrees with the CPU: {}",
            args.device,
            failures.join("; ")
        );
    }
    println!("{} agrees with the CPU", args.device);
    Ok(())
}

/// A model small enough that the check takes seconds on lavapipe.
fn small_config() -> WorldModelConfig {
    let mut config = WorldModelConfig::default();
    config.model.encoder = EncoderConfig::Cnn {
        channels: vec![8, 16, 32],
    };
    config.model.latent_dim = 32;
    config.model.projector = Some(64);
    config.training.batch_size = 8;
    config
}

/// What one backend computed.
#[derive(Debug)]
struct Outcome {
    /// Total loss of each step.
    losses: Vec<f32>,
    /// Each planner's plan.
    plans: Vec<(&'static str, Plan)>,
}

/// Trains on `batches`, then plans with every planner from the trained model's latents of the
/// last batch's first frame toward its last frame.
fn run_on<B: AutodiffBackend>(
    config: &WorldModelConfig,
    spec: &DataSpec,
    batches: &[SyntheticBatch],
    device: &B::Device,
) -> Result<Outcome> {
    let mut learner = Learner::<B>::new(config, spec, device)?;
    let mut losses = Vec::with_capacity(batches.len());
    let mut last = None;
    for (step, batch) in batches.iter().enumerate() {
        let batch = batch.on::<B>(device);
        losses.push(learner.step(&batch, step as u64, 1e-3)?.total);
        last = Some(batch);
    }
    let last = last.expect("at least one step");
    let (frames, proprio) = (last.observed.frames, last.observed.proprio);
    let n = frames.dims()[0];
    let model = learner.model.clone();
    let latents = model
        .valid()
        .encode(frames.inner(), proprio.inner()) // [N, D]
        .detach();
    let request = PlanRequest {
        history: latents.clone().narrow(0, 0, 1).unsqueeze_dim(1), // [1, 1, D]
        past_actions: None,
        goal: latents.narrow(0, n - 1, 1), // [1, D]
        shift: 0,
    };
    let inference = JepaModel::from_model(
        model.valid(),
        &config.model,
        spec.clone(),
        "the checked model".into(),
    );
    let differentiable = JepaModel::differentiable(
        model,
        &config.model,
        spec.clone(),
        "the checked model".into(),
    );
    let bounds = Bounds::tiled(
        &vec![-1.0; spec.action_dim],
        &vec![1.0; spec.action_dim],
        config.model.frameskip,
    );
    let differentiable_request = PlanRequest {
        history: Tensor::from_inner(request.history.clone()),
        past_actions: None,
        goal: Tensor::from_inner(request.goal.clone()),
        shift: 0,
    };
    let mut plans = Vec::new();
    for kind in PlannerKind::ALL {
        let config = AgentConfig {
            planner: kind.quick_config(),
            ..AgentConfig::default()
        };
        let plan = match sampling_planner::<B::InnerBackend>(&config, bounds.clone(), 0) {
            Some(mut planner) => planner.plan(&inference, &request)?,
            None => build_planner::<B>(&config, bounds.clone(), 0)
                .plan(&differentiable, &differentiable_request)?,
        };
        plans.push((kind.name(), plan));
    }
    Ok(Outcome { losses, plans })
}

/// Whether `difference` is within `tolerance` (a NaN never is).
fn within(difference: f32, tolerance: f32) -> bool {
    difference <= tolerance
}
