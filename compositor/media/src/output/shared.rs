//! What an output's worker, the hub and the control API share about one output: its queue,
//! state and counters, and the pipeline running now. The worker alone drives the pipeline;
//! the hub only reads the state and may set it to `Null` to unblock a stuck push on removal.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use compositor_core::session::EventLog;
use gstreamer as gst;

use super::encode::OutputQueue;
use super::{OutputCounters, OutputState, OutputTarget};

/// State shared between an output's worker, the hub and the control API.
pub(crate) struct OutputShared {
    /// Output id.
    pub id: String,
    /// Destination (holds secrets: never log it whole).
    pub target: OutputTarget,
    /// Its queue (the encode pushes into it).
    pub queue: OutputQueue,
    /// Where it stands.
    pub state: Mutex<OutputState>,
    /// Bytes handed to the pipeline.
    pub bytes: AtomicU64,
    /// Buffers handed to the pipeline.
    pub buffers: AtomicU64,
    /// Reconnect attempts.
    pub reconnects: AtomicU64,
    /// Set by the hub to stop (after draining what is queued).
    pub stop: AtomicBool,
    /// The pipeline running now, if any.
    pub current: Mutex<Option<gst::Pipeline>>,
    /// The session's events.
    pub events: Arc<EventLog>,
}

impl OutputShared {
    /// Counters now.
    pub(crate) fn counters(&self) -> OutputCounters {
        OutputCounters {
            bytes: self.bytes.load(Ordering::Relaxed),
            buffers: self.buffers.load(Ordering::Relaxed),
            dropped: self.queue.dropped(),
            reconnects: self.reconnects.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn set_state(&self, s: OutputState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = s;
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}
