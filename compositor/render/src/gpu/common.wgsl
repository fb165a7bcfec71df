// Shared by compose.wgsl (compute path) and draw.wgsl (raster path); pipelines.rs prepends
// this file to each. Per-item data, per-frame constants, the group-0 bindings both paths read,
// and the sampling and shading that must give the same picture on both paths.

struct Item {
    dest: vec4<f32>,          // x, y, w, h of the placed rect, pixels
    uv: vec4<f32>,            // atlas uv of the crop: u0, v0, du, dv
    clamp_l: vec4<f32>,       // luma / RGBA atlas uv bounds: umin, vmin, umax, vmax
    clamp_c: vec4<f32>,       // chroma atlas uv bounds
    color: vec4<f32>,         // solid colour, straight alpha
    border_color: vec4<f32>,  // straight alpha
    // opacity, corner radius px, border width px, mode * 2 + matrix where mode 0 = I420,
    // 1 = RGBA image, 2 = solid and matrix 0 = BT.709, 1 = BT.601 (one float: the raster
    // path passes it as a varying)
    params: vec4<f32>,
    taps: vec4<f32>,          // taps x, taps y, atlas uv step per output pixel x, y
};

struct Frame {
    canvas: vec4<f32>,        // w, h, 1/w, 1/h
    bg: vec4<f32>,            // background R'G'B'
    k: vec4<f32>,             // output kr, kb, item count, unused
    lay: vec4<u32>,           // y pitch words, c pitch words, u offset words, v offset words
};

@group(0) @binding(0) var<storage, read> items: array<Item>;
@group(0) @binding(1) var<uniform> frame: Frame;
@group(0) @binding(2) var atlas_y: texture_2d<f32>;
@group(0) @binding(3) var atlas_u: texture_2d<f32>;
@group(0) @binding(4) var atlas_v: texture_2d<f32>;
@group(0) @binding(5) var atlas_rgba: texture_2d<f32>;
@group(0) @binding(6) var samp: sampler;

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

// One bilinear sample of an I420 input (mode 0) or an RGBA image (mode 1), clamped inside the
// item's own atlas rectangle so taps never bleed into a neighbour. Straight alpha.
fn sample_one(mode: u32, matrix: u32, p: vec2<f32>, clamp_l: vec4<f32>, clamp_c: vec4<f32>) -> vec4<f32> {
    let pl = clamp(p, clamp_l.xy, clamp_l.zw);
    if (mode == 0u) {
        let pc = clamp(p, clamp_c.xy, clamp_c.zw);
        let y = textureSampleLevel(atlas_y, samp, pl, 0.0).r;
        let u = textureSampleLevel(atlas_u, samp, pc, 0.0).r;
        let v = textureSampleLevel(atlas_v, samp, pc, 0.0).r;
        return vec4<f32>(yuv_to_rgb(y, u, v, matrix), 1.0);
    }
    return textureSampleLevel(atlas_rgba, samp, pl, 0.0);
}

// The item's content at atlas position `uv` (mode 2 = solid `color`). Downscaling by more
// than 2x averages n x n bilinear taps spread over the output pixel's footprint (each tap
// already averages 2x2 texels).
fn sample_content(mode: u32, matrix: u32, color: vec4<f32>, taps: vec4<f32>, uv: vec2<f32>, clamp_l: vec4<f32>, clamp_c: vec4<f32>) -> vec4<f32> {
    if (mode == 2u) {
        return color;
    }
    let nx = i32(taps.x);
    let ny = i32(taps.y);
    if (nx <= 1 && ny <= 1) {
        return sample_one(mode, matrix, uv, clamp_l, clamp_c);
    }
    var acc = vec4<f32>(0.0, 0.0, 0.0, 0.0);
    for (var j = 0; j < ny; j = j + 1) {
        for (var i = 0; i < nx; i = i + 1) {
            let off = vec2<f32>((f32(i) + 0.5) / f32(nx) - 0.5, (f32(j) + 0.5) / f32(ny) - 0.5) * taps.zw;
            acc = acc + sample_one(mode, matrix, uv + off, clamp_l, clamp_c);
        }
    }
    return acc / f32(nx * ny);
}

// Applies rounded corners, border and opacity to straight-alpha content `s` at pixel offset
// `local` inside an item of `size`; returns premultiplied colour (rgb * a, a).
fn shade(s: vec4<f32>, local: vec2<f32>, size: vec2<f32>, params: vec4<f32>, border_color: vec4<f32>) -> vec4<f32> {
    var c = s;
    var coverage = 1.0;
    let half = size * 0.5;
    let radius = min(params.y, min(half.x, half.y));
    let bw = params.z;
    if (radius > 0.0 || bw > 0.0) {
        let d = rounded_box_sdf(local - half, half, radius);
        coverage = clamp(0.5 - d, 0.0, 1.0);
        if (bw > 0.0) {
            // Border: the band -bw < d <= 0, antialiased on its inner edge.
            c = mix(border_color, c, clamp(-d - bw + 0.5, 0.0, 1.0));
        }
    }
    let a = c.a * coverage * params.x;
    return vec4<f32>(c.rgb * a, a);
}
