//! The scene for people: lit, shaded meshes of the arena and the bodies, translucent ghosts
//! of the goal configuration, and the overlays — the imagined and the simulated path of
//! the current plan, and the goal's tolerance — as gizmos on their own render layer.

use std::sync::Arc;

use bevy::camera::visibility::RenderLayers;
use bevy::light::CascadeShadowConfigBuilder;
use bevy::prelude::*;
use prefrontal_sim::Scene;
use prefrontal_sim::render::shape_meshes;

use crate::state::ViewState;

/// Render layer of the overlays (the viewer camera sees it and layer 0).
pub const OVERLAY_LAYER: usize = 1;

/// Colour of the imagined path (magenta) and of the simulator's path (cyan); tests look
/// for these pixels.
pub const IMAGINED_COLOR: Color = Color::srgb(1.0, 0.0, 1.0);
/// Colour of the path the simulator follows under the plan's actions.
pub const SIMULATED_COLOR: Color = Color::srgb(0.0, 1.0, 1.0);

/// Colour of the goal's tolerance circles.
pub const GOAL_COLOR: Color = Color::srgb(1.0, 0.85, 0.1);

/// The viewed scene.
#[derive(Resource, Debug, Clone)]
pub struct StageScene(pub Arc<Scene>);

/// A mesh that follows a body (or its goal pose, for a ghost).
#[derive(Component, Debug, Clone, Copy)]
pub(crate) struct BodyMesh {
    body: usize,
    local: Transform,
    ghost: bool,
}

/// Spawns the arena, the bodies and their goal ghosts, and a light; configures the overlays.
pub fn spawn_stage(
    mut commands: Commands,
    scene: Res<StageScene>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut gizmos: ResMut<GizmoConfigStore>,
) {
    let scene = &scene.0;
    let solid = |materials: &mut Assets<StandardMaterial>, color: [f32; 3]| {
        materials.add(StandardMaterial {
            base_color: Color::srgb(color[0], color[1], color[2]),
            perceptual_roughness: 0.6,
            ..default()
        })
    };
    let (half, centre) = scene.arena.ground_box();
    let ground = solid(&mut materials, scene.arena.ground.color);
    commands.spawn((
        Mesh3d(meshes.add(Cuboid::new(2.0 * half.x, 2.0 * half.y, 2.0 * half.z))),
        MeshMaterial3d(ground),
        Transform::from_translation(centre),
    ));
    let walls = solid(&mut materials, scene.arena.walls.color);
    for (half, centre) in scene.arena.wall_boxes() {
        commands.spawn((
            Mesh3d(meshes.add(Cuboid::new(2.0 * half.x, 2.0 * half.y, 2.0 * half.z))),
            MeshMaterial3d(walls.clone()),
            Transform::from_translation(centre),
        ));
    }
    for (index, body) in scene.bodies.iter().enumerate() {
        let [r, g, b] = body.material.color;
        let material = solid(&mut materials, body.material.color);
        let ghost = materials.add(StandardMaterial {
            base_color: Color::srgba(r, g, b, 0.3),
            alpha_mode: AlphaMode::Blend,
            unlit: true,
            ..default()
        });
        for (mesh, local) in shape_meshes(&body.shape) {
            let mesh = meshes.add(mesh);
            commands.spawn((
                Mesh3d(mesh.clone()),
                MeshMaterial3d(material.clone()),
                local,
                BodyMesh {
                    body: index,
                    local,
                    ghost: false,
                },
            ));
            commands.spawn((
                Mesh3d(mesh),
                MeshMaterial3d(ghost.clone()),
                local,
                Visibility::Hidden,
                BodyMesh {
                    body: index,
                    local,
                    ghost: true,
                },
            ));
        }
    }
    let reach = scene.arena.half_extent.max(1.0);
    commands.spawn((
        DirectionalLight {
            illuminance: 2_500.0,
            shadow_maps_enabled: true,
            ..default()
        },
        CascadeShadowConfigBuilder {
            num_cascades: 1,
            maximum_distance: 8.0 * reach,
            ..default()
        }
        .build(),
        Transform::from_xyz(0.6 * reach, 3.0 * reach, 1.2 * reach).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    let (config, _) = gizmos.config_mut::<DefaultGizmoConfigGroup>();
    config.render_layers = RenderLayers::layer(OVERLAY_LAYER);
    config.line.width = 3.0;
    config.depth_bias = -0.5;
}

/// Places body meshes at the simulated poses and ghosts at the goal poses. Ghosts of bodies
/// that do not move between start and goal (fixed bodies) stay hidden.
pub fn pose_bodies(
    state: Res<ViewState>,
    mut meshes: Query<(&BodyMesh, &mut Transform, &mut Visibility)>,
) {
    for (mesh, mut transform, mut visibility) in &mut meshes {
        let poses = if mesh.ghost {
            &state.goal_poses
        } else {
            &state.poses
        };
        let Some(pose) = poses.get(mesh.body) else {
            continue;
        };
        *transform = *pose * mesh.local;
        *visibility = if mesh.ghost {
            let moved = state
                .poses
                .get(mesh.body)
                .is_some_and(|now| now.translation.distance(pose.translation) > 1e-3);
            if moved {
                Visibility::Inherited
            } else {
                Visibility::Hidden
            }
        } else {
            Visibility::Inherited
        };
    }
}

/// Draws the current plan's imagined and simulated paths, and the goal's tolerance.
pub fn draw_overlays(state: Res<ViewState>, mut gizmos: Gizmos) {
    let lift = Vec3::Y * 0.02;
    for (paths, color) in [
        (&state.simulated, SIMULATED_COLOR),
        (&state.imagined, IMAGINED_COLOR),
    ] {
        for path in paths {
            gizmos.linestrip(path.iter().map(|p| *p + lift), color);
            if let Some(end) = path.last() {
                gizmos.sphere(Isometry3d::from_translation(*end + lift), 0.025, color);
            }
        }
    }
    let flat = Quat::from_rotation_arc(Vec3::Z, Vec3::Y);
    for &(goal, tolerance) in &state.goal_targets {
        let centre = Vec3::new(goal.x, goal.y.max(0.005), goal.z);
        gizmos.circle(Isometry3d::new(centre, flat), tolerance, GOAL_COLOR);
    }
}
