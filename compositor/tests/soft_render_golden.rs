//! The CPU compositor (`compositor_render::soft`) draws the same pictures as the GPU renderer: every
//! preset and the transition midpoint, compared by PSNR with the goldens the GPU path made
//! (fixtures/golden). A failure writes actual, expected and diff images and names them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use compositor_devkit::testkit::{
    GOLDEN_CASES, compare_with_goldens, golden_dir, render_goldens_soft,
};

#[test]
fn cpu_compositor_matches_the_gpu_goldens() {
    let rendered = render_goldens_soft().unwrap();
    assert_eq!(
        rendered.len(),
        GOLDEN_CASES,
        "presets, transition midpoint, PK phases, tags"
    );
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("soft-golden");
    let failures = compare_with_goldens(&rendered, &golden_dir(), &out).unwrap();
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}
