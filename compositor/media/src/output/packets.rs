//! Destinations that take encoded packets themselves instead of through a GStreamer mux
//! pipeline — WHIP egress (`compositor-webrtc`). The hub's worker hands such a destination a
//! [`PacketLink`] to its output's queue and runs it on the output's own thread; this keeps
//! GStreamer-free protocol stacks out of this crate and this crate out of theirs.
//!
//! Invariants: packets come out in queue order, data borrowed for the call only (no copy);
//! pts are on the session clock. A destination returns when the output is stopping
//! ([`PacketLink::stopping`]) or fails; a [`DestinationError`] says whether a retry may help.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use compositor_core::session::SessionEvent;
use gstreamer as gst;
use tracing::info;

use super::encode::Encode;
pub use super::encode::MediaKind;
use super::shared::OutputShared;
use super::{OutputState, OutputTarget, VideoCodec};

/// Why a packet destination stopped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DestinationError {
    /// What failed (never a secret).
    pub message: String,
    /// Whether reconnecting may help (network, peer) or not (bad URL, refused codec).
    pub retryable: bool,
}

impl DestinationError {
    /// A failure worth retrying after the back-off.
    pub fn retry(message: impl Into<String>) -> Self {
        DestinationError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure retrying cannot mend.
    pub fn fatal(message: impl Into<String>) -> Self {
        DestinationError {
            message: message.into(),
            retryable: false,
        }
    }
}

/// One encoded packet, borrowed from the output's queue.
#[derive(Debug, Clone, Copy)]
pub struct PacketView<'a> {
    /// Video or audio.
    pub kind: MediaKind,
    /// A keyframe (always true for audio).
    pub keyframe: bool,
    /// Presentation time on the session clock (None: the encoder gave none).
    pub pts: Option<Duration>,
    /// The encoded bytes (H.264 byte-stream, VP8 frame or Opus packet).
    pub data: &'a [u8],
}

/// A destination the hub runs for targets its pipelines do not serve (WHIP).
pub trait PacketDestination: Send + Sync + std::fmt::Debug {
    /// Whether it serves `target`.
    fn serves(&self, target: &OutputTarget) -> bool;
    /// Publishes until the output stops (`Ok`) or fails. `attempt` counts failed attempts
    /// since the last connection: reset it to 0 when connected.
    fn run(
        &self,
        target: &OutputTarget,
        link: &PacketLink<'_>,
        attempt: &mut u32,
    ) -> Result<(), DestinationError>;
}

/// A packet destination's view of its output: the queue, the encode, state and counters.
pub struct PacketLink<'a> {
    pub(crate) shared: &'a OutputShared,
    pub(crate) encode: &'a Arc<Encode>,
}

impl PacketLink<'_> {
    /// The output's id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The codec the encode makes.
    pub fn codec(&self) -> VideoCodec {
        self.encode.settings.codec
    }

    /// Asks the encode for a keyframe.
    pub fn request_keyframe(&self) {
        self.encode.request_keyframe();
    }

    /// True once the hub asked the output to stop.
    pub fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire)
    }

    /// Marks the output connected (state, event, log).
    pub fn set_connected(&self) {
        *self.shared.state.lock().unwrap_or_else(|e| e.into_inner()) = OutputState::Connected;
        self.shared.events.push(SessionEvent::OutputConnected {
            id: self.shared.id.clone(),
        });
        info!(output = %self.shared.id, "output connected");
    }

    /// Hands every packet queued now to `f` with whether a gap (dropped packets) came
    /// before it; a packet for which `f` returns `Ok(true)` counts as sent.
    pub fn drain(
        &self,
        mut f: impl FnMut(PacketView<'_>, bool) -> Result<bool, DestinationError>,
    ) -> Result<(), DestinationError> {
        while let Some((packet, gap)) = self.shared.queue.pop_timeout(Duration::ZERO) {
            let map = packet
                .buffer
                .map_readable()
                .map_err(|e| DestinationError::retry(format!("buffer: {e}")))?;
            let view = PacketView {
                kind: packet.kind,
                keyframe: packet.keyframe,
                pts: packet.buffer.pts().map(gst::ClockTime::into),
                data: map.as_slice(),
            };
            if f(view, gap)? {
                self.shared
                    .bytes
                    .fetch_add(view.data.len() as u64, Ordering::Relaxed);
                self.shared.buffers.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}
