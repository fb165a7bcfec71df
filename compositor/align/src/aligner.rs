//! The [`Aligner`]: per-host sender clocks, per-track RTP mappings and the session's latency
//! budget. See the crate doc ([`crate`]) for the model; all times are seconds as
//! `f64` inside (relative to each host's base), `Duration`s at the API.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::floor::TransitFloor;
use super::slew::slew_toward;
use super::unwrap::RtpUnwrapper;
use super::window::{WindowMax, WindowTop};
use super::{AlignConfig, AlignError, HostAlignStats, MediaUnit, Playout, TrackKind};

/// Hosts per session.
const MAX_HOSTS: usize = 64;
/// Seconds after a host's first unit during which its network delay is learnt.
const DELAY_LEARN_S: f64 = 10.0;
/// Lowest minimum transit for which a sender clock still counts as synchronised, s.
const TRUST_LOW: f64 = -0.02;
/// Largest difference between the minimum transits of a host's two tracks (through their
/// sender reports) that is still believed, s. Audio and video share the sender's clock and
/// the network path: their floors differ by packetisation and encoding only (a few ms to
/// tens of ms). GStreamer `webrtcbin` at its defaults stamps reports at send time after
/// queueing media through ICE/DTLS, and its audio and video reports disagree by 300–700 ms.
const INCONSISTENT_S: f64 = 0.15;
/// Spacing of the budget trajectory's points, s (the budget moves ≤ 1 % in between, and is
/// interpolated).
const HISTORY_STEP_S: f64 = 0.01;
/// How far back the budget trajectory reaches beyond the largest budget, s.
const HISTORY_EXTRA_S: f64 = 2.0;

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// A track's sender-report anchor: sender time (s, host-relative) at an extended RTP time.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    s: f64,
    ext: i64,
    /// The report as received (to notice a new one).
    raw: (Duration, u32),
}

#[derive(Debug, Default)]
struct Track {
    ssrc: Option<u32>,
    rate: f64,
    unwrap: RtpUnwrapper,
    anchor: Option<Anchor>,
    /// abs-capture-time seen on the last unit.
    abs: bool,
    /// Arrival-based mapping until the sender clock is known.
    local: TransitFloor,
    /// Correction still being slewed out, s.
    correction: f64,
    /// (arrival, raw sender time) of the newest unit, for continuity across a new SSRC.
    last: Option<(f64, f64)>,
    last_arrival: Option<f64>,
    /// Playout time (s, before budget) of the track's first unit: until arrivals reach it,
    /// nothing of the track has been played and mapping changes apply at once.
    first_playout: Option<f64>,
    /// Its sender mapping disagrees with the host's primary track by more than
    /// [`INCONSISTENT_S`]: placed by arrival for the rest of the stream (a new SSRC
    /// re-evaluates), and left out of the host's jitter through the sender clock.
    distrusted: bool,
    /// Processing time (arrival → ready, decoded) over the jitter window, s. Kept across
    /// a new SSRC (same decoder path).
    processing: WindowMax,
    /// How long after its placement (capture on the session clock, before the budget) each
    /// unit was ready, over the jitter window, s: what the budget must cover for this track
    /// (all of it for audio, all but [`AlignConfig::video_late_share`] for video).
    lateness: WindowTop,
}

impl Track {
    fn on_sender_clock(&self) -> bool {
        (self.abs || self.anchor.is_some()) && !self.distrusted
    }
}

#[derive(Debug, Default)]
struct Host {
    /// Sender-time origin (Unix s): the session epoch, or the first sender time seen.
    base: Option<f64>,
    /// Transit floor of the first track mapped through the sender clock (the primary): it
    /// alone sets the clock offset and drift, so a track with a different transit (audio
    /// packets are smaller than video frames) does not look like a clock step.
    floor: TransitFloor,
    primary: Option<TrackKind>,
    /// Transit floor of the other track (its delay and jitter count for the budget).
    floor_other: TransitFloor,
    /// Newest arrival, s.
    last_t: f64,
    /// Arrival of the first sender-clock unit (s).
    first_arrival: Option<f64>,
    /// Minimum transit at the first arrival, refined during [`DELAY_LEARN_S`] then frozen
    /// (the network delay of a trusted clock; later changes of the floor are drift).
    delay_ref: Option<f64>,
    /// Clock offset applied (sender → session), slewed.
    offset: Option<f64>,
    video: Track,
    audio: Track,
    required: bool,
    late: u64,
    units: u64,
}

/// The session's aligner. One per session; see the module doc.
#[derive(Debug)]
pub struct Aligner {
    cfg: AlignConfig,
    hosts: HashMap<String, Host>,
    budget: f64,
    budget_at: Option<f64>,
    /// The budget's recent trajectory, `(arrival time, budget)` oldest first, one point per
    /// [`HISTORY_STEP_S`] at most: a unit captured at `x` (session clock) plays at
    /// `x + budget(x)`, so units of different hosts captured at the same instant get the same
    /// budget however far apart they arrive, even while the budget slews.
    history: VecDeque<(f64, f64)>,
}

impl Aligner {
    /// A new aligner (validates `cfg`).
    pub fn new(cfg: AlignConfig) -> Result<Self, AlignError> {
        cfg.validate()?;
        let budget = secs(cfg.initial_budget).clamp(secs(cfg.min_budget), secs(cfg.max_budget));
        Ok(Self {
            cfg,
            hosts: HashMap::new(),
            budget,
            budget_at: None,
            history: VecDeque::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AlignConfig {
        &self.cfg
    }

    /// The current latency budget.
    pub fn budget(&self) -> Duration {
        Duration::from_secs_f64(self.budget.max(0.0))
    }

    /// Marks a host as required (its jitter sets the budget) or optional. Hosts are
    /// required by default.
    pub fn set_required(&mut self, host: &str, required: bool) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.required = required;
        }
    }

    /// Forgets a host (left the session).
    pub fn remove_host(&mut self, host: &str) {
        self.hosts.remove(host);
    }

    /// Maps one unit of `host`'s `kind` track to its playout time.
    pub fn push(
        &mut self,
        host: &str,
        kind: TrackKind,
        unit: &MediaUnit,
    ) -> Result<Playout, AlignError> {
        if unit.clock_rate == 0 || unit.clock_rate > 1_000_000 {
            return Err(AlignError::ClockRate(unit.clock_rate));
        }
        if host.is_empty() || host.len() > 128 {
            return Err(AlignError::HostId);
        }
        if !self.hosts.contains_key(host) {
            if self.hosts.len() >= MAX_HOSTS {
                return Err(AlignError::TooManyHosts(MAX_HOSTS));
            }
            self.hosts.insert(
                host.to_string(),
                Host {
                    required: true,
                    ..Host::default()
                },
            );
        }
        let cfg = self.cfg;
        let t = secs(unit.arrival);
        let Some(h) = self.hosts.get_mut(host) else {
            return Err(AlignError::HostId);
        };
        let pts = h.align(&cfg, kind, unit, t, self.budget);
        self.update_budget(t);
        let playout = (pts + self.budget_at_time(pts)).max(0.0);
        let late = playout < t;
        if let Some(h) = self.hosts.get_mut(host) {
            h.units += 1;
            if late {
                h.late += 1;
            }
        }
        Ok(Playout {
            pts: Duration::from_secs_f64(playout),
            late,
        })
    }

    fn update_budget(&mut self, t: f64) {
        let cfg = &self.cfg;
        let need = self
            .hosts
            .values()
            .filter(|h| h.required && h.units > 0)
            .map(|h| h.need(cfg))
            .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))));
        let target = match need {
            Some(n) => (n + secs(cfg.margin)).clamp(secs(cfg.min_budget), secs(cfg.max_budget)),
            None => self.budget,
        };
        let dt = self.budget_at.map_or(0.0, |b| t - b);
        if dt > 0.0 || self.budget_at.is_none() {
            self.budget = slew_toward(self.budget, target, cfg.slew_rate, dt);
            self.budget_at = Some(self.budget_at.map_or(t, |b| b.max(t)));
            self.record_budget(t);
        }
    }

    /// Adds the current budget at arrival time `t` to the trajectory.
    fn record_budget(&mut self, t: f64) {
        let n = self.history.len();
        let close = n >= 2 && t - self.history[n - 2].0 < HISTORY_STEP_S;
        if close {
            // Move the newest point instead of adding one.
            self.history[n - 1] = (t, self.budget);
        } else {
            self.history.push_back((t, self.budget));
        }
        let keep = secs(self.cfg.max_budget) + HISTORY_EXTRA_S;
        while self.history.len() > 2 && self.history.front().is_some_and(|p| p.0 < t - keep) {
            self.history.pop_front();
        }
    }

    /// The budget as it was at session time `x` (interpolated along the trajectory; the
    /// current budget for `x` at or after the newest point, the oldest kept before it).
    fn budget_at_time(&self, x: f64) -> f64 {
        let (Some(first), Some(last)) = (self.history.front(), self.history.back()) else {
            return self.budget;
        };
        if x >= last.0 {
            return self.budget;
        }
        if x <= first.0 {
            return first.1;
        }
        let i = self.history.partition_point(|p| p.0 <= x);
        let (a, b) = (self.history[i - 1], self.history[i]);
        let f = if b.0 > a.0 {
            (x - a.0) / (b.0 - a.0)
        } else {
            1.0
        };
        a.1 + (b.1 - a.1) * f
    }

    /// Figures of one host.
    pub fn stats(&self, host: &str) -> Option<HostAlignStats> {
        let h = self.hosts.get(host)?;
        let t = h
            .video
            .last_arrival
            .into_iter()
            .chain(h.audio.last_arrival)
            .fold(0.0, f64::max);
        let tracks = [&h.video, &h.audio];
        let jitter = if h.floor.has_data() {
            h.floor.jitter()
        } else {
            0.0
        };
        let jitter = tracks
            .iter()
            .filter(|k| !k.on_sender_clock() && k.local.has_data())
            .map(|k| k.local.jitter())
            .fold(jitter, f64::max);
        let (video_need, audio_need) = h.needs(&self.cfg);
        Some(HostAlignStats {
            transit_offset_ms: h.floor.floor(t) * 1e3,
            delay_ms: h.delay(&self.cfg) * 1e3,
            jitter_ms: jitter * 1e3,
            excess_ms: h.excess() * 1e3,
            processing_ms: h.video.processing.max().max(h.audio.processing.max()) * 1e3,
            video_need_ms: video_need * 1e3,
            audio_need_ms: audio_need * 1e3,
            budget_ms: self.budget * 1e3,
            drift_ppm: -h.floor.slope() * 1e6,
            av_offset_ms: (h.audio.correction - h.video.correction) * 1e3,
            late: h.late,
            units: h.units,
            trusted_clock: h.trusted(&self.cfg),
            video_on_sender_clock: h.video.on_sender_clock(),
            audio_on_sender_clock: h.audio.on_sender_clock(),
            sender_reports_inconsistent: h.video.distrusted || h.audio.distrusted,
        })
    }

    /// Ids of the hosts seen, sorted.
    pub fn hosts(&self) -> Vec<String> {
        let mut v: Vec<String> = self.hosts.keys().cloned().collect();
        v.sort();
        v
    }
}

impl Host {
    /// The host's sender clock is trusted as absolute.
    fn trusted(&self, cfg: &AlignConfig) -> bool {
        match self.delay_ref {
            Some(d) => {
                cfg.epoch_unix.is_some() && (TRUST_LOW..=secs(cfg.max_trusted_transit)).contains(&d)
            }
            None => false,
        }
    }

    /// Network delay assumed (trusted clocks), s.
    fn delay(&self, cfg: &AlignConfig) -> f64 {
        match self.delay_ref {
            Some(d) if self.trusted(cfg) => d.max(0.0),
            _ => 0.0,
        }
    }

    /// How long after its capture time (on the session clock, before the budget) the
    /// host's units are ready for playout over the window, worse track, s: measured per unit
    /// as `ready - placement` (network delay + transit rise + processing, arrival → decoded,
    /// together: their worst cases rarely coincide), but for the latest `video_late_share`
    /// of frames (a late frame shows one tick late) and `audio_late_share` of audio blocks
    /// (a late block is a short faded gap). Audio adds the time it must enter the mixer
    /// ahead of its playout (`audio_queue`).
    fn need(&self, cfg: &AlignConfig) -> f64 {
        let (video, audio) = self.needs(cfg);
        video.max(audio)
    }

    /// What video and audio need of the budget, s (see [`Self::need`]).
    fn needs(&self, cfg: &AlignConfig) -> (f64, f64) {
        let video = self.video.lateness.upper(cfg.video_late_share);
        let audio = if self.audio.ssrc.is_some() {
            self.audio.lateness.upper(cfg.audio_late_share) + secs(cfg.audio_queue)
        } else {
            0.0
        };
        (video, audio)
    }

    /// Worst jitter excess over the host's tracks, s.
    fn excess(&self) -> f64 {
        let mut e = if self.floor.has_data() {
            self.floor.excess()
        } else {
            0.0
        };
        if self.floor.has_data() && self.floor_other.has_data() {
            let t = self.last_t;
            let rel = self.floor_other.floor(t) - self.floor.floor(t);
            e = e.max(rel + self.floor_other.excess());
        }
        for k in [&self.video, &self.audio] {
            if !k.on_sender_clock() && k.local.has_data() {
                e = e.max(k.local.excess());
            }
        }
        e
    }

    /// Target clock offset (sender → session) at arrival `t`, s.
    fn offset_target(&self, cfg: &AlignConfig, t: f64) -> f64 {
        match self.delay_ref {
            Some(d) if self.trusted(cfg) => self.floor.floor(t) - d,
            _ => self.floor.floor(t),
        }
    }

    /// Places one unit; returns its capture time on the session clock (s, before budget).
    /// `budget` is the session's current budget (when the track's first unit plays).
    fn align(
        &mut self,
        cfg: &AlignConfig,
        kind: TrackKind,
        u: &MediaUnit,
        t: f64,
        budget: f64,
    ) -> f64 {
        let epoch = cfg.epoch_unix.map(secs);
        let base = *self.base.get_or_insert_with(|| {
            epoch.unwrap_or_else(|| {
                u.abs_capture_time
                    .or(u.sender_report.map(|r| r.ntp))
                    .map_or(0.0, secs)
            })
        });
        let delay_old = self.delay(cfg);
        let offset_old = self.offset.unwrap_or(0.0);
        let dt_host = match (self.video.last_arrival, self.audio.last_arrival) {
            (Some(a), Some(b)) => t - a.max(b),
            (Some(a), None) | (None, Some(a)) => t - a,
            (None, None) => 0.0,
        };
        let track = match kind {
            TrackKind::Video => &mut self.video,
            TrackKind::Audio => &mut self.audio,
        };
        let rate = f64::from(u.clock_rate);
        let new_stream = track.ssrc.is_some_and(|s| s != u.ssrc) || track.rate != rate;
        // Sender-domain time of this unit with the parameters as they were (continuity).
        let before = if new_stream {
            // A new stream (reconnect): assume it continues in real time from the last unit.
            track
                .last
                .map(|(la, ls)| Continuity::Restart(ls + (t - la)))
        } else if track.ssrc.is_some() {
            Some(Continuity::Shift(track.sender_time(
                u,
                track.unwrap.peek(u.rtp_ts),
                t,
                base,
                delay_old,
                offset_old,
            )))
        } else {
            None
        };
        if new_stream || track.ssrc.is_none() {
            *track = Track {
                ssrc: Some(u.ssrc),
                rate,
                correction: track.correction,
                last: track.last,
                last_arrival: track.last_arrival,
                processing: std::mem::take(&mut track.processing),
                lateness: std::mem::take(&mut track.lateness),
                ..Track::default()
            };
        }
        let ext = track.unwrap.unwrap(u.rtp_ts);
        track.abs = u.abs_capture_time.is_some();
        if let Some(sr) = u.sender_report
            && track.anchor.is_none_or(|a| a.raw != (sr.ntp, sr.rtp_ts))
        {
            track.anchor = Some(Anchor {
                s: secs(sr.ntp) - base,
                ext: track.unwrap.peek(sr.rtp_ts),
                raw: (sr.ntp, sr.rtp_ts),
            });
        }
        // Feed the estimators.
        track.local.push(t, t - ext as f64 / rate);
        let ready = u.ready.map_or(t, secs).max(t);
        track.processing.push(ready, ready - t);
        self.last_t = self.last_t.max(t);
        if let Some(s) = track.sender_clock_time(u, ext, base) {
            if *self.primary.get_or_insert(kind) != kind {
                self.floor_other.push(t, t - s);
                // Both tracks run on one sender clock over one path: floors far apart mean
                // one track's reports are wrong. The primary sets the clock; this track
                // goes (or stays) on its arrival mapping, without a jump (below).
                if self.floor.has_data()
                    && (self.floor_other.floor(t) - self.floor.floor(t)).abs() > INCONSISTENT_S
                {
                    track.distrusted = true;
                    self.floor_other = TransitFloor::default();
                }
            } else {
                self.floor.push(t, t - s);
            }
            let t0 = *self.first_arrival.get_or_insert(t);
            if t - t0 <= DELAY_LEARN_S {
                self.delay_ref = Some(self.floor.floor(t0));
            }
        }
        // Clock offset: slews toward its target (the first estimate is taken as is).
        let offset = if self.floor.has_data() {
            let target = self.offset_target(cfg, t);
            let o = match self.offset {
                Some(o) => slew_toward(o, target, cfg.slew_rate, dt_host),
                None => target,
            };
            self.offset = Some(o);
            o
        } else {
            0.0
        };
        let delay = self.delay(cfg);
        let track = match kind {
            TrackKind::Video => &mut self.video,
            TrackKind::Audio => &mut self.audio,
        };
        let after = track.sender_time(u, ext, t, base, delay, offset);
        // Mapping changes go into the correction, which slews back to zero.
        match before {
            Some(Continuity::Shift(b)) => track.correction += b - after,
            Some(Continuity::Restart(b)) => track.correction = b - after,
            None => {}
        }
        let dt = track.last_arrival.map_or(0.0, |la| t - la);
        track.correction = slew_toward(track.correction, 0.0, cfg.slew_rate, dt);
        // Nothing of this track has been played yet: no need to slew.
        if track
            .first_playout
            .is_none_or(|fp| t < fp + offset + budget)
        {
            track.correction = 0.0;
        }
        if track.first_playout.is_none() {
            track.first_playout = Some(after);
        }
        if track.last_arrival.is_none_or(|la| t >= la) {
            track.last_arrival = Some(t);
            track.last = Some((t, after + track.correction));
        }
        let placed = after + track.correction + offset;
        track.lateness.push(ready, ready - placed);
        placed
    }
}

/// How a unit relates to the track's previous mapping.
enum Continuity {
    /// Same stream: the old mapping's sender time for this unit.
    Shift(f64),
    /// New stream: the sender time predicted from the previous stream's last unit.
    Restart(f64),
}

impl Track {
    /// Sender clock time of a unit (host-relative s) when known: abs-capture-time, else the
    /// sender report mapping.
    fn sender_clock_time(&self, u: &MediaUnit, ext: i64, base: f64) -> Option<f64> {
        if self.distrusted {
            return None;
        }
        if let Some(a) = u.abs_capture_time {
            return Some(secs(a) - base);
        }
        self.anchor
            .map(|a| a.s + (ext - a.ext) as f64 / self.rate.max(1.0))
    }

    /// The unit's time in the host's sender-clock domain (s), by the best mapping known:
    /// the sender clock, else arrival-based (the track's own transit floor minus the host's
    /// network delay, expressed in the sender domain through the host's clock `offset`).
    fn sender_time(
        &self,
        u: &MediaUnit,
        ext: i64,
        t: f64,
        base: f64,
        delay: f64,
        offset: f64,
    ) -> f64 {
        match self.sender_clock_time(u, ext, base) {
            Some(s) => s,
            None => ext as f64 / self.rate.max(1.0) + self.local.floor(t) - delay - offset,
        }
    }
}
