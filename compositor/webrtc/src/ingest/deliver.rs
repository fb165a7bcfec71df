//! Where decoded media leaves ingest: maps each unit to its playout time and sends it into
//! the slot.
//!
//! Runs on GStreamer's streaming threads (the appsink callbacks). Each decoded unit arrives
//! with its [`MediaTiming`] (RTP time, clock rate, arrival instants, latest sender report,
//! abs-capture-time); [`Delivery`] turns it into an [`compositor_core::align::MediaUnit`] and asks the
//! session's aligner ([`SessionHandle::align`]) for the playout time, which becomes the
//! frame's / block's `pts` (session clock). The unit's arrival for the aligner is its *first*
//! packet's (`timing.arrival`): the last packet of a multi-packet frame carries the frame's
//! transmission time and, behind a jittery queue, the worst of its packets' delays, which makes
//! the per-host minimum-transit line (the sender-clock mapping) wander by milliseconds.
//! `timing.completed` (the UDP loop turn that handled the last packet) is what the added
//! latency is measured from. Before a track has
//! a sender report the aligner itself places it from arrival times (its fallback); when the
//! aligner refuses a unit (bad clock rate) the unit is placed by arrival + the session's
//! initial budget, counted and logged, so a bad stream never stops delivery. The same
//! fallback applies to a track whose playout time turns implausible (more than 250 ms before
//! a unit's arrival or more than 650 ms after it), until the aligner places its units at least
//! 20 ms ahead of arrival again (one discontinuity each way, absorbed by the audio placer). Seen with GStreamer `webrtcbin` at its defaults
//! (`rtcp-sync-send-time=true`, media queued during ICE/DTLS): its audio and video sender
//! reports disagreed by 650 ms, which put every audio block 540 ms in the past (silence).
//! Browsers and senders mapping RTP to capture time never trip it.
//!
//! Audio: a decoded block may start inside a packet (`offset`); its RTP time is the packet's
//! plus the offset in clock-rate units, so each block is aligned on its own first sample.
//!
//! SSRC: str0m does not expose the SSRC per `MediaData`; each [`Delivery`] (one per WHIP
//! resource, i.e. per connection) draws a fresh stream id, so a reconnect is a new stream for
//! the aligner (RTP unwrapping and offsets restart) while both tracks keep sharing their
//! host's sender clock. The timing is dropped after the push.
//!
//! When the session's added-latency log is enabled (benchmarks), each delivered picture's
//! pts and completion instant are noted there ([`the arrival probe (`compositor_core::probe`)`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use super::stats::PeerCounters;
use super::timing::MediaTiming;
use compositor_core::align::{MediaUnit, SenderReport, TrackKind};
use compositor_core::frame::{AudioBlock, VideoFrame};
use compositor_core::session::{InputClosed, InputSender, SessionHandle};

/// Fallback placement when the aligner refuses a unit: arrival + this.
const FALLBACK_BUDGET: Duration = Duration::from_millis(100);
/// A playout time this far before the unit's arrival cannot come from a sane sender clock
/// (the budget covers every delay it measured): the mapping is wrong, not the network.
const IMPLAUSIBLE: Duration = Duration::from_millis(250);
/// Nor can one further ahead of arrival than this (largest budget 400 ms + 250 ms).
const LATEST_AHEAD: Duration = Duration::from_millis(650);
/// A track placed by arrival goes back to the aligner once its playout time is this far
/// ahead of arrival (in time again, not merely less wrong).
const RESUME_AHEAD: Duration = Duration::from_millis(20);

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
    refused: AtomicU64,
    implausible: AtomicU64,
    fallback_video: AtomicBool,
    fallback_audio: AtomicBool,
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
    /// Delivery into `sender`, on `session`'s clock and aligner.
    pub fn new(sender: InputSender, session: SessionHandle, counters: Arc<PeerCounters>) -> Self {
        let stream = NEXT_STREAM.fetch_add(1, Ordering::Relaxed);
        Self {
            sender,
            session,
            counters,
            stream: stream.wrapping_mul(2),
            refused: AtomicU64::new(0),
            implausible: AtomicU64::new(0),
            fallback_video: AtomicBool::new(false),
            fallback_audio: AtomicBool::new(false),
        }
    }

    /// Playout time of a unit (see the module doc).
    fn place(&self, kind: TrackKind, timing: &MediaTiming, offset: Duration) -> Duration {
        let ssrc = match kind {
            TrackKind::Video => self.stream,
            TrackKind::Audio => self.stream.wrapping_add(1),
        };
        let unit = media_unit(timing, ssrc, offset, &self.session);
        match self.session.align(self.sender.id(), kind, &unit) {
            Ok(p) => {
                let ahead = p.pts.as_secs_f64() - unit.arrival.as_secs_f64();
                let flag = match kind {
                    TrackKind::Video => &self.fallback_video,
                    TrackKind::Audio => &self.fallback_audio,
                };
                let latest = LATEST_AHEAD.as_secs_f64();
                if flag.load(Ordering::Relaxed) {
                    // Back on the aligner once its mapping puts units in time again.
                    if (RESUME_AHEAD.as_secs_f64()..=latest).contains(&ahead) {
                        flag.store(false, Ordering::Relaxed);
                        tracing::info!(?kind, "sender clock mapping plausible again");
                        return p.pts;
                    }
                } else if (-IMPLAUSIBLE.as_secs_f64()..=latest).contains(&ahead) {
                    return p.pts;
                } else {
                    flag.store(true, Ordering::Relaxed);
                    let n = self.implausible.fetch_add(1, Ordering::Relaxed) + 1;
                    if n == 1 || n.is_power_of_two() {
                        tracing::warn!(
                            implausible = n,
                            ?kind,
                            ahead_ms = ahead * 1e3,
                            "sender clock mapping implausible: placing by arrival until it is not"
                        );
                    }
                }
                unit.arrival + FALLBACK_BUDGET + offset
            }
            Err(e) => {
                let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 || n.is_power_of_two() {
                    tracing::warn!(refused = n, ?kind, "alignment refused a unit: {e}");
                }
                unit.arrival + FALLBACK_BUDGET + offset
            }
        }
    }

    /// Sends a picture; `Err` when the slot is gone.
    pub fn video(&self, mut v: DecodedVideo) -> Result<(), InputClosed> {
        v.frame.pts = self.place(TrackKind::Video, &v.timing, Duration::ZERO);
        if let Some(probe) = self.session.arrival_probe() {
            probe.note_arrival(self.sender.id(), v.frame.pts, v.timing.completed);
        }
        let c = &self.counters;
        c.frames_decoded.fetch_add(1, Ordering::Relaxed);
        c.width.store(v.frame.image.width(), Ordering::Relaxed);
        c.height.store(v.frame.image.height(), Ordering::Relaxed);
        self.sender.send_video(v.frame)
    }

    /// Sends sound; `Err` when the slot is gone.
    pub fn audio(&self, mut a: DecodedAudio) -> Result<(), InputClosed> {
        a.block.pts = self.place(TrackKind::Audio, &a.timing, a.offset);
        self.counters.audio_blocks.fetch_add(1, Ordering::Relaxed);
        self.sender.send_audio(a.block)
    }
}
