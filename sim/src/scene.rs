//! The scene format: what `scenes/*.scene.ron` files contain.
//!
//! Every struct denies unknown fields, so a typo is an error rather than a silently
//! ignored setting. Lengths are metres, angles radians (joint limits and yaw ranges
//! included, body and part rotations excepted: those are Euler angles in degrees, which
//! people write more easily), masses kilograms. The world is Y-up; planar tasks live in
//! the XZ plane.

use bevy::math::Vec3;
use serde::Deserialize;

/// A whole scene: the world, the agent's body and actions, the cameras and the task.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// Short identifier, e.g. `"reach"`.
    pub name: String,
    /// One or two sentences for people reading `scene check`.
    #[serde(default)]
    pub description: String,
    /// Clock and gravity.
    #[serde(default)]
    pub physics: Physics,
    /// Ground and the four boundary walls.
    pub arena: Arena,
    /// Rigid bodies, in a fixed order that the privileged state follows.
    pub bodies: Vec<Body>,
    /// Joints between bodies.
    #[serde(default)]
    pub joints: Vec<Joint>,
    /// What the agent controls and how.
    pub embodiment: Embodiment,
    /// Bounds of the action vector; its length is the action dimension.
    pub action_space: ActionSpace,
    /// Cameras that render observations.
    #[serde(default)]
    pub cameras: Vec<Camera>,
    /// Start and goal sampling, success and reward.
    pub task: Task,
}

/// The simulation clock. One control step (one `Env::step`) advances the physics by
/// `1 / control_hz` seconds in `substeps` equal Rapier steps.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Physics {
    /// Control steps per simulated second.
    pub control_hz: f32,
    /// Rapier steps per control step.
    pub substeps: u32,
    /// Gravity in m/s².
    pub gravity: [f32; 3],
}

impl Default for Physics {
    fn default() -> Self {
        Self {
            control_hz: 10.0,
            substeps: 5,
            gravity: [0.0, -9.81, 0.0],
        }
    }
}

/// A square arena centred on the origin: a ground slab whose top is at `y = 0`, and four
/// walls whose inner faces are at `x = ±half_extent` and `z = ±half_extent`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arena {
    /// Half the side of the square floor, inside the walls.
    pub half_extent: f32,
    /// Height of the boundary walls; `0` leaves the arena open.
    #[serde(default = "Arena::default_wall_height")]
    pub wall_height: f32,
    /// Thickness of the boundary walls.
    #[serde(default = "Arena::default_wall_thickness")]
    pub wall_thickness: f32,
    /// Friction, restitution and colour of the ground.
    #[serde(default = "Arena::default_ground")]
    pub ground: Material,
    /// Friction, restitution and colour of the walls.
    #[serde(default = "Arena::default_walls")]
    pub walls: Material,
}

impl Arena {
    /// Half extents and centre of the ground slab: top at `y = 0`, reaching under the walls.
    pub fn ground_box(&self) -> (Vec3, Vec3) {
        let outer = self.half_extent + self.wall_thickness;
        (Vec3::new(outer, 0.5, outer), Vec3::new(0.0, -0.5, 0.0))
    }

    /// Half extents and centres of the four boundary walls (none when they have no height).
    pub fn wall_boxes(&self) -> Vec<(Vec3, Vec3)> {
        if self.wall_height <= 0.0 {
            return Vec::new();
        }
        let outer = self.half_extent + self.wall_thickness;
        let h = self.wall_height / 2.0;
        let t = self.wall_thickness / 2.0;
        let middle = self.half_extent + t;
        [-1.0, 1.0]
            .into_iter()
            .flat_map(|sign| {
                [
                    (Vec3::new(t, h, outer), Vec3::new(sign * middle, h, 0.0)),
                    (Vec3::new(outer, h, t), Vec3::new(0.0, h, sign * middle)),
                ]
            })
            .collect()
    }

    fn default_wall_height() -> f32 {
        0.3
    }
    fn default_wall_thickness() -> f32 {
        0.2
    }
    fn default_ground() -> Material {
        Material {
            color: [0.85, 0.85, 0.85],
            ..Material::default()
        }
    }
    fn default_walls() -> Material {
        Material {
            color: [0.3, 0.3, 0.3],
            ..Material::default()
        }
    }
}

/// Surface properties and colour (linear RGB in `[0, 1]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Material {
    /// Coulomb friction coefficient.
    pub friction: f32,
    /// Restitution (bounciness) in `[0, 1]`.
    pub restitution: f32,
    /// Linear RGB colour.
    pub color: [f32; 3],
}

impl Default for Material {
    fn default() -> Self {
        Self {
            friction: 0.5,
            restitution: 0.0,
            color: [0.5, 0.5, 0.5],
        }
    }
}

/// A rigid body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// Unique name that joints, actuators and the task refer to.
    pub name: String,
    /// How the body moves.
    #[serde(default)]
    pub kind: BodyKind,
    /// Collision and visual shape.
    pub shape: Shape,
    /// Position of the body's origin at build time.
    pub position: [f32; 3],
    /// Euler angles (degrees, applied X then Y then Z) of the body at build time.
    #[serde(default)]
    pub rotation: [f32; 3],
    /// Total mass; when absent the mass follows from `density` and the shape's volume.
    #[serde(default)]
    pub mass: Option<f32>,
    /// Density in kg/m³, used when `mass` is absent.
    #[serde(default = "Body::default_density")]
    pub density: f32,
    /// Surface properties and colour.
    #[serde(default)]
    pub material: Material,
    /// Velocity damping (drag), per second.
    #[serde(default)]
    pub damping: Damping,
    /// Lock the body to the ground plane: no vertical motion, rotation only about Y, and
    /// no contact with the ground (it glides; give it damping for drag). Other bodies and
    /// walls still collide with it.
    #[serde(default)]
    pub planar: bool,
    /// Multiplier on gravity for this body.
    #[serde(default = "Body::default_gravity_scale")]
    pub gravity_scale: f32,
}

impl Body {
    fn default_density() -> f32 {
        1000.0
    }
    fn default_gravity_scale() -> f32 {
        1.0
    }
}

/// How a body moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum BodyKind {
    /// Moved by forces, contacts and joints.
    #[default]
    Dynamic,
    /// Never moves (walls, bases).
    Fixed,
}

/// Linear and angular velocity damping.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Damping {
    /// Linear damping coefficient.
    pub linear: f32,
    /// Angular damping coefficient.
    pub angular: f32,
}

/// A coordinate axis, for shapes that have one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Axis {
    /// Along X.
    X,
    /// Along Y (up).
    #[default]
    Y,
    /// Along Z.
    Z,
}

/// A collision shape, centred on the body's origin unless it is a compound part.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Shape {
    /// A box with the given half extents.
    Box {
        /// Half extents along X, Y, Z.
        half_extents: [f32; 3],
    },
    /// A sphere.
    Sphere {
        /// Radius.
        radius: f32,
    },
    /// A capsule: a segment of length `2·half_length` along `axis`, inflated by `radius`.
    Capsule {
        /// Radius.
        radius: f32,
        /// Half the length of the inner segment.
        half_length: f32,
        /// Direction of the segment.
        #[serde(default)]
        axis: Axis,
    },
    /// A cylinder of height `2·half_height` along `axis`.
    Cylinder {
        /// Radius.
        radius: f32,
        /// Half the height.
        half_height: f32,
        /// Direction of the cylinder's axis.
        #[serde(default)]
        axis: Axis,
    },
    /// Several shapes rigidly attached to one body.
    Compound {
        /// The parts, each placed relative to the body's origin.
        parts: Vec<ShapePart>,
    },
}

/// One part of a compound shape.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapePart {
    /// The part's shape (not itself a compound).
    pub shape: Shape,
    /// Offset from the body's origin.
    #[serde(default)]
    pub position: [f32; 3],
    /// Euler angles in degrees, applied X then Y then Z.
    #[serde(default)]
    pub rotation: [f32; 3],
}

/// A joint between a parent and a child body. The joint frame sits at `anchor_parent`
/// in the parent's frame and at `anchor_child` in the child's frame; at build time the
/// child must be placed so that both anchors coincide with joint angle zero.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Joint {
    /// Unique name that actuators and the task refer to.
    pub name: String,
    /// Parent body name.
    pub parent: String,
    /// Child body name.
    pub child: String,
    /// Anchor in the parent's frame.
    #[serde(default)]
    pub anchor_parent: [f32; 3],
    /// Anchor in the child's frame.
    #[serde(default)]
    pub anchor_child: [f32; 3],
    /// What the joint allows.
    pub kind: JointKind,
}

/// The kinds of joints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum JointKind {
    /// Rotation about one axis (a hinge).
    Revolute {
        /// Rotation axis, in the parent's frame (and the child's at angle zero).
        axis: [f32; 3],
        /// Angle limits `(min, max)` in radians.
        #[serde(default)]
        limits: Option<(f32, f32)>,
        /// A velocity motor that a `JointVelocity` actuator drives.
        #[serde(default)]
        motor: Option<Motor>,
    },
    /// No relative motion.
    Fixed,
}

/// A joint velocity motor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Motor {
    /// Largest torque the motor applies, in N·m.
    pub max_torque: f32,
    /// Gain from velocity error to torque.
    #[serde(default = "Motor::default_gain")]
    pub gain: f32,
}

impl Motor {
    fn default_gain() -> f32 {
        1.0
    }
}

/// What the agent controls.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Embodiment {
    /// Actuators in action-vector order.
    pub actuators: Vec<Actuator>,
}

/// One actuator and the slice of the action vector it reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Actuator {
    /// Two action dimensions: a horizontal force `scale·(a₀, a₁)` along X and Z (N).
    PlanarForce {
        /// Driven body.
        body: String,
        /// Newtons per action unit.
        scale: f32,
    },
    /// Two action dimensions: the body's horizontal velocity is set to `scale·(a₀, a₁)`
    /// (m/s) at the start of each control step.
    PlanarVelocity {
        /// Driven body.
        body: String,
        /// Metres per second per action unit.
        scale: f32,
    },
    /// One action dimension: torque `scale·a` about a revolute joint's axis, applied to the
    /// child and, reversed, to the parent.
    JointTorque {
        /// Driven joint.
        joint: String,
        /// Newton-metres per action unit.
        scale: f32,
    },
    /// One action dimension: the target velocity `scale·a` (rad/s) of a revolute joint's motor.
    JointVelocity {
        /// Driven joint (must have a motor).
        joint: String,
        /// Radians per second per action unit.
        scale: f32,
    },
}

impl Actuator {
    /// How many action dimensions this actuator reads.
    pub fn action_dim(&self) -> usize {
        match self {
            Actuator::PlanarForce { .. } | Actuator::PlanarVelocity { .. } => 2,
            Actuator::JointTorque { .. } | Actuator::JointVelocity { .. } => 1,
        }
    }
}

/// Bounds of the action vector. Actions outside are clipped, component-wise.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpace {
    /// Lower bounds.
    pub low: Vec<f32>,
    /// Upper bounds.
    pub high: Vec<f32>,
}

/// A pinhole camera looking from `position` towards `look_at`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    /// Unique name.
    pub name: String,
    /// Eye position.
    pub position: [f32; 3],
    /// Point the camera looks at.
    pub look_at: [f32; 3],
    /// Up direction of the image.
    #[serde(default = "Camera::default_up")]
    pub up: [f32; 3],
    /// Vertical field of view in degrees.
    #[serde(default = "Camera::default_fov")]
    pub fov_degrees: f32,
    /// Image width in pixels.
    #[serde(default = "Camera::default_size")]
    pub width: u32,
    /// Image height in pixels.
    #[serde(default = "Camera::default_size")]
    pub height: u32,
}

impl Camera {
    fn default_up() -> [f32; 3] {
        [0.0, 1.0, 0.0]
    }
    fn default_fov() -> f32 {
        45.0
    }
    fn default_size() -> u32 {
        64
    }
}

/// The task: how episodes start, where the goal is, when it is reached.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Episodes are truncated after this many control steps.
    pub max_steps: u32,
    /// How start configurations are sampled from the episode seed.
    pub start: ConfigurationSampler,
    /// How goal configurations are sampled; bodies and joints not listed keep their start
    /// values.
    pub goal: ConfigurationSampler,
    /// Points whose goal-configuration poses must be reached.
    pub targets: Vec<Target>,
    /// Goals whose summed target distance from the start is below this are re-drawn.
    #[serde(default)]
    pub min_goal_distance: f32,
    /// Sampled bodies closer than this (centre to centre, horizontally) are re-drawn.
    #[serde(default)]
    pub min_body_separation: f32,
    /// Points `(x, z)` the scripted data-collection controller visits, in order, before it
    /// heads for the goal (e.g. a doorway).
    #[serde(default)]
    pub waypoints: Vec<(f32, f32)>,
}

/// Random placements of free bodies and joint angles.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigurationSampler {
    /// Horizontal placements of bodies.
    pub bodies: Vec<BodySampler>,
    /// Joint angles.
    pub joints: Vec<JointSampler>,
}

/// A uniform horizontal placement of a body; its height stays as built.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodySampler {
    /// Placed body.
    pub body: String,
    /// Range of X.
    pub x: (f32, f32),
    /// Range of Z.
    pub z: (f32, f32),
    /// Range of the rotation about Y added to the built rotation; absent keeps it.
    #[serde(default)]
    pub yaw: Option<(f32, f32)>,
}

/// A uniform joint angle.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointSampler {
    /// Revolute joint.
    pub joint: String,
    /// Range of the angle.
    pub angle: (f32, f32),
}

/// A point on a body that must reach its pose in the goal configuration. Success is every
/// target within tolerance; the dense reward is minus the summed target errors, with yaw
/// errors converted to metres by `position_tolerance / yaw_tolerance`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Body carrying the point.
    pub body: String,
    /// The point, in the body's frame.
    #[serde(default)]
    pub offset: [f32; 3],
    /// Largest distance (m) that counts as reached.
    pub position_tolerance: f32,
    /// Largest yaw error (rad) that counts as reached; absent ignores orientation.
    #[serde(default)]
    pub yaw_tolerance: Option<f32>,
}
