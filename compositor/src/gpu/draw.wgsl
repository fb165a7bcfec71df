// RASTER PATH (software adapter). Draws every item of a frame plan in ONE instanced draw call (instance i = item i, painter's
// order): an I420 input sampled from the Y/U/V atlases, an RGBA image from the image atlas,
// or a solid colour. Canvas: Rgba16Float, premultiplied alpha, video-gamma R'G'B' (no
// linearisation: the space broadcast mixers blend in). Coordinates: pixels, origin top-left.

struct Item {
    dest: vec4<f32>,          // x, y, w, h of the placed rect, pixels
    uv: vec4<f32>,            // atlas uv of the crop: u0, v0, du, dv
    clamp_l: vec4<f32>,       // luma / RGBA atlas uv bounds: umin, vmin, umax, vmax
    clamp_c: vec4<f32>,       // chroma atlas uv bounds
    color: vec4<f32>,         // solid colour, straight alpha
    border_color: vec4<f32>,  // straight alpha
    params: vec4<f32>,        // opacity, corner radius px, border width px, unused
    taps: vec4<f32>,          // taps x, taps y, atlas uv step per output pixel x, y
    mode: vec4<u32>,          // 0 = I420, 1 = RGBA image, 2 = solid; matrix 0 = 709, 1 = 601
};

struct Frame {
    canvas: vec4<f32>,        // w, h, 1/w, 1/h
    bg: vec4<f32>,            // background R'G'B' (the render pass clears to it)
    k: vec4<f32>,             // output kr, kb, item count, unused
    lay: vec4<u32>,           // output layout (used by convert.wgsl)
};

@group(0) @binding(0) var<storage, read> items: array<Item>;
@group(0) @binding(1) var<uniform> frame: Frame;
@group(0) @binding(2) var atlas_y: texture_2d<f32>;
@group(0) @binding(3) var atlas_u: texture_2d<f32>;
@group(0) @binding(4) var atlas_v: texture_2d<f32>;
@group(0) @binding(5) var atlas_rgba: texture_2d<f32>;
@group(0) @binding(6) var samp: sampler;

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

fn yuv_to_rgb(y8: f32, u8: f32, v8: f32, matrix: u32) -> vec3<f32> {
    // Limited range: Y 16..235, C 16..240 (texture values are code / 255).
    let y = (y8 * 255.0 - 16.0) / 219.0;
    let cb = (u8 * 255.0 - 128.0) / 224.0;
    let cr = (v8 * 255.0 - 128.0) / 224.0;
    var kr = 0.2126;
    var kb = 0.0722;
    if (matrix == 1u) {
        kr = 0.299;
        kb = 0.114;
    }
    let kg = 1.0 - kr - kb;
    let r = y + 2.0 * (1.0 - kr) * cr;
    let b = y + 2.0 * (1.0 - kb) * cb;
    let g = (y - kr * r - kb * b) / kg;
    return vec3<f32>(r, g, b);
}

// Signed distance from p to a rounded box of half-size b and radius r (negative inside).
fn rounded_box_sdf(p: vec2<f32>, b: vec2<f32>, r: f32) -> f32 {
    let q = abs(p) - b + vec2<f32>(r, r);
    return length(max(q, vec2<f32>(0.0, 0.0))) + min(max(q.x, q.y), 0.0) - r;
}

fn sample_one(item: VsOut, p: vec2<f32>) -> vec4<f32> {
    // Clamp inside the item's own atlas rectangle so bilinear taps never bleed into a
    // neighbour.
    let pl = clamp(p, item.clamp_l.xy, item.clamp_l.zw);
    let code = u32(item.params.w + 0.5);
    if (code / 2u == 0u) {
        // Chroma texels are twice as wide: its clamp is the luma clamp moved in by half a
        // luma texel on each side.
        let q = vec2<f32>(0.25, 0.25) / vec2<f32>(textureDimensions(atlas_u));
        let pc = clamp(p, item.clamp_l.xy + q, item.clamp_l.zw - q);
        let y = textureSampleLevel(atlas_y, samp, pl, 0.0).r;
        let u = textureSampleLevel(atlas_u, samp, pc, 0.0).r;
        let v = textureSampleLevel(atlas_v, samp, pc, 0.0).r;
        return vec4<f32>(yuv_to_rgb(y, u, v, code % 2u), 1.0);
    }
    return textureSampleLevel(atlas_rgba, samp, pl, 0.0);
}

fn sample_content(item: VsOut, uv: vec2<f32>) -> vec4<f32> {
    if (u32(item.params.w + 0.5) / 2u == 2u) {
        return item.color;
    }
    let nx = i32(item.taps.x);
    let ny = i32(item.taps.y);
    if (nx <= 1 && ny <= 1) {
        return sample_one(item, uv);
    }
    // Downscaling by more than 2x: average n x n bilinear taps spread over the footprint
    // of one output pixel (each bilinear tap already averages 2x2 texels).
    let step = item.taps.zw;
    var acc = vec4<f32>(0.0, 0.0, 0.0, 0.0);
    for (var j = 0; j < ny; j = j + 1) {
        for (var i = 0; i < nx; i = i + 1) {
            let off = vec2<f32>((f32(i) + 0.5) / f32(nx) - 0.5, (f32(j) + 0.5) / f32(ny) - 0.5) * step;
            acc = acc + sample_one(item, uv + off);
        }
    }
    return acc / f32(nx * ny);
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let item = in;
    var c = sample_content(item, in.uv);   // straight alpha
    let half = item.dest.zw * 0.5;
    let local = in.pos.xy - item.dest.xy;
    let radius = min(item.params.y, min(half.x, half.y));
    var coverage = 1.0;
    if (radius > 0.0 || item.params.z > 0.0) {
        let d = rounded_box_sdf(local - half, half, radius);
        coverage = clamp(0.5 - d, 0.0, 1.0);
        let bw = item.params.z;
        if (bw > 0.0) {
            // Border: the band -bw < d <= 0, antialiased on its inner edge.
            let inner = clamp(-d - bw + 0.5, 0.0, 1.0);
            c = mix(item.border_color, c, inner);
        }
    }
    let a = c.a * coverage * item.params.x;
    return vec4<f32>(c.rgb * a, a);
}
