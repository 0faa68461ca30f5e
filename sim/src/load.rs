//! Reading and validating scene files, with errors that name the file, place and field.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use bevy::math::Vec3;
use ron::extensions::Extensions;

use crate::kinematics::{Configuration, Kinematics};
use crate::scene::{
    Actuator, Arena, Body, BodyKind, Camera, ConfigurationSampler, JointKind, Material, Scene,
    Shape,
};

/// A 1-based line and column in a scene file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why a scene could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// The file could not be read.
    #[error("{}: cannot read scene: {source}", file.display())]
    Io {
        /// The scene file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid RON for the scene schema (syntax, unknown or missing fields).
    #[error("{}:{location}: {message}", file.display())]
    Parse {
        /// The scene file.
        file: PathBuf,
        /// Where the parser stopped.
        location: Location,
        /// The parser's explanation.
        message: String,
    },
    /// The file parses but describes an impossible scene.
    #[error("{}{}: {field}: {message}", file.display(), location.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The scene file.
        file: PathBuf,
        /// Best-effort place of the offending item in the file.
        location: Option<Location>,
        /// Path of the offending field, e.g. `bodies[2] "tee".mass`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl Scene {
    /// Reads and validates a scene file.
    pub fn load(path: impl AsRef<Path>) -> Result<Scene, SceneError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SceneError::Io {
            file: path.to_owned(),
            source,
        })?;
        Scene::parse(&text, path)
    }

    /// Parses and validates scene text; `file` names it in errors.
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<Scene, SceneError> {
        let file = file.as_ref();
        let options = ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME);
        let scene: Scene = options.from_str(text).map_err(|e| SceneError::Parse {
            file: file.to_owned(),
            location: Location {
                line: e.span.start.line,
                column: e.span.start.col,
            },
            message: e.code.to_string(),
        })?;
        scene.validate().map_err(|problem| SceneError::Invalid {
            file: file.to_owned(),
            location: problem.locate(text),
            field: problem.field,
            message: problem.message,
        })?;
        Ok(scene)
    }

    /// Index of the body called `name`.
    pub fn body_index(&self, name: &str) -> Option<usize> {
        self.bodies.iter().position(|b| b.name == name)
    }

    /// Index of the joint called `name`.
    pub fn joint_index(&self, name: &str) -> Option<usize> {
        self.joints.iter().position(|j| j.name == name)
    }

    /// Length of the action vector.
    pub fn action_dim(&self) -> usize {
        self.embodiment
            .actuators
            .iter()
            .map(Actuator::action_dim)
            .sum()
    }

    fn validate(&self) -> Result<(), Problem> {
        check_physics(self)?;
        check_arena(&self.arena)?;
        check_bodies(self)?;
        check_joints(self)?;
        check_actuators(self)?;
        check_action_space(self)?;
        check_cameras(&self.cameras)?;
        check_task(self)
    }
}

/// A validation failure before it is tied to a file.
struct Problem {
    field: String,
    message: String,
    /// A quoted name near the problem, to find its line.
    anchor: Option<String>,
    /// The field key to look for after the anchor.
    key: Option<&'static str>,
}

impl Problem {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            anchor: None,
            key: None,
        }
    }

    fn near(mut self, name: &str, key: Option<&'static str>) -> Self {
        self.anchor = Some(format!("\"{name}\""));
        self.key = key;
        self
    }

    /// Finds the anchor's line (and the key's, when it follows the anchor closely).
    fn locate(&self, text: &str) -> Option<Location> {
        let start = match &self.anchor {
            Some(anchor) => text.find(anchor.as_str())?,
            None => text.find(&format!("{}:", self.key?))?,
        };
        let offset = match (self.anchor.as_ref(), self.key) {
            (Some(_), Some(key)) => text[start..]
                .find(&format!("{key}:"))
                .filter(|&d| d < 600)
                .map_or(start, |d| start + d),
            _ => start,
        };
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        Some(Location { line, column })
    }
}

fn ensure(ok: bool, problem: impl FnOnce() -> Problem) -> Result<(), Problem> {
    if ok { Ok(()) } else { Err(problem()) }
}

fn positive(value: f32) -> bool {
    value.is_finite() && value > 0.0
}

fn finite3(v: [f32; 3]) -> bool {
    v.iter().all(|x| x.is_finite())
}

fn check_physics(scene: &Scene) -> Result<(), Problem> {
    let p = &scene.physics;
    let at = |key: &'static str, msg: String| {
        let mut problem = Problem::new(format!("physics.{key}"), msg);
        problem.key = Some(key);
        problem
    };
    ensure(positive(p.control_hz), || {
        at(
            "control_hz",
            format!("must be positive, got {}", p.control_hz),
        )
    })?;
    ensure(p.substeps >= 1, || {
        at("substeps", "must be at least 1".into())
    })?;
    ensure(finite3(p.gravity), || {
        at("gravity", "must be finite".into())
    })
}

fn check_material(field: &str, m: &Material) -> Result<(), Problem> {
    ensure(m.friction.is_finite() && m.friction >= 0.0, || {
        Problem::new(
            format!("{field}.friction"),
            format!("must be ≥ 0, got {}", m.friction),
        )
    })?;
    ensure((0.0..=1.0).contains(&m.restitution), || {
        Problem::new(
            format!("{field}.restitution"),
            format!("must be in [0, 1], got {}", m.restitution),
        )
    })?;
    ensure(m.color.iter().all(|c| (0.0..=1.0).contains(c)), || {
        Problem::new(
            format!("{field}.color"),
            format!("components must be in [0, 1], got {:?}", m.color),
        )
    })
}

fn check_arena(arena: &Arena) -> Result<(), Problem> {
    ensure(positive(arena.half_extent), || {
        Problem::new("arena.half_extent", "must be positive").near_key("half_extent")
    })?;
    ensure(
        arena.wall_height.is_finite() && arena.wall_height >= 0.0,
        || Problem::new("arena.wall_height", "must be ≥ 0").near_key("wall_height"),
    )?;
    ensure(positive(arena.wall_thickness), || {
        Problem::new("arena.wall_thickness", "must be positive").near_key("wall_thickness")
    })?;
    check_material("arena.ground", &arena.ground)?;
    check_material("arena.walls", &arena.walls)
}

impl Problem {
    fn near_key(mut self, key: &'static str) -> Self {
        self.key = Some(key);
        self
    }
}

fn check_shape(field: &str, shape: &Shape, allow_compound: bool) -> Result<(), Problem> {
    let bad =
        |what: &str| Problem::new(format!("{field}.shape"), format!("{what} must be positive"));
    match shape {
        Shape::Box { half_extents } => ensure(half_extents.iter().all(|&h| positive(h)), || {
            bad("half_extents")
        }),
        Shape::Sphere { radius } => ensure(positive(*radius), || bad("radius")),
        Shape::Capsule {
            radius,
            half_length,
            ..
        } => {
            ensure(positive(*radius), || bad("radius"))?;
            ensure(positive(*half_length), || bad("half_length"))
        }
        Shape::Cylinder {
            radius,
            half_height,
            ..
        } => {
            ensure(positive(*radius), || bad("radius"))?;
            ensure(positive(*half_height), || bad("half_height"))
        }
        Shape::Compound { parts } => {
            ensure(allow_compound, || {
                Problem::new(
                    format!("{field}.shape"),
                    "compound parts cannot be compounds",
                )
            })?;
            ensure(!parts.is_empty(), || {
                Problem::new(
                    format!("{field}.shape"),
                    "a compound needs at least one part",
                )
            })?;
            for (i, part) in parts.iter().enumerate() {
                let part_field = format!("{field}.shape.parts[{i}]");
                ensure(finite3(part.position) && finite3(part.rotation), || {
                    Problem::new(&part_field, "position and rotation must be finite")
                })?;
                check_shape(&part_field, &part.shape, false)?;
            }
            Ok(())
        }
    }
}

fn body_field(i: usize, body: &Body) -> String {
    format!("bodies[{i}] \"{}\"", body.name)
}

fn check_bodies(scene: &Scene) -> Result<(), Problem> {
    ensure(!scene.bodies.is_empty(), || {
        Problem::new("bodies", "a scene needs at least one body")
    })?;
    let mut names = HashSet::new();
    let reach = scene.arena.half_extent;
    for (i, body) in scene.bodies.iter().enumerate() {
        let field = body_field(i, body);
        let at = |key: &'static str, msg: String| {
            Problem::new(format!("{field}.{key}"), msg).near(&body.name, Some(key))
        };
        ensure(names.insert(body.name.as_str()), || {
            at("name", "another body has this name".into())
        })?;
        check_shape(&field, &body.shape, true).map_err(|p| p.near(&body.name, Some("shape")))?;
        ensure(finite3(body.position) && finite3(body.rotation), || {
            at("position", "position and rotation must be finite".into())
        })?;
        ensure(
            body.position[0].abs() <= reach && body.position[2].abs() <= reach,
            || {
                at(
                    "position",
                    format!(
                        "{:?} lies outside the arena (half extent {reach})",
                        body.position
                    ),
                )
            },
        )?;
        if let Some(mass) = body.mass {
            ensure(positive(mass), || {
                at("mass", format!("must be positive, got {mass}"))
            })?;
        }
        ensure(positive(body.density), || {
            at("density", format!("must be positive, got {}", body.density))
        })?;
        ensure(
            body.damping.linear >= 0.0 && body.damping.angular >= 0.0,
            || at("damping", "coefficients must be ≥ 0".into()),
        )?;
        ensure(body.gravity_scale.is_finite(), || {
            at("gravity_scale", "must be finite".into())
        })?;
        check_material(&format!("{field}.material"), &body.material)
            .map_err(|p| p.near(&body.name, Some("material")))?;
    }
    Ok(())
}

fn check_joints(scene: &Scene) -> Result<(), Problem> {
    let mut names = HashSet::new();
    let mut parent_of: HashMap<&str, &str> = HashMap::new();
    for (i, joint) in scene.joints.iter().enumerate() {
        let field = format!("joints[{i}] \"{}\"", joint.name);
        let at = |key: &'static str, msg: String| {
            Problem::new(format!("{field}.{key}"), msg).near(&joint.name, Some(key))
        };
        ensure(names.insert(joint.name.as_str()), || {
            at("name", "another joint has this name".into())
        })?;
        for (key, name) in [("parent", &joint.parent), ("child", &joint.child)] {
            ensure(scene.body_index(name).is_some(), || {
                at(key, format!("no body is called \"{name}\""))
            })?;
        }
        ensure(joint.parent != joint.child, || {
            at("child", "a joint cannot connect a body to itself".into())
        })?;
        let child = &scene.bodies[scene.body_index(&joint.child).unwrap_or_default()];
        ensure(child.kind == BodyKind::Dynamic, || {
            at(
                "child",
                format!("\"{}\" must be a Dynamic body", joint.child),
            )
        })?;
        ensure(!child.planar, || {
            at(
                "child",
                format!(
                    "\"{}\" is planar; a jointed body takes its constraints from the joint, \
                     and Rapier's solver diverges when both lock the same axes",
                    joint.child
                ),
            )
        })?;
        ensure(
            parent_of
                .insert(joint.child.as_str(), joint.parent.as_str())
                .is_none(),
            || {
                at(
                    "child",
                    format!("\"{}\" is already a joint's child", joint.child),
                )
            },
        )?;
        ensure(
            finite3(joint.anchor_parent) && finite3(joint.anchor_child),
            || at("anchor_parent", "anchors must be finite".into()),
        )?;
        if let JointKind::Revolute {
            axis,
            limits,
            motor,
        } = &joint.kind
        {
            ensure(finite3(*axis) && Vec3::from(*axis).length() > 1e-6, || {
                at("axis", "must be a finite non-zero vector".into())
            })?;
            if let Some((lo, hi)) = limits {
                ensure(lo.is_finite() && hi.is_finite() && lo < hi, || {
                    at("limits", format!("need finite min < max, got ({lo}, {hi})"))
                })?;
            }
            if let Some(motor) = motor {
                ensure(positive(motor.max_torque) && positive(motor.gain), || {
                    at("motor", "max_torque and gain must be positive".into())
                })?;
            }
        }
    }
    // Following parents from any body must end at a root.
    for start in parent_of.keys() {
        let mut seen = HashSet::new();
        let mut body = *start;
        while let Some(parent) = parent_of.get(body) {
            ensure(seen.insert(body), || {
                Problem::new("joints", format!("joints form a cycle through \"{body}\""))
                    .near(body, None)
            })?;
            body = parent;
        }
    }
    // Children must be built where their joints put them at angle zero.
    let kinematics = Kinematics::new(scene);
    let built = kinematics.poses(&Configuration::default());
    for joint in &scene.joints {
        let index = scene.body_index(&joint.child).unwrap_or_default();
        let expected = built[index].translation;
        let given = Vec3::from(scene.bodies[index].position);
        ensure(given.distance(expected) < 1e-3, || {
            Problem::new(
                format!("{}.position", body_field(index, &scene.bodies[index])),
                format!(
                    "joint \"{}\" places this body at {:?}, but its position is {:?}",
                    joint.name,
                    expected.to_array(),
                    scene.bodies[index].position
                ),
            )
            .near(&joint.child, Some("position"))
        })?;
    }
    Ok(())
}

fn check_dynamic_body(scene: &Scene, field: &str, name: &str) -> Result<usize, Problem> {
    let index = scene.body_index(name).ok_or_else(|| {
        Problem::new(field, format!("no body is called \"{name}\"")).near(name, None)
    })?;
    ensure(scene.bodies[index].kind == BodyKind::Dynamic, || {
        Problem::new(field, format!("\"{name}\" must be a Dynamic body")).near(name, None)
    })?;
    Ok(index)
}

fn check_revolute_joint(
    scene: &Scene,
    field: &str,
    name: &str,
    needs_motor: bool,
) -> Result<usize, Problem> {
    let index = scene.joint_index(name).ok_or_else(|| {
        Problem::new(field, format!("no joint is called \"{name}\"")).near(name, None)
    })?;
    match &scene.joints[index].kind {
        JointKind::Revolute { motor, .. } => ensure(!needs_motor || motor.is_some(), || {
            Problem::new(field, format!("joint \"{name}\" has no motor")).near(name, None)
        })?,
        JointKind::Fixed => {
            return Err(
                Problem::new(field, format!("joint \"{name}\" is not Revolute")).near(name, None),
            );
        }
    }
    Ok(index)
}

fn check_actuators(scene: &Scene) -> Result<(), Problem> {
    ensure(!scene.embodiment.actuators.is_empty(), || {
        Problem::new(
            "embodiment.actuators",
            "the agent needs at least one actuator",
        )
        .near_key("actuators")
    })?;
    for (i, actuator) in scene.embodiment.actuators.iter().enumerate() {
        let field = format!("embodiment.actuators[{i}]");
        let scale = match actuator {
            Actuator::PlanarForce { body, scale } | Actuator::PlanarVelocity { body, scale } => {
                check_dynamic_body(scene, &format!("{field}.body"), body)?;
                scale
            }
            Actuator::JointTorque { joint, scale } => {
                check_revolute_joint(scene, &format!("{field}.joint"), joint, false)?;
                scale
            }
            Actuator::JointVelocity { joint, scale } => {
                check_revolute_joint(scene, &format!("{field}.joint"), joint, true)?;
                scale
            }
        };
        ensure(positive(*scale), || {
            Problem::new(
                format!("{field}.scale"),
                format!("must be positive, got {scale}"),
            )
        })?;
    }
    Ok(())
}

fn check_action_space(scene: &Scene) -> Result<(), Problem> {
    let space = &scene.action_space;
    let dim = scene.action_dim();
    for (key, bounds) in [("low", &space.low), ("high", &space.high)] {
        ensure(bounds.len() == dim, || {
            Problem::new(
                format!("action_space.{key}"),
                format!(
                    "has {} entries but the actuators read {dim} action dimensions",
                    bounds.len()
                ),
            )
            .near_key(key)
        })?;
    }
    for (i, (lo, hi)) in space.low.iter().zip(&space.high).enumerate() {
        ensure(lo.is_finite() && hi.is_finite() && lo < hi, || {
            Problem::new(
                format!("action_space[{i}]"),
                format!("needs finite low < high, got ({lo}, {hi})"),
            )
            .near_key("low")
        })?;
    }
    Ok(())
}

fn check_cameras(cameras: &[Camera]) -> Result<(), Problem> {
    let mut names = HashSet::new();
    for (i, camera) in cameras.iter().enumerate() {
        let field = format!("cameras[{i}] \"{}\"", camera.name);
        let at = |key: &'static str, msg: String| {
            Problem::new(format!("{field}.{key}"), msg).near(&camera.name, Some(key))
        };
        ensure(names.insert(camera.name.as_str()), || {
            at("name", "another camera has this name".into())
        })?;
        let eye = Vec3::from(camera.position);
        let target = Vec3::from(camera.look_at);
        let up = Vec3::from(camera.up);
        ensure(
            finite3(camera.position) && finite3(camera.look_at) && eye.distance(target) > 1e-6,
            || at("look_at", "must be finite and differ from position".into()),
        )?;
        ensure(up.cross(target - eye).length() > 1e-6, || {
            at("up", "must not be parallel to the viewing direction".into())
        })?;
        ensure(
            camera.fov_degrees > 0.0 && camera.fov_degrees < 180.0,
            || {
                at(
                    "fov_degrees",
                    format!("must be in (0, 180), got {}", camera.fov_degrees),
                )
            },
        )?;
        ensure((1..=4096).contains(&camera.width), || {
            at(
                "width",
                format!("must be in [1, 4096], got {}", camera.width),
            )
        })?;
        ensure((1..=4096).contains(&camera.height), || {
            at(
                "height",
                format!("must be in [1, 4096], got {}", camera.height),
            )
        })?;
    }
    Ok(())
}

fn check_range(field: &str, anchor: &str, (lo, hi): (f32, f32)) -> Result<(), Problem> {
    ensure(lo.is_finite() && hi.is_finite() && lo <= hi, || {
        Problem::new(field, format!("needs finite min ≤ max, got ({lo}, {hi})")).near(anchor, None)
    })
}

fn check_sampler(
    scene: &Scene,
    field: &str,
    sampler: &ConfigurationSampler,
) -> Result<(), Problem> {
    let jointed: HashSet<&str> = scene.joints.iter().map(|j| j.child.as_str()).collect();
    let reach = scene.arena.half_extent;
    for (i, placement) in sampler.bodies.iter().enumerate() {
        let at = format!("{field}.bodies[{i}]");
        check_dynamic_body(scene, &format!("{at}.body"), &placement.body)?;
        ensure(!jointed.contains(placement.body.as_str()), || {
            Problem::new(
                format!("{at}.body"),
                format!(
                    "\"{}\" hangs from a joint: sample the joint angle instead",
                    placement.body
                ),
            )
            .near(&placement.body, None)
        })?;
        for (key, range) in [("x", placement.x), ("z", placement.z)] {
            check_range(&format!("{at}.{key}"), &placement.body, range)?;
            ensure(range.0 >= -reach && range.1 <= reach, || {
                Problem::new(
                    format!("{at}.{key}"),
                    format!("{range:?} reaches outside the arena (half extent {reach})"),
                )
                .near(&placement.body, None)
            })?;
        }
        if let Some(yaw) = placement.yaw {
            check_range(&format!("{at}.yaw"), &placement.body, yaw)?;
        }
    }
    for (i, sample) in sampler.joints.iter().enumerate() {
        let at = format!("{field}.joints[{i}]");
        check_revolute_joint(scene, &format!("{at}.joint"), &sample.joint, false)?;
        check_range(&format!("{at}.angle"), &sample.joint, sample.angle)?;
    }
    Ok(())
}

fn check_task(scene: &Scene) -> Result<(), Problem> {
    let task = &scene.task;
    ensure(task.max_steps >= 1, || {
        Problem::new("task.max_steps", "must be at least 1").near_key("max_steps")
    })?;
    check_sampler(scene, "task.start", &task.start)?;
    check_sampler(scene, "task.goal", &task.goal)?;
    ensure(!task.targets.is_empty(), || {
        Problem::new("task.targets", "a task needs at least one target").near_key("targets")
    })?;
    for (i, target) in task.targets.iter().enumerate() {
        let field = format!("task.targets[{i}]");
        ensure(scene.body_index(&target.body).is_some(), || {
            Problem::new(
                format!("{field}.body"),
                format!("no body is called \"{}\"", target.body),
            )
            .near(&target.body, None)
        })?;
        ensure(finite3(target.offset), || {
            Problem::new(format!("{field}.offset"), "must be finite")
        })?;
        ensure(positive(target.position_tolerance), || {
            Problem::new(format!("{field}.position_tolerance"), "must be positive")
        })?;
        if let Some(yaw) = target.yaw_tolerance {
            ensure(positive(yaw), || {
                Problem::new(format!("{field}.yaw_tolerance"), "must be positive")
            })?;
        }
    }
    ensure(
        task.min_goal_distance.is_finite() && task.min_goal_distance >= 0.0,
        || Problem::new("task.min_goal_distance", "must be ≥ 0").near_key("min_goal_distance"),
    )?;
    ensure(
        task.min_body_separation.is_finite() && task.min_body_separation >= 0.0,
        || Problem::new("task.min_body_separation", "must be ≥ 0").near_key("min_body_separation"),
    )
}
