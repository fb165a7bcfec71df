//! Playout times of units that arrive with their RTP timing ([`TimedUnit`]), computed on the
//! session thread: the session owns its [`Aligner`], so the hand-off from ingest is one
//! bounded-channel send — no lock, no allocation per unit.
//!
//! Ingest (a WHIP decoder on a GStreamer thread) sends each decoded unit with its
//! [`MediaUnit`] (RTP time, clock rate, arrival and ready instants on the session clock,
//! latest sender report, abs-capture-time); the session thread drains the slot, asks the
//! aligner for the playout time and stamps the frame's or block's `pts` before using it as
//! any other message. Alignment is sans-IO: every time it uses is in the unit, so where
//! it runs changes no figure.
//!
//! Fallbacks, per slot and track: when the aligner refuses a unit (bad clock rate) it is
//! placed at arrival + [`FALLBACK_BUDGET`], counted and logged, so a bad stream never stops
//! delivery. The same holds for a track whose playout time turns implausible (more than
//! [`IMPLAUSIBLE`] before the unit's arrival or more than [`LATEST_AHEAD`] after it), until
//! the aligner places its units at least [`RESUME_AHEAD`] ahead of arrival again (one
//! discontinuity each way, absorbed by the audio placer). Seen with GStreamer `webrtcbin` at
//! its defaults (`rtcp-sync-send-time=true`, media queued during ICE/DTLS): its audio and
//! video sender reports disagreed by 650 ms, which put every audio block 540 ms in the past.
//!
//! Time: `Duration`s on the session clock; the aligner's epoch (Unix time of session time
//! 0) is fixed when it is created, at the first timed unit, unless the config gives one.

use std::time::{Duration, Instant};

use crate::align::{AlignConfig, Aligner, HostAlignStats, MediaUnit, TrackKind};
use crate::frame::{AudioBlock, VideoFrame};

/// Fallback placement when the aligner refuses a unit: arrival + this.
pub const FALLBACK_BUDGET: Duration = Duration::from_millis(100);
/// A playout time this far before the unit's arrival cannot come from a sane sender clock
/// (the budget covers every delay it measured): the mapping is wrong, not the network.
pub const IMPLAUSIBLE: Duration = Duration::from_millis(250);
/// Nor can one further ahead of arrival than this (largest budget 400 ms + 250 ms).
pub const LATEST_AHEAD: Duration = Duration::from_millis(650);
/// A track placed by arrival goes back to the aligner once its playout time is this far
/// ahead of arrival (in time again, not merely less wrong).
pub const RESUME_AHEAD: Duration = Duration::from_millis(20);

/// What a timed unit carries.
#[derive(Debug)]
pub enum TimedMedia {
    /// A picture (its `pts` is set when placed).
    Video(VideoFrame),
    /// Sound (its `pts` is set when placed).
    Audio {
        /// The samples.
        block: AudioBlock,
        /// Where the block starts after the first sample of the RTP packet `unit` describes
        /// (already folded into `unit.rtp_ts`; the arrival fallback adds it too).
        offset: Duration,
    },
}

/// A decoded unit and its timing, handed to a slot by ingest; the session places it.
#[derive(Debug)]
pub struct TimedUnit {
    /// The aligner's view of the unit.
    pub unit: MediaUnit,
    /// When its last packet was handled (the added-latency probe measures from it).
    pub completed: Option<Instant>,
    /// The picture or sound.
    pub media: TimedMedia,
}

impl TimedUnit {
    /// Video or audio.
    pub fn kind(&self) -> TrackKind {
        match self.media {
            TimedMedia::Video(_) => TrackKind::Video,
            TimedMedia::Audio { .. } => TrackKind::Audio,
        }
    }
}

/// One slot's fallback state.
#[derive(Debug, Default)]
pub(crate) struct SlotTiming {
    fallback_video: bool,
    fallback_audio: bool,
    refused: u64,
    implausible: u64,
}

/// The session's aligner (created at the first timed unit) and its settings.
#[derive(Debug)]
pub(crate) struct Placement {
    cfg: AlignConfig,
    aligner: Option<Aligner>,
}

impl Placement {
    pub(crate) fn new(cfg: AlignConfig) -> Self {
        Placement { cfg, aligner: None }
    }

    /// Playout time of input `id`'s unit. `epoch` gives the Unix time of session time 0 when
    /// the aligner is created (if the config has none).
    pub(crate) fn place(
        &mut self,
        id: &str,
        slot: &mut SlotTiming,
        kind: TrackKind,
        unit: &MediaUnit,
        offset: Duration,
        epoch: impl FnOnce() -> Option<Duration>,
    ) -> Duration {
        let fallback = unit.arrival + FALLBACK_BUDGET + offset;
        if self.aligner.is_none() {
            let mut cfg = self.cfg;
            if cfg.epoch_unix.is_none() {
                cfg.epoch_unix = epoch();
            }
            match Aligner::new(cfg) {
                Ok(a) => self.aligner = Some(a),
                Err(e) => {
                    slot.refused += 1;
                    if slot.refused == 1 || slot.refused.is_power_of_two() {
                        tracing::warn!(input = id, refused = slot.refused, "no aligner: {e}");
                    }
                    return fallback;
                }
            }
        }
        let Some(aligner) = self.aligner.as_mut() else {
            return fallback;
        };
        let p = match aligner.push(id, kind, unit) {
            Ok(p) => p,
            Err(e) => {
                slot.refused += 1;
                if slot.refused == 1 || slot.refused.is_power_of_two() {
                    tracing::warn!(
                        input = id,
                        refused = slot.refused,
                        ?kind,
                        "alignment refused a unit: {e}"
                    );
                }
                return fallback;
            }
        };
        let ahead = p.pts.as_secs_f64() - unit.arrival.as_secs_f64();
        let flag = match kind {
            TrackKind::Video => &mut slot.fallback_video,
            TrackKind::Audio => &mut slot.fallback_audio,
        };
        let latest = LATEST_AHEAD.as_secs_f64();
        if *flag {
            // Back on the aligner once its mapping puts units in time again.
            if (RESUME_AHEAD.as_secs_f64()..=latest).contains(&ahead) {
                *flag = false;
                tracing::info!(input = id, ?kind, "sender clock mapping plausible again");
                return p.pts;
            }
        } else if (-IMPLAUSIBLE.as_secs_f64()..=latest).contains(&ahead) {
            return p.pts;
        } else {
            *flag = true;
            slot.implausible += 1;
            let n = slot.implausible;
            if n == 1 || n.is_power_of_two() {
                tracing::warn!(
                    input = id,
                    implausible = n,
                    ?kind,
                    ahead_ms = ahead * 1e3,
                    "sender clock mapping implausible: placing by arrival until it is not"
                );
            }
        }
        fallback
    }

    /// Forgets a removed input.
    pub(crate) fn remove_host(&mut self, id: &str) {
        if let Some(a) = self.aligner.as_mut() {
            a.remove_host(id);
        }
    }

    /// Alignment figures of input `id`, once it sent a timed unit.
    pub(crate) fn stats(&self, id: &str) -> Option<HostAlignStats> {
        self.aligner.as_ref()?.stats(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(rtp_ts: u32, arrival_ms: u64, clock_rate: u32) -> MediaUnit {
        MediaUnit {
            ssrc: 2,
            rtp_ts,
            clock_rate,
            arrival: Duration::from_millis(arrival_ms),
            sender_report: None,
            abs_capture_time: None,
            ready: None,
        }
    }

    #[test]
    fn units_before_a_sender_report_play_after_arrival_within_the_budget() {
        let mut p = Placement::new(AlignConfig::default());
        let mut slot = SlotTiming::default();
        for i in 0..30u64 {
            let u = unit((i * 3000) as u32, 1000 + i * 33, 90_000);
            let pts = p.place("a", &mut slot, TrackKind::Video, &u, Duration::ZERO, || {
                None
            });
            let ahead = pts.as_secs_f64() - u.arrival.as_secs_f64();
            assert!((0.0..=0.5).contains(&ahead), "unit {i}: {ahead}");
        }
        assert_eq!(slot.refused, 0);
        assert!(p.stats("a").is_some());
        p.remove_host("a");
        assert!(p.stats("a").is_none());
    }

    #[test]
    fn a_refused_unit_is_placed_by_arrival_and_counted() {
        let mut p = Placement::new(AlignConfig::default());
        let mut slot = SlotTiming::default();
        let offset = Duration::from_millis(5);
        // Clock rate 0 is refused by the aligner.
        let u = unit(0, 2000, 0);
        let pts = p.place("a", &mut slot, TrackKind::Audio, &u, offset, || None);
        assert_eq!(pts, u.arrival + FALLBACK_BUDGET + offset);
        assert_eq!(slot.refused, 1);
    }
}
