//! Keyboard and mouse: the orbit camera, the keyboard pilot's action, and the requests
//! (pause, step, reset, goals, pilot, speed, planner) the driver carries out.

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::input::EguiWantsInput;

use crate::driver::Request;
use crate::stage::StageScene;
use prefrontal_agent::PlannerKind;

use crate::state::ViewState;

/// The keys that switch planners: the n-th key to the n-th planner of the agent's registry.
pub const PLANNER_KEYS: [KeyCode; 9] = [
    KeyCode::Digit1,
    KeyCode::Digit2,
    KeyCode::Digit3,
    KeyCode::Digit4,
    KeyCode::Digit5,
    KeyCode::Digit6,
    KeyCode::Digit7,
    KeyCode::Digit8,
    KeyCode::Digit9,
];

/// Requests made since the driver last ran.
#[derive(Resource, Debug, Default)]
pub struct Requests(pub Vec<Request>);

/// A camera circling `focus` at `distance`, `yaw` about the vertical and `pitch` above the
/// floor (radians).
#[derive(Component, Debug, Clone, Copy)]
pub struct OrbitCamera {
    /// The point looked at.
    pub focus: Vec3,
    /// Angle about the vertical axis.
    pub yaw: f32,
    /// Angle above the floor.
    pub pitch: f32,
    /// Distance from the focus.
    pub distance: f32,
}

impl OrbitCamera {
    /// The camera's pose.
    pub fn transform(&self) -> Transform {
        let offset = Vec3::new(
            self.pitch.cos() * self.yaw.sin(),
            self.pitch.sin(),
            self.pitch.cos() * self.yaw.cos(),
        ) * self.distance;
        Transform::from_translation(self.focus + offset).looking_at(self.focus, Vec3::Y)
    }
}

/// Where the left button went down, to tell a click from a drag.
#[derive(Resource, Debug, Default)]
pub struct PressedAt(Option<Vec2>);

/// Cursor travel (logical pixels) under which a left press and release count as a click.
const CLICK_SLOP: f32 = 4.0;

/// Left drag orbits, right or middle drag pans, the wheel zooms; ignored while the pointer
/// is over the HUD.
pub fn orbit(
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    egui: Res<EguiWantsInput>,
    mut cameras: Query<(&mut OrbitCamera, &mut Transform)>,
) {
    if egui.wants_any_pointer_input() {
        return;
    }
    for (mut orbit, mut transform) in &mut cameras {
        let delta = motion.delta;
        if buttons.pressed(MouseButton::Left) {
            orbit.yaw -= delta.x * 0.006;
            orbit.pitch = (orbit.pitch + delta.y * 0.006).clamp(0.05, 1.55);
        }
        if buttons.pressed(MouseButton::Right) || buttons.pressed(MouseButton::Middle) {
            let right = transform.right();
            let forward =
                Vec3::new(transform.forward().x, 0.0, transform.forward().z).normalize_or_zero();
            let scale = orbit.distance * 0.0015;
            orbit.focus += (-delta.x * *right + delta.y * forward) * scale;
        }
        let lines = match scroll.unit {
            MouseScrollUnit::Line => scroll.delta.y,
            MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
        };
        orbit.distance = (orbit.distance * (1.0 - 0.1 * lines)).clamp(0.5, 30.0);
        *transform = orbit.transform();
    }
}

/// A left click (press and release without a drag) on the floor asks for the goal there.
pub fn click_goal(
    buttons: Res<ButtonInput<MouseButton>>,
    egui: Res<EguiWantsInput>,
    windows: Query<&Window, With<PrimaryWindow>>,
    cameras: Query<(&Camera, &GlobalTransform), With<OrbitCamera>>,
    mut pressed: ResMut<PressedAt>,
    mut requests: ResMut<Requests>,
) {
    let Ok(window) = windows.single() else {
        return;
    };
    let cursor = window.cursor_position();
    if buttons.just_pressed(MouseButton::Left) && !egui.wants_any_pointer_input() {
        pressed.0 = cursor;
    }
    if !buttons.just_released(MouseButton::Left) {
        return;
    }
    let (Some(start), Some(end)) = (pressed.0.take(), cursor) else {
        return;
    };
    if start.distance(end) > CLICK_SLOP {
        return;
    }
    let Ok((camera, transform)) = cameras.single() else {
        return;
    };
    let Ok(ray) = camera.viewport_to_world(transform, end) else {
        return;
    };
    if let Some(point) = ray.plane_intersection_point(Vec3::ZERO, InfinitePlane3d::new(Vec3::Y)) {
        requests
            .0
            .push(Request::PlaceGoal(Vec2::new(point.x, point.z)));
    }
}

/// Keys → requests, and the keyboard pilot's action: A/D (or ←/→) drive the first action
/// component, W/S (or ↑/↓) the second (for a planar body, W moves toward −Z, up in the
/// top-down camera), at the bounds' extremes; no key, the middle of the bounds.
pub fn keyboard(
    keys: Res<ButtonInput<KeyCode>>,
    egui: Res<EguiWantsInput>,
    scene: Res<StageScene>,
    mut requests: ResMut<Requests>,
    mut state: ResMut<ViewState>,
) {
    // Keys typed into the HUD drive nothing; the action is then the middle of the bounds.
    let listening = !egui.wants_any_keyboard_input();
    let planner_bindings = PLANNER_KEYS
        .into_iter()
        .zip(PlannerKind::ALL)
        .map(|(key, kind)| (key, Request::Planner(kind)));
    let bindings = [
        (KeyCode::Space, Request::TogglePause),
        (KeyCode::Period, Request::Step),
        (KeyCode::KeyR, Request::Reset),
        (KeyCode::KeyG, Request::NewGoal),
        (KeyCode::Tab, Request::TogglePilot),
        (KeyCode::Equal, Request::Speed(2.0)),
        (KeyCode::NumpadAdd, Request::Speed(2.0)),
        (KeyCode::Minus, Request::Speed(0.5)),
        (KeyCode::NumpadSubtract, Request::Speed(0.5)),
    ];
    for (key, request) in bindings.into_iter().chain(planner_bindings) {
        if listening && keys.just_pressed(key) {
            requests.0.push(request);
        }
    }
    let axis = |negative: [KeyCode; 2], positive: [KeyCode; 2]| {
        let held = |keys_of: [KeyCode; 2]| f32::from(listening && keys.any_pressed(keys_of));
        held(positive) - held(negative)
    };
    let axes = [
        axis(
            [KeyCode::KeyA, KeyCode::ArrowLeft],
            [KeyCode::KeyD, KeyCode::ArrowRight],
        ),
        axis(
            [KeyCode::KeyW, KeyCode::ArrowUp],
            [KeyCode::KeyS, KeyCode::ArrowDown],
        ),
    ];
    let space = &scene.0.action_space;
    state.manual = space
        .low
        .iter()
        .zip(&space.high)
        .enumerate()
        .map(|(i, (&low, &high))| {
            let middle = 0.5 * (low + high);
            let half = 0.5 * (high - low);
            middle + half * axes.get(i).copied().unwrap_or(0.0)
        })
        .collect();
}
