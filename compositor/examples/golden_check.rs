//! Renders the golden cases on this machine's adapter and prints the PSNR against
//! fixtures/golden (no GStreamer needed; used to check the threshold on real GPUs).

use compositor_devkit::testkit::{
    GOLDEN_MIN_PSNR_DB, golden_dir, load_golden, psnr, render_goldens,
};
use compositor_render::gpu::{AdapterChoice, GpuContext};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(golden_dir);
    let ctx = GpuContext::shared(AdapterChoice::Auto)?;
    println!("adapter: {}", ctx.info.name);
    let mut worst = f64::INFINITY;
    for (name, img) in render_goldens(ctx)? {
        let db = psnr(&img, &load_golden(&dir, &name).map_err(anyhow::Error::msg)?);
        worst = worst.min(db);
        println!("{name}: PSNR {db:.1} dB");
    }
    println!(
        "worst {worst:.1} dB (threshold {GOLDEN_MIN_PSNR_DB} dB): {}",
        if worst >= GOLDEN_MIN_PSNR_DB {
            "PASS"
        } else {
            "FAIL"
        }
    );
    Ok(())
}
