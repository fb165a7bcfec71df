//! Where a session sends its composed picture and mixed sound: the [`OutputSink`] contract,
//! implemented by `compositor-media` (the output hub, the file encoder), the server's preview
//! tap and tests.
//!
//! Thread: the session thread calls the sink. A real-time sink never blocks it: over its
//! bound it drops (counted, logged); an offline sink may block (backpressure, nothing lost).
//! The sink borrows each frame; the session owns and reuses it.

use std::time::Duration;

use crate::frame::I420Frame;

/// Failures of an output.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// GStreamer could not be initialised or an element is missing.
    #[error("GStreamer set-up failed: {0}")]
    Setup(String),
    /// The pipeline reported an error.
    #[error("pipeline error from {element}: {message} ({debug})")]
    Pipeline {
        /// Element that failed.
        element: String,
        /// Its message.
        message: String,
        /// Debug detail.
        debug: String,
    },
    /// Pushing data failed (pipeline stopped).
    #[error("output stopped: {0}")]
    Flow(String),
    /// Finishing timed out.
    #[error("output did not finish within {0:?}")]
    Timeout(Duration),
}

/// Counters of one sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Video frames accepted.
    pub video_frames: u64,
    /// Video frames dropped because the encoder queue was full.
    pub video_dropped: u64,
    /// Audio blocks accepted.
    pub audio_blocks: u64,
    /// Audio blocks dropped because the encoder queue was full.
    pub audio_dropped: u64,
}

/// Where a session sends its composed picture and mixed sound.
pub trait OutputSink: Send {
    /// One composed frame. `pts` on the session clock; `duration` one frame.
    fn push_video(
        &mut self,
        frame: &I420Frame,
        pts: Duration,
        duration: Duration,
    ) -> Result<(), OutputError>;
    /// One mixed block, interleaved f32 at the session's mix rate and channels.
    fn push_audio(&mut self, samples: &[f32], pts: Duration) -> Result<(), OutputError>;
    /// Drains and closes (files finalised). Idempotent.
    fn finish(&mut self) -> Result<(), OutputError>;
    /// Counters.
    fn stats(&self) -> SinkStats;
}

/// A sink that keeps nothing (benchmarks, tests of the engine alone).
#[derive(Debug, Default)]
pub struct NullSink {
    stats: SinkStats,
}

impl OutputSink for NullSink {
    fn push_video(&mut self, _: &I420Frame, _: Duration, _: Duration) -> Result<(), OutputError> {
        self.stats.video_frames += 1;
        Ok(())
    }
    fn push_audio(&mut self, _: &[f32], _: Duration) -> Result<(), OutputError> {
        self.stats.audio_blocks += 1;
        Ok(())
    }
    fn finish(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn stats(&self) -> SinkStats {
        self.stats
    }
}
