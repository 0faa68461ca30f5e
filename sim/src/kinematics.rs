//! Poses of all bodies for a configuration (placements and joint angles), without physics.
//!
//! Used to build worlds in a sampled start state, to compute goal targets, and to check that
//! scene files place jointed bodies where their joints put them.

use std::f32::consts::PI;

use bevy::math::{EulerRot, Quat, Vec3};
use bevy::transform::components::Transform;

use crate::scene::{BodyKind, JointKind, Scene};

/// A horizontal placement of a free body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Index of the body in the scene.
    pub body: usize,
    /// New X of the body's origin.
    pub x: f32,
    /// New Z of the body's origin.
    pub z: f32,
    /// Rotation about Y added to the built rotation.
    pub yaw: f32,
}

/// A world state at rest: placements of free bodies and angles of revolute joints. What
/// it does not mention stays as the scene builds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Configuration {
    /// Placements of free bodies.
    pub bodies: Vec<Placement>,
    /// `(joint index, angle)` pairs.
    pub joints: Vec<(usize, f32)>,
}

/// The scene's kinematic tree, ready to turn configurations into poses.
#[derive(Debug, Clone)]
pub struct Kinematics {
    /// Built pose of every body, in scene order.
    built: Vec<Transform>,
    /// Joints with parents before children.
    chain: Vec<ChainLink>,
}

#[derive(Debug, Clone)]
struct ChainLink {
    joint: usize,
    parent: usize,
    child: usize,
    anchor_parent: Vec3,
    anchor_child: Vec3,
    /// Unit rotation axis in the parent's frame; `None` for fixed joints.
    axis: Option<Vec3>,
    /// Child rotation relative to the parent at angle zero.
    rest: Quat,
}

/// Rotation from scene Euler angles in degrees (X, then Y, then Z).
pub fn euler_degrees(angles: [f32; 3]) -> Quat {
    let [x, y, z] = angles.map(f32::to_radians);
    Quat::from_euler(EulerRot::ZYX, z, y, x)
}

/// Wraps an angle to `(-π, π]`.
pub fn wrap_angle(angle: f32) -> f32 {
    let wrapped = (angle + PI).rem_euclid(2.0 * PI) - PI;
    if wrapped <= -PI {
        wrapped + 2.0 * PI
    } else {
        wrapped
    }
}

/// Heading of a rotation about Y: the angle that `Quat::from_rotation_y` would need to turn
/// the X axis to where `rotation` turns it (projected on the ground plane).
pub fn yaw_of(rotation: Quat) -> f32 {
    let forward = rotation * Vec3::X;
    (-forward.z).atan2(forward.x)
}

impl Kinematics {
    /// Prepares the scene's kinematic tree. The scene's joints must form a forest (checked
    /// by scene validation); joints are ordered so that parents come before children.
    pub fn new(scene: &Scene) -> Self {
        let built: Vec<Transform> = scene
            .bodies
            .iter()
            .map(|b| {
                Transform::from_translation(Vec3::from(b.position))
                    .with_rotation(euler_degrees(b.rotation))
            })
            .collect();
        let index = |name: &str| scene.body_index(name).unwrap_or_default();
        let mut links: Vec<ChainLink> = scene
            .joints
            .iter()
            .enumerate()
            .map(|(joint, j)| {
                let (parent, child) = (index(&j.parent), index(&j.child));
                ChainLink {
                    joint,
                    parent,
                    child,
                    anchor_parent: Vec3::from(j.anchor_parent),
                    anchor_child: Vec3::from(j.anchor_child),
                    axis: match &j.kind {
                        JointKind::Revolute { axis, .. } => Some(Vec3::from(*axis).normalize()),
                        JointKind::Fixed => None,
                    },
                    rest: built[parent].rotation.inverse() * built[child].rotation,
                }
            })
            .collect();
        // Order by depth in the tree so that every parent pose is final before its children.
        let depth = |body: usize, links: &[ChainLink]| {
            let mut depth = 0;
            let mut current = body;
            while let Some(link) = links.iter().find(|l| l.child == current) {
                current = link.parent;
                depth += 1;
                if depth > links.len() {
                    break;
                }
            }
            depth
        };
        let depths: Vec<usize> = links.iter().map(|l| depth(l.child, &links)).collect();
        let mut order: Vec<usize> = (0..links.len()).collect();
        order.sort_by_key(|&i| depths[i]);
        links = order.into_iter().map(|i| links[i].clone()).collect();
        Self {
            built,
            chain: links,
        }
    }

    /// Rest rotation of the child of `joint` relative to its parent (angle zero).
    pub fn rest_rotation(&self, joint: usize) -> Quat {
        self.link(joint).rest
    }

    fn link(&self, joint: usize) -> &ChainLink {
        self.chain
            .iter()
            .find(|l| l.joint == joint)
            .expect("every joint is in the chain")
    }

    /// Poses of all bodies, in scene order, for a configuration.
    pub fn poses(&self, configuration: &Configuration) -> Vec<Transform> {
        let mut poses = self.built.clone();
        for placement in &configuration.bodies {
            let pose = &mut poses[placement.body];
            pose.translation.x = placement.x;
            pose.translation.z = placement.z;
            pose.rotation =
                Quat::from_rotation_y(placement.yaw) * self.built[placement.body].rotation;
        }
        for link in &self.chain {
            let angle = configuration
                .joints
                .iter()
                .find(|(j, _)| *j == link.joint)
                .map_or(0.0, |(_, a)| *a);
            let parent = poses[link.parent];
            let turn = link
                .axis
                .map_or(Quat::IDENTITY, |axis| Quat::from_axis_angle(axis, angle));
            let rotation = parent.rotation * turn * link.rest;
            let translation = parent.translation + parent.rotation * link.anchor_parent
                - rotation * link.anchor_child;
            poses[link.child] = Transform::from_translation(translation).with_rotation(rotation);
        }
        poses
    }

    /// The configuration of a world whose bodies are at `poses`: a placement for every
    /// dynamic body that no joint moves, and the angle of every revolute joint. Its
    /// [`Kinematics::poses`] are `poses` for planar worlds (heights stay as built).
    pub fn configuration(&self, scene: &Scene, poses: &[Transform]) -> Configuration {
        let bodies = scene
            .bodies
            .iter()
            .enumerate()
            .filter(|(body, spec)| {
                spec.kind == BodyKind::Dynamic && self.chain.iter().all(|l| l.child != *body)
            })
            .map(|(body, _)| {
                let pose = poses[body];
                Placement {
                    body,
                    x: pose.translation.x,
                    z: pose.translation.z,
                    yaw: yaw_of(pose.rotation * self.built[body].rotation.inverse()),
                }
            })
            .collect();
        let joints = self
            .chain
            .iter()
            .filter(|link| link.axis.is_some())
            .map(|link| {
                let (parent, child) = (poses[link.parent].rotation, poses[link.child].rotation);
                (link.joint, self.joint_angle(link.joint, parent, child))
            })
            .collect();
        Configuration { bodies, joints }
    }

    /// Angle of a revolute joint given the rotations of its parent and child, in `(-π, π]`.
    pub fn joint_angle(&self, joint: usize, parent: Quat, child: Quat) -> f32 {
        let link = self.link(joint);
        let Some(axis) = link.axis else {
            return 0.0;
        };
        // The relative turn is a rotation about the axis: parent⁻¹ · child · rest⁻¹.
        let turn = parent.inverse() * child * link.rest.inverse();
        wrap_angle(2.0 * turn.xyz().dot(axis).atan2(turn.w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_angle_stays_in_range() {
        for a in [-10.0_f32, -PI, -1.0, 0.0, 1.0, PI, 7.0] {
            let w = wrap_angle(a);
            assert!(w > -PI - 1e-6 && w <= PI + 1e-6, "{a} → {w}");
            assert!(
                ((a - w) / (2.0 * PI)).fract().abs() < 1e-4
                    || ((a - w) / (2.0 * PI)).fract().abs() > 1.0 - 1e-4
            );
        }
    }

    #[test]
    fn yaw_inverts_rotation_about_y() {
        for yaw in [-3.0_f32, -1.0, 0.0, 0.5, 2.5] {
            assert!((yaw_of(Quat::from_rotation_y(yaw)) - yaw).abs() < 1e-5);
        }
    }
}
