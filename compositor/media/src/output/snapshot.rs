//! A sink wrapper that saves chosen output frames as PNG (demo, debugging), passing
//! everything through to the wrapped sink.

use std::path::PathBuf;
use std::time::Duration;

use super::{OutputError, OutputSink, SinkStats};
use compositor_core::frame::{ColorMatrix, I420Frame};

/// Saves the first frame at or after each requested time.
pub struct SnapshotTap {
    inner: Box<dyn OutputSink>,
    wanted: Vec<(Duration, PathBuf)>,
    matrix: ColorMatrix,
    written: Vec<PathBuf>,
}

impl std::fmt::Debug for SnapshotTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SnapshotTap({:?})", self.wanted)
    }
}

impl SnapshotTap {
    /// Wraps `inner`; `wanted` lists (session time, PNG path).
    pub fn new(
        inner: Box<dyn OutputSink>,
        mut wanted: Vec<(Duration, PathBuf)>,
        matrix: ColorMatrix,
    ) -> Self {
        wanted.sort_by_key(|w| w.0);
        Self {
            inner,
            wanted,
            matrix,
            written: Vec::new(),
        }
    }
}

/// Writes an I420 frame as an RGB PNG.
pub fn save_png(
    frame: &I420Frame,
    matrix: ColorMatrix,
    path: &std::path::Path,
) -> Result<(), image::ImageError> {
    let rgb = frame.to_rgb(matrix);
    let img = image::RgbImage::from_raw(frame.width(), frame.height(), rgb).ok_or_else(|| {
        image::ImageError::Parameter(image::error::ParameterError::from_kind(
            image::error::ParameterErrorKind::DimensionMismatch,
        ))
    })?;
    img.save(path)
}

impl OutputSink for SnapshotTap {
    fn push_video(
        &mut self,
        frame: &I420Frame,
        pts: Duration,
        duration: Duration,
    ) -> Result<(), OutputError> {
        while self.wanted.first().is_some_and(|(t, _)| *t <= pts) {
            let (_, path) = self.wanted.remove(0);
            match save_png(frame, self.matrix, &path) {
                Ok(()) => self.written.push(path),
                Err(e) => tracing::warn!(error = %e, "snapshot failed"),
            }
        }
        self.inner.push_video(frame, pts, duration)
    }
    fn push_audio(&mut self, samples: &[f32], pts: Duration) -> Result<(), OutputError> {
        self.inner.push_audio(samples, pts)
    }
    fn finish(&mut self) -> Result<(), OutputError> {
        self.inner.finish()
    }
    fn stats(&self) -> SinkStats {
        self.inner.stats()
    }
}
