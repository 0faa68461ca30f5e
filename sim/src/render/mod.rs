//! Offscreen camera frames through Bevy's renderer: every world is drawn into its own
//! tile of one shared render target, by one camera, in one pass, and the target is read
//! back synchronously after the update that rendered it (frame t shows state t).

use std::sync::{Arc, OnceLock};

use bevy::asset::{RenderAssetUsages, load_internal_asset, uuid_handle};
use bevy::camera::RenderTarget;
use bevy::camera::visibility::NoFrustumCulling;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::pbr::{Material, MaterialPlugin};
use bevy::prelude::*;
use bevy::reflect::TypePath;
use bevy::render::RenderApp;
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::{
    AsBindGroup, Buffer, BufferDescriptor, BufferUsages, CommandEncoderDescriptor, Extent3d,
    MapMode, PollType, ShaderType, TexelCopyBufferInfo, TexelCopyBufferLayout, TextureDimension,
    TextureFormat, TextureUsages,
};
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::render::settings::WgpuSettings;
use bevy::render::texture::GpuImage;
use bevy::render::view::Msaa;
use bevy::shader::{Shader, ShaderRef};
use bevy::transform::TransformSystems;

use crate::frame::Frame;
use crate::kinematics::euler_degrees;
use crate::scene::{Axis, Camera as SceneCamera, Scene, Shape};
use crate::world::SimWorlds;

/// The tile shader, embedded in the binary.
const TILE_SHADER: Handle<Shader> = uuid_handle!("5f0b7c8e-3a51-4f7e-9f3c-2d8a6b1e4c90");

/// Near plane of every camera, in metres.
const NEAR: f32 = 0.05;

/// Largest side of the shared render target (wgpu's default limit).
const MAX_TARGET_SIDE: u32 = 8192;

/// Which camera renders observations, and at what size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Camera name in the scene; the first camera when absent.
    pub camera: Option<String>,
    /// Overrides the camera's width and height in pixels.
    pub resolution: Option<(u32, u32)>,
}

/// Why rendering could not be set up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// The scene has no camera to render from.
    #[error("scene \"{0}\" has no camera")]
    NoCamera(String),
    /// The requested camera does not exist.
    #[error("scene \"{scene}\" has no camera called \"{camera}\"")]
    UnknownCamera {
        /// The scene.
        scene: String,
        /// The requested name.
        camera: String,
    },
    /// The frame size is outside what the renderer supports.
    #[error("frame size {width}×{height} is outside 1..=1024 per side")]
    Resolution {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// All tiles do not fit in one render target.
    #[error(
        "{worlds} worlds of {width}×{height} do not fit in one {MAX_TARGET_SIDE}² render target"
    )]
    TooManyTiles {
        /// Number of worlds.
        worlds: usize,
        /// Tile width.
        width: u32,
        /// Tile height.
        height: u32,
    },
    /// The renderer never produced a complete frame: every tile stayed one colour.
    #[error(
        "the renderer produced no complete frame after {0} warm-up updates (every tile stayed one colour; a camera that sees only the floor looks the same before the first reset: let each camera see the arena's walls)"
    )]
    NotReady(u32),
    /// wgpu found no GPU adapter (no Vulkan driver installed, or none that loads).
    #[error(
        "no GPU adapter found ({0}); without a GPU, Mesa's software Vulkan (lavapipe, Debian package mesa-vulkan-drivers) renders on the CPU: `bash scripts/setup.sh` installs it"
    )]
    NoAdapter(String),
}

/// Looks for a GPU adapter as Bevy's renderer will (the same backends and environment),
/// once per process: Bevy panics when it finds none, this says why and how to fix it.
pub fn check_adapter() -> Result<(), RenderError> {
    static FOUND: OnceLock<Result<(), RenderError>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let backends = WgpuSettings::default()
                .backends
                .unwrap_or(wgpu::Backends::all());
            let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
            descriptor.backends = backends;
            let instance = wgpu::Instance::new(descriptor);
            if !bevy::tasks::block_on(instance.enumerate_adapters(backends)).is_empty() {
                return Ok(());
            }
            let driver = match std::env::var("VK_ICD_FILENAMES") {
                Ok(files) => format!("VK_ICD_FILENAMES is {files}"),
                Err(_) => "no Vulkan driver".to_owned(),
            };
            Err(RenderError::NoAdapter(driver))
        })
        .clone()
}

/// A world's camera: its projection and its place in the shared target.
#[derive(Debug, Clone, PartialEq)]
pub struct TileCamera {
    /// The scene camera's name.
    pub name: String,
    /// Projection times view, Bevy's reverse-Z convention.
    pub clip_from_world: Mat4,
    /// Tile width in pixels.
    pub width: u32,
    /// Tile height in pixels.
    pub height: u32,
}

impl TileCamera {
    fn new(camera: &SceneCamera, (width, height): (u32, u32)) -> Self {
        let projection = Mat4::perspective_infinite_reverse_rh(
            camera.fov_degrees.to_radians(),
            width as f32 / height as f32,
            NEAR,
        );
        let view = Mat4::look_at_rh(
            Vec3::from(camera.position),
            Vec3::from(camera.look_at),
            Vec3::from(camera.up),
        );
        Self {
            name: camera.name.clone(),
            clip_from_world: projection * view,
            width,
            height,
        }
    }

    /// Where a world point lands in the frame, in pixels from the top-left corner
    /// (`None` behind the camera).
    pub fn project(&self, point: Vec3) -> Option<Vec2> {
        let clip = self.clip_from_world * point.extend(1.0);
        (clip.w > 0.0).then(|| {
            let ndc = clip.xy() / clip.w;
            Vec2::new(
                (ndc.x + 1.0) / 2.0 * self.width as f32,
                (1.0 - ndc.y) / 2.0 * self.height as f32,
            )
        })
    }
}

/// How world tiles are arranged in the shared target: row-major, `columns` wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TileLayout {
    columns: u32,
    rows: u32,
    width: u32,
    height: u32,
}

impl TileLayout {
    fn new(worlds: usize, width: u32, height: u32) -> Self {
        let columns = (worlds as f64).sqrt().ceil() as u32;
        let rows = (worlds as u32).div_ceil(columns);
        Self {
            columns,
            rows,
            width,
            height,
        }
    }

    fn target_size(&self) -> (u32, u32) {
        (self.columns * self.width, self.rows * self.height)
    }

    /// Column and row of world `index`.
    fn cell(&self, index: usize) -> (u32, u32) {
        (index as u32 % self.columns, index as u32 / self.columns)
    }
}

/// The uniform block of `TileMaterial` (see `tile.wgsl`).
#[derive(ShaderType, Debug, Clone, Copy)]
pub struct TileUniform {
    clip_from_world: Mat4,
    tile: Vec4,
    rect: Vec4,
    color: Vec4,
}

/// A flat-coloured material that draws one world into its tile.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct TileMaterial {
    #[uniform(0)]
    uniform: TileUniform,
}

impl Material for TileMaterial {
    fn vertex_shader() -> ShaderRef {
        ShaderRef::Handle(TILE_SHADER)
    }

    fn fragment_shader() -> ShaderRef {
        ShaderRef::Handle(TILE_SHADER)
    }

    fn enable_prepass() -> bool {
        false
    }

    fn enable_shadows() -> bool {
        false
    }
}

/// A mesh that follows a scene body of one world, offset by `local`.
#[derive(Component, Debug, Clone, Copy)]
pub struct BodyVisual {
    /// The world.
    pub world: usize,
    /// Index of the body in the scene.
    pub body: usize,
    /// The mesh's pose in the body's frame.
    pub local: Transform,
}

/// Poses that visuals show instead of the simulated ones (e.g. a goal configuration),
/// per world. Physics never sees them.
#[derive(Resource, Debug, Default)]
pub struct PoseOverrides(pub Vec<Option<Vec<Transform>>>);

/// Renders every world of a `SimPlugin` into tiles of one target. Needs Bevy's render
/// plugins (those `VecEnv::with_rendering` adds: no window).
#[derive(Debug, Clone)]
pub struct SimRenderPlugin {
    /// The scene of the worlds.
    pub scene: Arc<Scene>,
    /// Number of worlds.
    pub worlds: usize,
    /// Camera and size.
    pub options: RenderOptions,
}

/// The shared target and how to read it.
#[derive(Resource, Debug)]
pub struct RenderTargets {
    image: Handle<Image>,
    layout: TileLayout,
    camera: TileCamera,
}

impl RenderTargets {
    /// The camera every world is seen through.
    pub fn camera(&self) -> &TileCamera {
        &self.camera
    }
}

impl SimRenderPlugin {
    /// Resolves the camera and checks sizes before any GPU work.
    pub fn camera(&self) -> Result<(SceneCamera, (u32, u32)), RenderError> {
        let scene = &self.scene;
        let camera = match &self.options.camera {
            Some(name) => scene
                .cameras
                .iter()
                .find(|c| &c.name == name)
                .ok_or_else(|| RenderError::UnknownCamera {
                    scene: scene.name.clone(),
                    camera: name.clone(),
                })?,
            None => scene
                .cameras
                .first()
                .ok_or_else(|| RenderError::NoCamera(scene.name.clone()))?,
        };
        let (width, height) = self
            .options
            .resolution
            .unwrap_or((camera.width, camera.height));
        if !(1..=1024).contains(&width) || !(1..=1024).contains(&height) {
            return Err(RenderError::Resolution { width, height });
        }
        let (target_width, target_height) =
            TileLayout::new(self.worlds, width, height).target_size();
        if target_width > MAX_TARGET_SIDE || target_height > MAX_TARGET_SIDE {
            return Err(RenderError::TooManyTiles {
                worlds: self.worlds,
                width,
                height,
            });
        }
        Ok((camera.clone(), (width, height)))
    }
}

impl Plugin for SimRenderPlugin {
    fn build(&self, app: &mut App) {
        load_internal_asset!(app, TILE_SHADER, "tile.wgsl", Shader::from_wgsl);
        app.add_plugins(MaterialPlugin::<TileMaterial>::default());
        let (camera, size) = self.camera().expect("checked by the caller");
        let tile_camera = TileCamera::new(&camera, size);
        let layout = TileLayout::new(self.worlds, size.0, size.1);
        let (target_width, target_height) = layout.target_size();
        let mut image = Image::new_uninit(
            Extent3d {
                width: target_width,
                height: target_height,
                depth_or_array_layers: 1,
            },
            TextureDimension::D2,
            TextureFormat::Rgba8UnormSrgb,
            RenderAssetUsages::RENDER_WORLD,
        );
        image.texture_descriptor.usage |=
            TextureUsages::RENDER_ATTACHMENT | TextureUsages::COPY_SRC;
        let image = app.world_mut().resource_mut::<Assets<Image>>().add(image);
        // The shared camera sits where the scene camera does, so that Bevy's own culling
        // sees what the worlds' cameras see.
        app.world_mut().spawn((
            Camera3d::default(),
            Camera {
                clear_color: ClearColorConfig::Custom(Color::srgb(0.05, 0.05, 0.08)),
                ..default()
            },
            RenderTarget::Image(image.clone().into()),
            Msaa::Off,
            Tonemapping::None,
            DebandDither::Disabled,
            Transform::from_translation(Vec3::from(camera.position))
                .looking_at(Vec3::from(camera.look_at), Vec3::from(camera.up)),
        ));
        spawn_visuals(
            app.world_mut(),
            &self.scene,
            self.worlds,
            &tile_camera,
            &layout,
        );
        app.insert_resource(RenderTargets {
            image,
            layout,
            camera: tile_camera,
        })
        .insert_resource(PoseOverrides(vec![None; self.worlds]))
        .add_systems(PostUpdate, pose_visuals.before(TransformSystems::Propagate));
    }
}

/// The meshes of a shape with their poses in the body's frame.
pub fn shape_meshes(shape: &Shape) -> Vec<(Mesh, Transform)> {
    let along = |axis: Axis| match axis {
        Axis::X => Quat::from_rotation_arc(Vec3::Y, Vec3::X),
        Axis::Y => Quat::IDENTITY,
        Axis::Z => Quat::from_rotation_arc(Vec3::Y, Vec3::Z),
    };
    match shape {
        Shape::Box {
            half_extents: [x, y, z],
        } => {
            vec![(
                Cuboid::new(2.0 * x, 2.0 * y, 2.0 * z).into(),
                Transform::IDENTITY,
            )]
        }
        Shape::Sphere { radius } => {
            vec![(Sphere::new(*radius).mesh().uv(24, 12), Transform::IDENTITY)]
        }
        Shape::Capsule {
            radius,
            half_length,
            axis,
        } => vec![(
            Capsule3d::new(*radius, 2.0 * half_length).into(),
            Transform::from_rotation(along(*axis)),
        )],
        Shape::Cylinder {
            radius,
            half_height,
            axis,
        } => vec![(
            Cylinder::new(*radius, 2.0 * half_height).into(),
            Transform::from_rotation(along(*axis)),
        )],
        Shape::Compound { parts } => parts
            .iter()
            .flat_map(|part| {
                let offset = Transform::from_translation(Vec3::from(part.position))
                    .with_rotation(euler_degrees(part.rotation));
                shape_meshes(&part.shape)
                    .into_iter()
                    .map(move |(mesh, local)| (mesh, offset * local))
            })
            .collect(),
    }
}

/// Spawns, once, the visuals of every world: the arena is static, bodies follow their
/// simulated (or overridden) poses.
fn spawn_visuals(
    world: &mut World,
    scene: &Scene,
    worlds: usize,
    camera: &TileCamera,
    layout: &TileLayout,
) {
    let body_meshes: Vec<Vec<(Handle<Mesh>, Transform)>> = {
        let mut meshes = world.resource_mut::<Assets<Mesh>>();
        scene
            .bodies
            .iter()
            .map(|body| {
                shape_meshes(&body.shape)
                    .into_iter()
                    .map(|(mesh, local)| (meshes.add(mesh), local))
                    .collect()
            })
            .collect()
    };
    let arena: Vec<(Handle<Mesh>, Transform, [f32; 3])> = {
        let mut meshes = world.resource_mut::<Assets<Mesh>>();
        let ground = scene.arena.ground_box();
        let mut parts = vec![(
            meshes.add(Cuboid::new(
                2.0 * ground.0.x,
                2.0 * ground.0.y,
                2.0 * ground.0.z,
            )),
            Transform::from_translation(ground.1),
            scene.arena.ground.color,
        )];
        for (half, centre) in scene.arena.wall_boxes() {
            parts.push((
                meshes.add(Cuboid::new(2.0 * half.x, 2.0 * half.y, 2.0 * half.z)),
                Transform::from_translation(centre),
                scene.arena.walls.color,
            ));
        }
        parts
    };
    for index in 0..worlds {
        let (column, row) = layout.cell(index);
        let (columns, rows) = (layout.columns as f32, layout.rows as f32);
        let tile = Vec4::new(
            1.0 / columns,
            1.0 / rows,
            -1.0 + (2.0 * column as f32 + 1.0) / columns,
            1.0 - (2.0 * row as f32 + 1.0) / rows,
        );
        let rect = Vec4::new(
            (column * layout.width) as f32,
            (row * layout.height) as f32,
            ((column + 1) * layout.width) as f32,
            ((row + 1) * layout.height) as f32,
        );
        let mut material = |color: [f32; 3]| {
            world
                .resource_mut::<Assets<TileMaterial>>()
                .add(TileMaterial {
                    uniform: TileUniform {
                        clip_from_world: camera.clip_from_world,
                        tile,
                        rect,
                        color: Vec3::from(color).extend(1.0),
                    },
                })
        };
        let arena_materials: Vec<_> = arena.iter().map(|part| material(part.2)).collect();
        let body_materials: Vec<_> = scene
            .bodies
            .iter()
            .map(|b| material(b.material.color))
            .collect();
        for ((mesh, pose, _), material) in arena.iter().zip(arena_materials) {
            world.spawn((
                Mesh3d(mesh.clone()),
                MeshMaterial3d(material),
                *pose,
                NoFrustumCulling,
            ));
        }
        for (body, (meshes, material)) in body_meshes.iter().zip(body_materials).enumerate() {
            for (mesh, local) in meshes {
                world.spawn((
                    Mesh3d(mesh.clone()),
                    MeshMaterial3d(material.clone()),
                    *local,
                    Visibility::Hidden,
                    NoFrustumCulling,
                    BodyVisual {
                        world: index,
                        body,
                        local: *local,
                    },
                ));
            }
        }
    }
}

/// Places body visuals at their bodies' poses (or the overriding poses); hides the
/// visuals of worlds that hold no episode.
fn pose_visuals(
    sim: Res<SimWorlds>,
    overrides: Res<PoseOverrides>,
    bodies: Query<&Transform, Without<BodyVisual>>,
    mut visuals: Query<(&BodyVisual, &mut Transform, &mut Visibility)>,
) {
    for (visual, mut transform, mut visibility) in &mut visuals {
        let pose = match &overrides.0[visual.world] {
            Some(poses) => Some(poses[visual.body]),
            None => sim
                .slot(visual.world)
                .and_then(|slot| bodies.get(slot.body(visual.body)).ok().copied()),
        };
        match pose {
            Some(pose) => {
                *transform = pose * visual.local;
                *visibility = Visibility::Inherited;
            }
            None => *visibility = Visibility::Hidden,
        }
    }
}

/// Reads the shared target back to the CPU, synchronously, into a reusable buffer.
#[derive(Debug)]
pub struct Readback {
    buffer: Buffer,
    layout: TileLayout,
    padded_row: u32,
}

impl Readback {
    /// A readback buffer for the app's render target.
    pub fn new(app: &App) -> Self {
        let targets = app.world().resource::<RenderTargets>();
        let layout = targets.layout;
        let (width, height) = layout.target_size();
        let padded_row = RenderDevice::align_copy_bytes_per_row(width as usize * 4) as u32;
        let buffer = app
            .world()
            .resource::<RenderDevice>()
            .create_buffer(&BufferDescriptor {
                label: Some("prefrontal frame readback"),
                size: u64::from(padded_row) * u64::from(height),
                usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
        Self {
            buffer,
            layout,
            padded_row,
        }
    }

    /// Copies what the last update rendered and cuts it into one frame per world.
    pub fn frames(&self, app: &App) -> Vec<Frame> {
        let atlas = self.read(app);
        let layout = self.layout;
        let worlds = app.world().resource::<PoseOverrides>().0.len();
        (0..worlds)
            .map(|index| {
                let (column, row) = layout.cell(index);
                let mut pixels = Vec::with_capacity((layout.width * layout.height * 3) as usize);
                for y in 0..layout.height {
                    let start = ((row * layout.height + y) * self.padded_row
                        + column * layout.width * 4) as usize;
                    for rgba in atlas[start..start + (layout.width * 4) as usize].chunks_exact(4) {
                        pixels.extend_from_slice(&rgba[..3]);
                    }
                }
                Frame {
                    width: layout.width,
                    height: layout.height,
                    pixels,
                }
            })
            .collect()
    }

    fn read(&self, app: &App) -> Vec<u8> {
        let world = app.world();
        let device = world.resource::<RenderDevice>();
        let queue = world.resource::<RenderQueue>();
        let image = &world.resource::<RenderTargets>().image;
        let render_world = app.sub_app(RenderApp).world();
        let gpu_image = render_world
            .resource::<RenderAssets<GpuImage>>()
            .get(image)
            .expect("the render target exists after the first update");
        let (width, height) = self.layout.target_size();
        let mut encoder = device.create_command_encoder(&CommandEncoderDescriptor {
            label: Some("prefrontal frame copy"),
        });
        encoder.copy_texture_to_buffer(
            gpu_image.texture.as_image_copy(),
            TexelCopyBufferInfo {
                buffer: &self.buffer,
                layout: TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(self.padded_row),
                    rows_per_image: Some(height),
                },
            },
            Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
        queue.submit([encoder.finish()]);
        let slice = self.buffer.slice(..);
        slice.map_async(MapMode::Read, |result| {
            result.expect("mapping the frame readback buffer");
        });
        device
            .poll(PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .expect("waiting for the GPU");
        let bytes = slice.get_mapped_range().to_vec();
        self.buffer.unmap();
        bytes
    }
}
