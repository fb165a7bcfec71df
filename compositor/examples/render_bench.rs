//! The render benchmark without the rest of the CLI: links no GStreamer symbols, so it runs on
//! machines that have a GPU but no GStreamer (used for the H100 figures in docs/benchmarks/render.md).
//!
//! `cargo run --release -p compositor --example render_bench -- [inputs] [canvas WxH] [frames]`

use compositor_devkit::bench::{RenderBenchOptions, run_render};
use compositor_render::gpu::AdapterChoice;
use layouts::Size;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let inputs = args.get(1).map(String::as_str).unwrap_or("2,4,9,16");
    let canvas = args.get(2).map(String::as_str).unwrap_or("1920x1080");
    let frames = args.get(3).and_then(|f| f.parse().ok()).unwrap_or(200);
    let (w, h) = canvas
        .split_once('x')
        .ok_or_else(|| anyhow::anyhow!("canvas WxH"))?;
    let opts = RenderBenchOptions {
        inputs: inputs
            .split(',')
            .map(|s| s.parse())
            .collect::<Result<_, _>>()?,
        input_size: Size::new(1280, 720),
        canvas: Size::new(w.parse()?, h.parse()?),
        frames,
        warmup: 20,
        adapter: AdapterChoice::Auto,
        // The GPU renderer unless COMPOSITOR_COMPOSE says otherwise (auto: cpu on lavapipe).
        compose: match std::env::var("COMPOSITOR_COMPOSE") {
            Ok(v) => v.parse().map_err(anyhow::Error::msg)?,
            Err(_) => compositor_core::render::ComposeChoice::Gpu,
        },
    };
    run_render(&opts)?;
    Ok(())
}
