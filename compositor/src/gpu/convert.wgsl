// Converts the Rgba16Float canvas (premultiplied over an opaque background, so alpha = 1) to
// limited-range I420 planes: one pass writes Y at full size, one writes U and V at half size
// (2x2 box average, i.e. centre-sited chroma).

struct Params {
    // kr, kb, canvas w, canvas h
    k: vec4<f32>,
};

@group(0) @binding(0) var canvas: texture_2d<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@vertex
fn vs_full(@builtin(vertex_index) vi: u32) -> @builtin(position) vec4<f32> {
    // One triangle covering the target.
    let x = f32(i32(vi & 1u) * 4 - 1);
    let y = f32(i32(vi >> 1u) * 4 - 1);
    return vec4<f32>(x, y, 0.0, 1.0);
}

fn luma(c: vec3<f32>) -> f32 {
    let kr = params.k.x;
    let kb = params.k.y;
    return kr * c.r + (1.0 - kr - kb) * c.g + kb * c.b;
}

fn load(p: vec2<i32>) -> vec3<f32> {
    let maxp = vec2<i32>(i32(params.k.z) - 1, i32(params.k.w) - 1);
    return textureLoad(canvas, clamp(p, vec2<i32>(0, 0), maxp), 0).rgb;
}

@fragment
fn fs_y(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let c = load(vec2<i32>(pos.xy));
    let y = (16.0 + 219.0 * luma(c)) / 255.0;
    return vec4<f32>(y, 0.0, 0.0, 1.0);
}

struct UvOut {
    @location(0) u: vec4<f32>,
    @location(1) v: vec4<f32>,
};

@fragment
fn fs_uv(@builtin(position) pos: vec4<f32>) -> UvOut {
    let base = vec2<i32>(pos.xy) * 2;
    let c = (load(base) + load(base + vec2<i32>(1, 0)) + load(base + vec2<i32>(0, 1))
        + load(base + vec2<i32>(1, 1))) * 0.25;
    let kr = params.k.x;
    let kb = params.k.y;
    let y = luma(c);
    let cb = (c.b - y) / (2.0 * (1.0 - kb));
    let cr = (c.r - y) / (2.0 * (1.0 - kr));
    var out: UvOut;
    out.u = vec4<f32>((128.0 + 224.0 * cb) / 255.0, 0.0, 0.0, 1.0);
    out.v = vec4<f32>((128.0 + 224.0 * cr) / 255.0, 0.0, 0.0, 1.0);
    return out;
}
