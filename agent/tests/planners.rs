//! Every planner on a toy linear latent model `z' = z + a·B` with a known optimum.

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};
use prefrontal_agent::config::{
    CemConfig, Distance, Energy, GradientConfig, Horizon, MppiConfig, PlannerConfig,
};
use prefrontal_agent::{
    AgentConfig, AgentError, Bounds, LatentModel, LinearModel, Plan, PlanRequest, build_planner,
};

type B = Autodiff<Flex>;

/// Each action component moves the latent along a rotated, scaled axis.
const EFFECT: [[f32; 2]; 2] = [[0.2, 0.1], [-0.1, 0.2]];

fn model(effect: [[f32; 2]; 2]) -> LinearModel<B> {
    let rows = effect.iter().map(|row| row.to_vec()).collect();
    LinearModel::new(rows, vec![0, 1], 2, 1, &Default::default())
}

fn request(start: [f32; 2], goal: [f32; 2]) -> PlanRequest<B> {
    let device = Default::default();
    PlanRequest {
        history: Tensor::from_data(TensorData::new(start.to_vec(), [1, 1, 2]), &device),
        past_actions: None,
        goal: Tensor::from_data(TensorData::new(goal.to_vec(), [1, 2]), &device),
        shift: 0,
    }
}

fn bounds() -> Bounds {
    Bounds::tiled(&[-1.0, -1.0], &[1.0, 1.0], 1)
}

/// The three planners with settings small enough for a test.
fn planners(energy: Energy) -> Vec<AgentConfig> {
    [
        PlannerConfig::Cem(CemConfig {
            samples: 200,
            elites: 20,
            iterations: 20,
            ..CemConfig::default()
        }),
        PlannerConfig::Mppi(MppiConfig {
            samples: 200,
            iterations: 20,
            ..MppiConfig::default()
        }),
        PlannerConfig::Gradient(GradientConfig {
            iterations: 60,
            ..GradientConfig::default()
        }),
    ]
    .into_iter()
    .map(|planner| AgentConfig {
        planner,
        energy,
        replan_every: 1,
        hold_actions: false,
    })
    .collect()
}

fn plan(config: &AgentConfig, model: &LinearModel<B>, request: &PlanRequest<B>, seed: u64) -> Plan {
    let mut planner = build_planner::<B>(config, bounds(), seed);
    planner.plan(model, request).unwrap()
}

/// Where the model says the plan ends.
fn final_latent(model: &LinearModel<B>, start: [f32; 2], plan: &Plan) -> Vec<f32> {
    let device = Default::default();
    let history = Tensor::from_data(TensorData::new(start.to_vec(), [1, 1, 2]), &device);
    let actions = Tensor::from_data(
        TensorData::new(plan.actions.clone(), [1, plan.horizon, 2]),
        &device,
    );
    let latents = model.rollout(history, actions).unwrap();
    let values = latents.into_data().to_vec::<f32>().unwrap();
    values[values.len() - 2..].to_vec()
}

#[test]
fn every_planner_reaches_a_reachable_goal() {
    let model = model(EFFECT);
    let (start, goal) = ([0.1, -0.2], [0.5, 0.3]);
    for config in planners(Energy::default()) {
        let plan = plan(&config, &model, &request(start, goal), 7);
        let end = final_latent(&model, start, &plan);
        let error = ((end[0] - goal[0]).powi(2) + (end[1] - goal[1]).powi(2)).sqrt();
        assert!(
            error < 0.02,
            "{}: ends at {end:?}, {error} from the goal {goal:?} (energy {})",
            config.planner.name(),
            plan.energy
        );
        assert_eq!(plan.actions.len(), 5 * 2);
        // The plan carries what it imagined (its last latent is where it ends) and the
        // search's best energy per iteration, which ends lower than it starts.
        let name = config.planner.name();
        assert_eq!(plan.imagined.len(), 5 * 2, "{name}");
        for (imagined, end) in plan.imagined[8..].iter().zip(&end) {
            assert!(
                (imagined - end).abs() < 1e-5,
                "{name}: {:?} vs {end:?}",
                plan.imagined
            );
        }
        let trace = &plan.trace;
        assert!(
            trace.len() >= 20 && trace.iter().all(|e| e.is_finite()),
            "{name}: {trace:?}"
        );
        assert!(trace[trace.len() - 1] < trace[0], "{name}: {trace:?}");
    }
}

#[test]
fn unreachable_goals_push_every_planner_to_the_bounds_and_not_past_them() {
    let model = model([[0.2, 0.0], [0.0, 0.2]]);
    // Five steps move at most 1.0 along each axis: the optimum is (+1, -1) at every step.
    let (start, goal) = ([0.0, 0.0], [3.0, -3.0]);
    for config in planners(Energy::default()) {
        let plan = plan(&config, &model, &request(start, goal), 3);
        for pair in plan.actions.chunks(2) {
            assert!(
                pair.iter().all(|a| (-1.0..=1.0).contains(a)),
                "{}: action {pair:?} is outside the bounds",
                config.planner.name()
            );
            assert!(
                pair[0] > 0.85 && pair[1] < -0.85,
                "{}: action {pair:?} is not at the bound the goal calls for",
                config.planner.name()
            );
        }
    }
}

#[test]
fn summed_energy_prefers_getting_there_early() {
    let model = model([[0.2, 0.0], [0.0, 0.2]]);
    let energy = Energy {
        distance: Distance::L2,
        over: Horizon::Sum,
    };
    let (start, goal) = ([0.0, 0.0], [0.4, 0.0]);
    for config in planners(energy) {
        let plan = plan(&config, &model, &request(start, goal), 11);
        // Summed over the horizon, the goal is best reached in two full pushes, then held.
        assert!(
            plan.actions[0] > 0.8 && plan.actions[2] > 0.8,
            "{}: first actions {:?} do not hurry",
            config.planner.name(),
            &plan.actions[..4]
        );
        let end = final_latent(&model, start, &plan);
        assert!(
            (end[0] - 0.4).abs() < 0.05,
            "{}: ends at {end:?}",
            config.planner.name()
        );
    }
}

#[test]
fn l1_energy_also_finds_the_goal() {
    let model = model(EFFECT);
    let energy = Energy {
        distance: Distance::L1,
        over: Horizon::Final,
    };
    let (start, goal) = ([0.0, 0.0], [-0.4, 0.2]);
    for config in planners(energy) {
        let plan = plan(&config, &model, &request(start, goal), 5);
        let end = final_latent(&model, start, &plan);
        let error = (end[0] - goal[0]).abs() + (end[1] - goal[1]).abs();
        assert!(error < 0.04, "{}: ends at {end:?}", config.planner.name());
    }
}

#[test]
fn planners_are_deterministic_for_a_seed() {
    let model = model(EFFECT);
    let request = request([0.0, 0.0], [0.3, 0.3]);
    for config in planners(Energy::default()) {
        let a = plan(&config, &model, &request, 42);
        let b = plan(&config, &model, &request, 42);
        let c = plan(&config, &model, &request, 43);
        assert_eq!(
            a,
            b,
            "{}: same seed, different plans",
            config.planner.name()
        );
        assert_ne!(
            a.actions,
            c.actions,
            "{}: the seed is ignored",
            config.planner.name()
        );
    }
}

#[test]
fn every_planner_starts_from_its_previous_plan_shifted_by_the_steps_taken() {
    for config in planners(Energy::default()) {
        let name = config.planner.name();
        let model = Recording {
            inner: model(EFFECT),
            candidates: Default::default(),
        };
        let mut planner = build_planner::<B>(&config, bounds(), 1);
        let first = planner
            .plan(&model, &request([0.0, 0.0], [0.5, 0.5]))
            .unwrap();
        // One model step later, the search's first candidate is the first plan without its
        // executed step, padded with the middle of the bounds.
        let mut next = request([0.0, 0.0], [0.5, 0.5]);
        next.shift = 1;
        model.candidates.lock().unwrap().clear();
        planner.plan(&model, &next).unwrap();
        let mut shifted = first.actions[2..].to_vec();
        shifted.extend([0.0, 0.0]);
        assert_eq!(model.candidates.lock().unwrap()[0], shifted, "{name}");
        // A new episode forgets it.
        planner.reset(1);
        model.candidates.lock().unwrap().clear();
        planner.plan(&model, &next).unwrap();
        assert_eq!(model.candidates.lock().unwrap()[0], vec![0.0; 10], "{name}");
    }
}

#[test]
fn non_finite_predictions_are_an_error_not_a_panic() {
    let model = model([[f32::NAN, 0.0], [0.0, 0.2]]);
    for config in planners(Energy::default()) {
        let mut planner = build_planner::<B>(&config, bounds(), 0);
        let result = planner.plan(&model, &request([0.0, 0.0], [0.3, 0.3]));
        assert!(
            matches!(result, Err(AgentError::NonFinite { .. })),
            "{}: {result:?}",
            config.planner.name()
        );
    }
}

#[test]
fn gradient_planner_refuses_a_model_without_gradients() {
    /// Wraps the linear model but cuts the graph, like the simulator oracle.
    struct Detached(LinearModel<B>);
    impl LatentModel<B> for Detached {
        fn spec(&self) -> prefrontal_agent::LatentSpec {
            self.0.spec()
        }
        fn device(&self) -> burn::tensor::Device<B> {
            self.0.device()
        }
        fn encode(
            &self,
            observations: &[&prefrontal_sim::Observation],
        ) -> Result<Tensor<B, 2>, AgentError> {
            self.0.encode(observations)
        }
        fn rollout(&self, h: Tensor<B, 3>, a: Tensor<B, 3>) -> Result<Tensor<B, 3>, AgentError> {
            Ok(self.0.rollout(h, a)?.detach())
        }
    }
    let config = &planners(Energy::default())[2];
    let mut planner = build_planner::<B>(config, bounds(), 0);
    let result = planner.plan(&Detached(model(EFFECT)), &request([0.0, 0.0], [0.3, 0.3]));
    assert!(
        matches!(result, Err(AgentError::NotDifferentiable)),
        "{result:?}"
    );
}

/// A model that records every candidate sequence it is asked to imagine.
struct Recording {
    inner: LinearModel<B>,
    candidates: std::sync::Mutex<Vec<Vec<f32>>>,
}

impl LatentModel<B> for Recording {
    fn spec(&self) -> prefrontal_agent::LatentSpec {
        self.inner.spec()
    }

    fn device(&self) -> burn::tensor::Device<B> {
        self.inner.device()
    }

    fn encode(
        &self,
        observations: &[&prefrontal_sim::Observation],
    ) -> Result<Tensor<B, 2>, AgentError> {
        self.inner.encode(observations)
    }

    fn rollout(
        &self,
        history: Tensor<B, 3>,
        actions: Tensor<B, 3>,
    ) -> Result<Tensor<B, 3>, AgentError> {
        let [_, k, m] = actions.dims();
        let values = actions.clone().into_data().to_vec::<f32>().unwrap();
        let mut candidates = self.candidates.lock().unwrap();
        candidates.extend(values.chunks(k * m).map(<[f32]>::to_vec));
        self.inner.rollout(history, actions)
    }
}

/// The candidates (the mean, candidate 0, left out) of a one-iteration CEM plan with
/// 2-component actions and frameskip 3, over 6 model steps.
fn first_candidates(hold_actions: bool) -> Vec<Vec<f32>> {
    let model = Recording {
        inner: LinearModel::new(
            [[0.1, 0.0], [0.0, 0.1]]
                .repeat(3)
                .iter()
                .map(|r| r.to_vec())
                .collect(),
            vec![0, 1],
            2,
            3,
            &Default::default(),
        ),
        candidates: Default::default(),
    };
    let config = AgentConfig {
        planner: PlannerConfig::Cem(CemConfig {
            samples: 100,
            elites: 10,
            iterations: 1,
            horizon: 6,
            initial_std: 0.5,
            ..CemConfig::default()
        }),
        energy: Energy::default(),
        replan_every: 1,
        hold_actions,
    };
    let bounds = Bounds::tiled(&[-1.0, -1.0], &[1.0, 1.0], 3);
    let mut planner = build_planner::<B>(&config, bounds, 5);
    planner
        .plan(&model, &request([0.0, 0.0], [0.5, 0.5]))
        .unwrap();
    let candidates = model.candidates.into_inner().unwrap();
    candidates[1..100].to_vec()
}

#[test]
fn held_actions_repeat_within_a_model_step() {
    let same_within_steps = |c: &Vec<f32>| {
        c.chunks(6)
            .all(|step| step.chunks(2).all(|action| action == &step[..2]))
    };
    let held = first_candidates(true);
    assert!(held.iter().all(same_within_steps));
    assert!(held.windows(2).all(|pair| pair[0] != pair[1]));
    assert!(!first_candidates(false).iter().any(same_within_steps));
}
