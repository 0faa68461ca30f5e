//! What planners see of a world model: batched encoding and open-loop rollout.

use std::path::PathBuf;

use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use prefrontal_sim::{Observation, RenderOptions, Scene};
use prefrontal_worldmodel::config::ModelConfig;
use prefrontal_worldmodel::data::pixels_to_input;
use prefrontal_worldmodel::imagine::repeat_past;
use prefrontal_worldmodel::{Checkpoint, DataSpec, WorldModel};

use crate::AgentError;

/// Shapes of a latent model's inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatentSpec {
    /// Latent width D.
    pub latent_dim: usize,
    /// Simulator action width A.
    pub action_dim: usize,
    /// Simulator steps per model step. A model action is `frameskip` consecutive simulator
    /// actions concatenated: `A · frameskip` values.
    pub frameskip: usize,
    /// Latents the model conditions on when predicting.
    pub history: usize,
}

impl LatentSpec {
    /// Width of one model action, `A · frameskip`.
    pub fn model_action_dim(&self) -> usize {
        self.action_dim * self.frameskip
    }
}

/// A model the planners can imagine with. Planners see nothing else of it.
pub trait LatentModel<B: Backend>: Send + Sync {
    /// Input and output shapes.
    fn spec(&self) -> LatentSpec;

    /// Where the model's tensors live.
    fn device(&self) -> B::Device;

    /// Encodes observations (frames, proprioception or state, as the model needs) to
    /// latents `[N, D]`.
    fn encode(&self, observations: &[&Observation]) -> Result<Tensor<B, 2>, AgentError>;

    /// Open-loop rollout: observed latents `[N, h, D]` and actions `[N, h-1+K, A·frameskip]`
    /// (the `h-1` actions between the observed latents, then `K` to imagine) → the `K`
    /// imagined latents `[N, K, D]`.
    fn rollout(
        &self,
        history: Tensor<B, 3>,
        actions: Tensor<B, 3>,
    ) -> Result<Tensor<B, 3>, AgentError>;

    /// Open-loop rollout of `N` candidate action sequences from one shared past, as planners
    /// ask: observed latents `[1, h, D]`, the `h-1` actions between them `[1, h-1, A·frameskip]`
    /// (`None` when `h = 1`), candidates `[N, K, A·frameskip]` → `[N, K, D]`. The same as
    /// `rollout` on the past repeated for every candidate; a model may compute what the
    /// candidates share once.
    fn imagine(
        &self,
        history: Tensor<B, 3>,
        past: Option<Tensor<B, 3>>,
        candidates: Tensor<B, 3>,
    ) -> Result<Tensor<B, 3>, AgentError> {
        let (history, actions) = repeat_past(history, past, candidates);
        self.rollout(history, actions)
    }
}

/// A trained JEPA world model from a checkpoint, encoding rendered frames.
pub struct JepaModel<B: Backend> {
    /// The whole world model; planners roll out its predictor (frozen, on the autodiff
    /// backend, for the gradient planner).
    model: WorldModel<B>,
    encoder: Box<dyn EncodeLatents<B>>,
    data: DataSpec,
    spec: LatentSpec,
    checkpoint: PathBuf,
}

impl<B: Backend> std::fmt::Debug for JepaModel<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JepaModel")
            .field("checkpoint", &self.checkpoint)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// Turns observations into latents on backend `B`.
trait EncodeLatents<B: Backend>: Send + Sync {
    fn encode(&self, observations: &[&Observation]) -> Result<Tensor<B, 2>, AgentError>;
}

/// Encodes with a model of the same backend (inference backends: batch norm uses its
/// running statistics).
struct SameBackend<B: Backend> {
    model: WorldModel<B>,
    data: DataSpec,
    checkpoint: PathBuf,
}

/// Encodes through the inner backend of an autodiff backend: there batch norm would use
/// the statistics of the batch being encoded.
struct InnerBackend<B: AutodiffBackend>(SameBackend<B::InnerBackend>);

impl<B: Backend> EncodeLatents<B> for SameBackend<B> {
    fn encode(&self, observations: &[&Observation]) -> Result<Tensor<B, 2>, AgentError> {
        let (h, w, p) = (self.data.height, self.data.width, self.data.proprio_dim);
        let n = observations.len();
        let frame_len = self.data.frame_len();
        let mut pixels = vec![0f32; n * frame_len];
        let mut proprio = Vec::with_capacity(n * p);
        let incompatible = |message: String| AgentError::Incompatible {
            checkpoint: self.checkpoint.clone(),
            message,
        };
        for (target, observation) in pixels.chunks_exact_mut(frame_len).zip(observations) {
            let frame = observation.frame.as_ref().ok_or(AgentError::NoFrame)?;
            if (frame.width as usize, frame.height as usize) != (w, h) {
                return Err(incompatible(format!(
                    "it encodes {w}×{h} frames, the observation is {}×{}",
                    frame.width, frame.height
                )));
            }
            if observation.proprio.len() != p {
                return Err(incompatible(format!(
                    "it reads {p} proprioception components, the observation has {}",
                    observation.proprio.len()
                )));
            }
            pixels_to_input(&frame.pixels, target);
            proprio.extend_from_slice(&observation.proprio);
        }
        let device = self.model.devices().remove(0);
        let frames = Tensor::from_data(TensorData::new(pixels, [n, 3, h, w]), &device);
        let proprio = Tensor::from_data(TensorData::new(proprio, [n, p]), &device);
        Ok(self.model.encode(frames, proprio))
    }
}

impl<B: AutodiffBackend> EncodeLatents<B> for InnerBackend<B> {
    fn encode(&self, observations: &[&Observation]) -> Result<Tensor<B, 2>, AgentError> {
        self.0.encode(observations).map(Tensor::from_inner)
    }
}

/// Shapes of a model built by `config` for data of shape `data`.
/// How a world shows itself to `checkpoint`'s model: at the frame size it was trained on,
/// through `camera` (the scene's first when `None`).
pub fn model_view(checkpoint: &Checkpoint, camera: Option<String>) -> RenderOptions {
    let spec = &checkpoint.state.spec;
    RenderOptions {
        camera,
        resolution: Some((spec.width as u32, spec.height as u32)),
    }
}

fn latent_spec(config: &ModelConfig, data: &DataSpec) -> LatentSpec {
    LatentSpec {
        latent_dim: config.latent_dim,
        action_dim: data.action_dim,
        frameskip: config.frameskip,
        history: config.history,
    }
}

impl<B: Backend> JepaModel<B> {
    /// Loads a checkpoint (a `step-N` folder or a run folder) for inference on `device`
    /// (CEM and MPPI).
    pub fn load(checkpoint: &Checkpoint, device: &B::Device) -> Result<Self, AgentError> {
        let model = checkpoint.load_model::<B>(device)?;
        Ok(Self::from_model(
            model,
            &checkpoint.config.model,
            checkpoint.state.spec.clone(),
            checkpoint.dir.clone(),
        ))
    }

    /// Wraps a model in memory, built by `config` for data of shape `data`; `source` names
    /// it in errors.
    pub fn from_model(
        model: WorldModel<B>,
        config: &ModelConfig,
        data: DataSpec,
        source: PathBuf,
    ) -> Self {
        JepaModel {
            model: model.clone(),
            encoder: Box::new(SameBackend {
                model,
                data: data.clone(),
                checkpoint: source.clone(),
            }),
            spec: latent_spec(config, &data),
            data,
            checkpoint: source,
        }
    }

    /// Refuses a scene the model was not trained for: another scene name, another action
    /// width, or frames from another camera (`camera`, the scene's first when `None`).
    pub fn check_scene(&self, scene: &Scene, camera: Option<&str>) -> Result<(), AgentError> {
        let mut problems = Vec::new();
        let rendered = camera.or(scene.cameras.first().map(|c| c.name.as_str()));
        if let Some(rendered) = rendered
            && !self.data.camera.is_empty()
            && rendered != self.data.camera
        {
            problems.push(format!(
                "it sees through camera \"{}\", the frames here would come from \"{rendered}\"",
                self.data.camera
            ));
        }
        if scene.name != self.data.scene {
            problems.push(format!(
                "it was trained on scene \"{}\", not \"{}\"",
                self.data.scene, scene.name
            ));
        } else if let Ok(trained) = Scene::parse(&self.data.scene_source, &self.checkpoint)
            && let Some(difference) = trained.difference(scene)
        {
            problems.push(format!(
                "its data was collected in another variant of scene \"{}\": {difference}",
                scene.name
            ));
        }
        if scene.action_dim() != self.data.action_dim {
            problems.push(format!(
                "its actions have {} components, the scene's {}",
                self.data.action_dim,
                scene.action_dim()
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AgentError::Incompatible {
                checkpoint: self.checkpoint.clone(),
                message: problems.join("; "),
            })
        }
    }
}

impl<B: AutodiffBackend> JepaModel<B> {
    /// Loads a checkpoint for the gradient planner (see [`JepaModel::differentiable`]).
    pub fn load_differentiable(
        checkpoint: &Checkpoint,
        device: &B::Device,
    ) -> Result<Self, AgentError> {
        let model = checkpoint.load_model::<B>(device)?;
        Ok(Self::differentiable(
            model,
            &checkpoint.config.model,
            checkpoint.state.spec.clone(),
            checkpoint.dir.clone(),
        ))
    }

    /// Wraps a model for the gradient planner: the predictor is differentiable with respect
    /// to the actions (its parameters are frozen); encoding runs in inference mode.
    pub fn differentiable(
        model: WorldModel<B>,
        config: &ModelConfig,
        data: DataSpec,
        source: PathBuf,
    ) -> Self {
        let model = model.no_grad();
        let encoder = InnerBackend::<B>(SameBackend {
            model: model.valid(),
            data: data.clone(),
            checkpoint: source.clone(),
        });
        JepaModel {
            model,
            encoder: Box::new(encoder),
            spec: latent_spec(config, &data),
            data,
            checkpoint: source,
        }
    }
}

impl<B: Backend> LatentModel<B> for JepaModel<B> {
    fn spec(&self) -> LatentSpec {
        self.spec
    }

    fn device(&self) -> B::Device {
        self.model.devices().remove(0)
    }

    fn encode(&self, observations: &[&Observation]) -> Result<Tensor<B, 2>, AgentError> {
        self.encoder.encode(observations)
    }

    fn rollout(
        &self,
        history: Tensor<B, 3>,
        actions: Tensor<B, 3>,
    ) -> Result<Tensor<B, 3>, AgentError> {
        Ok(self.model.rollout(history, actions))
    }

    fn imagine(
        &self,
        history: Tensor<B, 3>,
        past: Option<Tensor<B, 3>>,
        candidates: Tensor<B, 3>,
    ) -> Result<Tensor<B, 3>, AgentError> {
        Ok(self.model.imagine(history, past, candidates))
    }
}

/// A toy analytic model for tests and planner debugging: the latent is a slice of the
/// privileged state and every action moves it linearly, `z' = z + a·B` (`B`: `[A, D]`).
#[derive(Debug, Clone)]
pub struct LinearModel<B: Backend> {
    /// `[A·frameskip, D]`.
    effect: Tensor<B, 2>,
    /// State components forming the latent.
    state_components: Vec<usize>,
    spec: LatentSpec,
}

impl<B: Backend> LinearModel<B> {
    /// `effect` holds `A·frameskip` rows of `D` values: row `i` is what one unit of model
    /// action component `i` adds to the latent. `state_components` picks the latent from
    /// `Observation::state`.
    pub fn new(
        effect: Vec<Vec<f32>>,
        state_components: Vec<usize>,
        action_dim: usize,
        frameskip: usize,
        device: &B::Device,
    ) -> Self {
        let rows = effect.len();
        let latent_dim = state_components.len();
        assert_eq!(
            rows,
            action_dim * frameskip,
            "one effect row per model action component"
        );
        assert!(
            effect.iter().all(|row| row.len() == latent_dim),
            "rows have D values"
        );
        let values: Vec<f32> = effect.into_iter().flatten().collect();
        LinearModel {
            effect: Tensor::from_data(TensorData::new(values, [rows, latent_dim]), device),
            state_components,
            spec: LatentSpec {
                latent_dim,
                action_dim,
                frameskip,
                history: 1,
            },
        }
    }
}

impl<B: Backend> LatentModel<B> for LinearModel<B> {
    fn spec(&self) -> LatentSpec {
        self.spec
    }

    fn device(&self) -> B::Device {
        self.effect.device()
    }

    fn encode(&self, observations: &[&Observation]) -> Result<Tensor<B, 2>, AgentError> {
        state_latents(observations, &self.state_components, &self.device())
    }

    fn rollout(
        &self,
        history: Tensor<B, 3>,
        actions: Tensor<B, 3>,
    ) -> Result<Tensor<B, 3>, AgentError> {
        let (last, imagined) = latest_and_imagined(history, actions);
        let ([n, _, d], [_, steps, m]) = (last.dims(), imagined.dims());
        let moves = imagined.reshape([n * steps, m]).matmul(self.effect.clone()); // [N·K, D]
        let moves = moves.reshape([n, steps, d]).cumsum(1); // [N, K, D]
        Ok(last + moves)
    }
}

/// What a model that looks at the latest latent only takes from a rollout request
/// (history `[N, h, D]`, actions `[N, h-1+K, M]`): the latest latent `[N, 1, D]` and the
/// `K` actions to imagine `[N, K, M]`.
pub(crate) fn latest_and_imagined<B: Backend>(
    history: Tensor<B, 3>,
    actions: Tensor<B, 3>,
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let observed = history.dims()[1];
    let steps = actions.dims()[1] + 1 - observed;
    (
        history.narrow(1, observed - 1, 1),
        actions.narrow(1, observed - 1, steps),
    )
}

/// Latents `[N, components]` read from the observations' privileged state.
pub(crate) fn state_latents<B: Backend>(
    observations: &[&Observation],
    components: &[usize],
    device: &B::Device,
) -> Result<Tensor<B, 2>, AgentError> {
    let mut values = Vec::with_capacity(observations.len() * components.len());
    for observation in observations {
        for &i in components {
            values.push(*observation.state.get(i).ok_or(AgentError::NoState {
                component: i,
                len: observation.state.len(),
            })?);
        }
    }
    let shape = [observations.len(), components.len()];
    Ok(Tensor::from_data(TensorData::new(values, shape), device))
}
