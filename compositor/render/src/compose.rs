//! Which compositor draws a session's frames: the wgpu renderer ([`crate::gpu`]) or the CPU
//! one ([`crate::soft`]). Both draw the same plans into the same I420 frames (the goldens
//! hold for both); they differ in cost.
//!
//! [`ComposeChoice::Auto`] (the default) takes the GPU renderer on a hardware adapter and the
//! CPU compositor when the only adapter is a software one (lavapipe): there the GPU path
//! costs 20–40 ms of CPU per 720p frame, the CPU compositor a few (docs/benchmarks/).
//! [`Gpus::compose_override`] replaces `Auto` for a process (the binary sets it from
//! `COMPOSITOR_COMPOSE`). A session composing on the CPU never opens a wgpu device.
//!
//! Thread: [`Gpus`] is shared; the session thread owns the renderer it builds.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use compositor_core::frame::{ColorMatrix, I420Frame};
use compositor_core::render::{
    ComposeChoice, FrameRenderer, FrameSource, ImageAsset, RenderError, RenderTimings,
};
use compositor_core::session::{Session, SessionConfig, SessionError};
use compositor_core::sink::OutputSink;
use layouts::{FramePlan, Size};

use crate::gpu::{GpuContext, GpuError, GpuOptions, Renderer};
use crate::soft::SoftRenderer;

/// Where sessions' compositors come from: the wgpu device (opened on first need, then
/// shared by every session) and the process-wide compose override.
#[derive(Debug, Clone, Default)]
pub struct Gpus {
    options: GpuOptions,
    ctx: Arc<OnceLock<Arc<GpuContext>>>,
    /// Replaces [`ComposeChoice::Auto`] in every session (None = decide by the adapter).
    pub compose_override: Option<ComposeChoice>,
}

impl From<Arc<GpuContext>> for Gpus {
    fn from(ctx: Arc<GpuContext>) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(ctx);
        Gpus {
            options: GpuOptions::default(),
            ctx: Arc::new(cell),
            compose_override: None,
        }
    }
}

impl Gpus {
    /// Opens the device with `options` when a session first needs it.
    pub fn lazy(options: GpuOptions) -> Self {
        Gpus {
            options,
            ..Gpus::default()
        }
    }

    /// The device, opened now if it was not (the process-wide one, [`GpuContext::shared`]).
    pub fn context(&self) -> Result<Arc<GpuContext>, GpuError> {
        if let Some(c) = self.ctx.get() {
            return Ok(c.clone());
        }
        let c = GpuContext::shared(self.options)?;
        Ok(self.ctx.get_or_init(|| c).clone())
    }

    /// The device, if it is open.
    pub fn opened(&self) -> Option<Arc<GpuContext>> {
        self.ctx.get().cloned()
    }

    /// Resolves `Auto` (after the override): Cpu on a software adapter, else Gpu.
    pub fn resolve(&self, choice: ComposeChoice) -> Result<ComposeChoice, GpuError> {
        let choice = match choice {
            ComposeChoice::Auto => self.compose_override.unwrap_or(ComposeChoice::Auto),
            c => c,
        };
        Ok(match choice {
            ComposeChoice::Auto if self.context()?.is_software() => ComposeChoice::Cpu,
            ComposeChoice::Auto => ComposeChoice::Gpu,
            c => c,
        })
    }

    /// Builds the compositor `choice` resolves to for `canvas`.
    pub fn renderer(
        &self,
        choice: ComposeChoice,
        canvas: Size,
    ) -> Result<Box<dyn FrameRenderer>, GpuError> {
        Ok(match self.resolve(choice)? {
            ComposeChoice::Cpu => {
                tracing::info!(w = canvas.w, h = canvas.h, "composing on the CPU");
                Box::new(SoftRenderer::new(canvas))
            }
            _ => Box::new(Renderer::new(self.context()?, canvas)?),
        })
    }
}

/// Starts a session whose compositor is built from `gpus` for its config
/// ([`Session::start`] with [`Gpus::renderer`]).
pub fn start_session(
    config: SessionConfig,
    gpus: impl Into<Gpus>,
    sink: Box<dyn OutputSink>,
) -> Result<Session, SessionError> {
    let renderer = gpus
        .into()
        .renderer(config.compose, config.canvas)
        .map_err(|e| SessionError::Render(e.to_string()))?;
    Session::start(config, renderer, sink)
}

fn render_error(backend: &'static str, e: impl std::fmt::Display) -> RenderError {
    RenderError {
        backend,
        message: e.to_string(),
    }
}

impl FrameRenderer for Renderer {
    fn kind(&self) -> &'static str {
        "gpu"
    }
    fn render(
        &mut self,
        plan: &FramePlan,
        frames: &dyn FrameSource,
        images: &HashMap<String, ImageAsset>,
        out: &mut I420Frame,
    ) -> Result<RenderTimings, RenderError> {
        Renderer::render(self, plan, frames, images, out).map_err(|e| render_error("gpu", e))
    }
    fn drop_image(&mut self, id: &str) {
        Renderer::drop_image(self, id)
    }
    fn output_matrix(&self) -> ColorMatrix {
        Renderer::output_matrix(self)
    }
}

impl FrameRenderer for SoftRenderer {
    fn kind(&self) -> &'static str {
        "cpu"
    }
    fn render(
        &mut self,
        plan: &FramePlan,
        frames: &dyn FrameSource,
        images: &HashMap<String, ImageAsset>,
        out: &mut I420Frame,
    ) -> Result<RenderTimings, RenderError> {
        // Its layers are keyed by (id, generation) and dropped when a frame no longer uses
        // them: a re-registered image has a new generation, nothing stale is drawn, so the
        // default no-op `drop_image` is right.
        SoftRenderer::render(self, plan, frames, images, out).map_err(|e| render_error("cpu", e))
    }
    fn output_matrix(&self) -> ColorMatrix {
        SoftRenderer::output_matrix(self)
    }
}
