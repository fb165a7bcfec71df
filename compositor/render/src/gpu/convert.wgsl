// RASTER PATH (software adapter), second step; common.wgsl and i420.wgsl come first. Converts
// the Rgba16Float canvas (premultiplied over an opaque background, so alpha = 1) to I420 in
// one dispatch: each invocation loads an 8x2 block (past the canvas edge: the last column)
// and packs it with `write_block`.

@group(1) @binding(0) var canvas: texture_2d<f32>;

@compute @workgroup_size(8, 8)
fn cs_main(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x * 2u >= frame.lay.x || gid.y * 2u >= u32(frame.canvas.y)) {
        return;
    }
    let maxp = vec2<i32>(i32(frame.canvas.x) - 1, i32(frame.canvas.y) - 1);
    for (var i = 0; i < 16; i = i + 1) {
        let p = vec2<i32>(i32(gid.x * 8u) + i % 8, i32(gid.y * 2u) + i / 8);
        px[i] = textureLoad(canvas, clamp(p, vec2<i32>(0, 0), maxp), 0).rgb;
    }
    write_block(gid.x, gid.y);
}
