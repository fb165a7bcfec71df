//! The CPU compositor (`compositor::soft`) draws the same pictures as the GPU renderer: every
//! preset and the transition midpoint, compared by PSNR with the goldens the GPU path made
//! (fixtures/golden). A failure writes actual, expected and diff images and names them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use compositor::testkit::{
    GOLDEN_MIN_PSNR_DB, diff_image, golden_dir, load_golden, psnr, render_goldens_soft,
};

#[test]
fn cpu_compositor_matches_the_gpu_goldens() {
    let rendered = render_goldens_soft().unwrap();
    assert_eq!(rendered.len(), 7, "six presets and the transition midpoint");
    let dir = golden_dir();
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("soft-golden");
    std::fs::create_dir_all(&out).unwrap();
    let mut failures = Vec::new();
    for (name, actual) in &rendered {
        let expected = load_golden(&dir, name).unwrap();
        let db = psnr(actual, &expected);
        eprintln!("{name}: PSNR {db:.1} dB");
        let a = out.join(format!("{name}-actual.png"));
        actual.save(&a).unwrap();
        if db < GOLDEN_MIN_PSNR_DB {
            let e = out.join(format!("{name}-expected.png"));
            let d = out.join(format!("{name}-diff.png"));
            expected.save(&e).unwrap();
            diff_image(actual, &expected).save(&d).unwrap();
            failures.push(format!(
                "{name}: {db:.1} dB < {GOLDEN_MIN_PSNR_DB} dB; see {} {} {}",
                a.display(),
                e.display(),
                d.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}
