//! Which compositor draws a session's frames: the wgpu renderer ([`crate::gpu`]) or the CPU
//! one ([`crate::soft`]). Both draw the same plans into the same I420 frames (the goldens
//! hold for both); they differ in cost.
//!
//! [`ComposeChoice::Auto`] (the default) takes the GPU renderer on a hardware adapter and the
//! CPU compositor when the only adapter is a software one (lavapipe): there the GPU path
//! costs 20–40 ms of CPU per 720p frame, the CPU compositor a few (docs/benchmarks.md).
//! `COMPOSITOR_COMPOSE=auto|gpu|cpu` overrides `Auto` for a process (benchmarks, debugging).
//!
//! Thread: the session thread owns its [`FrameRenderer`].

use std::collections::HashMap;
use std::sync::Arc;

use layouts::{FramePlan, Size};
use serde::{Deserialize, Serialize};

use crate::frame::{ColorMatrix, I420Frame};
use crate::gpu::{FrameSource, GpuContext, ImageAsset, RenderTimings, Renderer};
use crate::soft::SoftRenderer;

/// Where `item` lands for a source of `src` size, or None when nothing of it would be
/// visible on `canvas` (empty, transparent, or entirely outside). Both compositors skip
/// the same items.
pub(crate) fn visible_placement(
    item: &layouts::DrawItem,
    src: Size,
    canvas: Size,
) -> Option<layouts::Placement> {
    let place = item.place(src);
    let d = place.dest;
    if d.w == 0 || d.h == 0 || !item.opacity.is_finite() || item.opacity <= 0.0 {
        return None;
    }
    if d.x >= canvas.w as i32
        || d.y >= canvas.h as i32
        || d.x + d.w as i32 <= 0
        || d.y + d.h as i32 <= 0
    {
        return None;
    }
    Some(place)
}

/// Which compositor a session uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComposeChoice {
    /// GPU renderer on hardware adapters, CPU compositor on software ones (or the
    /// `COMPOSITOR_COMPOSE` environment variable).
    #[default]
    Auto,
    /// Always the wgpu renderer.
    Gpu,
    /// Always the CPU compositor.
    Cpu,
}

impl std::str::FromStr for ComposeChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(ComposeChoice::Auto),
            "gpu" => Ok(ComposeChoice::Gpu),
            "cpu" | "soft" => Ok(ComposeChoice::Cpu),
            other => Err(format!(
                "unknown compose choice {other:?}: use auto, gpu or cpu"
            )),
        }
    }
}

impl ComposeChoice {
    /// Resolves `Auto` for `gpu`'s adapter (and `COMPOSITOR_COMPOSE`): Gpu or Cpu.
    pub fn resolve(self, gpu: &GpuContext) -> Result<ComposeChoice, String> {
        let choice = match self {
            ComposeChoice::Auto => match std::env::var("COMPOSITOR_COMPOSE") {
                Ok(v) => v.parse()?,
                Err(_) => ComposeChoice::Auto,
            },
            c => c,
        };
        Ok(match choice {
            ComposeChoice::Auto if gpu.is_software() => ComposeChoice::Cpu,
            ComposeChoice::Auto => ComposeChoice::Gpu,
            c => c,
        })
    }
}

/// A session's compositor.
#[derive(Debug)]
pub enum FrameRenderer {
    /// The wgpu renderer.
    Gpu(Box<Renderer>),
    /// The CPU compositor.
    Cpu(Box<SoftRenderer>),
}

impl FrameRenderer {
    /// Builds the compositor `choice` resolves to for `canvas`.
    pub fn new(choice: ComposeChoice, gpu: Arc<GpuContext>, canvas: Size) -> Result<Self, String> {
        Ok(match choice.resolve(&gpu)? {
            ComposeChoice::Cpu => {
                tracing::info!(w = canvas.w, h = canvas.h, "composing on the CPU");
                FrameRenderer::Cpu(Box::new(SoftRenderer::new(canvas)))
            }
            _ => FrameRenderer::Gpu(Box::new(
                Renderer::new(gpu, canvas).map_err(|e| e.to_string())?,
            )),
        })
    }

    /// `"gpu"` or `"cpu"`.
    pub fn kind(&self) -> &'static str {
        match self {
            FrameRenderer::Gpu(_) => "gpu",
            FrameRenderer::Cpu(_) => "cpu",
        }
    }

    /// Renders `plan` into `out`.
    pub fn render(
        &mut self,
        plan: &FramePlan,
        frames: &dyn FrameSource,
        images: &HashMap<String, ImageAsset>,
        out: &mut I420Frame,
    ) -> Result<RenderTimings, String> {
        match self {
            FrameRenderer::Gpu(r) => r
                .render(plan, frames, images, out)
                .map_err(|e| e.to_string()),
            FrameRenderer::Cpu(r) => r
                .render(plan, frames, images, out)
                .map_err(|e| e.to_string()),
        }
    }

    /// Forgets a registered image's uploads.
    pub fn drop_image(&mut self, id: &str) {
        match self {
            FrameRenderer::Gpu(r) => r.drop_image(id),
            // Its layers are keyed by (id, generation) and dropped when a frame no longer
            // uses them: a re-registered image has a new generation, nothing stale is drawn.
            FrameRenderer::Cpu(_) => {}
        }
    }

    /// The matrix of the output I420.
    pub fn output_matrix(&self) -> ColorMatrix {
        match self {
            FrameRenderer::Gpu(r) => r.output_matrix(),
            FrameRenderer::Cpu(r) => r.output_matrix(),
        }
    }
}
