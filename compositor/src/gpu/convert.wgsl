// RASTER PATH (software adapter), second step. Converts the Rgba16Float canvas (premultiplied over an opaque background, so alpha = 1) to
// limited-range I420 in one compute dispatch. Each invocation handles an 8x2 pixel block:
// two u32 words of Y per row, one word of U and one of V (2x2 box average = centre-sited
// chroma). Output layout (bytes): Y rows of `y_pitch`, then U rows of `c_pitch`, then V rows
// of `c_pitch`; pitches are multiples of 8 / 4 bytes so every word is whole. Pixels past the
// canvas edge (padding) repeat the last column.

struct Frame {
    canvas: vec4<f32>,        // w, h, 1/w, 1/h
    bg: vec4<f32>,            // background R'G'B'
    k: vec4<f32>,             // output kr, kb, item count, unused
    lay: vec4<u32>,           // y pitch words, c pitch words, u offset words, v offset words
};

@group(0) @binding(1) var<uniform> frame: Frame;
@group(0) @binding(7) var<storage, read_write> out: array<u32>;
@group(1) @binding(0) var canvas: texture_2d<f32>;

fn load(p: vec2<i32>) -> vec3<f32> {
    let maxp = vec2<i32>(i32(frame.canvas.x) - 1, i32(frame.canvas.y) - 1);
    return textureLoad(canvas, clamp(p, vec2<i32>(0, 0), maxp), 0).rgb;
}

fn luma(c: vec3<f32>) -> f32 {
    return frame.k.x * c.r + (1.0 - frame.k.x - frame.k.y) * c.g + frame.k.y * c.b;
}

fn code_y(c: vec3<f32>) -> u32 {
    return u32(clamp(round(16.0 + 219.0 * luma(c)), 0.0, 255.0));
}

@compute @workgroup_size(8, 8)
fn cs_main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let bx = gid.x;           // block column: pixels 8*bx .. 8*bx+7
    let by = gid.y;           // block row: pixels 2*by, 2*by+1
    let y_pitch = frame.lay.x;
    let c_pitch = frame.lay.y;
    if (bx * 2u >= y_pitch || by * 2u >= u32(frame.canvas.y)) {
        return;
    }
    let kr = frame.k.x;
    let kb = frame.k.y;
    var yw = array<u32, 4>(0u, 0u, 0u, 0u);
    var uw = 0u;
    var vw = 0u;
    for (var i = 0; i < 4; i = i + 1) {
        let x0 = i32(bx * 8u) + 2 * i;
        let y0 = i32(by * 2u);
        let a = load(vec2<i32>(x0, y0));
        let b = load(vec2<i32>(x0 + 1, y0));
        let c = load(vec2<i32>(x0, y0 + 1));
        let d = load(vec2<i32>(x0 + 1, y0 + 1));
        let shift_y = u32((i % 2) * 16);
        let word = i / 2;
        yw[word] = yw[word] | (code_y(a) << shift_y) | (code_y(b) << (shift_y + 8u));
        yw[word + 2] = yw[word + 2] | (code_y(c) << shift_y) | (code_y(d) << (shift_y + 8u));
        let m = (a + b + c + d) * 0.25;
        let ym = luma(m);
        let cb = (m.b - ym) / (2.0 * (1.0 - kb));
        let cr = (m.r - ym) / (2.0 * (1.0 - kr));
        let cu = u32(clamp(round(128.0 + 224.0 * cb), 0.0, 255.0));
        let cv = u32(clamp(round(128.0 + 224.0 * cr), 0.0, 255.0));
        uw = uw | (cu << u32(i * 8));
        vw = vw | (cv << u32(i * 8));
    }
    let row0 = by * 2u * y_pitch + bx * 2u;
    out[row0] = yw[0];
    out[row0 + 1u] = yw[1];
    out[row0 + y_pitch] = yw[2];
    out[row0 + y_pitch + 1u] = yw[3];
    out[frame.lay.z + by * c_pitch + bx] = uw;
    out[frame.lay.w + by * c_pitch + bx] = vw;
}
