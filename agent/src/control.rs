//! Model-predictive control: the per-world bookkeeping (no tensors) and the job planner
//! that turns a planning job into a plan (the one place observations become tensors).

use std::collections::VecDeque;
use std::sync::Arc;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use prefrontal_sim::Observation;

use crate::AgentError;
use crate::model::{LatentModel, LatentSpec};
use crate::planner::{Plan, PlanRequest, Planner};

/// Everything one planning call needs, as plain data: it can cross to another thread.
#[derive(Debug, Clone)]
pub struct PlanJob {
    /// Observations at the last model-step boundaries, oldest first (at most `history`).
    pub observations: Vec<Observation>,
    /// Model actions taken between them, `[observations − 1, A·frameskip]` row-major.
    pub past_actions: Vec<f32>,
    /// The goal observation.
    pub goal: Observation,
    /// Model steps since the previous job (the planner shifts its warm start by this).
    pub shift: usize,
    /// Simulator step of the episode at which the job was made.
    pub made_at: u64,
}

/// The per-world MPC state: observations at model-step boundaries, the actions applied,
/// and what is left of the current plan. Plain data, safe to keep in the ECS.
#[derive(Debug, Clone)]
pub struct Controller {
    spec: LatentSpec,
    replan_every: usize,
    /// The action applied when no plan is available: the middle of the bounds.
    neutral: Vec<f32>,
    goal: Option<Observation>,
    observed: VecDeque<Observation>,
    between: VecDeque<Vec<f32>>,
    /// Simulator actions applied since the last boundary, concatenated.
    applied: Vec<f32>,
    /// Simulator actions of the current plan still to apply.
    queue: VecDeque<Vec<f32>>,
    /// Simulator steps taken in this episode.
    step: u64,
    /// Step of the latest job.
    last_job: Option<u64>,
}

impl Controller {
    /// A controller for a model of shape `spec` acting within the simulator's bounds.
    pub fn new(spec: LatentSpec, replan_every: usize, low: &[f32], high: &[f32]) -> Self {
        Controller {
            spec,
            replan_every,
            neutral: low.iter().zip(high).map(|(l, h)| 0.5 * (l + h)).collect(),
            goal: None,
            observed: VecDeque::new(),
            between: VecDeque::new(),
            applied: Vec::new(),
            queue: VecDeque::new(),
            step: 0,
            last_job: None,
        }
    }

    /// Starts an episode toward `goal`, forgetting the previous one.
    pub fn start_episode(&mut self, goal: Observation) {
        self.goal = Some(goal);
        self.observed.clear();
        self.between.clear();
        self.applied.clear();
        self.queue.clear();
        self.step = 0;
        self.last_job = None;
    }

    /// Ends the episode: no goal, no plan; `act` is not called until the next start.
    pub fn stop_episode(&mut self) {
        self.goal = None;
        self.queue.clear();
    }

    /// Whether an episode is running.
    pub fn has_goal(&self) -> bool {
        self.goal.is_some()
    }

    /// Records the observation of the current step. At a model-step boundary where a plan
    /// is due (and none is being computed, `busy`), returns the job to plan.
    pub fn observe(&mut self, observation: &Observation, busy: bool) -> Option<PlanJob> {
        let frameskip = self.spec.frameskip as u64;
        if !self.step.is_multiple_of(frameskip) {
            return None;
        }
        if self.step > 0 {
            self.between.push_back(std::mem::take(&mut self.applied));
        }
        self.observed.push_back(observation.clone());
        while self.observed.len() > self.spec.history {
            self.observed.pop_front();
        }
        while self.between.len() + 1 > self.observed.len() {
            self.between.pop_front();
        }
        let since = self.last_job.map(|at| (self.step - at) / frameskip);
        let due = self.queue.is_empty() || since.is_none_or(|s| s >= self.replan_every as u64);
        if busy || !due {
            return None;
        }
        let goal = self.goal.clone()?;
        self.last_job = Some(self.step);
        Some(PlanJob {
            observations: self.observed.iter().cloned().collect(),
            past_actions: self.between.iter().flatten().copied().collect(),
            goal,
            shift: since.unwrap_or(0) as usize,
            made_at: self.step,
        })
    }

    /// Installs `plan`, computed for the job made at step `made_at`: the simulator actions
    /// whose time has passed since are dropped.
    pub fn install(&mut self, plan: &Plan, made_at: u64) {
        let a = self.spec.action_dim;
        let elapsed = (self.step - made_at) as usize;
        self.queue = plan
            .actions
            .chunks_exact(a)
            .skip(elapsed)
            .map(<[f32]>::to_vec)
            .collect();
    }

    /// The action to apply at this step (the plan's next one, or the middle of the bounds
    /// when none is left); advances the step.
    pub fn act(&mut self) -> Vec<f32> {
        let action = self
            .queue
            .pop_front()
            .unwrap_or_else(|| self.neutral.clone());
        self.applied.extend_from_slice(&action);
        self.step += 1;
        action
    }
}

/// A model and a planner: turns jobs into plans. Owned by one world at a time, so that a
/// real-time plan can move to a worker thread and back.
pub struct JobPlanner<B: Backend> {
    model: Arc<dyn LatentModel<B>>,
    planner: Box<dyn Planner<B>>,
}

impl<B: Backend> std::fmt::Debug for JobPlanner<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobPlanner")
            .field("spec", &self.model.spec())
            .finish_non_exhaustive()
    }
}

impl<B: Backend> JobPlanner<B> {
    /// Plans with `planner` in `model`.
    pub fn new(model: Arc<dyn LatentModel<B>>, planner: Box<dyn Planner<B>>) -> Self {
        JobPlanner { model, planner }
    }

    /// Starts a new episode: the planner forgets its warm start and is reseeded.
    pub fn reset(&mut self, seed: u64) {
        self.planner.reset(seed);
    }

    /// Plans from now on with `planner`.
    pub fn set_planner(&mut self, planner: Box<dyn Planner<B>>) {
        self.planner = planner;
    }

    /// Encodes the job's observations and goal in one batch and plans.
    pub fn plan(&mut self, job: &PlanJob) -> Result<Plan, AgentError> {
        let spec = self.model.spec();
        let h = job.observations.len();
        let mut batch: Vec<&Observation> = job.observations.iter().collect();
        batch.push(&job.goal);
        let latents = self.model.encode(&batch)?; // [h+1, D]
        let history = latents.clone().narrow(0, 0, h).unsqueeze_dim::<3>(0); // [1, h, D]
        let goal = latents.narrow(0, h, 1); // [1, D]
        let past_actions = (h > 1).then(|| {
            let shape = [1, h - 1, spec.model_action_dim()];
            Tensor::from_data(
                TensorData::new(job.past_actions.clone(), shape),
                &self.model.device(),
            )
        });
        let request = PlanRequest {
            history,
            past_actions,
            goal,
            shift: job.shift,
        };
        self.planner.plan(self.model.as_ref(), &request)
    }
}
