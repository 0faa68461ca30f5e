//! Prefrontal's windowed viewer: a scene lit for people, driven by the keyboard or by a
//! planning agent in real time, with what the agent imagines drawn beside what the
//! simulator would do.
//!
//! The simulation runs in its own headless `App` (a `VecEnv`, exactly as evaluation runs
//! it); this crate's `App` owns the window and mirrors the simulation's poses. The
//! simulation crate stays free of window code.

mod capture;
mod controls;
mod driver;
mod hud;
mod stage;
mod state;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bevy::camera::visibility::RenderLayers;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy::window::{ExitCondition, PresentMode, WindowResolution};
use bevy::winit::WinitSettings;
use bevy_egui::{EguiGlobalSettings, EguiPlugin, EguiPrimaryContextPass, PrimaryEguiContext};
use burn::tensor::backend::AutodiffBackend;
use prefrontal_agent::model::model_view;
use prefrontal_agent::{JepaModel, LatentModel};
use prefrontal_runtime::{AgentSource, BackendTask, Device, on_device};
use prefrontal_sim::{RenderOptions, Scene};
use prefrontal_worldmodel::LinearProbe;

pub use capture::CaptureOptions;
pub use driver::{AgentSetup, Request};
pub use hud::{INSET_SIDE, MARGIN, help_line};
pub use stage::{GOAL_COLOR, IMAGINED_COLOR, SIMULATED_COLOR};
pub use state::Pilot;

use crate::capture::Capture;
use crate::controls::{OrbitCamera, PressedAt, Requests};
use crate::driver::Driver;
use crate::hud::Insets;
use crate::stage::{OVERLAY_LAYER, StageScene};
use crate::state::ViewState;

/// Why the viewer could not run.
#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    /// The simulation failed.
    #[error(transparent)]
    Sim(#[from] prefrontal_sim::SimError),
    /// The agent failed.
    #[error(transparent)]
    Agent(#[from] prefrontal_agent::AgentError),
    /// The agent's world model or probe cannot be loaded.
    #[error(transparent)]
    WorldModel(#[from] prefrontal_worldmodel::WorldModelError),
    /// This build lacks the device's backend.
    #[error(transparent)]
    Backend(#[from] prefrontal_runtime::UnavailableBackend),
    /// The viewer stopped with an error (shown in its log).
    #[error("the viewer stopped: {0}")]
    Stopped(String),
}

/// How to open the viewer.
#[derive(Debug, Clone)]
pub struct ViewerOptions {
    /// The scene.
    pub scene: Scene,
    /// Camera and frame size of the observations (the model's, with an agent).
    pub render: RenderOptions,
    /// Seed of the first episode; each next episode uses the next seed.
    pub seed: u64,
    /// Window size in pixels.
    pub size: (u32, u32),
    /// The checkpoint shown, for the title.
    pub checkpoint: Option<PathBuf>,
    /// Unattended runs: screenshot, GIF, frame count.
    pub capture: CaptureOptions,
}

/// What a finished viewer reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewerSummary {
    /// Frames drawn.
    pub frames: u64,
    /// Episodes started.
    pub episodes: u64,
    /// Plans installed.
    pub plans: u64,
    /// Fewest frames drawn while one background plan was pending (`None`: no plan).
    pub fewest_frames_per_plan: Option<u32>,
    /// Mean over plans of the distance between where the imagined and the simulated path
    /// end (m); `None` without a probe or a plan.
    pub mean_path_gap: Option<f32>,
}

impl std::fmt::Display for ViewerSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "viewer: {} frames drawn, {} episodes, {} plans, fewest frames drawn during a plan: {}",
            self.frames,
            self.episodes,
            self.plans,
            self.fewest_frames_per_plan
                .map_or("none".to_owned(), |f| f.to_string())
        )?;
        if let Some(gap) = self.mean_path_gap {
            write!(
                f,
                ", imagined paths end {gap:.3} m from the simulator's on average"
            )?;
        }
        Ok(())
    }
}

/// What the app hands back when it exits: the summary it keeps up to date and the first
/// error of a system.
#[derive(Resource, Debug, Clone, Default)]
pub(crate) struct Outcome {
    summary: Arc<Mutex<ViewerSummary>>,
    pub(crate) failure: Arc<Mutex<Option<String>>>,
}

/// What to show: a scene alone, or an agent acting in it.
#[derive(Debug, Clone)]
pub struct ViewRequest {
    /// The scene.
    pub scene: Scene,
    /// The agent, when one acts.
    pub agent: Option<AgentSource>,
    /// Seed of the first episode; each next episode uses the next seed.
    pub seed: u64,
    /// Window size in pixels.
    pub size: (u32, u32),
    /// Unattended runs: screenshot, GIF, frame count.
    pub capture: CaptureOptions,
    /// Where the agent's model runs.
    pub device: Device,
}

/// Opens the window on `request`'s scene (and agent, rendering what its model sees at the
/// checkpoint's frame size and camera) and runs until it is closed.
pub fn open(request: ViewRequest) -> Result<ViewerSummary, ViewerError> {
    struct Open(ViewRequest);
    impl BackendTask for Open {
        type Output = Result<ViewerSummary, ViewerError>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output {
            let request = self.0;
            let render = match &request.agent {
                Some(source) => model_view(&source.checkpoint, source.camera.clone()),
                None => RenderOptions::default(),
            };
            let options = ViewerOptions {
                scene: request.scene,
                render,
                seed: request.seed,
                size: request.size,
                checkpoint: request.agent.as_ref().map(|a| a.checkpoint.dir.clone()),
                capture: request.capture,
            };
            let setup = match request.agent {
                Some(source) => {
                    let model = JepaModel::<B>::load_differentiable(&source.checkpoint, device)?;
                    model.check_scene(&options.scene, options.render.camera.as_deref())?;
                    let model: Arc<dyn LatentModel<B>> = Arc::new(model);
                    Some(AgentSetup {
                        model,
                        config: source.config,
                        probe: LinearProbe::load(&source.checkpoint.dir)?,
                        protocol: source.protocol,
                    })
                }
                None => None,
            };
            run::<B>(options, setup)
        }
    }
    let device = request.device;
    on_device(device, Open(request))?
}

/// Opens the window and runs until it is closed (or the capture is done).
pub fn run<B: AutodiffBackend>(
    options: ViewerOptions,
    agent: Option<AgentSetup<B>>,
) -> Result<ViewerSummary, ViewerError> {
    let scene = Arc::new(options.scene.clone());
    let mut state = ViewState {
        scene: scene.name.clone(),
        checkpoint: options.checkpoint.as_ref().map(|c| c.display().to_string()),
        speed: 1.0,
        ..default()
    };
    let driver = Driver::<B>::new(
        &scene,
        options.render.clone(),
        agent,
        options.seed,
        &mut state,
    )?;
    let title = match &state.checkpoint {
        Some(checkpoint) => format!("Prefrontal — {} — {checkpoint}", scene.name),
        None => format!("Prefrontal — {}", scene.name),
    };
    let outcome = Outcome::default();
    let unattended = options.capture.unattended();
    let mut app = App::new();
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title,
            resolution: WindowResolution::new(options.size.0, options.size.1),
            present_mode: PresentMode::AutoNoVsync,
            ..default()
        }),
        exit_condition: ExitCondition::OnPrimaryClosed,
        ..default()
    }))
    // Keep drawing when the window has no focus (a window manager-less X server).
    .insert_resource(WinitSettings::continuous())
    .add_plugins(EguiPlugin::default())
    // The HUD belongs to the viewer camera, spawned below.
    .insert_resource(EguiGlobalSettings {
        auto_create_primary_context: false,
        ..default()
    })
    .insert_resource(ClearColor(Color::srgb(0.12, 0.13, 0.16)))
    .insert_resource(GlobalAmbientLight {
        brightness: 120.0,
        ..default()
    })
    .insert_resource(StageScene(scene.clone()))
    .insert_resource(state)
    .insert_resource(Capture::new(
        options.capture.clone(),
        scene.physics.control_hz,
    ))
    .insert_resource(outcome.clone())
    .insert_resource(Unattended(unattended))
    .init_resource::<Requests>()
    .init_resource::<PressedAt>()
    .init_resource::<Insets>()
    .insert_non_send(driver)
    .add_systems(Startup, (stage::spawn_stage, spawn_camera))
    .add_systems(
        Update,
        (
            (controls::keyboard, controls::click_goal, controls::orbit),
            drive::<B>,
            (stage::pose_bodies, stage::draw_overlays, hud::update_insets),
            capture::capture,
        )
            .chain(),
    )
    .add_systems(EguiPrimaryContextPass, hud::draw_hud);
    let exit = app.run();
    let summary = outcome.summary.lock().expect("not poisoned").clone();
    if let Some(message) = outcome.failure.lock().expect("not poisoned").take() {
        return Err(ViewerError::Stopped(message));
    }
    match exit {
        AppExit::Success => Ok(summary),
        AppExit::Error(code) => Err(ViewerError::Stopped(format!("exit code {code}"))),
    }
}

/// The viewer runs by itself: one control step per drawn frame.
#[derive(Resource, Debug, Clone, Copy)]
struct Unattended(bool);

/// The lit camera people look through, with the HUD; it sees the scene and the overlays.
fn spawn_camera(mut commands: Commands, scene: Res<StageScene>) {
    let reach = scene.0.arena.half_extent.max(0.5);
    let orbit = OrbitCamera {
        focus: Vec3::new(0.0, 0.0, -0.3 * reach),
        yaw: 0.0,
        pitch: 0.95,
        distance: 3.6 * reach,
    };
    commands.spawn((
        Camera3d::default(),
        Tonemapping::None,
        PrimaryEguiContext,
        RenderLayers::from_layers(&[0, OVERLAY_LAYER]),
        orbit,
        orbit.transform(),
    ));
}

/// Carries out requests and advances the simulation: one control step per frame when
/// unattended, as real time (times the speed) owes otherwise.
fn drive<B: AutodiffBackend>(
    mut driver: NonSendMut<Driver<B>>,
    mut state: ResMut<ViewState>,
    mut requests: ResMut<Requests>,
    time: Res<Time>,
    unattended: Res<Unattended>,
    outcome: Res<Outcome>,
    mut exit: MessageWriter<AppExit>,
) {
    let state = &mut *state;
    state.frames += 1;
    let seconds = (!unattended.0).then(|| time.delta_secs());
    let result = requests
        .0
        .drain(..)
        .try_for_each(|request| driver.request(request, state))
        .and_then(|()| driver.advance(seconds, state));
    if let Err(error) = result {
        *outcome.failure.lock().expect("not poisoned") = Some(error.to_string());
        exit.write(AppExit::error());
    }
    *outcome.summary.lock().expect("not poisoned") = ViewerSummary {
        frames: state.frames,
        episodes: state.episodes,
        plans: state.plans,
        fewest_frames_per_plan: state.fewest_frames_per_plan,
        mean_path_gap: (!state.path_gaps.is_empty())
            .then(|| state.path_gaps.iter().sum::<f32>() / state.path_gaps.len() as f32),
    };
}
