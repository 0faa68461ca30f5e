//! The oracle baseline's model: the simulator itself, on the privileged state.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};

use bevy::math::{Mat3, Quat, Vec3};
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

/// Values per body in the oracle's latent: position `[x, y, z]`, rotation as the body's
/// x and y axes in the world `[x₁, x₂, x₃, y₁, y₂, y₃]`, then linear and angular velocity
/// times [`VELOCITY_WEIGHT`].
pub const LATENT_PER_BODY: usize = 15;

/// Writes the oracle's latent of `state` (13 values per body) into `latent` (15 per body).
///
/// A rotation is written as two columns of its matrix rather than as its quaternion: the
/// matrix is continuous in the rotation, while a quaternion's sign jumps where a body turns
/// through half a turn, and an arm that swung the long way to its goal, or whose elbow
/// folded past it, would sit in a false minimum of the distance on the jump's far side.
fn write_latent(state: &[f32], latent: &mut [f32]) {
    for (body, out) in state
        .chunks_exact(STATE_PER_BODY)
        .zip(latent.chunks_exact_mut(LATENT_PER_BODY))
    {
        let rotation = Mat3::from_quat(Quat::from_slice(&body[3..7]).normalize());
        out[0..3].copy_from_slice(&body[0..3]);
        out[3..6].copy_from_slice(&rotation.x_axis.to_array());
        out[6..9].copy_from_slice(&rotation.y_axis.to_array());
        for (value, velocity) in out[9..15].iter_mut().zip(&body[7..13]) {
            *value = velocity * VELOCITY_WEIGHT;
        }
    }
}

/// The state (13 values per body) of an oracle latent: the inverse of [`write_latent`].
fn state_of(latent: &[f32], state: &mut [f32]) {
    for (body, out) in latent
        .chunks_exact(LATENT_PER_BODY)
        .zip(state.chunks_exact_mut(STATE_PER_BODY))
    {
        // Gram–Schmidt: an imagined latent's axes are exactly orthonormal only up to
        // rounding.
        let x = Vec3::from_slice(&body[3..6]).normalize();
        let y = Vec3::from_slice(&body[6..9])
            .reject_from_normalized(x)
            .normalize();
        let rotation = Quat::from_mat3(&Mat3::from_cols(x, y, x.cross(y)));
        out[0..3].copy_from_slice(&body[0..3]);
        out[3..7].copy_from_slice(&rotation.to_array());
        for (value, velocity) in out[7..13].iter_mut().zip(&body[9..15]) {
            *value = velocity / VELOCITY_WEIGHT;
        }
    }
}

/// A "latent model" whose latent is the privileged state (rotations as matrix columns,
/// velocities weighted by [`VELOCITY_WEIGHT`]) and whose rollout steps real physics:
/// every candidate gets its own world, restored to the observed state. The planners run on it unchanged, which makes it
/// the upper bound a learned model can reach. The worlds live on a thread of their own (a
/// Bevy `App` stays on its thread).
#[derive(Debug)]
pub struct SimulatorModel<B: Backend> {
    requests: Mutex<Sender<Request>>,
    spec: LatentSpec,
    device: B::Device,
}

impl<B: Backend> SimulatorModel<B> {
    /// Simulates `scene` with `frameskip` simulator steps per model step.
    pub fn new(scene: Arc<Scene>, frameskip: usize, device: &B::Device) -> Self {
        let bodies = prefrontal_sim::observation::ObservationLayout::new(&scene)
            .state_names
            .len()
            / STATE_PER_BODY;
        let spec = LatentSpec {
            latent_dim: bodies * LATENT_PER_BODY,
            action_dim: scene.action_dim(),
            frameskip,
            history: 1,
        };
        let (requests, inbox) = channel::<Request>();
        std::thread::Builder::new()
            .name("oracle-simulator".into())
            .spawn(move || {
                let mut worlds: Option<VecEnv> = None;
                for request in inbox {
                    let result = simulate(&scene, &mut worlds, &request, spec);
                    // The caller may have given up waiting; nothing to do then.
                    let _ = request.reply.send(result);
                }
            })
            .expect("the oracle thread starts");
        SimulatorModel {
            requests: Mutex::new(requests),
            spec,
            device: device.clone(),
        }
    }
}

/// Steps one world per candidate from its start latent; returns the latents after every
/// model step, `[N, K, S]`.
fn simulate(
    scene: &Scene,
    worlds: &mut Option<VecEnv>,
    request: &Request,
    spec: LatentSpec,
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
    let mut state = vec![0f32; s / LATENT_PER_BODY * STATE_PER_BODY];
    for (world, latent) in request.states.chunks_exact(s).enumerate() {
        state_of(latent, &mut state);
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
            write_latent(state, &mut out[(world * k + step) * s..][..s]);
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
        let state_dim = s / LATENT_PER_BODY * STATE_PER_BODY;
        let mut latents = vec![0f32; observations.len() * s]; // [N, S]
        for (observation, latent) in observations.iter().zip(latents.chunks_exact_mut(s)) {
            let len = observation.state.len();
            if len < state_dim {
                return Err(AgentError::NoState {
                    component: state_dim - 1,
                    len,
                });
            }
            write_latent(&observation.state[..state_dim], latent);
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
