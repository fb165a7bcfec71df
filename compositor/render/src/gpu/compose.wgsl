// COMPUTE PATH (hardware GPUs); common.wgsl and i420.wgsl come first. Composes a whole frame
// plan and converts it to limited-range I420 in ONE dispatch (no rasterizer: datacenter GPUs
// such as the H100 have very few graphics units). Each invocation owns an 8x2 pixel block: it
// starts from the background colour, blends every item overlapping the block in painter's
// order (premultiplied "over", in video-gamma R'G'B', the space broadcast mixers blend in),
// then packs the block with `write_block`.

// Blends item `it` over colour `c` at the pixel whose centre is `px`.
fn blend(it: Item, px: vec2<f32>, c: vec3<f32>) -> vec3<f32> {
    let local = px - it.dest.xy;
    if (local.x < 0.0 || local.y < 0.0 || local.x >= it.dest.z || local.y >= it.dest.w) {
        return c;
    }
    let uv = it.uv.xy + local / it.dest.zw * it.uv.zw;
    let code = u32(it.params.w + 0.5);
    let s = sample_content(code / 2u, code % 2u, it.color, it.taps, uv, it.clamp_l, it.clamp_c);
    let o = shade(s, local, it.dest.zw, it.params, it.border_color);
    return o.rgb + c * (1.0 - o.a);
}

@compute @workgroup_size(8, 8)
fn cs_main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let w = frame.canvas.x;
    if (gid.x * 2u >= frame.lay.x || f32(gid.y * 2u) >= frame.canvas.y) {
        return;
    }
    // Block: pixels x0 .. x0+7 (clamped to the last column), rows y0, y0+1.
    let x0 = f32(gid.x * 8u);
    let y0 = f32(gid.y * 2u);
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
    write_block(gid.x, gid.y);
}
