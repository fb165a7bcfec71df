//! Where decoded media leaves ingest: each unit goes into its slot with its timing, and the
//! session thread places it ([`compositor_core::session::TimedUnit`]; the aligner, the
//! implausible-mapping fallback and the added-latency probe run there).
//!
//! Runs on GStreamer's streaming threads (the appsink callbacks). Each decoded unit arrives
//! with its [`MediaTiming`] (RTP time, clock rate, arrival instants, latest sender report,
//! abs-capture-time); [`Delivery`] turns it into an [`compositor_core::align::MediaUnit`] and
//! sends it: one bounded-channel send per unit, no lock, no allocation. The unit's arrival for
//! the aligner is its *first* packet's (`timing.arrival`): the last packet of a multi-packet
//! frame carries the frame's transmission time and, behind a jittery queue, the worst of its
//! packets' delays, which makes the per-host minimum-transit line (the sender-clock mapping)
//! wander by milliseconds. `timing.completed` (the UDP loop turn that handled the last
//! packet) is what the added latency is measured from.
//!
//! Audio: a decoded block may start inside a packet (`offset`); its RTP time is the packet's
//! plus the offset in clock-rate units, so each block is aligned on its own first sample.
//!
//! SSRC: str0m does not expose the SSRC per `MediaData`; each [`Delivery`] (one per WHIP
//! resource, i.e. per connection) draws a fresh stream id, so a reconnect is a new stream for
//! the aligner (RTP unwrapping and offsets restart) while both tracks keep sharing their
//! host's sender clock. The timing is dropped after the push.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use super::stats::PeerCounters;
use super::timing::MediaTiming;
use compositor_core::align::{MediaUnit, SenderReport};
use compositor_core::frame::{AudioBlock, VideoFrame};
use compositor_core::session::{InputClosed, InputSender, SessionHandle, TimedMedia, TimedUnit};

static NEXT_STREAM: AtomicU32 = AtomicU32::new(1);

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
    /// Stream id of this connection (video = 2n, audio = 2n + 1).
    stream: u32,
}

/// The aligner's view of one unit: 32-bit wire RTP time, arrival on the session clock,
/// sender report and abs-capture-time as durations since the Unix epoch, ready = now (the
/// unit is decoded; its processing time counts in the budget).
pub fn media_unit(
    timing: &MediaTiming,
    ssrc: u32,
    offset: Duration,
    session: &SessionHandle,
) -> MediaUnit {
    let rate = u128::from(timing.clock_rate);
    let extra = (offset.as_nanos() * rate / 1_000_000_000) as u64;
    MediaUnit {
        ssrc,
        rtp_ts: timing.rtp_time.wrapping_add(extra) as u32,
        clock_rate: timing.clock_rate,
        arrival: session.session_time(timing.arrival),
        sender_report: timing.sender_report.and_then(|s| {
            Some(SenderReport {
                ntp: s.ntp_time.duration_since(UNIX_EPOCH).ok()?,
                rtp_ts: s.rtp_time as u32,
            })
        }),
        abs_capture_time: timing
            .abs_capture_time
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok()),
        // Called when the unit has been decoded and is about to be handed to the slot.
        ready: Some(session.session_time(std::time::Instant::now())),
    }
}

impl Delivery {
    /// Delivery into `sender`, on `session`'s clock.
    pub fn new(sender: InputSender, session: SessionHandle, counters: Arc<PeerCounters>) -> Self {
        let stream = NEXT_STREAM.fetch_add(1, Ordering::Relaxed);
        Self {
            sender,
            session,
            counters,
            stream: stream.wrapping_mul(2),
        }
    }

    /// Sends a picture; `Err` when the slot is gone.
    pub fn video(&self, v: DecodedVideo) -> Result<(), InputClosed> {
        let unit = media_unit(&v.timing, self.stream, Duration::ZERO, &self.session);
        let c = &self.counters;
        c.frames_decoded.fetch_add(1, Ordering::Relaxed);
        c.width.store(v.frame.image.width(), Ordering::Relaxed);
        c.height.store(v.frame.image.height(), Ordering::Relaxed);
        self.sender.send_timed(TimedUnit {
            unit,
            completed: Some(v.timing.completed),
            media: TimedMedia::Video(v.frame),
        })
    }

    /// Sends sound; `Err` when the slot is gone.
    pub fn audio(&self, a: DecodedAudio) -> Result<(), InputClosed> {
        let ssrc = self.stream.wrapping_add(1);
        let unit = media_unit(&a.timing, ssrc, a.offset, &self.session);
        self.counters.audio_blocks.fetch_add(1, Ordering::Relaxed);
        self.sender.send_timed(TimedUnit {
            unit,
            completed: Some(a.timing.completed),
            media: TimedMedia::Audio {
                block: a.block,
                offset: a.offset,
            },
        })
    }
}
