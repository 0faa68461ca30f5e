//! World models, agents and the viewer for Python. Models run on the CPU (Burn's `flex`
//! backend; agents with autodiff, so that every planner, the gradient one included, works).

use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::{Tensor, TensorData};
use numpy::{
    PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray3, PyReadonlyArray4,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use prefrontal_agent::control::{Controller, JobPlanner, PlanJob};
use prefrontal_agent::planner::{Bounds, build_planner};
use prefrontal_agent::{JepaModel, LatentModel, LatentSpec};
use prefrontal_runtime::{AgentSource, Device};
use prefrontal_sim::{Frame, Observation};
use prefrontal_viewer::{CaptureOptions, ViewRequest};
use prefrontal_worldmodel::Checkpoint;

use crate::{runtime_error, value_error};

/// The backend Python's world models run on (inference: batch norm uses its statistics).
type Inference = burn::backend::Flex;

/// The backend Python's agents plan on.
type B = burn::backend::Autodiff<Inference>;

fn device() -> burn::backend::flex::FlexDevice {
    burn::backend::flex::FlexDevice
}

/// What a model reads of an observation: its frame size and proprioception width.
#[derive(Debug, Clone, Copy)]
struct Inputs {
    height: usize,
    width: usize,
    proprio: usize,
}

impl Inputs {
    fn of(checkpoint: &Checkpoint) -> Self {
        let spec = &checkpoint.state.spec;
        Inputs {
            height: spec.height,
            width: spec.width,
            proprio: spec.proprio_dim,
        }
    }

    /// An observation from a frame `u8 [H, W, 3]` and, optionally, proprioception `f32 [P]`
    /// (zeros when absent: a pixels-only model ignores it).
    fn observation(&self, pixels: Vec<u8>, proprio: Option<Vec<f32>>) -> Observation {
        Observation {
            frame: Some(Frame {
                width: self.width as u32,
                height: self.height as u32,
                pixels,
            }),
            proprio: proprio.unwrap_or_else(|| vec![0.0; self.proprio]),
            state: Vec::new(),
        }
    }

    /// An observation from Python: a frame `u8 [H, W, 3]`, or a dict with `pixels` and,
    /// for models that read it, `proprio`.
    fn read(&self, object: &Bound<'_, PyAny>) -> PyResult<Observation> {
        let (pixels, proprio) = match object.cast::<PyDict>() {
            Ok(dict) => {
                let pixels = dict.get_item("pixels")?.ok_or_else(|| {
                    PyValueError::new_err("an observation dict needs a \"pixels\" entry")
                })?;
                let proprio = match dict.get_item("proprio")? {
                    Some(proprio) => Some(proprio.extract::<PyReadonlyArray1<'_, f32>>()?),
                    None => None,
                };
                (pixels.extract::<PyReadonlyArray3<'_, u8>>()?, proprio)
            }
            Err(_) => (object.extract::<PyReadonlyArray3<'_, u8>>()?, None),
        };
        let shape = pixels.shape();
        if shape != [self.height, self.width, 3] {
            return Err(PyValueError::new_err(format!(
                "the model sees {}×{}×3 frames (height × width × RGB), got {shape:?}",
                self.height, self.width
            )));
        }
        let pixels = pixels.as_array().iter().copied().collect::<Vec<u8>>();
        Ok(self.observation(pixels, proprio.map(|p| p.as_array().to_vec())))
    }
}

/// A trained JEPA world model: `encode` frames to latents, `rollout` latents under actions.
#[derive(Debug)]
#[pyclass(unsendable, module = "prefrontal._prefrontal")]
pub struct WorldModel {
    model: JepaModel<Inference>,
    inputs: Inputs,
}

#[pymethods]
impl WorldModel {
    /// Loads a checkpoint: a training run's folder (its latest step) or a `step-N` folder.
    #[staticmethod]
    fn load(checkpoint: PathBuf) -> PyResult<Self> {
        let checkpoint = Checkpoint::open(&checkpoint).map_err(value_error)?;
        let model = JepaModel::<Inference>::load(&checkpoint, &device()).map_err(value_error)?;
        Ok(WorldModel {
            inputs: Inputs::of(&checkpoint),
            model,
        })
    }

    /// Latent width D.
    #[getter]
    fn latent_dim(&self) -> usize {
        self.model.spec().latent_dim
    }

    /// Simulator action width A.
    #[getter]
    fn action_dim(&self) -> usize {
        self.model.spec().action_dim
    }

    /// Simulator steps per model step: a model action is `frameskip` simulator actions
    /// concatenated.
    #[getter]
    fn frameskip(&self) -> usize {
        self.model.spec().frameskip
    }

    /// Latents the predictor conditions on.
    #[getter]
    fn history(&self) -> usize {
        self.model.spec().history
    }

    /// `(height, width)` of the frames it encodes.
    #[getter]
    fn frame_shape(&self) -> (usize, usize) {
        (self.inputs.height, self.inputs.width)
    }

    /// Proprioception components it is given (ignored by pixels-only models).
    #[getter]
    fn proprio_dim(&self) -> usize {
        self.inputs.proprio
    }

    /// Frames `u8 [N, H, W, 3]` (and proprioception `f32 [N, P]`) → latents `f32 [N, D]`.
    #[pyo3(signature = (pixels, proprio = None))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        pixels: PyReadonlyArray4<'py, u8>,
        proprio: Option<numpy::PyReadonlyArray2<'py, f32>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shape = pixels.shape();
        let (h, w) = (self.inputs.height, self.inputs.width);
        if shape[1..] != [h, w, 3] {
            return Err(PyValueError::new_err(format!(
                "the model encodes frames of shape [N, {h}, {w}, 3], got {shape:?}"
            )));
        }
        let n = shape[0];
        let pixels = pixels.as_array().iter().copied().collect::<Vec<u8>>();
        let proprio = proprio.map(|p| p.as_array().to_owned());
        if let Some(proprio) = &proprio
            && proprio.nrows() != n
        {
            return Err(PyValueError::new_err(format!(
                "{n} frames but {} rows of proprioception",
                proprio.nrows()
            )));
        }
        let frame_len = h * w * 3;
        let observations: Vec<Observation> = (0..n)
            .map(|i| {
                let row = proprio.as_ref().map(|p| p.row(i).to_vec());
                self.inputs
                    .observation(pixels[i * frame_len..(i + 1) * frame_len].to_vec(), row)
            })
            .collect();
        let refs: Vec<&Observation> = observations.iter().collect();
        let latents = self.model.encode(&refs).map_err(value_error)?; // [N, D]
        to_numpy(py, latents)
    }

    /// Open-loop rollout: observed latents `f32 [N, h, D]` and model actions `f32 [N, h-1+K,
    /// A·frameskip]` (the `h-1` taken between the observed latents, then `K` to imagine) →
    /// the `K` imagined latents `f32 [N, K, D]`.
    fn rollout<'py>(
        &self,
        py: Python<'py>,
        history: PyReadonlyArray3<'py, f32>,
        actions: PyReadonlyArray3<'py, f32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let spec = self.model.spec();
        let (hs, acts) = (history.shape().to_vec(), actions.shape().to_vec());
        if hs[0] != acts[0] || hs[2] != spec.latent_dim || acts[2] != spec.model_action_dim() {
            return Err(PyValueError::new_err(format!(
                "rollout takes latents [N, h, {}] and actions [N, h-1+K, {}], got {hs:?} and {acts:?}",
                spec.latent_dim,
                spec.model_action_dim()
            )));
        }
        if acts[1] < hs[1] {
            return Err(PyValueError::new_err(format!(
                "{} observed latents need at least {} actions (h-1 between them, then at least one to imagine), got {}",
                hs[1], hs[1], acts[1]
            )));
        }
        let history = tensor(history.as_array().iter().copied().collect(), hs);
        let actions = tensor(actions.as_array().iter().copied().collect(), acts);
        let imagined = self.model.rollout(history, actions).map_err(value_error)?; // [N, K, D]
        to_numpy(py, imagined)
    }
}

/// A tensor `[a, b, c]` on the CPU.
fn tensor(values: Vec<f32>, shape: Vec<usize>) -> Tensor<Inference, 3> {
    Tensor::from_data(
        TensorData::new(values, [shape[0], shape[1], shape[2]]),
        &device(),
    )
}

/// A tensor as a numpy array of the same shape.
fn to_numpy<'py, const D: usize>(
    py: Python<'py>,
    tensor: Tensor<Inference, D>,
) -> PyResult<Bound<'py, PyAny>> {
    let shape = tensor.dims().to_vec();
    let values = tensor
        .into_data()
        .into_vec::<f32>()
        .map_err(|e| runtime_error(std::io::Error::other(format!("{e:?}"))))?;
    Ok(PyArray1::from_vec(py, values).reshape(shape)?.into_any())
}

/// A world model with its planner: plans in latent space toward a goal image, once
/// (`plan`) or in closed loop (`reset` with a goal, then `act` on every observation:
/// model-predictive control exactly as in Prefrontal's own evaluations).
#[derive(Debug)]
#[pyclass(unsendable, module = "prefrontal._prefrontal")]
pub struct Agent {
    planner: JobPlanner<B>,
    controller: Controller,
    spec: LatentSpec,
    inputs: Inputs,
}

#[pymethods]
impl Agent {
    /// The agent of an experiment run folder (`run`), or a checkpoint with an agent config
    /// file (`agent`, CEM's defaults without one). `seed` seeds the planner's sampling.
    #[new]
    #[pyo3(signature = (checkpoint = None, agent = None, run = None, seed = 0))]
    fn new(
        checkpoint: Option<PathBuf>,
        agent: Option<PathBuf>,
        run: Option<PathBuf>,
        seed: u64,
    ) -> PyResult<Self> {
        let (scene, source) = match (run, checkpoint) {
            (Some(run), None) => AgentSource::from_run(&run).map_err(value_error)?,
            (None, Some(checkpoint)) => {
                let source = AgentSource::from_checkpoint(&checkpoint, agent.as_deref())
                    .map_err(value_error)?;
                (source.scene().map_err(value_error)?, source)
            }
            _ => {
                return Err(PyValueError::new_err(
                    "give either checkpoint= (with agent=, an agent config file) or run= (an experiment run folder)",
                ));
            }
        };
        let model = JepaModel::<B>::load_differentiable(&source.checkpoint, &device())
            .map_err(value_error)?;
        let spec = model.spec();
        let (low, high) = (&scene.action_space.low, &scene.action_space.high);
        let planner = build_planner::<B>(
            &source.config,
            Bounds::tiled(low, high, spec.frameskip),
            seed,
        );
        let model: Arc<dyn LatentModel<B>> = Arc::new(model);
        Ok(Agent {
            planner: JobPlanner::new(model, planner),
            controller: Controller::new(spec, source.config.replan_every, low, high),
            spec,
            inputs: Inputs::of(&source.checkpoint),
        })
    }

    /// Plans from one observation toward `goal` (each a frame `u8 [H, W, 3]` or a dict with
    /// `pixels` and `proprio`): the planned simulator actions `f32 [horizon·frameskip, A]`
    /// and the plan's energy.
    fn plan<'py>(
        &mut self,
        py: Python<'py>,
        observation: &Bound<'py, PyAny>,
        goal: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyAny>, f32)> {
        let job = PlanJob {
            observations: vec![self.inputs.read(observation)?],
            past_actions: Vec::new(),
            goal: self.inputs.read(goal)?,
            shift: 0,
            made_at: 0,
        };
        let plan = self.planner.plan(&job).map_err(runtime_error)?;
        let steps = plan.actions.len() / self.spec.action_dim;
        let actions =
            PyArray1::from_vec(py, plan.actions).reshape([steps, self.spec.action_dim])?;
        Ok((actions.into_any(), plan.energy))
    }

    /// Starts an episode toward `goal`; `seed` reseeds the planner.
    #[pyo3(signature = (goal, seed = 0))]
    fn reset(&mut self, goal: &Bound<'_, PyAny>, seed: u64) -> PyResult<()> {
        let goal = self.inputs.read(goal)?;
        self.planner.reset(seed);
        self.controller.start_episode(goal);
        Ok(())
    }

    /// The action `f32 [A]` to take now, given the current observation: replans at model-step
    /// boundaries as the agent config says, otherwise follows the current plan.
    fn act<'py>(
        &mut self,
        py: Python<'py>,
        observation: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if !self.controller.has_goal() {
            return Err(PyValueError::new_err(
                "no goal: call reset(goal) before act(observation)",
            ));
        }
        let observation = self.inputs.read(observation)?;
        if let Some(job) = self.controller.observe(&observation, false) {
            let plan = self.planner.plan(&job).map_err(runtime_error)?;
            self.controller.install(&plan, job.made_at);
        }
        Ok(PyArray1::from_vec(py, self.controller.act()).into_any())
    }
}

/// Opens the viewer's window (an X display is needed; once per process): on `scene` (a
/// shipped name or a file), or on a run folder's scene with its agent, or on `scene` with
/// `checkpoint` and `agent`. With `frames`, it runs unattended for that many frames
/// (saving `screenshot` and `record` when given) and closes. Returns its summary.
#[pyfunction]
#[pyo3(signature = (scene = None, run = None, checkpoint = None, agent = None, seed = 0, size = (1280, 720), frames = None, screenshot = None, record = None))]
#[allow(clippy::too_many_arguments)]
pub fn view(
    scene: Option<&str>,
    run: Option<PathBuf>,
    checkpoint: Option<PathBuf>,
    agent: Option<PathBuf>,
    seed: u64,
    size: (u32, u32),
    frames: Option<u32>,
    screenshot: Option<PathBuf>,
    record: Option<PathBuf>,
) -> PyResult<String> {
    let scene = scene.map(crate::env::load_scene).transpose()?;
    let (scene, agent) = AgentSource::resolve(
        run.as_deref(),
        scene,
        checkpoint.as_deref(),
        agent.as_deref(),
    )
    .map_err(value_error)?;
    let summary = prefrontal_viewer::open(ViewRequest {
        scene,
        agent,
        seed,
        size,
        capture: CaptureOptions {
            screenshot,
            record,
            frames,
        },
        device: Device::default(),
    })
    .map_err(runtime_error)?;
    Ok(summary.to_string())
}
