//! `compositor bench render`: per-frame GPU render cost, split into upload / draw / readback,
//! for N inputs into one canvas. Figures are medians over the measured frames after warm-up;
//! every input gets a new frame every tick (all hosts live at full rate), so each frame pays
//! the full upload.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Result;
use layouts::{Layout, Scene, Size, Style};

use crate::synthetic::{PatternGen, SyntheticHost};
use compositor_core::frame::{ColorMatrix, I420Frame, VideoFrame};
use compositor_core::render::ComposeChoice;
use compositor_core::session::Fps;
use compositor_render::Gpus;
use compositor_render::gpu::{AdapterChoice, GpuContext, RenderTimings, Renderer};
use compositor_render::soft::SoftRenderer;

/// Options of the render benchmark.
#[derive(Debug, Clone)]
pub struct RenderBenchOptions {
    /// Input counts to measure.
    pub inputs: Vec<usize>,
    /// Input picture size.
    pub input_size: Size,
    /// Canvas size.
    pub canvas: Size,
    /// Measured frames per case.
    pub frames: usize,
    /// Warm-up frames per case.
    pub warmup: usize,
    /// Adapter.
    pub adapter: AdapterChoice,
    /// GPU renderer or CPU compositor (`Cpu`: only the whole-frame columns are filled).
    pub compose: ComposeChoice,
}

/// One case's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RenderBenchRow {
    /// Inputs.
    pub inputs: usize,
    /// Median upload, ms (split mode).
    pub upload_ms: f64,
    /// Median draw + convert, ms (split mode).
    pub draw_ms: f64,
    /// Median readback, ms (split mode).
    pub readback_ms: f64,
    /// Median whole frame in the normal (single submission) path, ms.
    pub total_ms: f64,
    /// 99th percentile of the normal path, ms.
    pub total_p99_ms: f64,
    /// Normal path, median CPU staging (writing changed planes + item data), ms.
    pub stage_ms: f64,
    /// Normal path, median submit-to-done GPU time incl. transfers, ms.
    pub gpu_ms: f64,
    /// Normal path, median copy of the result into the output frame, ms.
    pub copy_out_ms: f64,
}

fn median(v: &mut [Duration]) -> f64 {
    percentile(v, 0.5)
}

fn percentile(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i].as_secs_f64() * 1e3
}

/// Runs the benchmark, printing a table to stdout.
pub fn run_render(opts: &RenderBenchOptions) -> Result<Vec<RenderBenchRow>> {
    let gpus = Gpus::from(GpuContext::shared(opts.adapter)?);
    let ctx = gpus.context()?;
    println!(
        "adapter: {} ({:?}, {}), inputs {}x{} -> canvas {}x{}, {} frames after {} warm-up",
        ctx.info.name,
        ctx.info.backend,
        if ctx.is_software() {
            "software"
        } else {
            "hardware"
        },
        opts.input_size.w,
        opts.input_size.h,
        opts.canvas.w,
        opts.canvas.h,
        opts.frames,
        opts.warmup
    );
    println!(
        "{:>6} | split: {:>9} {:>8} {:>11} | normal path: {:>8} {:>7} {:>8} {:>9} {:>7}",
        "inputs", "upload", "draw", "readback", "stage", "gpu", "copy-out", "total", "p99"
    );
    let mut rows = Vec::new();
    for &n in &opts.inputs {
        let ids: Vec<String> = (0..n).map(|i| format!("in{i}")).collect();
        let scene = Scene {
            layout: Layout::Grid {
                inputs: ids.clone(),
                tile_aspect: (16, 9),
            },
            style: Style::default(),
            background: Default::default(),
            overlays: vec![],
            name_tags: None,
        };
        let plan = layouts::plan(&scene, opts.canvas)?;
        let soft = gpus.resolve(opts.compose)? == ComposeChoice::Cpu;
        let mut renderer = Renderer::new(ctx.clone(), opts.canvas)?;
        let mut cpu = SoftRenderer::new(opts.canvas);
        let host = SyntheticHost {
            width: opts.input_size.w,
            height: opts.input_size.h,
            fps: Fps::new(30, 1),
            ..SyntheticHost::new((200, 100, 50), 440.0)
        };
        let mut pattern = PatternGen::new(&host);
        let variants: Vec<VideoFrame> = (0..2)
            .map(|i| pattern.frame(Duration::from_millis(100 * i)))
            .collect::<Result<_, _>>()?;
        let mut frames: HashMap<String, (VideoFrame, u64)> = HashMap::new();
        let mut out = I420Frame::black(opts.canvas.w, opts.canvas.h)?;
        let images = HashMap::new();
        let mut seq = 0u64;
        let mut split: Vec<RenderTimings> = Vec::new();
        let mut totals: Vec<Duration> = Vec::new();
        let mut normal: Vec<RenderTimings> = Vec::new();
        for pass in 0..2 {
            for f in 0..opts.warmup + opts.frames {
                for id in &ids {
                    seq += 1;
                    let mut v = variants[f % 2].clone();
                    v.matrix = ColorMatrix::Bt709;
                    frames.insert(id.clone(), (v, seq));
                }
                let t = if soft {
                    cpu.render(&plan, &frames, &images, &mut out)?
                } else if pass == 0 {
                    renderer.render_split(&plan, &frames, &images, &mut out)?
                } else {
                    renderer.render(&plan, &frames, &images, &mut out)?
                };
                if f >= opts.warmup {
                    if pass == 0 {
                        split.push(t)
                    } else {
                        totals.push(t.total);
                        normal.push(t);
                    }
                }
            }
        }
        let mut up: Vec<Duration> = split.iter().map(|t| t.upload).collect();
        let mut dr: Vec<Duration> = split.iter().map(|t| t.draw).collect();
        let mut rb: Vec<Duration> = split.iter().map(|t| t.readback).collect();
        let row = RenderBenchRow {
            inputs: n,
            upload_ms: median(&mut up),
            draw_ms: median(&mut dr),
            readback_ms: median(&mut rb),
            total_ms: median(&mut totals.clone()),
            total_p99_ms: percentile(&mut totals, 0.99),
            stage_ms: median(&mut normal.iter().map(|t| t.stage).collect::<Vec<_>>()),
            gpu_ms: median(&mut normal.iter().map(|t| t.gpu).collect::<Vec<_>>()),
            copy_out_ms: median(&mut normal.iter().map(|t| t.copy_out).collect::<Vec<_>>()),
        };
        println!(
            "{:>6} | split: {:>9.3} {:>8.3} {:>11.3} | normal path: {:>8.3} {:>7.3} {:>8.3} {:>9.3} {:>7.3}",
            row.inputs,
            row.upload_ms,
            row.draw_ms,
            row.readback_ms,
            row.stage_ms,
            row.gpu_ms,
            row.copy_out_ms,
            row.total_ms,
            row.total_p99_ms
        );
        rows.push(row);
    }
    Ok(rows)
}
