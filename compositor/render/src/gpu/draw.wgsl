// RASTER PATH (software adapter); common.wgsl comes first. Draws every item of a frame plan
// in ONE instanced draw call (instance i = item i, painter's order) onto the Rgba16Float canvas,
// premultiplied alpha, video-gamma R'G'B'. Coordinates: pixels, origin top-left.

// Per-item data travels to the fragment stage as flat varyings (reading the storage buffer per
// fragment is ~4x slower on the software adapter), packed into as few as possible: each vec4
// varying costs about 1 ms per 720p frame there. The pixel's position inside the item comes
// from the fragment position, the chroma clamp from the luma clamp, and the content mode and
// matrix ride in params.w.
struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) @interpolate(flat) dest: vec4<f32>,
    @location(2) @interpolate(flat) clamp_l: vec4<f32>,
    @location(3) @interpolate(flat) color: vec4<f32>,
    @location(4) @interpolate(flat) border_color: vec4<f32>,
    @location(5) @interpolate(flat) params: vec4<f32>,   // opacity, radius, border, mode * 2 + matrix
    @location(6) @interpolate(flat) taps: vec4<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vi: u32, @builtin(instance_index) ii: u32) -> VsOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let item = items[ii];
    let c = corners[vi];
    let px = item.dest.xy + c * item.dest.zw;
    let ndc = vec2<f32>(px.x * frame.canvas.z * 2.0 - 1.0, 1.0 - px.y * frame.canvas.w * 2.0);
    var out: VsOut;
    out.pos = vec4<f32>(ndc, 0.0, 1.0);
    out.uv = item.uv.xy + c * item.uv.zw;
    out.dest = item.dest;
    out.clamp_l = item.clamp_l;
    out.color = item.color;
    out.border_color = item.border_color;
    out.params = item.params;
    out.taps = item.taps;
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let code = u32(in.params.w + 0.5);
    // Chroma texels are twice as wide: the chroma clamp is the luma clamp moved in by half a
    // luma texel on each side.
    let q = vec2<f32>(0.25, 0.25) / vec2<f32>(textureDimensions(atlas_u));
    let clamp_c = vec4<f32>(in.clamp_l.xy + q, in.clamp_l.zw - q);
    let s = sample_content(code / 2u, code % 2u, in.color, in.taps, in.uv, in.clamp_l, clamp_c);
    return shade(s, in.pos.xy - in.dest.xy, in.dest.zw, in.params, in.border_color);
}
