//! Planners: search action sequences whose imagined latent trajectory ends near the goal.
//!
//! Candidate sequences are drawn on the CPU (seeded), evaluated as one batch per iteration
//! on the model's device, and only their energies (`N` floats) come back.

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::AgentError;
use crate::config::{
    AgentConfig, CemConfig, Distance, Energy, GradientConfig, Horizon, MppiConfig, PlannerConfig,
};
use crate::model::LatentModel;

/// What to plan from and toward.
#[derive(Debug, Clone)]
pub struct PlanRequest<B: Backend> {
    /// Observed latents, oldest first: `[1, h, D]`.
    pub history: Tensor<B, 3>,
    /// Model actions taken between the observed latents: `[1, h-1, A·frameskip]`; `None`
    /// when `h = 1`.
    pub past_actions: Option<Tensor<B, 3>>,
    /// The goal latent `[1, D]`.
    pub goal: Tensor<B, 2>,
    /// Model steps executed since the previous plan: the warm start drops that many.
    pub shift: usize,
}

/// A planned action sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `[horizon, A·frameskip]`, row-major: model action `k` is
    /// `actions[k·width..(k+1)·width]`.
    pub actions: Vec<f32>,
    /// Model steps planned.
    pub horizon: usize,
    /// Energy of the planned sequence.
    pub energy: f32,
    /// Candidate sequences evaluated.
    pub evaluations: usize,
    /// Lowest energy of each iteration's candidates, first to last.
    pub trace: Vec<f32>,
    /// The imagined latents of the planned sequence, `[horizon, D]` row-major.
    pub imagined: Vec<f32>,
}

/// Box bounds of one model action (`A·frameskip` components).
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    /// Lower bound per component.
    pub low: Vec<f32>,
    /// Upper bound per component.
    pub high: Vec<f32>,
    /// Components of one simulator action (`A`).
    pub action_dim: usize,
}

impl Bounds {
    /// The simulator's action bounds repeated for `frameskip` concatenated actions.
    pub fn tiled(low: &[f32], high: &[f32], frameskip: usize) -> Self {
        Bounds {
            low: low.repeat(frameskip),
            high: high.repeat(frameskip),
            action_dim: low.len(),
        }
    }

    /// Components per model action.
    pub fn dim(&self) -> usize {
        self.low.len()
    }

    fn middle(&self, j: usize) -> f32 {
        0.5 * (self.low[j] + self.high[j])
    }

    fn half_range(&self, j: usize) -> f32 {
        0.5 * (self.high[j] - self.low[j])
    }

    fn clamp(&self, j: usize, value: f32) -> f32 {
        value.clamp(self.low[j], self.high[j])
    }
}

/// A search over action sequences.
pub trait Planner<B: Backend>: Send + Sync {
    /// Plans `horizon` model actions from `request`.
    fn plan(
        &mut self,
        model: &dyn LatentModel<B>,
        request: &PlanRequest<B>,
    ) -> Result<Plan, AgentError>;

    /// Starts a new episode: forgets the warm start and reseeds the sampler.
    fn reset(&mut self, seed: u64);
}

/// Builds the configured planner. The gradient planner needs an autodiff backend; the
/// others run on any backend through [`sampling_planner`].
pub fn build_planner<B: AutodiffBackend>(
    config: &AgentConfig,
    bounds: Bounds,
    seed: u64,
) -> Box<dyn Planner<B>> {
    match &config.planner {
        PlannerConfig::Gradient(c) => Box::new(GradientPlanner::new(
            c.clone(),
            config.energy,
            config.hold_actions,
            bounds,
            seed,
        )),
        _ => sampling_planner(config, bounds, seed).expect("not the gradient planner"),
    }
}

/// Builds a CEM or MPPI planner for any backend; `None` for the gradient planner.
pub fn sampling_planner<B: Backend>(
    config: &AgentConfig,
    bounds: Bounds,
    seed: u64,
) -> Option<Box<dyn Planner<B>>> {
    match &config.planner {
        PlannerConfig::Cem(c) => Some(Box::new(CemPlanner::new(
            c.clone(),
            config.energy,
            config.hold_actions,
            bounds,
            seed,
        ))),
        PlannerConfig::Mppi(c) => Some(Box::new(MppiPlanner::new(
            c.clone(),
            config.energy,
            config.hold_actions,
            bounds,
            seed,
        ))),
        PlannerConfig::Gradient(_) => None,
    }
}

/// The state every planner shares: energy, bounds, seeded sampler, warm start.
#[derive(Debug, Clone)]
struct Search {
    energy: Energy,
    bounds: Bounds,
    horizon: usize,
    rng: ChaCha8Rng,
    /// The previous plan's sequence `[horizon, M]`.
    previous: Option<Vec<f32>>,
    /// Noise draws per model step: `A` when a model step's simulator actions share their
    /// noise (`hold_actions`), `M` otherwise.
    draws_per_step: usize,
}

impl Search {
    fn new(energy: Energy, hold_actions: bool, bounds: Bounds, horizon: usize, seed: u64) -> Self {
        let draws_per_step = if hold_actions {
            bounds.action_dim
        } else {
            bounds.dim()
        };
        Search {
            energy,
            bounds,
            horizon,
            rng: ChaCha8Rng::seed_from_u64(seed),
            previous: None,
            draws_per_step,
        }
    }

    fn reset(&mut self, seed: u64) {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        self.previous = None;
    }

    fn len(&self) -> usize {
        self.horizon * self.bounds.dim()
    }

    /// The previous plan shifted by `shift` model steps and padded with the middle of the
    /// bounds, or the middle everywhere.
    fn warm_start(&self, shift: usize) -> Vec<f32> {
        let m = self.bounds.dim();
        let kept = self
            .previous
            .as_ref()
            .map(|previous| previous[(shift * m).min(previous.len())..].to_vec())
            .unwrap_or_default();
        let mut sequence = kept;
        while sequence.len() < self.len() {
            sequence.push(self.bounds.middle(sequence.len() % m));
        }
        sequence
    }

    /// `base` plus Gaussian noise of `scale` half-ranges, clamped to the bounds. With held
    /// actions, the simulator actions of a model step share one draw per component.
    fn perturb(&mut self, base: &[f32], scale: &[f32], out: &mut Vec<f32>) {
        let m = self.bounds.dim();
        let mut draws = vec![0f32; self.draws_per_step];
        for (j, (&mean, &std)) in base.iter().zip(scale).enumerate() {
            if j % m == 0 {
                for draw in &mut draws {
                    *draw = StandardNormal.sample(&mut self.rng);
                }
            }
            let noise = draws[j % m % draws.len()];
            out.push(self.bounds.clamp(j % m, mean + std * noise));
        }
    }

    /// `fraction` of each component's half-range, over the whole sequence.
    fn half_ranges(&self, fraction: f32) -> Vec<f32> {
        let m = self.bounds.dim();
        (0..self.len())
            .map(|j| fraction * self.bounds.half_range(j % m))
            .collect()
    }

    /// `samples` candidates: `mean` itself, then `mean` perturbed by `scale`, row-major.
    fn around(&mut self, mean: &[f32], scale: &[f32], samples: usize) -> Vec<f32> {
        let mut candidates = Vec::with_capacity(samples * mean.len());
        candidates.extend_from_slice(mean);
        for _ in 1..samples {
            self.perturb(mean, scale, &mut candidates);
        }
        candidates
    }

    /// The plan `sequence` with its energy and imagined latents; it becomes the next warm
    /// start.
    fn finish<B: Backend>(
        &mut self,
        model: &dyn LatentModel<B>,
        request: &PlanRequest<B>,
        sequence: Vec<f32>,
        evaluated: usize,
        trace: Vec<f32>,
    ) -> Result<Plan, AgentError> {
        let tensor = self.sequences(model, sequence.clone());
        let latents = imagine(model, request, tensor)?; // [1, H, D]
        let energy = energy_of(latents.clone(), request, self.energy).into_data();
        let energy = energy.to_vec::<f32>().expect("energies are f32")[0];
        check_finite(&[energy])?;
        let imagined = latents
            .into_data()
            .to_vec::<f32>()
            .expect("latents are f32");
        self.previous = Some(sequence.clone());
        Ok(Plan {
            actions: sequence,
            horizon: self.horizon,
            energy,
            evaluations: evaluated + 1,
            trace,
            imagined,
        })
    }

    /// Candidate sequences (`[n, horizon, M]` row-major) as a tensor on the model's device.
    fn sequences<B: Backend>(
        &self,
        model: &dyn LatentModel<B>,
        candidates: Vec<f32>,
    ) -> Tensor<B, 3> {
        let shape = [
            candidates.len() / self.len(),
            self.horizon,
            self.bounds.dim(),
        ];
        Tensor::from_data(TensorData::new(candidates, shape), &model.device())
    }

    /// Energies of `n` candidate sequences (`[n, horizon, M]` row-major), one batch.
    fn evaluate<B: Backend>(
        &self,
        model: &dyn LatentModel<B>,
        request: &PlanRequest<B>,
        candidates: Vec<f32>,
    ) -> Result<Vec<f32>, AgentError> {
        let sequences = self.sequences(model, candidates);
        let energies = energies(model, request, sequences, self.energy)?; // [n]
        let values = energies
            .into_data()
            .to_vec::<f32>()
            .expect("energies are f32");
        check_finite(&values)?;
        Ok(values)
    }
}

/// The latents `[N, H, D]` imagined for candidate sequences `[N, H, M]` from the request's
/// history.
fn imagine<B: Backend>(
    model: &dyn LatentModel<B>,
    request: &PlanRequest<B>,
    sequences: Tensor<B, 3>,
) -> Result<Tensor<B, 3>, AgentError> {
    model.imagine(
        request.history.clone(),
        request.past_actions.clone(),
        sequences,
    )
}

/// Energies `[N]` of candidate sequences `[N, H, M]`, imagined from the request's history.
fn energies<B: Backend>(
    model: &dyn LatentModel<B>,
    request: &PlanRequest<B>,
    sequences: Tensor<B, 3>,
    energy: Energy,
) -> Result<Tensor<B, 1>, AgentError> {
    Ok(energy_of(
        imagine(model, request, sequences)?,
        request,
        energy,
    ))
}

/// Energies `[N]` of imagined latent trajectories `[N, H, D]`.
fn energy_of<B: Backend>(
    latents: Tensor<B, 3>,
    request: &PlanRequest<B>,
    energy: Energy,
) -> Tensor<B, 1> {
    let [n, steps, _] = latents.dims();
    let difference = latents - request.goal.clone().unsqueeze_dim::<3>(1); // [N, H, D]
    let per_step = match energy.distance {
        Distance::L1 => difference.abs(),
        Distance::L2 => difference.square(),
    }
    .mean_dim(2); // [N, H, 1]
    let total = match energy.over {
        Horizon::Final => per_step.narrow(1, steps - 1, 1),
        Horizon::Sum => per_step.sum_dim(1),
    }; // [N, 1, 1]
    total.reshape([n])
}

fn check_finite(energies: &[f32]) -> Result<(), AgentError> {
    match energies.iter().find(|e| !e.is_finite()) {
        Some(&value) => Err(AgentError::NonFinite { value }),
        None => Ok(()),
    }
}

/// Indices of `energies` from lowest to highest.
fn ranking(energies: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..energies.len()).collect();
    order.sort_by(|&a, &b| energies[a].total_cmp(&energies[b]));
    order
}

/// Cross-entropy method over sequences `[H, M]`, with a diagonal Gaussian. Candidate 0 of
/// every iteration is the current mean, so the mean never gets lost.
#[derive(Debug, Clone)]
pub struct CemPlanner {
    config: CemConfig,
    search: Search,
}

impl CemPlanner {
    /// A CEM planner within `bounds`, seeded; `hold_actions` as in [`AgentConfig`].
    pub fn new(
        config: CemConfig,
        energy: Energy,
        hold_actions: bool,
        bounds: Bounds,
        seed: u64,
    ) -> Self {
        let search = Search::new(energy, hold_actions, bounds, config.horizon, seed);
        CemPlanner { config, search }
    }
}

impl<B: Backend> Planner<B> for CemPlanner {
    fn plan(
        &mut self,
        model: &dyn LatentModel<B>,
        request: &PlanRequest<B>,
    ) -> Result<Plan, AgentError> {
        let c = &self.config;
        let search = &mut self.search;
        let len = search.len();
        let mut mean = search.warm_start(request.shift);
        let mut std = search.half_ranges(c.initial_std);
        let mut trace = Vec::with_capacity(c.iterations);
        for _ in 0..c.iterations {
            let candidates = search.around(&mean, &std, c.samples);
            let energies = search.evaluate(model, request, candidates.clone())?;
            let elites = &ranking(&energies)[..c.elites];
            trace.push(energies[elites[0]]);
            for j in 0..len {
                let values = elites.iter().map(|&e| candidates[e * len + j]);
                let elite_mean = values.clone().sum::<f32>() / c.elites as f32;
                let variance =
                    values.map(|v| (v - elite_mean).powi(2)).sum::<f32>() / c.elites as f32;
                mean[j] = c.momentum * mean[j] + (1.0 - c.momentum) * elite_mean;
                std[j] = c.momentum * std[j] + (1.0 - c.momentum) * variance.sqrt();
            }
        }
        search.finish(model, request, mean, c.samples * c.iterations, trace)
    }

    fn reset(&mut self, seed: u64) {
        self.search.reset(seed);
    }
}

/// MPPI over sequences `[H, M]`: the mean moves to the exponentially weighted average of
/// noisy candidates (candidate 0 is the mean itself).
#[derive(Debug, Clone)]
pub struct MppiPlanner {
    config: MppiConfig,
    search: Search,
}

impl MppiPlanner {
    /// An MPPI planner within `bounds`, seeded; `hold_actions` as in [`AgentConfig`].
    pub fn new(
        config: MppiConfig,
        energy: Energy,
        hold_actions: bool,
        bounds: Bounds,
        seed: u64,
    ) -> Self {
        let search = Search::new(energy, hold_actions, bounds, config.horizon, seed);
        MppiPlanner { config, search }
    }
}

impl<B: Backend> Planner<B> for MppiPlanner {
    fn plan(
        &mut self,
        model: &dyn LatentModel<B>,
        request: &PlanRequest<B>,
    ) -> Result<Plan, AgentError> {
        let c = &self.config;
        let search = &mut self.search;
        let len = search.len();
        let mut mean = search.warm_start(request.shift);
        let noise = search.half_ranges(c.noise);
        let mut trace = Vec::with_capacity(c.iterations);
        for _ in 0..c.iterations {
            let candidates = search.around(&mean, &noise, c.samples);
            let energies = search.evaluate(model, request, candidates.clone())?;
            let low = energies.iter().copied().fold(f32::INFINITY, f32::min);
            trace.push(low);
            let high = energies.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let scale = c.temperature * (high - low).max(f32::MIN_POSITIVE);
            let weights: Vec<f32> = energies
                .iter()
                .map(|e| (-(e - low) / scale).exp())
                .collect();
            let total: f32 = weights.iter().sum();
            mean.iter_mut().enumerate().for_each(|(j, value)| {
                *value = weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| w * candidates[i * len + j])
                    .sum::<f32>()
                    / total;
            });
        }
        search.finish(model, request, mean, c.samples * c.iterations, trace)
    }

    fn reset(&mut self, seed: u64) {
        self.search.reset(seed);
    }
}

/// Projected Adam on `samples` sequences at once, through the differentiable predictor;
/// the lowest-energy sequence seen wins.
#[derive(Debug, Clone)]
pub struct GradientPlanner {
    config: GradientConfig,
    search: Search,
}

impl GradientPlanner {
    /// A gradient planner within `bounds`, seeded; `hold_actions` as in [`AgentConfig`].
    pub fn new(
        config: GradientConfig,
        energy: Energy,
        hold_actions: bool,
        bounds: Bounds,
        seed: u64,
    ) -> Self {
        let search = Search::new(energy, hold_actions, bounds, config.horizon, seed);
        GradientPlanner { config, search }
    }
}

/// Replaces `best` by the lowest-energy sequence of `sequences` (row-major) if lower.
fn keep_best(best: &mut (f32, Vec<f32>), energies: &[f32], sequences: &[f32]) {
    let len = sequences.len() / energies.len();
    for (i, &energy) in energies.iter().enumerate() {
        if energy < best.0 {
            *best = (energy, sequences[i * len..(i + 1) * len].to_vec());
        }
    }
}

const ADAM_BETA1: f32 = 0.9;
const ADAM_BETA2: f32 = 0.999;
const ADAM_EPSILON: f32 = 1e-8;

impl<B: AutodiffBackend> Planner<B> for GradientPlanner {
    fn plan(
        &mut self,
        model: &dyn LatentModel<B>,
        request: &PlanRequest<B>,
    ) -> Result<Plan, AgentError> {
        let c = &self.config;
        let search = &mut self.search;
        let (len, m, n) = (search.len(), search.bounds.dim(), c.samples);
        let warm = search.warm_start(request.shift);
        let spread = search.half_ranges(c.initial_std);
        let mut x = search.around(&warm, &spread, n);
        let (mut first, mut second) = (vec![0f32; n * len], vec![0f32; n * len]);
        let mut best = (f32::INFINITY, warm);
        let mut trace = Vec::with_capacity(c.iterations + 1);
        for t in 1..=c.iterations {
            let sequences = search.sequences(model, x.clone()).require_grad();
            let energies = energies(model, request, sequences.clone(), search.energy)?; // [N]
            let gradients = energies.clone().sum().backward();
            let gradient = sequences
                .grad(&gradients)
                .ok_or(AgentError::NotDifferentiable)?
                .into_data()
                .to_vec::<f32>()
                .expect("gradients are f32");
            let values = energies
                .into_data()
                .to_vec::<f32>()
                .expect("energies are f32");
            check_finite(&values)?;
            check_finite(&gradient)?;
            keep_best(&mut best, &values, &x);
            trace.push(best.0);
            let (correction1, correction2) = (
                1.0 - ADAM_BETA1.powi(t as i32),
                1.0 - ADAM_BETA2.powi(t as i32),
            );
            for (k, g) in gradient.iter().enumerate() {
                first[k] = ADAM_BETA1 * first[k] + (1.0 - ADAM_BETA1) * g;
                second[k] = ADAM_BETA2 * second[k] + (1.0 - ADAM_BETA2) * g * g;
                let step =
                    (first[k] / correction1) / ((second[k] / correction2).sqrt() + ADAM_EPSILON);
                x[k] = search.bounds.clamp(k % m, x[k] - c.learning_rate * step);
            }
        }
        let finals = search.evaluate(model, request, x.clone())?;
        keep_best(&mut best, &finals, &x);
        trace.push(best.0);
        search.finish(model, request, best.1, n * (c.iterations + 1), trace)
    }

    fn reset(&mut self, seed: u64) {
        self.search.reset(seed);
    }
}
