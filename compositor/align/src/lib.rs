//! # compositor-align — timestamp alignment (sans-IO)
//!
//! Maps every decoded video frame and audio block of every host to a **playout time on the
//! session clock**: the session shows/mixes it at that time. Pure logic: no clock, no thread,
//! no IO; every time is passed in.
//!
//! ## Model
//! - *Sender time* of a unit, on the host's sender (NTP) clock: `abs_capture_time` when the
//!   sender provides it, else the RTP time mapped through the track's latest RTCP sender
//!   report (`ntp + (rtp - sr_rtp) / clock_rate`). Both tracks of a host share that clock,
//!   which is what gives lip sync. Until a track has either, it is placed from its arrival
//!   times (its own minimum transit), and converges to the sender clock without a jump once
//!   the first report arrives.
//! - *Sender clock → session clock*: per host, the minimum transit `arrival - sender time`
//!   (a line fitted through 1 s minima, so drift is followed and exposed in ppm). When the
//!   session knows its own wall clock ([`AlignConfig::epoch_unix`]) and a host's clock is
//!   plausibly synchronised (its minimum transit within `-20 ms ..= max_trusted_transit`),
//!   the sender's NTP time is taken as absolute: hosts captured at the same instant play at
//!   the same instant whatever their network delay. Otherwise the minimum transit is taken
//!   as the clock offset (zero network delay assumed).
//! - *Playout* = capture time on the session clock + the session's **latency budget**, one
//!   for all inputs: it adapts to how late after capture the required hosts' units are
//!   ready, worst case over a 30 s window and over each host's tracks (`network delay +
//!   transit rise + processing time`, arrival → decoded, measured when the caller passes
//!   [`MediaUnit::ready`]; plus `audio_queue` for audio, which enters the mixer's queue that
//!   long before its playout time; all but the latest `video_late_share` of frames, 1 %,
//!   and `audio_late_share` of audio blocks, 0.5 %), plus a margin, clamped to
//!   `min_budget..=max_budget`.
//! - **Nothing jumps**: every change of a mapping (new report, first report, new SSRC, new
//!   floor estimate, budget change) is absorbed into a correction that slews back to zero at
//!   most `slew_rate` seconds per second of arrival time (default 1 %).
//!
//! ## Units and invariants
//! - Arrival times and playout times are `Duration`s on the session clock (0 = the
//!   session's first tick). Sender NTP times are `Duration`s since the Unix epoch (str0m
//!   gives `SystemTime`s). RTP timestamps are the 32-bit wire values; unwrapping is done here
//!   per SSRC and tolerates reordering.
//! - Internally seconds as `f64` relative to a per-host base (sub-µs precision).
//! - Bad input (zero clock rate, too many hosts) returns an [`AlignError`] and changes
//!   nothing. One [`Aligner`] per session, owned by the session thread
//!   (`session/placement.rs`): no lock.

mod aligner;
mod floor;
mod joined;
mod placer;
mod slew;
mod unwrap;
mod window;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use aligner::Aligner;
pub use floor::TransitFloor;
pub use placer::{AudioPlacer, PlacerCounters, Release};
pub use slew::slew_toward;
pub use unwrap::RtpUnwrapper;

/// Alignment settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlignConfig {
    /// Smallest latency budget.
    pub min_budget: Duration,
    /// Largest latency budget.
    pub max_budget: Duration,
    /// Budget before any input has been measured.
    pub initial_budget: Duration,
    /// Added to the worst measured delay + jitter + processing time: the hand-over from
    /// ingest to the output clock (a channel, a thread waking up) and safety.
    pub margin: Duration,
    /// Largest rate at which any correction or the budget moves (fraction, 0.01 = 1 %).
    pub slew_rate: f64,
    /// The session's wall clock (Unix time) at session time 0, when known: sender NTP clocks
    /// that agree with it are trusted as absolute (cross-host alignment by capture time).
    pub epoch_unix: Option<Duration>,
    /// Largest minimum transit for which a sender clock is trusted as synchronised.
    pub max_trusted_transit: Duration,
    /// How long before its playout time an audio unit must be in hand beyond the margin:
    /// audio goes into the mixer's queue that long ahead (the session sets it from the
    /// mixer's timed queue depth: 2 ms by default). Added to the audio tracks' need, so the
    /// budget covers the worst audio path too.
    pub audio_queue: Duration,
    /// Share of video frames (0..=0.05) the budget may leave late: the budget covers video
    /// lateness up to this upper quantile of the window (at most 15
    /// frames skipped), not its maximum. A late frame is shown at the next output tick and
    /// counted (`late_frames`); the rarest spikes of a loaded decoder then no longer hold
    /// the whole session up to 30 ms later for 30 s.
    pub video_late_share: f64,
    /// Share of audio blocks (0..=0.05) the budget may leave late, as for video: a late
    /// block is dropped (the placer fades around the gap, counted as `audio_late`). As a
    /// receiver's jitter buffer does (WebRTC's NetEq aims at a high percentile of the delay,
    /// not its maximum), one stall of the sender's audio path no longer holds the whole
    /// session 20–40 ms later for 30 s: measured on the bench, the worst audio block needed
    /// 39.7 ms where all but 0.5 % needed 14.2 ms.
    pub audio_late_share: f64,
}

impl Default for AlignConfig {
    fn default() -> Self {
        Self {
            // The budget follows measured figures (delay, jitter, processing); the floor
            // only guards the first seconds and hosts with nothing measured yet.
            min_budget: Duration::from_millis(20),
            max_budget: Duration::from_millis(400),
            initial_budget: Duration::from_millis(100),
            // Processing (decode) is measured; what is left is the hand-over to the
            // output clock's thread and safety against a rise just beyond the window's worst.
            margin: Duration::from_millis(5),
            slew_rate: 0.01,
            epoch_unix: None,
            max_trusted_transit: Duration::from_secs(1),
            audio_queue: Duration::ZERO,
            // 1 %: the bar for same-instant frames is 99 %; the margin still covers
            // a frame just past the quantile.
            video_late_share: 0.01,
            // 0.5 %: at most 7 of the 1,500 20-ms packets of the 30 s window, a few short
            // faded gaps in 30 s, and only when the sender's path stalls.
            audio_late_share: 0.005,
        }
    }
}

impl AlignConfig {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), AlignError> {
        if self.min_budget > self.max_budget || self.max_budget > Duration::from_secs(5) {
            return Err(AlignError::Config(
                "budget bounds must satisfy min <= max <= 5 s".into(),
            ));
        }
        if !(self.slew_rate > 0.0 && self.slew_rate <= 0.1) {
            return Err(AlignError::Config(format!(
                "slew_rate {} must be within (0, 0.1]",
                self.slew_rate
            )));
        }
        if self.margin > Duration::from_secs(1) || self.audio_queue > Duration::from_secs(1) {
            return Err(AlignError::Config(
                "margin and audio_queue must be <= 1 s".into(),
            ));
        }
        for (name, share) in [
            ("video_late_share", self.video_late_share),
            ("audio_late_share", self.audio_late_share),
        ] {
            if !(0.0..=0.05).contains(&share) {
                return Err(AlignError::Config(format!(
                    "{name} {share} must be within 0..=0.05"
                )));
            }
        }
        Ok(())
    }
}

/// Which of a host's tracks a unit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum TrackKind {
    /// Camera.
    Video,
    /// Microphone.
    Audio,
}

/// An RTCP sender report's NTP/RTP pair (str0m `SenderInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport {
    /// NTP time of the report, since the Unix epoch (`ntp_time.duration_since(UNIX_EPOCH)`).
    pub ntp: Duration,
    /// RTP timestamp of the same instant (32-bit wire value).
    pub rtp_ts: u32,
}

/// One decoded unit (frame or audio packet) as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaUnit {
    /// Stream SSRC (a change means a new stream: reconnect).
    pub ssrc: u32,
    /// RTP timestamp (32-bit wire value).
    pub rtp_ts: u32,
    /// RTP clock rate, Hz (90 000 video, 48 000 Opus).
    pub clock_rate: u32,
    /// When the unit was complete, on the session clock.
    pub arrival: Duration,
    /// The latest sender report of this SSRC, if any.
    pub sender_report: Option<SenderReport>,
    /// abs-capture-time header extension: capture instant since the Unix epoch.
    pub abs_capture_time: Option<Duration>,
    /// When the unit was ready for playout (decoded, handed to the aligner), on the session
    /// clock; `None` = at `arrival`. `ready - arrival` is the track's processing time, which
    /// the budget covers (worst case over the jitter window).
    pub ready: Option<Duration>,
}

/// Where a unit goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Playout {
    /// Playout time on the session clock.
    pub pts: Duration,
    /// True when it arrived after its playout time (the session will drop it).
    pub late: bool,
}

/// Alignment figures of one host (for the stats API).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct HostAlignStats {
    /// Minimum transit `arrival - sender time` now (network delay + clock offset), ms.
    pub transit_offset_ms: f64,
    /// Network delay assumed for this host (0 when its clock is not trusted), ms.
    pub delay_ms: f64,
    /// RFC 3550 interarrival jitter (worst track), ms.
    pub jitter_ms: f64,
    /// Largest rise of transit above its floor in the last 30 s (worst track), ms.
    pub excess_ms: f64,
    /// Longest processing time (arrival → decoded and handed over) in the last 30 s
    /// (worst track), ms.
    pub processing_ms: f64,
    /// What this host's video needs of the budget (ready − capture on the session clock,
    /// the window's upper quantile by `video_late_share`), ms.
    pub video_need_ms: f64,
    /// What this host's audio needs of the budget (ready − capture on the session clock,
    /// the window's upper quantile by `audio_late_share`, plus `audio_queue`), ms; 0 without
    /// audio.
    pub audio_need_ms: f64,
    /// The session's current latency budget, ms.
    pub budget_ms: f64,
    /// Sender clock drift against the session clock, ppm (positive = sender runs fast).
    pub drift_ppm: f64,
    /// Audio minus video placement error still being slewed out, ms (0 = in lip sync as
    /// far as the sender's clock says).
    pub av_offset_ms: f64,
    /// Units that arrived after their playout time.
    pub late: u64,
    /// Units aligned.
    pub units: u64,
    /// The host's NTP clock is trusted as absolute.
    pub trusted_clock: bool,
    /// Video is mapped through the sender clock (report or abs-capture-time).
    pub video_on_sender_clock: bool,
    /// Audio is mapped through the sender clock.
    pub audio_on_sender_clock: bool,
    /// One track's sender reports disagree with the other's by more than 150 ms (e.g.
    /// GStreamer webrtcbin at its defaults): that track is placed by arrival instead.
    pub sender_reports_inconsistent: bool,
}

/// Refused input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlignError {
    /// Invalid configuration.
    #[error("invalid alignment config: {0}")]
    Config(String),
    /// Clock rate outside 1..=1 000 000 Hz.
    #[error("RTP clock rate {0} Hz outside 1..=1000000")]
    ClockRate(u32),
    /// Too many hosts in one session.
    #[error("at most {0} hosts per session")]
    TooManyHosts(usize),
    /// Host id empty or too long.
    #[error("host id must be 1..=128 bytes")]
    HostId,
}
