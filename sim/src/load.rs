//! Reading and validating scene files, with errors that name the file, place and field.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use bevy::math::Vec3;

use crate::kinematics::{Configuration, Kinematics};
use crate::scene::{
    Actuator, Arena, Body, BodyKind, Camera, ConfigurationSampler, JointKind, Material, Scene,
    Shape,
};

pub use prefrontal_ronfile::Location;
use prefrontal_ronfile::parse_ron;

/// Why a scene could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// The file could not be read.
    #[error("{}: cannot read scene", file.display())]
    Io {
        /// The scene file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A folder of scenes could not be read, or holds none.
    #[error("{}: {message}", folder.display())]
    Folder {
        /// The folder.
        folder: PathBuf,
        /// What is wrong.
        message: String,
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
    /// The `*.scene.ron` files in `folder`, sorted by name; an error when the folder cannot
    /// be read or holds none.
    pub fn files_in(folder: impl AsRef<Path>) -> Result<Vec<PathBuf>, SceneError> {
        let folder = folder.as_ref();
        let fail = |message: String| SceneError::Folder {
            folder: folder.to_owned(),
            message,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(folder).map_err(|e| fail(e.to_string()))? {
            let path = entry.map_err(|e| fail(e.to_string()))?.path();
            if path.to_string_lossy().ends_with(".scene.ron") {
                files.push(path);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(fail("no *.scene.ron files in this folder".to_owned()));
        }
        Ok(files)
    }

    /// The names of the `*.scene.ron` files in `folder` (`reach` for `reach.scene.ron`),
    /// sorted; an error when the folder cannot be read or holds none.
    pub fn names_in(folder: impl AsRef<Path>) -> Result<Vec<String>, SceneError> {
        Ok(Scene::files_in(folder)?
            .iter()
            .map(|path| {
                let name = path.file_name().expect("a file").to_string_lossy();
                name.trim_end_matches(".scene.ron").to_owned()
            })
            .collect())
    }

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
        let scene: Scene = parse_ron(text).map_err(|(location, message)| SceneError::Parse {
            file: file.to_owned(),
            location,
            message,
        })?;
        scene.validate().map_err(|problem| SceneError::Invalid {
            file: file.to_owned(),
            location: problem.locate(text),
            field: problem.field,
            message: problem.message,
        })?;
        Ok(scene)
    }

    /// Where `other` first differs from this scene ("there"), or `None` when they are
    /// equal: the enclosing fields and the differing line of each (``bodies › Body ›
    /// damping: `linear: 4.0` there, `linear: 2.0` here``).
    pub fn difference(&self, other: &Scene) -> Option<String> {
        if self == other {
            return None;
        }
        let (there, here) = (format!("{self:#?}"), format!("{other:#?}"));
        let (there, here): (Vec<&str>, Vec<&str>) =
            (there.lines().collect(), here.lines().collect());
        let at = there
            .iter()
            .zip(&here)
            .position(|(a, b)| a != b)
            .unwrap_or(there.len().min(here.len()));
        let indentation = |line: &str| line.len() - line.trim_start().len();
        let mut depth = there.get(at).map_or(0, |line| indentation(line));
        let mut path = Vec::new();
        for line in there[..at].iter().rev() {
            if indentation(line) < depth {
                depth = indentation(line);
                let item = line.trim().trim_end_matches(['{', '[', '(']).trim();
                path.push(item.split(':').next().unwrap_or(item));
            }
        }
        // The outermost line is the scene itself.
        path.pop();
        path.reverse();
        let shown = |lines: &[&str]| {
            lines.get(at).map_or("(nothing)".to_owned(), |line| {
                line.trim().trim_end_matches(',').to_owned()
            })
        };
        Some(format!(
            "{}: `{}` there, `{}` here",
            path.join(" › "),
            shown(&there),
            shown(&here)
        ))
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
    place: Place,
}

/// Where in the text a problem sits, found by searching: first the section `scope`, then
/// `anchor` after it, then `key` shortly after that.
#[derive(Default)]
struct Place {
    scope: Option<&'static str>,
    anchor: Option<String>,
    key: Option<&'static str>,
}

/// How far after an anchor a key may be and still belong to it.
const KEY_REACH: usize = 600;

/// Byte offset of `key:` at or after `from`, where `key` is a whole identifier.
fn find_key(text: &str, from: usize, key: &str) -> Option<usize> {
    let pattern = format!("{key}:");
    let mut start = from;
    while let Some(found) = text[start..].find(&pattern) {
        let at = start + found;
        let preceded_by_ident = text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if !preceded_by_ident {
            return Some(at);
        }
        start = at + pattern.len();
    }
    None
}

impl Problem {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            place: Place::default(),
        }
    }

    /// At the definition of the item called `name`, at its `key` when given.
    fn at_item(mut self, name: &str, key: Option<&'static str>) -> Self {
        self.place = Place {
            scope: None,
            anchor: Some(format!("name: \"{name}\"")),
            key,
        };
        self
    }

    /// At the reference `key: "value"` inside section `scope`, at `then` when given.
    fn at_reference(
        mut self,
        scope: &'static str,
        key: &'static str,
        value: &str,
        then: Option<&'static str>,
    ) -> Self {
        self.place = Place {
            scope: Some(scope),
            anchor: Some(format!("{key}: \"{value}\"")),
            key: then,
        };
        self
    }

    /// At the first `key:` inside section `scope`, or anywhere.
    fn at_key(mut self, scope: Option<&'static str>, key: &'static str) -> Self {
        self.place = Place {
            scope,
            anchor: None,
            key: Some(key),
        };
        self
    }

    fn locate(&self, text: &str) -> Option<Location> {
        let place = &self.place;
        let mut offset = match place.scope {
            Some(scope) => find_key(text, 0, scope)?,
            None => 0,
        };
        if let Some(anchor) = &place.anchor {
            offset += text[offset..].find(anchor.as_str())?;
        }
        if let Some(key) = place.key {
            match find_key(text, offset, key) {
                Some(at) if place.anchor.is_none() || at - offset < KEY_REACH => offset = at,
                _ if place.anchor.is_none() => return None,
                _ => {}
            }
        }
        if place.anchor.is_none() && place.key.is_none() {
            return None;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
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
    let at = |key: &'static str, message: String| {
        Problem::new(format!("physics.{key}"), message).at_key(Some("physics"), key)
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

/// Checks a material; `locate` places a problem with the given material key.
fn check_material(
    field: &str,
    m: &Material,
    locate: impl Fn(Problem, &'static str) -> Problem,
) -> Result<(), Problem> {
    let at = |key: &'static str, message: String| {
        locate(Problem::new(format!("{field}.{key}"), message), key)
    };
    ensure(m.friction.is_finite() && m.friction >= 0.0, || {
        at("friction", format!("must be ≥ 0, got {}", m.friction))
    })?;
    ensure((0.0..=1.0).contains(&m.restitution), || {
        at(
            "restitution",
            format!("must be in [0, 1], got {}", m.restitution),
        )
    })?;
    ensure(m.color.iter().all(|c| (0.0..=1.0).contains(c)), || {
        at(
            "color",
            format!("components must be in [0, 1], got {:?}", m.color),
        )
    })
}

fn check_arena(arena: &Arena) -> Result<(), Problem> {
    let at = |key: &'static str, message: &str| {
        Problem::new(format!("arena.{key}"), message).at_key(Some("arena"), key)
    };
    ensure(positive(arena.half_extent), || {
        at("half_extent", "must be positive")
    })?;
    ensure(
        arena.wall_height.is_finite() && arena.wall_height >= 0.0,
        || at("wall_height", "must be ≥ 0"),
    )?;
    ensure(positive(arena.wall_thickness), || {
        at("wall_thickness", "must be positive")
    })?;
    check_material("arena.ground", &arena.ground, |p, key| {
        p.at_key(Some("ground"), key)
    })?;
    check_material("arena.walls", &arena.walls, |p, key| {
        p.at_key(Some("walls"), key)
    })
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
        Problem::new("bodies", "a scene needs at least one body").at_key(None, "bodies")
    })?;
    let mut names = HashSet::new();
    let reach = scene.arena.half_extent;
    for (i, body) in scene.bodies.iter().enumerate() {
        let field = body_field(i, body);
        let at = |key: &'static str, message: String| {
            Problem::new(format!("{field}.{key}"), message).at_item(&body.name, Some(key))
        };
        ensure(names.insert(body.name.as_str()), || {
            at("name", "another body has this name".into())
        })?;
        check_shape(&field, &body.shape, true).map_err(|p| p.at_item(&body.name, Some("shape")))?;
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
        check_material(&format!("{field}.material"), &body.material, |p, _| {
            p.at_item(&body.name, Some("material"))
        })?;
    }
    Ok(())
}

fn check_joints(scene: &Scene) -> Result<(), Problem> {
    let mut names = HashSet::new();
    let mut parent_of: HashMap<&str, &str> = HashMap::new();
    for (i, joint) in scene.joints.iter().enumerate() {
        let field = format!("joints[{i}] \"{}\"", joint.name);
        let at = |key: &'static str, message: String| {
            Problem::new(format!("{field}.{key}"), message).at_item(&joint.name, Some(key))
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
                    .at_reference("joints", "child", body, None)
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
            .at_item(&joint.child, Some("position"))
        })?;
    }
    Ok(())
}

/// Resolves a reference `key: "name"` in section `scope` to a dynamic body.
fn check_dynamic_body(
    scene: &Scene,
    field: &str,
    scope: &'static str,
    name: &str,
) -> Result<usize, Problem> {
    let problem =
        |message: String| Problem::new(field, message).at_reference(scope, "body", name, None);
    let index = scene
        .body_index(name)
        .ok_or_else(|| problem(format!("no body is called \"{name}\"")))?;
    ensure(scene.bodies[index].kind == BodyKind::Dynamic, || {
        problem(format!("\"{name}\" must be a Dynamic body"))
    })?;
    Ok(index)
}

/// Resolves a reference `joint: "name"` in section `scope` to a revolute joint.
fn check_revolute_joint(
    scene: &Scene,
    field: &str,
    scope: &'static str,
    name: &str,
    needs_motor: bool,
) -> Result<usize, Problem> {
    let problem =
        |message: String| Problem::new(field, message).at_reference(scope, "joint", name, None);
    let index = scene
        .joint_index(name)
        .ok_or_else(|| problem(format!("no joint is called \"{name}\"")))?;
    match &scene.joints[index].kind {
        JointKind::Revolute { motor, .. } => ensure(!needs_motor || motor.is_some(), || {
            problem(format!("joint \"{name}\" has no motor"))
        })?,
        JointKind::Fixed => return Err(problem(format!("joint \"{name}\" is not Revolute"))),
    }
    Ok(index)
}

fn check_actuators(scene: &Scene) -> Result<(), Problem> {
    ensure(!scene.embodiment.actuators.is_empty(), || {
        Problem::new(
            "embodiment.actuators",
            "the agent needs at least one actuator",
        )
        .at_key(Some("embodiment"), "actuators")
    })?;
    const SCOPE: &str = "embodiment";
    for (i, actuator) in scene.embodiment.actuators.iter().enumerate() {
        let field = format!("embodiment.actuators[{i}]");
        let (key, name, scale) = match actuator {
            Actuator::PlanarForce { body, scale } | Actuator::PlanarVelocity { body, scale } => {
                check_dynamic_body(scene, &format!("{field}.body"), SCOPE, body)?;
                ("body", body, scale)
            }
            Actuator::JointTorque { joint, scale } => {
                check_revolute_joint(scene, &format!("{field}.joint"), SCOPE, joint, false)?;
                ("joint", joint, scale)
            }
            Actuator::JointVelocity { joint, scale } => {
                check_revolute_joint(scene, &format!("{field}.joint"), SCOPE, joint, true)?;
                ("joint", joint, scale)
            }
        };
        ensure(positive(*scale), || {
            Problem::new(
                format!("{field}.scale"),
                format!("must be positive, got {scale}"),
            )
            .at_reference(SCOPE, key, name, Some("scale"))
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
            .at_key(Some("action_space"), key)
        })?;
    }
    for (i, (lo, hi)) in space.low.iter().zip(&space.high).enumerate() {
        ensure(lo.is_finite() && hi.is_finite() && lo < hi, || {
            Problem::new(
                format!("action_space[{i}]"),
                format!("needs finite low < high, got ({lo}, {hi})"),
            )
            .at_key(None, "action_space")
        })?;
    }
    Ok(())
}

fn check_cameras(cameras: &[Camera]) -> Result<(), Problem> {
    let mut names = HashSet::new();
    for (i, camera) in cameras.iter().enumerate() {
        let field = format!("cameras[{i}] \"{}\"", camera.name);
        let at = |key: &'static str, message: String| {
            Problem::new(format!("{field}.{key}"), message).at_item(&camera.name, Some(key))
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

fn check_sampler(
    scene: &Scene,
    scope: &'static str,
    sampler: &ConfigurationSampler,
) -> Result<(), Problem> {
    let jointed: HashSet<&str> = scene.joints.iter().map(|j| j.child.as_str()).collect();
    let reach = scene.arena.half_extent;
    let range_problem = |field: String, (lo, hi): (f32, f32)| {
        (!(lo.is_finite() && hi.is_finite() && lo <= hi))
            .then(|| Problem::new(field, format!("needs finite min ≤ max, got ({lo}, {hi})")))
    };
    for (i, placement) in sampler.bodies.iter().enumerate() {
        let at = format!("task.{scope}.bodies[{i}]");
        let name = &placement.body;
        check_dynamic_body(scene, &format!("{at}.body"), scope, name)?;
        ensure(!jointed.contains(name.as_str()), || {
            Problem::new(
                format!("{at}.body"),
                format!("\"{name}\" hangs from a joint: sample the joint angle instead"),
            )
            .at_reference(scope, "body", name, None)
        })?;
        for (key, range) in [("x", placement.x), ("z", placement.z)] {
            let problem = range_problem(format!("{at}.{key}"), range).or_else(|| {
                (range.0 < -reach || range.1 > reach).then(|| {
                    Problem::new(
                        format!("{at}.{key}"),
                        format!("{range:?} reaches outside the arena (half extent {reach})"),
                    )
                })
            });
            if let Some(problem) = problem {
                return Err(problem.at_reference(scope, "body", name, Some(key)));
            }
        }
        if let Some(problem) = placement
            .yaw
            .and_then(|yaw| range_problem(format!("{at}.yaw"), yaw))
        {
            return Err(problem.at_reference(scope, "body", name, Some("yaw")));
        }
    }
    for (i, sample) in sampler.joints.iter().enumerate() {
        let at = format!("task.{scope}.joints[{i}]");
        check_revolute_joint(scene, &format!("{at}.joint"), scope, &sample.joint, false)?;
        if let Some(problem) = range_problem(format!("{at}.angle"), sample.angle) {
            return Err(problem.at_reference(scope, "joint", &sample.joint, Some("angle")));
        }
    }
    Ok(())
}

fn check_task(scene: &Scene) -> Result<(), Problem> {
    let task = &scene.task;
    let at = |key: &'static str, message: &str| {
        Problem::new(format!("task.{key}"), message).at_key(Some("task"), key)
    };
    ensure(task.max_steps >= 1, || {
        at("max_steps", "must be at least 1")
    })?;
    check_sampler(scene, "start", &task.start)?;
    check_sampler(scene, "goal", &task.goal)?;
    ensure(!task.targets.is_empty(), || {
        at("targets", "a task needs at least one target")
    })?;
    for (i, target) in task.targets.iter().enumerate() {
        let field = format!("task.targets[{i}]");
        let problem = |key: &'static str, message: String| {
            Problem::new(format!("{field}.{key}"), message).at_reference(
                "targets",
                "body",
                &target.body,
                Some(key),
            )
        };
        ensure(scene.body_index(&target.body).is_some(), || {
            problem("body", format!("no body is called \"{}\"", target.body))
        })?;
        ensure(finite3(target.offset), || {
            problem("offset", "must be finite".into())
        })?;
        ensure(positive(target.position_tolerance), || {
            problem("position_tolerance", "must be positive".into())
        })?;
        if let Some(yaw) = target.yaw_tolerance {
            ensure(positive(yaw), || {
                problem("yaw_tolerance", "must be positive".into())
            })?;
        }
    }
    ensure(
        task.min_goal_distance.is_finite() && task.min_goal_distance >= 0.0,
        || at("min_goal_distance", "must be ≥ 0"),
    )?;
    ensure(
        task.min_body_separation.is_finite() && task.min_body_separation >= 0.0,
        || at("min_body_separation", "must be ≥ 0"),
    )
}
