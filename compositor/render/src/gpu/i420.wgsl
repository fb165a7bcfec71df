// Shared by compose.wgsl and convert.wgsl (prepended after common.wgsl): packs an 8x2 pixel
// block of R'G'B' into limited-range I420 words. Output layout (bytes): Y rows of y_pitch,
// then U rows of c_pitch, then V rows of c_pitch; two u32 words of Y per row, one word of U
// and one of V per block (2x2 box average = centre-sited chroma).

@group(0) @binding(7) var<storage, read_write> out: array<u32>;

// The invocation's 8x2 block of R'G'B': `px[0..8]` is the top row, `px[8..16]` the bottom one.
// A private (per-invocation) array rather than a by-value argument: passing it by value made
// the H100 compose dispatch 2x slower.
var<private> px: array<vec3<f32>, 16>;

fn luma(c: vec3<f32>) -> f32 {
    return frame.k.x * c.r + (1.0 - frame.k.x - frame.k.y) * c.g + frame.k.y * c.b;
}

fn code_y(c: vec3<f32>) -> u32 {
    return u32(clamp(round(16.0 + 219.0 * luma(c)), 0.0, 255.0));
}

// Packs `px`; block (bx, by) covers pixels 8*bx .. 8*bx+7 of rows 2*by and 2*by+1.
fn write_block(bx: u32, by: u32) {
    let kr = frame.k.x;
    let kb = frame.k.y;
    let y_pitch = frame.lay.x;
    let c_pitch = frame.lay.y;
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
    let row0 = by * 2u * y_pitch + bx * 2u;
    out[row0] = yw[0];
    out[row0 + 1u] = yw[1];
    out[row0 + y_pitch] = yw[2];
    out[row0 + y_pitch + 1u] = yw[3];
    out[frame.lay.z + by * c_pitch + bx] = uw;
    out[frame.lay.w + by * c_pitch + bx] = vw;
}
