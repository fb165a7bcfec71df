//! The renderer contract: what a session's compositor is given each frame and what it
//! returns. Implemented by `compositor-render` (wgpu and CPU compositors) — the session only
//! sees [`FrameRenderer`].
//!
//! Thread: the session thread owns its renderer and calls it once per output frame. The
//! renderer borrows the input frames ([`FrameSource`]) and writes into the output frame the
//! session owns and reuses; it keeps its own uploads (textures, scaled layers) between frames.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use layouts::{FramePlan, Rgba, Size};
use serde::{Deserialize, Serialize};

use crate::frame::{ColorMatrix, I420Frame, VideoFrame};

/// Why a frame could not be drawn (the session counts it and keeps its clock).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{backend} render: {message}")]
pub struct RenderError {
    /// `"gpu"` or `"cpu"`.
    pub backend: &'static str,
    /// What failed.
    pub message: String,
}

/// A session's compositor: draws a [`FramePlan`] into an I420 frame.
pub trait FrameRenderer: Send + std::fmt::Debug {
    /// `"gpu"` or `"cpu"`.
    fn kind(&self) -> &'static str;
    /// Renders `plan` into `out`.
    fn render(
        &mut self,
        plan: &FramePlan,
        frames: &dyn FrameSource,
        images: &HashMap<String, ImageAsset>,
        out: &mut I420Frame,
    ) -> Result<RenderTimings, RenderError>;
    /// Forgets a registered image's uploads.
    fn drop_image(&mut self, _id: &str) {}
    /// The matrix of the output I420.
    fn output_matrix(&self) -> ColorMatrix;
}

/// Where `item` lands for a source of `src` size, or None when nothing of it would be
/// visible on `canvas` (empty, transparent, or entirely outside). Both compositors skip
/// the same items.
pub fn visible_placement(
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

/// Colour drawn for an input slot that has no picture (not joined yet, or stalled).
pub const PLACEHOLDER: Rgba = Rgba::new(40, 40, 48, 255);

/// Where the renderer finds input frames: `(frame, seq)` where `seq` changes whenever the
/// frame's content does.
pub trait FrameSource {
    /// The frame to show for `input`, if any.
    fn frame(&self, input: &str) -> Option<(&VideoFrame, u64)>;

    /// The registered image drawn for `input` while it has no frame (instead of the solid
    /// [`PLACEHOLDER`]); None = the solid placeholder. An id that is not registered falls
    /// back to the solid placeholder.
    fn placeholder_image(&self, _input: &str) -> Option<&str> {
        None
    }
}

impl FrameSource for HashMap<String, (VideoFrame, u64)> {
    fn frame(&self, input: &str) -> Option<(&VideoFrame, u64)> {
        self.get(input).map(|(f, s)| (f, *s))
    }
}

/// A decoded RGBA image registered with a session (straight alpha, video gamma).
#[derive(Debug, Clone)]
pub struct ImageAsset {
    /// Bumped when the id is registered again with new content.
    pub generation: u64,
    /// Pixels.
    pub rgba: Arc<image::RgbaImage>,
}

/// Time spent in each stage of one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RenderTimings {
    /// CPU copy of changed planes into the arena (+ GPU copy when split).
    pub upload: Duration,
    /// Drawing + conversion (only measured separately in split mode).
    pub draw: Duration,
    /// Readback wait + copy out.
    pub readback: Duration,
    /// Whole frame.
    pub total: Duration,
    /// Normal path: CPU writes into the staging arena.
    pub stage: Duration,
    /// Normal path: submission until the GPU has finished (copies, draw, convert, readback copy).
    pub gpu: Duration,
    /// Normal path: copying the mapped result into the output frame.
    pub copy_out: Duration,
    /// Input planes uploaded this frame.
    pub uploaded_inputs: u32,
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
    type Err = crate::Invalid;
    fn from_str(s: &str) -> Result<Self, crate::Invalid> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(ComposeChoice::Auto),
            "gpu" => Ok(ComposeChoice::Gpu),
            "cpu" | "soft" => Ok(ComposeChoice::Cpu),
            other => Err(crate::Invalid(format!(
                "unknown compose choice {other:?}: use auto, gpu or cpu"
            ))),
        }
    }
}
