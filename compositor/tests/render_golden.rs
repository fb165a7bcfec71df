//! Render snapshot tests: every preset and a transition midpoint, rendered on whatever adapter
//! this machine has (lavapipe in CI), compared by PSNR with the PNGs in fixtures/golden.
//! A failure writes actual, expected and diff images next to the test output and names them.
//! `UPDATE_GOLDEN=1 cargo test -p compositor --test render_golden` rewrites the goldens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use compositor_devkit::testkit::{
    GOLDEN_CASES, GOLDEN_MIN_PSNR_DB, compare_with_goldens, golden_dir, load_golden, psnr,
    render_goldens, save_golden,
};
use compositor_render::gpu::{AdapterChoice, GpuContext, GpuOptions, RenderPath};

#[test]
fn presets_and_transition_match_goldens() {
    let ctx = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let rendered = render_goldens(ctx).unwrap();
    assert_eq!(
        rendered.len(),
        GOLDEN_CASES,
        "presets, transition midpoint, PK phases, tags"
    );
    let dir = golden_dir();
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        for (name, img) in &rendered {
            save_golden(img, &dir.join(format!("{name}.png"))).unwrap();
        }
        eprintln!("goldens rewritten in {}", dir.display());
        return;
    }
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden");
    let failures = compare_with_goldens(&rendered, &dir, &out).unwrap();
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn both_render_paths_agree_with_the_goldens() {
    // The compute path serves hardware GPUs and the raster path the software adapter; run the
    // other one here too so CI covers both shaders on any machine.
    for path in [RenderPath::Compute, RenderPath::Raster] {
        let ctx = Arc::new(
            GpuContext::new(GpuOptions {
                render_path: Some(path),
                ..GpuOptions::default()
            })
            .unwrap(),
        );
        let dir = golden_dir();
        for (name, actual) in render_goldens(ctx).unwrap() {
            let db = psnr(&actual, &load_golden(&dir, &name).unwrap());
            assert!(
                db >= GOLDEN_MIN_PSNR_DB,
                "{path:?} path, {name}: {db:.1} dB"
            );
        }
    }
}

#[test]
fn psnr_detects_a_two_pixel_shift() {
    // The threshold must catch a misplaced tile: shift a golden by 2 px and compare.
    let dir = golden_dir();
    let g = load_golden(&dir, "grid4").unwrap();
    let shifted = image::RgbImage::from_fn(g.width(), g.height(), |x, y| {
        *g.get_pixel(x.saturating_sub(2), y)
    });
    let db = psnr(&g, &shifted);
    assert!(
        db < GOLDEN_MIN_PSNR_DB,
        "a 2 px shift scores {db:.1} dB, not below the threshold"
    );
}
