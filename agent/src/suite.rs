//! An agent and its baselines on the same episodes: the planner in the world model, random
//! actions, the same planner one model step ahead (greedy) and the same planner in the
//! simulator (oracle).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use burn::tensor::backend::{AutodiffBackend, Backend};
use prefrontal_sim::Scene;
use prefrontal_worldmodel::Checkpoint;
use serde::{Deserialize, Serialize};

use crate::AgentError;
use crate::config::AgentConfig;
use crate::eval::{
    Contender, EpisodeResult, EpisodeSpec, EvalOptions, EvalSummary, Protocol, evaluate,
};
use crate::model::{JepaModel, LatentModel, model_view};
use crate::oracle::SimulatorModel;
use crate::planner::{Bounds, build_planner, sampling_planner};

/// A comparison run on the same episodes as the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Baseline {
    /// Uniform random actions.
    Random,
    /// The same planner looking one model step ahead, replanning every model step.
    Greedy,
    /// The same planner with the simulator as its model, on the privileged state.
    Oracle,
}

impl Baseline {
    /// Lower-case name: the contender's folder and table row.
    pub fn name(self) -> &'static str {
        match self {
            Baseline::Random => "random",
            Baseline::Greedy => "greedy",
            Baseline::Oracle => "oracle",
        }
    }
}

impl FromStr for Baseline {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "random" => Ok(Baseline::Random),
            "greedy" => Ok(Baseline::Greedy),
            "oracle" => Ok(Baseline::Oracle),
            other => Err(format!(
                "unknown baseline `{other}`; expected random, greedy or oracle"
            )),
        }
    }
}

/// Contender names in evaluation order: the agent (by its planner's name), then the
/// baselines that apply to it (the oracle's simulator gives a differentiating planner no
/// gradient, so it is left out).
pub fn contenders(config: &AgentConfig, baselines: &[Baseline]) -> Vec<&'static str> {
    let mut names = vec![config.planner.name()];
    for &baseline in baselines {
        if !(baseline == Baseline::Oracle && config.planner.kind().differentiates()) {
            names.push(baseline.name());
        }
    }
    names
}

/// What a suite reports while it runs.
#[derive(Debug, Clone)]
pub enum SuiteEvent<'a> {
    /// A contender starts its episodes.
    Started {
        /// The contender.
        name: &'a str,
        /// Episodes it will run.
        episodes: usize,
    },
    /// A contender finished an episode.
    Episode {
        /// The contender.
        name: &'a str,
        /// The outcome.
        result: &'a EpisodeResult,
    },
    /// A contender finished all its episodes.
    Finished {
        /// The contender.
        name: &'a str,
    },
    /// A baseline that cannot run with this agent.
    Skipped {
        /// The baseline.
        name: &'a str,
        /// Why.
        reason: &'a str,
    },
}

/// An agent with a world-model checkpoint and its baselines, on the same episodes.
#[derive(Debug, Clone)]
pub struct Suite<'a> {
    /// The scene acted in (the one the model was trained on).
    pub scene: &'a Scene,
    /// The world model.
    pub checkpoint: &'a Checkpoint,
    /// Planner, energy and replanning of the agent.
    pub config: &'a AgentConfig,
    /// Baselines run after the agent.
    pub baselines: &'a [Baseline],
    /// The start/goal pairs.
    pub episodes: &'a [EpisodeSpec],
    /// How they were chosen; it sets the step budget.
    pub protocol: Protocol,
    /// One subfolder per contender.
    pub out: PathBuf,
    /// Episodes (the first ones) that get a rollout GIF.
    pub gifs: usize,
    /// The camera rendered (the scene's first when `None`; the dataset's).
    pub camera: Option<String>,
}

impl Suite<'_> {
    /// Runs the agent, then each baseline; `observe` hears progress.
    pub fn run<B: AutodiffBackend>(
        &self,
        device: &B::Device,
        observe: &mut dyn FnMut(SuiteEvent),
    ) -> Result<Vec<EvalSummary>, AgentError> {
        let name = self.config.planner.name();
        let mut summaries = vec![self.planner::<B>(name, self.config, device, observe)?];
        for baseline in self.baselines {
            let name = baseline.name();
            let summary = match baseline {
                Baseline::Random => {
                    self.contender::<B::InnerBackend>(name, Contender::Random, observe)?
                }
                Baseline::Greedy => {
                    let greedy = AgentConfig {
                        planner: self.config.planner.clone().with_horizon(1),
                        replan_every: 1,
                        ..self.config.clone()
                    };
                    self.planner::<B>(name, &greedy, device, observe)?
                }
                Baseline::Oracle => {
                    if self.config.planner.kind().differentiates() {
                        observe(SuiteEvent::Skipped {
                            name,
                            reason: "the simulator gives the gradient planner no gradient",
                        });
                        continue;
                    }
                    let frameskip = self.checkpoint.config.model.frameskip;
                    let scene = Arc::new(self.scene.clone());
                    let model = SimulatorModel::<B::InnerBackend>::new(scene, frameskip, device);
                    self.sampling(name, self.config, Arc::new(model), observe)?
                }
            };
            summaries.push(summary);
        }
        Ok(summaries)
    }

    /// The world model with `config`'s planner: on the autodiff backend for the gradient
    /// planner, on its inner backend otherwise.
    fn planner<B: AutodiffBackend>(
        &self,
        name: &str,
        config: &AgentConfig,
        device: &B::Device,
        observe: &mut dyn FnMut(SuiteEvent),
    ) -> Result<EvalSummary, AgentError> {
        if config.planner.kind().differentiates() {
            let model = JepaModel::<B>::load_differentiable(self.checkpoint, device)?;
            model.check_scene(self.scene, self.camera.as_deref())?;
            let contender = Contender::Agent {
                planner: build_planner::<B>(config, self.bounds(&model), 0),
                model: Arc::new(model),
                config: config.clone(),
            };
            self.contender(name, contender, observe)
        } else {
            let model = JepaModel::<B::InnerBackend>::load(self.checkpoint, device)?;
            model.check_scene(self.scene, self.camera.as_deref())?;
            self.sampling(name, config, Arc::new(model), observe)
        }
    }

    /// CEM or MPPI in `model`.
    fn sampling<B: Backend>(
        &self,
        name: &str,
        config: &AgentConfig,
        model: Arc<dyn LatentModel<B>>,
        observe: &mut dyn FnMut(SuiteEvent),
    ) -> Result<EvalSummary, AgentError> {
        let planner = sampling_planner::<B>(config, self.bounds(model.as_ref()), 0)
            .expect("not the gradient planner");
        let contender = Contender::Agent {
            model,
            config: config.clone(),
            planner,
        };
        self.contender(name, contender, observe)
    }

    fn bounds<B: Backend>(&self, model: &dyn LatentModel<B>) -> Bounds {
        let space = &self.scene.action_space;
        Bounds::tiled(&space.low, &space.high, model.spec().frameskip)
    }

    fn contender<B: Backend>(
        &self,
        name: &str,
        contender: Contender<B>,
        observe: &mut dyn FnMut(SuiteEvent),
    ) -> Result<EvalSummary, AgentError> {
        let options = EvalOptions {
            render: model_view(self.checkpoint, self.camera.clone()),
            out: self.out.join(name),
            gifs: self.gifs,
        };
        observe(SuiteEvent::Started {
            name,
            episodes: self.episodes.len(),
        });
        let summary = evaluate(
            name,
            &self.protocol.scene(self.scene),
            contender,
            self.episodes,
            &options,
            |result| observe(SuiteEvent::Episode { name, result }),
        )?;
        observe(SuiteEvent::Finished { name });
        Ok(summary)
    }
}
