//! Observations: proprioception for the agent and the privileged simulator state for
//! evaluation, with the names of their components.

use bevy::math::{Quat, Vec3};
use bevy::transform::components::Transform;
use bevy_rapier3d::prelude::Velocity;

use crate::frame::Frame;
use crate::kinematics::Kinematics;
use crate::scene::{Actuator, BodyKind, JointKind, Scene};

/// What an environment returns after a reset or a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The camera frame of this state, when the environment renders.
    pub frame: Option<Frame>,
    /// Proprioception, one group per actuator: `[x, z, vx, vz]` of a planar-driven body,
    /// `[angle, angular velocity]` of a driven joint.
    pub proprio: Vec<f32>,
    /// Privileged state, 13 values per dynamic body in scene order: position `[x, y, z]`,
    /// rotation quaternion `[x, y, z, w]`, linear velocity `[x, y, z]`, angular velocity
    /// `[x, y, z]`.
    pub state: Vec<f32>,
}

/// Values per body in `Observation::state`.
pub const STATE_PER_BODY: usize = 13;

#[derive(Debug, Clone)]
enum Sensor {
    Planar {
        body: usize,
    },
    Joint {
        joint: usize,
        parent: usize,
        child: usize,
        axis: Vec3,
    },
}

/// Which simulator quantities fill the observation vectors, and their names.
#[derive(Debug, Clone)]
pub struct ObservationLayout {
    sensors: Vec<Sensor>,
    /// Dynamic bodies, in scene order.
    state_bodies: Vec<usize>,
    /// Name of each proprioception component, e.g. `agent.x`.
    pub proprio_names: Vec<String>,
    /// Name of each state component, e.g. `tee.rot.w`.
    pub state_names: Vec<String>,
}

impl ObservationLayout {
    /// The layout for a validated scene.
    pub fn new(scene: &Scene) -> Self {
        let body = |name: &str| scene.body_index(name).expect("validated");
        let mut proprio_names = Vec::new();
        let sensors = scene
            .embodiment
            .actuators
            .iter()
            .map(|actuator| match actuator {
                Actuator::PlanarForce { body: b, .. }
                | Actuator::PlanarVelocity { body: b, .. } => {
                    proprio_names.extend(["x", "z", "vx", "vz"].map(|c| format!("{b}.{c}")));
                    Sensor::Planar { body: body(b) }
                }
                Actuator::JointTorque { joint, .. } | Actuator::JointVelocity { joint, .. } => {
                    proprio_names.extend(["angle", "rate"].map(|c| format!("{joint}.{c}")));
                    let index = scene.joint_index(joint).expect("validated");
                    let j = &scene.joints[index];
                    let JointKind::Revolute { axis, .. } = &j.kind else {
                        unreachable!("validated: driven joints are revolute")
                    };
                    Sensor::Joint {
                        joint: index,
                        parent: body(&j.parent),
                        child: body(&j.child),
                        axis: Vec3::from(*axis).normalize(),
                    }
                }
            })
            .collect();
        let state_bodies: Vec<usize> = (0..scene.bodies.len())
            .filter(|&i| scene.bodies[i].kind == BodyKind::Dynamic)
            .collect();
        let state_names = state_bodies
            .iter()
            .flat_map(|&i| {
                let name = &scene.bodies[i].name;
                [
                    "pos.x", "pos.y", "pos.z", "rot.x", "rot.y", "rot.z", "rot.w", "linvel.x",
                    "linvel.y", "linvel.z", "angvel.x", "angvel.y", "angvel.z",
                ]
                .map(|c| format!("{name}.{c}"))
            })
            .collect();
        Self {
            sensors,
            state_bodies,
            proprio_names,
            state_names,
        }
    }

    /// Scene indices of the bodies in the state vector (the dynamic ones), in order.
    pub fn state_bodies(&self) -> &[usize] {
        &self.state_bodies
    }

    /// The observation of bodies at `poses` moving with `velocities` (scene order).
    pub fn observe(
        &self,
        kinematics: &Kinematics,
        poses: &[Transform],
        velocities: &[Velocity],
    ) -> Observation {
        let mut proprio = Vec::with_capacity(self.proprio_names.len());
        for sensor in &self.sensors {
            match *sensor {
                Sensor::Planar { body } => {
                    let (p, v) = (poses[body].translation, velocities[body].linear);
                    proprio.extend([p.x, p.z, v.x, v.z]);
                }
                Sensor::Joint {
                    joint,
                    parent,
                    child,
                    axis,
                } => {
                    let (parent_rotation, child_rotation): (Quat, Quat) =
                        (poses[parent].rotation, poses[child].rotation);
                    let angle = kinematics.joint_angle(joint, parent_rotation, child_rotation);
                    let relative = velocities[child].angular - velocities[parent].angular;
                    proprio.extend([angle, relative.dot(parent_rotation * axis)]);
                }
            }
        }
        let mut state = Vec::with_capacity(self.state_names.len());
        for &body in &self.state_bodies {
            let (pose, velocity) = (&poses[body], &velocities[body]);
            state.extend(pose.translation.to_array());
            state.extend(pose.rotation.to_array());
            state.extend(velocity.linear.to_array());
            state.extend(velocity.angular.to_array());
        }
        Observation {
            frame: None,
            proprio,
            state,
        }
    }
}
