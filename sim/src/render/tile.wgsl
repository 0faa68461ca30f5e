// Draws one world's meshes into its tile of the shared render target. Every world has
// its own copy of the scene camera; the vertex stage projects with it and then squeezes
// clip space into the world's tile, and the fragment stage discards what falls outside
// the tile. Colours are flat, with a fixed directional shade so shapes read as 3-D.

#import bevy_pbr::mesh_functions

struct TileMaterial {
    // Projection times view of the world's camera (reverse-Z, as Bevy's).
    clip_from_world: mat4x4<f32>,
    // Clip-space x/y scale and offset that map the full view onto the tile.
    tile: vec4<f32>,
    // Pixel rectangle of the tile in the target: min x, min y, max x, max y.
    rect: vec4<f32>,
    // Linear RGB colour; alpha unused.
    color: vec4<f32>,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> material: TileMaterial;

struct TileVertex {
    @builtin(instance_index) instance_index: u32,
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
};

struct TileVarying {
    @builtin(position) position: vec4<f32>,
    @location(0) world_normal: vec3<f32>,
};

@vertex
fn vertex(vertex: TileVertex) -> TileVarying {
    let world_from_local = mesh_functions::get_world_from_local(vertex.instance_index);
    let world = mesh_functions::mesh_position_local_to_world(world_from_local, vec4<f32>(vertex.position, 1.0));
    var clip = material.clip_from_world * world;
    clip.x = clip.x * material.tile.x + clip.w * material.tile.z;
    clip.y = clip.y * material.tile.y + clip.w * material.tile.w;
    var out: TileVarying;
    out.position = clip;
    out.world_normal = mesh_functions::mesh_normal_local_to_world(vertex.normal, vertex.instance_index);
    return out;
}

@fragment
fn fragment(in: TileVarying) -> @location(0) vec4<f32> {
    let p = in.position.xy;
    if p.x < material.rect.x || p.y < material.rect.y || p.x >= material.rect.z || p.y >= material.rect.w {
        discard;
    }
    let light = normalize(vec3<f32>(0.3, 1.0, 0.4));
    let shade = 0.6 + 0.4 * max(dot(normalize(in.world_normal), light), 0.0);
    return vec4<f32>(material.color.rgb * shade, 1.0);
}
