//! Where decoded media leaves ingest: stamps the session time and sends into the slot.
//!
//! Runs on GStreamer's streaming threads (the appsink callbacks). Each decoded unit arrives
//! with its [`MediaTiming`] (RTP time, clock rate, arrival instant, latest sender report);
//! today the session time is arrival-based: `pts = session.session_time(timing.arrival)`
//! (+ the unit's offset inside the packet for audio). Timestamp alignment replaces exactly
//! this function with a playout-time mapping; the timing is dropped after the push.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::stats::PeerCounters;
use super::timing::MediaTiming;
use crate::frame::{AudioBlock, VideoFrame};
use crate::session::{InputClosed, InputSender, SessionHandle};

/// A decoded picture and how it maps to the sender's clock.
#[derive(Debug, Clone)]
pub struct DecodedVideo {
    /// The picture (its `pts` is set on delivery).
    pub frame: VideoFrame,
    /// RTP/arrival/sender-report timing of the frame.
    pub timing: MediaTiming,
}

/// Decoded sound and how it maps to the sender's clock.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    /// The samples (its `pts` is set on delivery).
    pub block: AudioBlock,
    /// Timing of the RTP packet the block starts in.
    pub timing: MediaTiming,
    /// Where the block starts after that packet's first sample.
    pub offset: Duration,
}

/// The slot a host's decoders feed, with its counters.
#[derive(Debug)]
pub struct Delivery {
    sender: InputSender,
    session: SessionHandle,
    counters: Arc<PeerCounters>,
}

impl Delivery {
    /// Delivery into `sender`, on `session`'s clock.
    pub fn new(sender: InputSender, session: SessionHandle, counters: Arc<PeerCounters>) -> Self {
        Self {
            sender,
            session,
            counters,
        }
    }

    /// Sends a picture; `Err` when the slot is gone.
    pub fn video(&self, mut v: DecodedVideo) -> Result<(), InputClosed> {
        v.frame.pts = self.session.session_time(v.timing.arrival);
        let c = &self.counters;
        c.frames_decoded.fetch_add(1, Ordering::Relaxed);
        c.width.store(v.frame.image.width(), Ordering::Relaxed);
        c.height.store(v.frame.image.height(), Ordering::Relaxed);
        self.sender.send_video(v.frame)
    }

    /// Sends sound; `Err` when the slot is gone.
    pub fn audio(&self, mut a: DecodedAudio) -> Result<(), InputClosed> {
        a.block.pts = self.session.session_time(a.timing.arrival) + a.offset;
        self.counters.audio_blocks.fetch_add(1, Ordering::Relaxed);
        self.sender.send_audio(a.block)
    }
}
