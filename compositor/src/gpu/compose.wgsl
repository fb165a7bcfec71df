// Composes a whole frame plan and converts it to limited-range I420 in ONE compute dispatch
// (no rasterizer: datacenter GPUs such as the H100 have very few graphics units, and the
// software adapter pays per draw call).
//
// Each invocation owns an 8x2 pixel block: it starts from the background colour, blends every
// item of the plan that overlaps the block in painter's order (premultiplied "over", in
// video-gamma R'G'B', the space broadcast mixers blend in), then writes two u32 words of Y per
// row, one word of U and one of V (2x2 box average = centre-sited chroma).
// Output layout (bytes): Y rows of y_pitch, then U rows of c_pitch, then V rows of c_pitch;
// pixels past the canvas width (row padding) repeat the last column.

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
@group(0) @binding(7) var<storage, read_write> out: array<u32>;

fn yuv_to_rgb(y8: f32, u8: f32, v8: f32, matrix: u32) -> vec3<f32> {
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

fn sample_one(it: Item, p: vec2<f32>) -> vec4<f32> {
    // Clamp inside the item's own atlas rectangle so bilinear taps never bleed into a
    // neighbour.
    let pl = clamp(p, it.clamp_l.xy, it.clamp_l.zw);
    if (it.mode.x == 0u) {
        let pc = clamp(p, it.clamp_c.xy, it.clamp_c.zw);
        let y = textureSampleLevel(atlas_y, samp, pl, 0.0).r;
        let u = textureSampleLevel(atlas_u, samp, pc, 0.0).r;
        let v = textureSampleLevel(atlas_v, samp, pc, 0.0).r;
        return vec4<f32>(yuv_to_rgb(y, u, v, it.mode.y), 1.0);
    }
    return textureSampleLevel(atlas_rgba, samp, pl, 0.0);
}

fn sample_content(it: Item, uv: vec2<f32>) -> vec4<f32> {
    if (it.mode.x == 2u) {
        return it.color;
    }
    let nx = i32(it.taps.x);
    let ny = i32(it.taps.y);
    if (nx <= 1 && ny <= 1) {
        return sample_one(it, uv);
    }
    // Downscaling by more than 2x: average n x n bilinear taps spread over the footprint
    // of one output pixel (each bilinear tap already averages 2x2 texels).
    let step = it.taps.zw;
    var acc = vec4<f32>(0.0, 0.0, 0.0, 0.0);
    for (var j = 0; j < ny; j = j + 1) {
        for (var i = 0; i < nx; i = i + 1) {
            let off = vec2<f32>((f32(i) + 0.5) / f32(nx) - 0.5, (f32(j) + 0.5) / f32(ny) - 0.5) * step;
            acc = acc + sample_one(it, uv + off);
        }
    }
    return acc / f32(nx * ny);
}

// Blends item `it` over colour `c` at the pixel whose centre is `px`.
fn blend(it: Item, px: vec2<f32>, c: vec3<f32>) -> vec3<f32> {
    let local = px - it.dest.xy;
    if (local.x < 0.0 || local.y < 0.0 || local.x >= it.dest.z || local.y >= it.dest.w) {
        return c;
    }
    var s = sample_content(it, it.uv.xy + local / it.dest.zw * it.uv.zw);   // straight alpha
    var coverage = 1.0;
    let radius = min(it.params.y, 0.5 * min(it.dest.z, it.dest.w));
    let bw = it.params.z;
    if (radius > 0.0 || bw > 0.0) {
        let half = it.dest.zw * 0.5;
        let d = rounded_box_sdf(local - half, half, radius);
        coverage = clamp(0.5 - d, 0.0, 1.0);
        if (bw > 0.0) {
            // Border: the band -bw < d <= 0, antialiased on its inner edge.
            s = mix(it.border_color, s, clamp(-d - bw + 0.5, 0.0, 1.0));
        }
    }
    let a = s.a * coverage * it.params.x;
    return s.rgb * a + c * (1.0 - a);
}

fn luma(c: vec3<f32>) -> f32 {
    return frame.k.x * c.r + (1.0 - frame.k.x - frame.k.y) * c.g + frame.k.y * c.b;
}

fn code_y(c: vec3<f32>) -> u32 {
    return u32(clamp(round(16.0 + 219.0 * luma(c)), 0.0, 255.0));
}

@compute @workgroup_size(8, 8)
fn cs_main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let y_pitch = frame.lay.x;
    let c_pitch = frame.lay.y;
    let w = frame.canvas.x;
    let h = frame.canvas.y;
    if (gid.x * 2u >= y_pitch || f32(gid.y * 2u) >= h) {
        return;
    }
    // Block: pixels x0 .. x0+7 (clamped to the last column), rows y0, y0+1.
    let x0 = f32(gid.x * 8u);
    let y0 = f32(gid.y * 2u);
    var px: array<vec3<f32>, 16>;
    for (var i = 0; i < 16; i = i + 1) {
        px[i] = frame.bg.rgb;
    }
    let n = u32(frame.k.z);
    for (var k = 0u; k < n; k = k + 1u) {
        let it = items[k];
        // Skip items that miss this block entirely.
        if (it.dest.x >= x0 + 8.0 || it.dest.x + it.dest.z <= x0 || it.dest.y >= y0 + 2.0 || it.dest.y + it.dest.w <= y0) {
            continue;
        }
        for (var i = 0; i < 16; i = i + 1) {
            let x = min(x0 + f32(i % 8), w - 1.0);
            let y = y0 + f32(i / 8);
            px[i] = blend(it, vec2<f32>(x + 0.5, y + 0.5), px[i]);
        }
    }
    let kr = frame.k.x;
    let kb = frame.k.y;
    var yw = array<u32, 4>(0u, 0u, 0u, 0u);
    var uw = 0u;
    var vw = 0u;
    for (var i = 0; i < 4; i = i + 1) {
        let a = px[2 * i];
        let b = px[2 * i + 1];
        let c = px[8 + 2 * i];
        let d = px[8 + 2 * i + 1];
        let shift = u32((i % 2) * 16);
        let word = i / 2;
        yw[word] = yw[word] | (code_y(a) << shift) | (code_y(b) << (shift + 8u));
        yw[word + 2] = yw[word + 2] | (code_y(c) << shift) | (code_y(d) << (shift + 8u));
        let m = (a + b + c + d) * 0.25;
        let ym = luma(m);
        let cb = (m.b - ym) / (2.0 * (1.0 - kb));
        let cr = (m.r - ym) / (2.0 * (1.0 - kr));
        uw = uw | (u32(clamp(round(128.0 + 224.0 * cb), 0.0, 255.0)) << u32(i * 8));
        vw = vw | (u32(clamp(round(128.0 + 224.0 * cr), 0.0, 255.0)) << u32(i * 8));
    }
    let row0 = gid.y * 2u * y_pitch + gid.x * 2u;
    out[row0] = yw[0];
    out[row0 + 1u] = yw[1];
    out[row0 + y_pitch] = yw[2];
    out[row0 + y_pitch + 1u] = yw[3];
    out[frame.lay.z + gid.y * c_pitch + gid.x] = uw;
    out[frame.lay.w + gid.y * c_pitch + gid.x] = vw;
}
