//! Sans-IO timing helpers of the ingest path: what each decoded unit carries for alignment
//! ([`MediaTiming`]), the keyframe-request throttle, stall detection and RTP loss counting.
//!
//! Invariants: every function takes the current [`Instant`] as an argument (no clock reads);
//! RTP times are str0m's 64-bit unrolled timestamps in units of the track's clock rate.

use std::time::{Duration, Instant, SystemTime};

/// The latest RTCP sender report of a track: the sender's NTP wall clock and the RTP
/// timestamp of the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReportMapping {
    /// Sender's NTP time.
    pub ntp_time: SystemTime,
    /// RTP timestamp (clock-rate units, 32-bit as sent) at `ntp_time`.
    pub rtp_time: u64,
}

/// How a decoded unit maps to the sender's clock: kept next to each decoded frame or audio
/// block until it is pushed into the session, so timestamp alignment can place it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaTiming {
    /// RTP timestamp of the frame (64-bit, unrolled across wrap-arounds), clock-rate units.
    pub rtp_time: u64,
    /// The track's RTP clock rate in Hz (90 000 video, 48 000 Opus).
    pub clock_rate: u32,
    /// When the first packet of the frame arrived on the UDP socket.
    pub arrival: Instant,
    /// When the frame was complete: the UDP loop turn that handled its last packet (where
    /// added latency is measured from).
    pub completed: Instant,
    /// The latest sender report seen on this track before the frame, if any.
    pub sender_report: Option<SenderReportMapping>,
    /// `abs-capture-time` header extension (sender NTP clock), if the sender used it.
    pub abs_capture_time: Option<SystemTime>,
}

/// Allows at most one keyframe request (PLI/FIR) per `min_interval`.
#[derive(Debug, Clone)]
pub struct KeyframeThrottle {
    min_interval: Duration,
    last: Option<Instant>,
    pending: bool,
}

impl KeyframeThrottle {
    /// A throttle letting one request through per `min_interval`.
    pub fn new(min_interval: Duration) -> Self {
        Self {
            min_interval,
            last: None,
            pending: false,
        }
    }

    /// Notes that a keyframe is wanted (a gap, a decoder error, a dropped hand-off).
    pub fn want(&mut self) {
        self.pending = true;
    }

    /// True when a wanted request may be sent now; the caller then sends it.
    pub fn poll(&mut self, now: Instant) -> bool {
        if !self.pending {
            return false;
        }
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < self.min_interval)
        {
            return false;
        }
        self.pending = false;
        self.last = Some(now);
        true
    }
}

/// What a stall detector reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallChange {
    /// No media for the timeout.
    Stalled,
    /// Media again after a stall.
    Resumed,
}

/// Detects a host going silent (no media of any kind for `timeout`) and coming back.
#[derive(Debug, Clone)]
pub struct StallDetector {
    timeout: Duration,
    last_media: Option<Instant>,
    stalled: bool,
}

impl StallDetector {
    /// A detector with the given timeout.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            last_media: None,
            stalled: false,
        }
    }

    /// Media arrived at `now`.
    pub fn on_media(&mut self, now: Instant) -> Option<StallChange> {
        self.last_media = Some(now);
        if self.stalled {
            self.stalled = false;
            return Some(StallChange::Resumed);
        }
        None
    }

    /// Checks the timeout at `now` (only after the first media).
    pub fn poll(&mut self, now: Instant) -> Option<StallChange> {
        let last = self.last_media?;
        if !self.stalled && now.saturating_duration_since(last) >= self.timeout {
            self.stalled = true;
            return Some(StallChange::Stalled);
        }
        None
    }

    /// When media last arrived.
    pub fn last_media(&self) -> Option<Instant> {
        self.last_media
    }

    /// When the next stall could be detected.
    pub fn deadline(&self) -> Option<Instant> {
        match (self.stalled, self.last_media) {
            (false, Some(t)) => Some(t + self.timeout),
            _ => None,
        }
    }
}

/// Counts RTP sequence numbers that never made it into a frame (str0m's 64-bit extended
/// sequence numbers, delivered in order after its reordering/NACK buffer).
#[derive(Debug, Clone, Default)]
pub struct LossCounter {
    next: Option<u64>,
    /// Packets delivered.
    pub received: u64,
    /// Packets skipped.
    pub lost: u64,
}

impl LossCounter {
    /// A frame made of sequence numbers `first..=last` was delivered. Returns the packets
    /// lost just before it.
    pub fn on_frame(&mut self, first: u64, last: u64) -> u64 {
        let gap = match self.next {
            Some(n) if first > n => first - n,
            _ => 0,
        };
        self.lost += gap;
        self.received += last.saturating_sub(first) + 1;
        if self.next.is_none_or(|n| last + 1 > n) {
            self.next = Some(last + 1);
        }
        gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_allows_one_per_interval() {
        let t0 = Instant::now();
        let mut t = KeyframeThrottle::new(Duration::from_secs(1));
        assert!(!t.poll(t0), "nothing wanted");
        t.want();
        assert!(t.poll(t0));
        t.want();
        assert!(!t.poll(t0 + Duration::from_millis(500)));
        assert!(!t.poll(t0 + Duration::from_millis(999)));
        assert!(t.poll(t0 + Duration::from_millis(1000)));
        assert!(!t.poll(t0 + Duration::from_millis(3000)), "served already");
    }

    #[test]
    fn stall_then_resume_once() {
        let t0 = Instant::now();
        let mut s = StallDetector::new(Duration::from_secs(2));
        assert_eq!(s.poll(t0 + Duration::from_secs(10)), None, "no media yet");
        assert_eq!(s.on_media(t0), None);
        assert_eq!(s.poll(t0 + Duration::from_millis(1999)), None);
        assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(
            s.poll(t0 + Duration::from_secs(2)),
            Some(StallChange::Stalled)
        );
        assert_eq!(s.poll(t0 + Duration::from_secs(5)), None, "reported once");
        assert_eq!(
            s.on_media(t0 + Duration::from_secs(6)),
            Some(StallChange::Resumed)
        );
        assert_eq!(s.on_media(t0 + Duration::from_secs(7)), None);
    }

    #[test]
    fn loss_counts_gaps_only() {
        let mut l = LossCounter::default();
        assert_eq!(l.on_frame(100, 104), 0);
        assert_eq!(l.on_frame(105, 105), 0);
        assert_eq!(l.on_frame(108, 110), 2);
        assert_eq!(l.on_frame(109, 109), 0, "late duplicate is no loss");
        assert_eq!((l.received, l.lost), (5 + 1 + 3 + 1, 2));
    }
}
