//! Physics in the ECS: `SimPlugin` builds one Rapier world per environment inside one Bevy
//! `App`, applies actions, steps, and observes, in public system sets.

use std::sync::Arc;
use std::time::Duration;

use bevy::ecs::query::QueryItem;
use bevy::prelude::*;
use bevy_rapier3d::prelude::*;
use bevy_rapier3d::rapier::dynamics::{JointAxesMask, JointAxis};

use crate::frame::Frame;
use crate::kinematics::Kinematics;
use crate::observation::{Observation, ObservationLayout, STATE_PER_BODY};
use crate::scene::{Actuator, Axis, Body, BodyKind, JointKind, Material, Scene, Shape};
use crate::task::{self, Goal, Progress, StartGoal};

/// The phases of one control step, in order, inside `FixedUpdate`. The agent orders its
/// systems against these (e.g. plan after `Observe`, act before `ApplyAction`).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimSystems {
    /// Pending actions become forces, velocities and motor targets.
    ApplyAction,
    /// Rapier advances every world by one control period.
    Step,
    /// Observations, rewards and success are computed from the new state.
    Observe,
}

/// Builds and steps the worlds of one scene. One control step is one run of `FixedUpdate`;
/// Bevy's fixed clock and Rapier's timestep are both `1 / physics.control_hz`.
#[derive(Debug, Clone)]
pub struct SimPlugin {
    /// The scene every world is built from.
    pub scene: Arc<Scene>,
    /// How many independent worlds (environments) to hold.
    pub worlds: usize,
}

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        let physics = &self.scene.physics;
        let period = Duration::from_secs_f64(1.0 / f64::from(physics.control_hz));
        let mut virtual_time = Time::<Virtual>::default();
        virtual_time.set_max_delta(period.max(virtual_time.max_delta()));
        app.insert_resource(Time::<Fixed>::from_duration(period))
            .insert_resource(virtual_time)
            .insert_resource(TimestepMode::Fixed {
                dt: period.as_secs_f32(),
                substeps: physics.substeps as usize,
            })
            .add_plugins(
                RapierPhysicsPlugin::<NoUserData>::default()
                    .in_fixed_schedule()
                    .with_custom_initialization(
                        RapierContextInitialization::NoAutomaticRapierContext,
                    )
                    // bevy_rapier steps its contexts one after another; `step_worlds` below
                    // steps them on every core.
                    .with_physics_sets_systems(
                        [PhysicsSet::SyncBackend, PhysicsSet::Writeback].into(),
                    ),
            )
            .configure_sets(
                FixedUpdate,
                (
                    SimSystems::ApplyAction,
                    SimSystems::Step,
                    SimSystems::Observe,
                )
                    .chain(),
            )
            .configure_sets(
                FixedUpdate,
                (
                    PhysicsSet::SyncBackend,
                    PhysicsSet::StepSimulation,
                    PhysicsSet::Writeback,
                )
                    .in_set(SimSystems::Step),
            )
            .insert_resource(SimWorlds::new(self.scene.clone(), self.worlds))
            .add_systems(
                FixedUpdate,
                (
                    apply_actions.in_set(SimSystems::ApplyAction),
                    step_worlds.in_set(PhysicsSet::StepSimulation),
                    observe_worlds.in_set(SimSystems::Observe),
                ),
            );
    }
}

/// One world's Rapier context as `step_worlds` queries it.
type WorldPhysics = (
    &'static mut RapierContextSimulation,
    &'static mut RapierContextColliders,
    &'static mut RapierContextJoints,
    &'static mut RapierRigidBodySet,
    &'static RapierConfiguration,
    &'static mut SimulationToRenderTime,
);

/// Advances every world's Rapier context by one control period, the worlds spread over the
/// calling thread and one helper thread per other core. Worlds share nothing, so each
/// world's result is the same bit for bit whichever thread steps it and in whatever order.
/// No system reads Rapier's collision or contact-force events, so none are collected.
fn step_worlds(
    mut contexts: Query<WorldPhysics>,
    timestep_mode: Res<TimestepMode>,
    time: Res<Time>,
) {
    let step = |world: &mut QueryItem<WorldPhysics>| {
        let (simulation, colliders, joints, bodies, config, to_render) = world;
        if config.physics_pipeline_active {
            simulation.step_simulation(
                colliders,
                joints,
                bodies,
                config.gravity,
                *timestep_mode,
                None,
                &(),
                &time,
                to_render,
                None,
            );
        } else {
            bodies.propagate_modified_body_positions_to_colliders(colliders);
        }
    };
    // The calling thread starts at once and takes worlds one by one; helpers that wake up
    // in time take the others, so waking them never delays a small batch by much.
    let worlds: Vec<_> = contexts.iter_mut().map(std::sync::Mutex::new).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        while let Some(world) = worlds.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
        {
            step(&mut world.lock().expect("a world is stepped by one thread"));
        }
    };
    let helpers = stepping_helpers();
    let spawned = helpers
        .current_num_threads()
        .min(worlds.len().saturating_sub(1));
    helpers.in_place_scope(|scope| {
        for _ in 0..spawned {
            scope.spawn(|_| work());
        }
        work();
    });
}

/// Threads that step worlds beside the thread running the schedule: one per other core.
/// Rayon's global pool has a thread per core, which with the schedule's thread makes one
/// too many: they would take turns on the cores.
fn stepping_helpers() -> &'static rayon::ThreadPool {
    static HELPERS: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    HELPERS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores.saturating_sub(1).max(1))
            .thread_name(|i| format!("prefrontal-physics-{i}"))
            .build()
            .expect("the physics threads start")
    })
}

/// Marks every entity of a world with its environment index.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorldIndex(pub usize);

/// Marks a scene body with its index in `Scene::bodies`.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyIndex(pub usize);

/// An actuator with names resolved to indices.
#[derive(Debug, Clone)]
enum Drive {
    PlanarForce {
        body: usize,
    },
    PlanarVelocity {
        body: usize,
    },
    JointTorque {
        parent: usize,
        child: usize,
        axis: Vec3,
    },
    JointVelocity {
        child: usize,
        gain: f32,
    },
}

#[derive(Debug, Clone)]
struct Binding {
    drive: Drive,
    /// First action component read.
    offset: usize,
    scale: f32,
}

/// One environment's world.
#[derive(Debug, Clone)]
pub struct WorldSlot {
    /// The entity holding this world's Rapier context.
    context: Entity,
    /// Scene bodies, in scene order.
    bodies: Vec<Entity>,
    /// The ground and, when they have height, the boundary walls.
    arena: Vec<Entity>,
    /// The clipped action applied at the next step.
    action: Vec<f32>,
    /// The current episode.
    pub episode: StartGoal,
    /// Control steps taken in this episode.
    pub steps: u32,
    /// The latest observation.
    pub observation: Observation,
    /// The latest distance to the goal.
    pub progress: Progress,
    /// The latest pose of every scene body, in scene order.
    pub poses: Vec<Transform>,
    /// The latest velocity of every scene body, in scene order.
    pub velocities: Vec<Velocity>,
}

impl WorldSlot {
    /// The entity of scene body `index`.
    pub fn body(&self, index: usize) -> Entity {
        self.bodies[index]
    }
}

/// All worlds of a `SimPlugin`, with the compiled scene they share.
#[derive(Resource, Debug)]
pub struct SimWorlds {
    scene: Arc<Scene>,
    kinematics: Kinematics,
    bindings: Vec<Binding>,
    /// Bodies whose `ExternalForce` the actuators write.
    forced_bodies: Vec<usize>,
    layout: ObservationLayout,
    slots: Vec<Option<WorldSlot>>,
}

/// Why an action was refused. Actions are checked before they reach the physics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// The action has the wrong length.
    #[error("action has {got} components, the action space has {expected}")]
    Dimension {
        /// The action space's dimension.
        expected: usize,
        /// The action's length.
        got: usize,
    },
    /// A component is NaN or infinite.
    #[error("action component {index} is {value}: actions must be finite")]
    NotFinite {
        /// The component.
        index: usize,
        /// Its value.
        value: f32,
    },
}

impl SimWorlds {
    fn new(scene: Arc<Scene>, worlds: usize) -> Self {
        let kinematics = Kinematics::new(&scene);
        let mut offset = 0;
        let bindings: Vec<Binding> = scene
            .embodiment
            .actuators
            .iter()
            .map(|actuator| {
                let body = |name: &str| scene.body_index(name).expect("validated");
                let joint = |name: &str| &scene.joints[scene.joint_index(name).expect("validated")];
                let (drive, scale) = match actuator {
                    Actuator::PlanarForce { body: b, scale } => {
                        (Drive::PlanarForce { body: body(b) }, *scale)
                    }
                    Actuator::PlanarVelocity { body: b, scale } => {
                        (Drive::PlanarVelocity { body: body(b) }, *scale)
                    }
                    Actuator::JointTorque { joint: j, scale } => {
                        let j = joint(j);
                        let JointKind::Revolute { axis, .. } = &j.kind else {
                            unreachable!("validated: torque joints are revolute")
                        };
                        let drive = Drive::JointTorque {
                            parent: body(&j.parent),
                            child: body(&j.child),
                            axis: Vec3::from(*axis).normalize(),
                        };
                        (drive, *scale)
                    }
                    Actuator::JointVelocity { joint: j, scale } => {
                        let j = joint(j);
                        let JointKind::Revolute {
                            motor: Some(motor), ..
                        } = &j.kind
                        else {
                            unreachable!("validated: velocity joints have motors")
                        };
                        let drive = Drive::JointVelocity {
                            child: body(&j.child),
                            gain: motor.gain,
                        };
                        (drive, *scale)
                    }
                };
                let binding = Binding {
                    drive,
                    offset,
                    scale,
                };
                offset += actuator.action_dim();
                binding
            })
            .collect();
        let mut forced_bodies: Vec<usize> = bindings
            .iter()
            .flat_map(|binding: &Binding| match binding.drive {
                Drive::PlanarForce { body } => vec![body],
                Drive::JointTorque { parent, child, .. } => vec![parent, child],
                Drive::PlanarVelocity { .. } | Drive::JointVelocity { .. } => vec![],
            })
            .collect();
        forced_bodies.sort_unstable();
        forced_bodies.dedup();
        let layout = ObservationLayout::new(&scene);
        Self {
            scene,
            kinematics,
            bindings,
            forced_bodies,
            layout,
            slots: vec![None; worlds],
        }
    }

    /// The scene all worlds are built from.
    pub fn scene(&self) -> &Arc<Scene> {
        &self.scene
    }

    /// The scene's kinematic tree.
    pub fn kinematics(&self) -> &Kinematics {
        &self.kinematics
    }

    /// What the observation vectors contain.
    pub fn layout(&self) -> &ObservationLayout {
        &self.layout
    }

    /// World `index`, once it has been reset.
    pub fn slot(&self, index: usize) -> Option<&WorldSlot> {
        self.slots[index].as_ref()
    }

    /// Checks an action against the action space: the length must match and every
    /// component must be finite.
    pub fn check_action(&self, action: &[f32]) -> Result<(), ActionError> {
        let expected = self.scene.action_space.low.len();
        if action.len() != expected {
            return Err(ActionError::Dimension {
                expected,
                got: action.len(),
            });
        }
        match action.iter().enumerate().find(|(_, a)| !a.is_finite()) {
            Some((index, &value)) => Err(ActionError::NotFinite { index, value }),
            None => Ok(()),
        }
    }

    /// Attaches the rendered frame of world `index`'s current state to its observation.
    pub fn set_frame(&mut self, index: usize, frame: Frame) {
        if let Some(slot) = self.slots[index].as_mut() {
            slot.observation.frame = Some(frame);
        }
    }

    /// The poses and velocities of every body of `slot`'s world with its dynamic bodies
    /// put into `state` (the `Observation::state` layout), in scene order.
    fn state_poses(&self, slot: &WorldSlot, state: &[f32]) -> (Vec<Transform>, Vec<Velocity>) {
        let mut poses = slot.poses.clone();
        let mut velocities = slot.velocities.clone();
        for (&body, values) in self
            .layout
            .state_bodies()
            .iter()
            .zip(state.chunks_exact(STATE_PER_BODY))
        {
            poses[body] = Transform::from_translation(Vec3::from_slice(&values[0..3]))
                .with_rotation(Quat::from_slice(&values[3..7]).normalize());
            velocities[body] = Velocity {
                linear: Vec3::from_slice(&values[7..10]),
                angular: Vec3::from_slice(&values[10..13]),
            };
        }
        (poses, velocities)
    }

    /// Sets the action world `index` applies at its next step. Refused actions (see
    /// `check_action`) change nothing; components outside the action space are clipped
    /// to its bounds. Returns whether clipping changed the action.
    pub fn set_action(&mut self, index: usize, action: &[f32]) -> Result<bool, ActionError> {
        self.check_action(action)?;
        let space = &self.scene.action_space;
        let slot = self.slots[index]
            .as_mut()
            .expect("set_action on a world that was never reset");
        let mut clipped = false;
        for (i, (&a, target)) in action.iter().zip(slot.action.iter_mut()).enumerate() {
            *target = a.clamp(space.low[i], space.high[i]);
            clipped |= *target != a;
        }
        Ok(clipped)
    }
}

/// Puts world `index`'s dynamic bodies into `state` (the `Observation::state` layout:
/// per body position, rotation, linear and angular velocity). Rapier picks the new poses
/// and velocities up at the next step; the observation and progress follow at once.
pub fn restore_state(world: &mut World, index: usize, state: &[f32]) {
    let sim = world.resource::<SimWorlds>();
    let slot = sim.slots[index]
        .as_ref()
        .expect("restore_state on a world that was never reset");
    let (poses, velocities) = sim.state_poses(slot, state);
    let entities = slot.bodies.clone();
    let bodies = sim.layout.state_bodies().to_vec();
    for body in bodies {
        let mut body_entity = world.entity_mut(entities[body]);
        *body_entity
            .get_mut::<Transform>()
            .expect("bodies have a pose") = poses[body];
        *body_entity
            .get_mut::<Velocity>()
            .expect("bodies have a velocity") = velocities[body];
    }
    let mut sim = world.resource_mut::<SimWorlds>();
    let sim = &mut *sim;
    let observation = sim.layout.observe(&sim.kinematics, &poses, &velocities);
    let slot = sim.slots[index].as_mut().expect("checked above");
    slot.observation = Observation {
        frame: slot.observation.frame.take(),
        ..observation
    };
    slot.progress = task::progress(&sim.scene, &slot.episode.goal, &poses);
    slot.poses = poses;
    slot.velocities = velocities;
}

/// Makes the configuration of the bodies in `state` (the `Observation::state` layout) the
/// goal of world `index`'s episode: the goal image, target poses and success follow it.
pub fn set_goal_state(world: &mut World, index: usize, state: &[f32]) {
    let mut sim = world.resource_mut::<SimWorlds>();
    let sim = &mut *sim;
    let slot = sim.slots[index]
        .as_ref()
        .expect("set_goal_state on a world that was never reset");
    let (poses, _) = sim.state_poses(slot, state);
    let configuration = sim.kinematics.configuration(&sim.scene, &poses);
    let goal = Goal::at(&sim.scene, &sim.kinematics, configuration);
    let slot = sim.slots[index].as_mut().expect("checked above");
    slot.progress = task::progress(&sim.scene, &goal, &slot.poses);
    slot.episode.goal = goal;
}

/// Removes the entities of several worlds. Despawn all worlds that are about to be rebuilt
/// before spawning any: spawning never interleaves with despawning, so the insertion order
/// of bodies into Rapier (which its solver follows) is the same for every rebuild.
pub fn despawn_worlds(world: &mut World, indices: &[usize]) {
    for &index in indices {
        let old = world.resource_mut::<SimWorlds>().slots[index].take();
        if let Some(old) = old {
            for entity in old.bodies.into_iter().chain(old.arena).chain([old.context]) {
                world.despawn(entity);
            }
        }
    }
}

/// Builds world `index` in the start configuration of `episode`. The world must be empty.
pub fn spawn_world(world: &mut World, index: usize, episode: StartGoal) {
    let sim = world.resource::<SimWorlds>();
    let scene = sim.scene.clone();
    let poses = sim.kinematics.poses(&episode.start);
    let rest_rotations: Vec<Quat> = (0..scene.joints.len())
        .map(|j| sim.kinematics.rest_rotation(j))
        .collect();
    let context = world
        .spawn((
            RapierContextSimulation::default(),
            RapierConfiguration {
                gravity: Vec3::from(scene.physics.gravity),
                ..RapierConfiguration::new(1.0)
            },
            WorldIndex(index),
        ))
        .id();
    let fixture = |collider: Collider, memberships: Group, material: &Material| {
        (
            RigidBody::Fixed,
            collider,
            CollisionGroups::new(memberships, Group::ALL),
            Friction::coefficient(material.friction),
            Restitution::coefficient(material.restitution),
            Transform::IDENTITY,
            RapierContextEntityLink(context),
            WorldIndex(index),
        )
    };
    let arena_spec = &scene.arena;
    let mut arena = vec![
        world
            .spawn(fixture(
                boxes_collider(&[arena_spec.ground_box()]),
                GROUND,
                &arena_spec.ground,
            ))
            .id(),
    ];
    let walls = arena_spec.wall_boxes();
    if !walls.is_empty() {
        let walls = fixture(
            boxes_collider(&walls),
            Group::ALL.difference(GROUND),
            &arena_spec.walls,
        );
        arena.push(world.spawn(walls).id());
    }
    let bodies: Vec<Entity> = scene
        .bodies
        .iter()
        .zip(&poses)
        .enumerate()
        .map(|(i, (body, pose))| {
            world
                .spawn((
                    body_components(body, *pose),
                    RapierContextEntityLink(context),
                ))
                .insert((WorldIndex(index), BodyIndex(i)))
                .id()
        })
        .collect();
    for (j, joint) in scene.joints.iter().enumerate() {
        let parent = bodies[scene.body_index(&joint.parent).expect("validated")];
        let child = bodies[scene.body_index(&joint.child).expect("validated")];
        let data = joint_data(
            &joint.kind,
            joint.anchor_parent,
            joint.anchor_child,
            rest_rotations[j],
        );
        world
            .entity_mut(child)
            .insert(ImpulseJoint::new(parent, TypedJoint::GenericJoint(data)));
    }
    let sim = world.resource::<SimWorlds>();
    let velocities = vec![Velocity::zero(); poses.len()];
    let observation = sim.layout.observe(&sim.kinematics, &poses, &velocities);
    let progress = task::progress(&scene, &episode.goal, &poses);
    let action = vec![0.0; scene.action_dim()];
    world.resource_mut::<SimWorlds>().slots[index] = Some(WorldSlot {
        context,
        bodies,
        arena,
        action,
        episode,
        steps: 0,
        observation,
        progress,
        poses,
        velocities,
    });
}

fn axis_vector(axis: Axis) -> Vec3 {
    match axis {
        Axis::X => Vec3::X,
        Axis::Y => Vec3::Y,
        Axis::Z => Vec3::Z,
    }
}

/// Rapier collider for a scene shape.
pub fn collider(shape: &Shape) -> Collider {
    match shape {
        Shape::Box {
            half_extents: [x, y, z],
        } => Collider::cuboid(*x, *y, *z),
        Shape::Sphere { radius } => Collider::ball(*radius),
        Shape::Capsule {
            radius,
            half_length,
            axis,
        } => {
            let a = axis_vector(*axis) * *half_length;
            Collider::capsule(-a, a, *radius)
        }
        Shape::Cylinder {
            radius,
            half_height,
            axis,
        } => {
            let cylinder = Collider::cylinder(*half_height, *radius);
            match axis {
                Axis::Y => cylinder,
                other => Collider::compound(vec![(
                    Vec3::ZERO,
                    Quat::from_rotation_arc(Vec3::Y, axis_vector(*other)),
                    cylinder,
                )]),
            }
        }
        Shape::Compound { parts } => Collider::compound(
            parts
                .iter()
                .map(|part| {
                    (
                        Vec3::from(part.position),
                        crate::kinematics::euler_degrees(part.rotation),
                        collider(&part.shape),
                    )
                })
                .collect(),
        ),
    }
}

/// The collision group of the ground. Planar bodies leave it out of their filter: they glide
/// on the ground plane with no contact at all (their drag is damping), which keeps the
/// solver free of resting contacts.
const GROUND: Group = Group::GROUP_1;

fn boxes_collider(boxes: &[(Vec3, Vec3)]) -> Collider {
    Collider::compound(
        boxes
            .iter()
            .map(|(half, centre)| {
                (
                    *centre,
                    Quat::IDENTITY,
                    Collider::cuboid(half.x, half.y, half.z),
                )
            })
            .collect(),
    )
}

/// Every body gets the same component set, so all bodies share one archetype and Rapier
/// receives them in spawn order.
fn body_components(body: &Body, pose: Transform) -> impl Bundle {
    let mass = match body.mass {
        Some(mass) => ColliderMassProperties::Mass(mass),
        None => ColliderMassProperties::Density(body.density),
    };
    let (locked, groups) = if body.planar {
        (
            LockedAxes::TRANSLATION_LOCKED_Y
                | LockedAxes::ROTATION_LOCKED_X
                | LockedAxes::ROTATION_LOCKED_Z,
            CollisionGroups::new(Group::ALL, Group::ALL.difference(GROUND)),
        )
    } else {
        (LockedAxes::empty(), CollisionGroups::default())
    };
    (
        match body.kind {
            BodyKind::Dynamic => RigidBody::Dynamic,
            BodyKind::Fixed => RigidBody::Fixed,
        },
        collider(&body.shape),
        mass,
        Friction::coefficient(body.material.friction),
        Restitution::coefficient(body.material.restitution),
        Damping {
            linear_damping: body.damping.linear,
            angular_damping: body.damping.angular,
        },
        GravityScale(body.gravity_scale),
        locked,
        groups,
        Velocity::zero(),
        ExternalForce::default(),
        Sleeping::disabled(),
        pose,
    )
}

/// A joint whose frame sits at the anchors; the child's rest rotation relative to the
/// parent defines angle zero.
fn joint_data(
    kind: &JointKind,
    anchor_parent: [f32; 3],
    anchor_child: [f32; 3],
    rest: Quat,
) -> GenericJoint {
    let (mask, axis) = match kind {
        JointKind::Revolute { axis, .. } => (
            JointAxesMask::LOCKED_REVOLUTE_AXES,
            Vec3::from(*axis).normalize(),
        ),
        JointKind::Fixed => (JointAxesMask::LOCKED_FIXED_AXES, Vec3::X),
    };
    // Rapier measures revolute angles about the joint frame's X axis.
    let basis = Quat::from_rotation_arc(Vec3::X, axis);
    let mut builder = GenericJointBuilder::new(mask)
        .local_anchor1(Vec3::from(anchor_parent))
        .local_anchor2(Vec3::from(anchor_child))
        .local_basis1(basis)
        .local_basis2(rest.inverse() * basis);
    if let JointKind::Revolute { limits, motor, .. } = kind {
        if let Some((lo, hi)) = limits {
            builder = builder.limits(JointAxis::AngX, [*lo, *hi]);
        }
        if let Some(motor) = motor {
            builder = builder
                .motor_velocity(JointAxis::AngX, 0.0, motor.gain)
                .motor_max_force(JointAxis::AngX, motor.max_torque);
        }
    }
    let mut joint = builder.build();
    joint.set_contacts_enabled(false);
    joint
}

/// Turns each world's pending action into forces, velocities and motor targets.
fn apply_actions(
    sim: Res<SimWorlds>,
    mut forces: Query<&mut ExternalForce>,
    mut velocities: Query<&mut Velocity>,
    mut joints: Query<&mut ImpulseJoint>,
    transforms: Query<&Transform>,
) {
    for slot in sim.slots.iter().flatten() {
        let body = |i: usize| slot.bodies[i];
        // Forces are rebuilt from zero every step, then actuators add theirs.
        for &b in &sim.forced_bodies {
            if let Ok(mut force) = forces.get_mut(body(b)) {
                *force = ExternalForce::default();
            }
        }
        for binding in &sim.bindings {
            let a = &slot.action[binding.offset..];
            match binding.drive {
                Drive::PlanarForce { body: b } => {
                    if let Ok(mut force) = forces.get_mut(body(b)) {
                        force.force += Vec3::new(a[0], 0.0, a[1]) * binding.scale;
                    }
                }
                Drive::PlanarVelocity { body: b } => {
                    if let Ok(mut velocity) = velocities.get_mut(body(b)) {
                        velocity.linear.x = a[0] * binding.scale;
                        velocity.linear.z = a[1] * binding.scale;
                    }
                }
                Drive::JointTorque {
                    parent,
                    child,
                    axis,
                } => {
                    let parent_rotation = transforms
                        .get(body(parent))
                        .map_or(Quat::IDENTITY, |t| t.rotation);
                    let torque = parent_rotation * axis * (a[0] * binding.scale);
                    if let Ok(mut force) = forces.get_mut(body(child)) {
                        force.torque += torque;
                    }
                    if let Ok(mut force) = forces.get_mut(body(parent)) {
                        force.torque -= torque;
                    }
                }
                Drive::JointVelocity { child, gain } => {
                    if let Ok(mut joint) = joints.get_mut(body(child)) {
                        joint.data.as_mut().set_motor_velocity(
                            JointAxis::AngX,
                            a[0] * binding.scale,
                            gain,
                        );
                    }
                }
            }
        }
    }
}

/// Reads every world's new state into its observation and progress.
fn observe_worlds(mut sim: ResMut<SimWorlds>, bodies: Query<(&Transform, &Velocity)>) {
    let sim = &mut *sim;
    for slot in sim.slots.iter_mut().flatten() {
        let (poses, velocities): (Vec<Transform>, Vec<Velocity>) = slot
            .bodies
            .iter()
            .map(|&e| {
                let (pose, velocity) = bodies
                    .get(e)
                    .expect("world bodies have poses and velocities");
                (*pose, *velocity)
            })
            .unzip();
        slot.observation = sim.layout.observe(&sim.kinematics, &poses, &velocities);
        slot.progress = task::progress(&sim.scene, &slot.episode.goal, &poses);
        slot.poses = poses;
        slot.velocities = velocities;
        slot.steps += 1;
    }
}
