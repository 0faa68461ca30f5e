//! The oracle baseline's model: the simulator itself, on the privileged state.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use prefrontal_sim::observation::STATE_PER_BODY;
use prefrontal_sim::{Action, Observation, Scene, SimError, VecEnv};

use crate::AgentError;
use crate::model::{LatentModel, LatentSpec, latest_and_imagined};

/// One batch of imagined rollouts for the simulator thread.
struct Request {
    /// Start states `[N, S]`.
    states: Vec<f32>,
    /// Model actions `[N, K, A·frameskip]`.
    actions: Vec<f32>,
    samples: usize,
    steps: usize,
    reply: Sender<Result<Vec<f32>, SimError>>,
}

/// Weight of velocities in the oracle's latent: its distances measure where bodies are
/// (as success does), not how fast they move; a plan that races through a door toward the
/// goal is not charged for its speed.
pub const VELOCITY_WEIGHT: f32 = 0.01;

/// Per state component: 1 for positions and rotations, [`VELOCITY_WEIGHT`] for velocities.
fn component_weights(state_dim: usize) -> Vec<f32> {
    (0..state_dim)
        .map(|i| {
            if i % STATE_PER_BODY < 7 {
                1.0
            } else {
                VELOCITY_WEIGHT
            }
        })
        .collect()
}

/// Writes the oracle's latent of `state` into `latent`: the state times `weights`, each
/// body's rotation quaternion with `w ≥ 0`. `q` and `-q` are the same rotation, and a body
/// that turned all the way round comes back as `-q`: without the sign chosen, an arm that
/// swung the long way to its goal would be as far from it as it can be.
fn write_latent(state: &[f32], weights: &[f32], latent: &mut [f32]) {
    for ((value, w), x) in latent.iter_mut().zip(weights).zip(state) {
        *value = x * w;
    }
    for body in latent.chunks_exact_mut(STATE_PER_BODY) {
        // Position [0, 3), quaternion [x, y, z, w] at [3, 7).
        if body[6] < 0.0 {
            body[3..7].iter_mut().for_each(|q| *q = -*q);
        }
    }
}

/// A "latent model" whose latent is the privileged state (velocities weighted by
/// [`VELOCITY_WEIGHT`], rotations with one sign) and whose rollout steps real physics:
/// every candidate gets its own world, restored to the observed state. The planners run on it unchanged, which makes it
/// the upper bound a learned model can reach. The worlds live on a thread of their own (a
/// Bevy `App` stays on its thread).
#[derive(Debug)]
pub struct SimulatorModel<B: Backend> {
    requests: Mutex<Sender<Request>>,
    spec: LatentSpec,
    weights: Vec<f32>,
    device: B::Device,
}

impl<B: Backend> SimulatorModel<B> {
    /// Simulates `scene` with `frameskip` simulator steps per model step.
    pub fn new(scene: Arc<Scene>, frameskip: usize, device: &B::Device) -> Self {
        let state_dim = prefrontal_sim::observation::ObservationLayout::new(&scene)
            .state_names
            .len();
        let spec = LatentSpec {
            latent_dim: state_dim,
            action_dim: scene.action_dim(),
            frameskip,
            history: 1,
        };
        let weights = component_weights(state_dim);
        let thread_weights = weights.clone();
        let (requests, inbox) = channel::<Request>();
        std::thread::Builder::new()
            .name("oracle-simulator".into())
            .spawn(move || {
                let mut worlds: Option<VecEnv> = None;
                for request in inbox {
                    let result = simulate(&scene, &mut worlds, &request, spec, &thread_weights);
                    // The caller may have given up waiting; nothing to do then.
                    let _ = request.reply.send(result);
                }
            })
            .expect("the oracle thread starts");
        SimulatorModel {
            requests: Mutex::new(requests),
            spec,
            weights,
            device: device.clone(),
        }
    }
}

/// Steps one world per candidate from its start latent; returns the latents after every
/// model step, `[N, K, S]` (states times `weights`).
fn simulate(
    scene: &Scene,
    worlds: &mut Option<VecEnv>,
    request: &Request,
    spec: LatentSpec,
    weights: &[f32],
) -> Result<Vec<f32>, SimError> {
    let (n, k, a) = (request.samples, request.steps, spec.action_dim);
    if worlds.as_ref().is_none_or(|env| env.num_envs() < n) {
        let mut env = VecEnv::new(scene.clone(), n)?;
        env.set_auto_reset(false);
        env.set_endless(true);
        env.reset(&(0..n as u64).collect::<Vec<_>>())?;
        *worlds = Some(env);
    }
    let env = worlds.as_mut().expect("built above");
    let s = spec.latent_dim;
    for (world, latent) in request.states.chunks_exact(s).enumerate() {
        let state: Vec<f32> = latent.iter().zip(weights).map(|(v, w)| v / w).collect();
        env.restore_state(world, &state)?;
    }
    let neutral: Vec<f32> = scene
        .action_space
        .low
        .iter()
        .zip(&scene.action_space.high)
        .map(|(l, h)| 0.5 * (l + h))
        .collect();
    let m = spec.model_action_dim();
    let mut out = vec![0f32; n * k * s];
    for step in 0..k {
        for sub in 0..spec.frameskip {
            let actions: Vec<Action> = (0..env.num_envs())
                .map(|world| {
                    if world < n {
                        let start = (world * k + step) * m + sub * a;
                        Action(request.actions[start..start + a].to_vec())
                    } else {
                        Action(neutral.clone())
                    }
                })
                .collect();
            env.step(&actions)?;
        }
        for world in 0..n {
            let state = &env.sim().slot(world).expect("reset").observation.state;
            write_latent(state, weights, &mut out[(world * k + step) * s..][..s]);
        }
    }
    Ok(out)
}

impl<B: Backend> LatentModel<B> for SimulatorModel<B> {
    fn spec(&self) -> LatentSpec {
        self.spec
    }

    fn device(&self) -> B::Device {
        self.device.clone()
    }

    fn encode(&self, observations: &[&Observation]) -> Result<Tensor<B, 2>, AgentError> {
        let s = self.spec.latent_dim;
        let mut latents = vec![0f32; observations.len() * s]; // [N, S]
        for (observation, latent) in observations.iter().zip(latents.chunks_exact_mut(s)) {
            let len = observation.state.len();
            if len < s {
                return Err(AgentError::NoState {
                    component: s - 1,
                    len,
                });
            }
            write_latent(&observation.state[..s], &self.weights, latent);
        }
        Ok(Tensor::from_data(
            TensorData::new(latents, [observations.len(), s]),
            &self.device,
        ))
    }

    fn rollout(
        &self,
        history: Tensor<B, 3>,
        actions: Tensor<B, 3>,
    ) -> Result<Tensor<B, 3>, AgentError> {
        let (states, imagined) = latest_and_imagined(history, actions); // [N, 1, S], [N, K, M]
        let ([n, _, s], [_, steps, m]) = (states.dims(), imagined.dims());
        let to_vec = |t: TensorData| t.to_vec::<f32>().expect("f32");
        let (reply, answer) = channel();
        let request = Request {
            states: to_vec(states.into_data()),
            actions: to_vec(imagined.into_data()),
            samples: n,
            steps,
            reply,
        };
        debug_assert_eq!(m, self.spec.model_action_dim());
        self.requests
            .lock()
            .expect("not poisoned")
            .send(request)
            .expect("the oracle thread lives as long as the model");
        let states = answer
            .recv()
            .expect("the oracle thread answers every request")?;
        Ok(Tensor::from_data(
            TensorData::new(states, [n, steps, s]),
            &self.device,
        ))
    }
}
