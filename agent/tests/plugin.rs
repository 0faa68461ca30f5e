//! `AgentPlugin` inside the simulation's ECS loop, with the toy linear model on `reach`:
//! CEM, MPPI and the gradient planner in closed loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use burn::backend::{Autodiff, Flex};
use burn::tensor::Tensor;
use prefrontal_agent::config::{CemConfig, GradientConfig, MppiConfig};
use prefrontal_agent::{
    AgentConfig, AgentError, AgentMode, AgentPlugin, Agents, Bounds, LatentModel, LatentSpec,
    LinearModel, Plan, PlanRequest, Planner, PlannerConfig, build_planner,
};
use prefrontal_sim::{Observation, Scene, VecEnv};

// The autodiff backend, so that the gradient planner runs in the loop too.
type B = Autodiff<Flex>;

fn reach() -> Scene {
    Scene::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenes/reach.scene.ron"
    ))
    .unwrap()
}

/// The agent's position (state `pos.x`, `pos.z`) moves about 0.1 m per unit force and step.
fn linear_model() -> LinearModel<B> {
    LinearModel::new(
        vec![vec![0.1, 0.0], vec![0.0, 0.1]],
        vec![0, 2],
        2,
        1,
        &Default::default(),
    )
}

fn config(planner: PlannerConfig) -> AgentConfig {
    AgentConfig {
        planner,
        replan_every: 1,
        ..AgentConfig::default()
    }
}

fn cem(horizon: usize) -> AgentConfig {
    config(PlannerConfig::Cem(CemConfig {
        samples: 64,
        elites: 8,
        iterations: 5,
        horizon,
        ..CemConfig::default()
    }))
}

/// Every planner, each with a small budget.
fn every_planner() -> Vec<AgentConfig> {
    vec![
        cem(5),
        config(PlannerConfig::Mppi(MppiConfig {
            samples: 64,
            iterations: 5,
            ..MppiConfig::default()
        })),
        config(PlannerConfig::Gradient(GradientConfig {
            samples: 4,
            iterations: 20,
            ..GradientConfig::default()
        })),
    ]
}

fn env_with_agent(model: Arc<dyn LatentModel<B>>, mode: AgentMode, config: &AgentConfig) -> VecEnv {
    env_with_planner(model, mode, config, |planner| planner)
}

/// A one-world env on `reach` whose agent plans with `config`'s planner as `wrap` returns it.
fn env_with_planner(
    model: Arc<dyn LatentModel<B>>,
    mode: AgentMode,
    config: &AgentConfig,
    wrap: impl Fn(Box<dyn Planner<B>>) -> Box<dyn Planner<B>>,
) -> VecEnv {
    let scene = reach();
    let (low, high) = (
        scene.action_space.low.clone(),
        scene.action_space.high.clone(),
    );
    let frameskip = model.spec().frameskip;
    let agents = Agents::new(mode, model, 1, config.replan_every, (&low, &high), |_| {
        wrap(build_planner(
            config,
            Bounds::tiled(&low, &high, frameskip),
            0,
        ))
    });
    let mut env = VecEnv::with_plugins(scene, 1, None, AgentPlugin::new(agents)).unwrap();
    env.set_auto_reset(false);
    env
}

fn start(env: &mut VecEnv, seed: u64) {
    env.reset(&[seed]).unwrap();
    let goal = env.goal_observations().unwrap().remove(0);
    env.app_mut()
        .world_mut()
        .resource_mut::<Agents<B>>()
        .start_episode(0, goal, seed);
}

fn take_error(env: &mut VecEnv) -> Option<AgentError> {
    let mut agents = env.app_mut().world_mut().resource_mut::<Agents<B>>();
    agents.take_error().map(|(_, error)| error)
}

/// Runs one lockstep episode; returns every state and whether it succeeded.
fn episode(env: &mut VecEnv, seed: u64) -> (Vec<Vec<f32>>, bool) {
    start(env, seed);
    let mut states = Vec::new();
    loop {
        let step = env.step_driven().unwrap().remove(0);
        if let Some(error) = take_error(env) {
            panic!("agent failed: {error}");
        }
        states.push(step.observation.state.clone());
        if step.terminated || step.truncated {
            return (states, step.terminated);
        }
    }
}

#[test]
fn every_planner_in_the_lockstep_loop_reaches_goals_and_repeats_itself_exactly() {
    for config in every_planner() {
        let name = config.planner.name();
        let mut first = env_with_agent(Arc::new(linear_model()), AgentMode::Lockstep, &config);
        let mut second = env_with_agent(Arc::new(linear_model()), AgentMode::Lockstep, &config);
        for seed in [1, 2, 3] {
            let (a, success) = episode(&mut first, seed);
            let (b, _) = episode(&mut second, seed);
            assert!(
                success,
                "{name}, episode {seed}: the goal was not reached in {} steps",
                a.len()
            );
            assert_eq!(a, b, "{name}, episode {seed}: two lockstep runs differ");
        }
        let agents = first.app_mut().world_mut().resource::<Agents<B>>();
        assert!(agents.plans() > 10, "{name}: the agent replans every step");
    }
}

/// The linear model behind a gate: its first rollout waits until the test opens the gate.
struct Gated {
    inner: LinearModel<B>,
    gate: Mutex<Receiver<()>>,
    open: AtomicBool,
}

/// The test's side of the gate. Nothing is ever sent: the gate opens when the sender is
/// dropped, by `open` or with the guard, so a failing assertion never leaves the planning
/// thread waiting.
struct Gate(Option<Sender<()>>);

impl Gate {
    fn open(&mut self) {
        self.0.take();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open();
    }
}

impl LatentModel<B> for Gated {
    fn spec(&self) -> LatentSpec {
        self.inner.spec()
    }
    fn device(&self) -> burn::tensor::Device<B> {
        self.inner.device()
    }
    fn encode(&self, observations: &[&Observation]) -> Result<Tensor<B, 2>, AgentError> {
        self.inner.encode(observations)
    }
    fn rollout(&self, h: Tensor<B, 3>, a: Tensor<B, 3>) -> Result<Tensor<B, 3>, AgentError> {
        if !self.open.load(Ordering::SeqCst) {
            // Returns (with an error) once the test's sender is gone.
            let _ = self.gate.lock().unwrap().recv();
            self.open.store(true, Ordering::SeqCst);
        }
        self.inner.rollout(h, a)
    }
}

/// A planner that reports on a channel each time one of its plans has returned.
struct Reporting {
    inner: Box<dyn Planner<B>>,
    planned: Sender<()>,
}

impl Planner<B> for Reporting {
    fn plan(
        &mut self,
        model: &dyn LatentModel<B>,
        request: &PlanRequest<B>,
    ) -> Result<Plan, AgentError> {
        let plan = self.inner.plan(model, request);
        let _ = self.planned.send(());
        plan
    }
    fn reset(&mut self, seed: u64) {
        self.inner.reset(seed);
    }
}

/// The agent's speed in a `reach` observation's state.
fn speed(state: &[f32]) -> f32 {
    state[7..10].iter().map(|v| v * v).sum::<f32>().sqrt()
}

#[test]
fn real_time_agent_never_blocks_the_ecs_loop() {
    // The first plan cannot finish while the gate is shut: every step taken meanwhile
    // proves the loop does not wait for planning (no clock involved).
    let (sender, receiver) = channel();
    let mut gate = Gate(Some(sender));
    let gated = Gated {
        inner: linear_model(),
        gate: Mutex::new(receiver),
        open: AtomicBool::new(false),
    };
    let (report, planned) = channel();
    let mut env = env_with_planner(Arc::new(gated), AgentMode::RealTime, &cem(10), |inner| {
        Box::new(Reporting {
            inner,
            planned: report.clone(),
        })
    });
    // The planner holds the only sender: should it be dropped unsent, `recv` fails.
    drop(report);
    start(&mut env, 5);
    for _ in 0..20 {
        let step = env.step_driven().unwrap().remove(0);
        assert!(take_error(&mut env).is_none());
        assert!(
            speed(&step.observation.state) < 1e-6,
            "moved without a plan"
        );
    }
    {
        let agents = env.app_mut().world_mut().resource::<Agents<B>>();
        assert!(agents.planning(0), "the plan is still pending");
        assert_eq!(agents.plans(), 0, "20 steps ran while the plan was held");
    }
    // Opened, the plan returns; the loop collects it at one of its next steps and applies
    // its actions. Endless, the episode cannot end before that.
    gate.open();
    planned
        .recv()
        .expect("the planner returns once the gate is open");
    env.set_endless(true);
    let mut moved = false;
    for _ in 0..10_000 {
        let step = env.step_driven().unwrap().remove(0);
        assert!(take_error(&mut env).is_none());
        let plans = env.app_mut().world_mut().resource::<Agents<B>>().plans();
        moved = plans > 0 && speed(&step.observation.state) > 1e-3;
        if moved {
            break;
        }
        // The planning thread only has to return its plan; let it run.
        std::thread::yield_now();
    }
    assert!(moved, "no plan was applied after the planner returned");
}

#[test]
fn a_model_predicting_nan_is_reported_and_the_loop_carries_on() {
    let broken = LinearModel::<B>::new(
        vec![vec![f32::NAN, 0.0], vec![0.0, 0.1]],
        vec![0, 2],
        2,
        1,
        &Default::default(),
    );
    let mut env = env_with_agent(Arc::new(broken), AgentMode::Lockstep, &cem(5));
    start(&mut env, 1);
    let step = env.step_driven().unwrap().remove(0);
    let error = take_error(&mut env).expect("the planner's failure is reported");
    assert!(matches!(error, AgentError::NonFinite { .. }), "{error}");
    assert!(error.to_string().contains("not finite"), "{error}");
    // No plan: the agent held the middle of the bounds, and nothing moved.
    assert!(step.observation.state[7..10].iter().all(|v| v.abs() < 1e-6));
}
