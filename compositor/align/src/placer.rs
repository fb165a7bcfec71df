//! Audio placement: turns an input's audio blocks, stamped with playout times, into a
//! continuous sample stream whose samples enter the mixer exactly when they are due.
//!
//! The placer keeps a *mixer timeline*: the session time at which the next released frame
//! enters the mixer (`out_pos`). The session calls [`AudioPlacer::release`] before mixing the
//! block starting at `now` with `horizon = now + the mixer's timed depth`: the timeline is
//! filled up to the horizon, so the mixer's timed queue head is always the frame due now
//! (its drift control keeps working unchanged). A frame of pts `p` is due at `p + shift`
//! (`shift` = the slot's video wait on the output grid minus the mixer's and encoder's
//! delays, passed in at each release).
//!
//! Blocks are joined into one continuous stream ([`JoinedAudio`]) when the timeline needs
//! them, and read from it at a rate that follows the *timing error*
//! `e = out_pos − (pts at the read position + shift)`:
//! - **Small errors are stretched out.** Blocks whose pts are within [`JOIN_TOL`] of the
//!   stream's end are joined sample-contiguous; the budget slewing (≤ 1 %, so ≤ 0.2 ms per
//!   20 ms packet), sender-clock corrections and slow shift changes all show as `e`, which
//!   the read rate absorbs: `1 + e / STRETCH_TAU`, within ±[`MAX_STRETCH`] (2 %: pitch moves
//!   by at most a third of a semitone, only while the budget moves), exact step 1 within
//!   [`DEADBAND`]. No sample is dropped or repeated and no silence is inserted, where the
//!   placer used to insert 1 ms of silence or cut 1 ms of audio (an audible click) every
//!   time the error crossed 1 ms: 8,000–10,600 such frames per minute while the budget slewed.
//! - **Large errors are corrected at once, with fades.** `|e|` above [`STRETCH_LIMIT`]
//!   (5 ms) comes from a jump of the shift: the slot's video moved by a whole output frame
//!   or a phase step, so the picture jumps too. The placer fades out over [`FADE_S`], skips
//!   the audio (content late) or inserts silence (content early), and fades back in.
//! - **Gaps** (loss, DTX, a stall) longer than [`JOIN_TOL`] become silence of the gap's
//!   length, faded out before and in after; **overlaps** are trimmed from the later block; a
//!   block whose samples all lie before the stream's end (arrived after its playout time)
//!   is dropped and counted.
//! - A timeline that ran dry (`out_pos` before `now`) restarts at `now`, with the audio not
//!   yet played put back in the queue: what is past due is trimmed, the rest plays on time.
//!
//! Sans-IO: times are `Duration`s on the session clock, passed in (f64 seconds inside). The
//! placer owns the queued blocks (bounded: [`MAX_PENDING`] of audio; the oldest is dropped
//! and counted). Samples are f32 interleaved at the input's own rate and channel count.

use std::collections::VecDeque;
use std::time::Duration;

use super::joined::{JoinedAudio, ramp};

/// Largest pts difference (s) between a block and the end of the audio before it that is
/// joined sample-contiguous (the read rate absorbs it); beyond: silence or trim.
pub const JOIN_TOL: f64 = 0.003;
/// Largest timing error (s) absorbed by time-stretching; beyond it is corrected at once.
pub const STRETCH_LIMIT: f64 = 0.005;
/// Largest relative change of the read rate while stretching (2 %: twice the budget's
/// default slew rate, so a slewing budget is followed with a lag of `STRETCH_TAU` × 1 %).
pub const MAX_STRETCH: f64 = 0.02;
/// Time constant of the stretch (s): the read rate is `1 + e / STRETCH_TAU`.
const STRETCH_TAU: f64 = 0.1;
/// Timing error (s) under which audio is read at exactly its own rate.
pub const DEADBAND: f64 = 0.000_25;
/// Smallest step change while moving on to a whole frame within the deadband.
const LAND_STEP: f64 = 0.001;
/// Fade-out / fade-in around a gap or an immediate correction, s.
pub const FADE_S: f64 = 0.0025;
/// Most audio kept waiting for its playout time.
pub const MAX_PENDING: Duration = Duration::from_secs(2);

/// What the placer did (cumulative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlacerCounters {
    /// Frames of silence inserted for gaps and immediate corrections.
    pub gap_frames: u64,
    /// Frames trimmed because they overlapped earlier audio, were past due or were skipped
    /// by an immediate correction.
    pub trimmed_frames: u64,
    /// Blocks dropped whole because they were entirely past due.
    pub late_blocks: u64,
    /// Blocks dropped because too much audio was waiting.
    pub overflow_blocks: u64,
    /// Frames released while time-stretching (read rate ≠ 1).
    pub stretched_frames: u64,
    /// Immediate corrections (timing error above [`STRETCH_LIMIT`]).
    pub corrections: u64,
}

/// What one release handed over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Release {
    /// Frames written (silence included).
    pub frames: usize,
    /// Of which silence inserted by an immediate correction.
    pub silence_frames: usize,
}

#[derive(Debug)]
struct Pending {
    pts: f64,
    samples: Vec<f32>,
}

/// What follows a fade-out.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Then {
    /// Insert this many frames of silence.
    Silence(usize),
    /// Skip the audio by the timing error measured then.
    Skip,
}

/// An immediate correction in progress.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dip {
    None,
    FadeOut { left: usize, then: Then },
    Silence { left: usize },
    FadeIn { done: usize },
}

/// Places one input's audio by playout time.
#[derive(Debug)]
pub struct AudioPlacer {
    rate: f64,
    channels: usize,
    pending: VecDeque<Pending>,
    pending_frames: usize,
    max_frames: usize,
    joined: JoinedAudio,
    /// Mixer-timeline time (session clock) at which the next released frame enters, s.
    out_pos: f64,
    /// The shift of the current release, s.
    shift: f64,
    dip: Dip,
    /// Frames of a fade.
    fade: usize,
    counters: PlacerCounters,
}

impl AudioPlacer {
    /// For an input of `sample_rate` Hz and `channels` channels (both ≥ 1).
    pub fn new(sample_rate: u32, channels: u16) -> Self {
        let rate = f64::from(sample_rate.max(1));
        Self {
            rate,
            channels: usize::from(channels.max(1)),
            pending: VecDeque::new(),
            pending_frames: 0,
            max_frames: (MAX_PENDING.as_secs_f64() * rate) as usize,
            joined: JoinedAudio::new(rate, usize::from(channels.max(1))),
            out_pos: 0.0,
            shift: 0.0,
            dip: Dip::None,
            fade: ((FADE_S * rate).round() as usize).max(1),
            counters: PlacerCounters::default(),
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> PlacerCounters {
        self.counters
    }

    /// Timing error now (s): how much later than due the next frame enters the timeline
    /// (negative: earlier). `None` before the first release.
    pub fn timing_error(&self) -> Option<f64> {
        self.joined
            .read_pts()
            .map(|p| self.out_pos - (p + self.shift))
    }

    /// Queues a block whose first sample plays at `pts`. Samples that are not a whole
    /// number of frames lose the partial frame. Returns the number of blocks dropped to stay
    /// within the bound.
    pub fn push(&mut self, pts: Duration, mut samples: Vec<f32>) -> u64 {
        let frames = samples.len() / self.channels;
        samples.truncate(frames * self.channels);
        if frames == 0 {
            return 0;
        }
        let mut dropped = 0;
        while self.pending_frames + frames > self.max_frames {
            let Some(old) = self.pending.pop_front() else {
                break;
            };
            self.pending_frames -= old.samples.len() / self.channels;
            self.counters.overflow_blocks += 1;
            dropped += 1;
        }
        self.queue(pts.as_secs_f64(), samples);
        dropped
    }

    /// Inserts a block in pts order (reordered blocks go where they belong).
    fn queue(&mut self, pts: f64, samples: Vec<f32>) {
        let at = self.pending.partition_point(|p| p.pts <= pts);
        self.pending_frames += samples.len() / self.channels;
        self.pending.insert(at, Pending { pts, samples });
    }

    /// Appends to `out` (cleared first) the samples that fill the mixer's timeline from its
    /// current end up to `horizon`, for the mix tick at `now`, with `shift` (s) added to
    /// every pts (see the module doc).
    pub fn release(
        &mut self,
        now: Duration,
        horizon: Duration,
        shift: f64,
        out: &mut Vec<f32>,
    ) -> Release {
        out.clear();
        let (now, horizon) = (now.as_secs_f64(), horizon.as_secs_f64());
        let mut rel = Release::default();
        if self.pending.is_empty() && self.joined.unread() < 1.0 && self.dip == Dip::None {
            return rel;
        }
        self.shift = shift;
        // The timeline ran dry (or never started): restart it at `now`.
        if !self.joined.is_started() || self.out_pos < now {
            self.restart(now - shift);
            self.out_pos = now;
        }
        let room = ((horizon - self.out_pos) * self.rate + 1e-6)
            .floor()
            .max(0.0) as usize;
        // Join what this release reads, and a fade beyond: a gap's fade-out goes over audio
        // not read yet.
        let ahead = room as f64 * (1.0 + MAX_STRETCH) + (self.fade + 4) as f64;
        while self.joined.unread() < ahead && self.join_one() {}
        let e = self.timing_error().unwrap_or(0.0);
        if self.dip == Dip::None && e.abs() > STRETCH_LIMIT {
            let then = if e > 0.0 {
                Then::Skip
            } else {
                Then::Silence((-e * self.rate).round() as usize)
            };
            self.dip = Dip::FadeOut {
                left: self.fade,
                then,
            };
            self.counters.corrections += 1;
        }
        // Within the deadband, a position between frames moves on to the next whole frame
        // (at least 0.1 % off step 1) and is copied from there.
        let land = self.dip == Dip::None && e.abs() < DEADBAND && !self.joined.on_frame();
        let step = if land {
            1.0 + (e / STRETCH_TAU).abs().max(LAND_STEP).copysign(e)
        } else if self.dip == Dip::None && e.abs() >= DEADBAND {
            1.0 + (e / STRETCH_TAU).clamp(-MAX_STRETCH, MAX_STRETCH)
        } else {
            1.0
        };
        while rel.frames < room {
            let n = self.release_part(step, land, room - rel.frames, out, &mut rel);
            if n == 0 {
                break;
            }
            rel.frames += n;
            self.out_pos += n as f64 / self.rate;
        }
        rel
    }

    /// Writes up to `want` frames of the current state (a dip's phase or plain reading).
    fn release_part(
        &mut self,
        step: f64,
        land: bool,
        want: usize,
        out: &mut Vec<f32>,
        rel: &mut Release,
    ) -> usize {
        let (fade, ch) = (self.fade, self.channels);
        let start = out.len();
        match self.dip {
            Dip::None => {
                let n = self.read(step, land, want, out);
                if step != 1.0 {
                    self.counters.stretched_frames += n as u64;
                }
                n
            }
            Dip::FadeOut { left, then } => {
                let n = self.read(1.0, false, want.min(left), out);
                let done = fade - left;
                ramp(&mut out[start..], ch, |j| {
                    1.0 - (done + j + 1) as f32 / fade as f32
                });
                self.dip = if n < left {
                    Dip::FadeOut {
                        left: left - n,
                        then,
                    }
                } else {
                    match then {
                        Then::Silence(0) => Dip::FadeIn { done: 0 },
                        Then::Silence(s) => Dip::Silence { left: s },
                        Then::Skip => {
                            // The error as the frames just read leave it.
                            let e = self.timing_error().unwrap_or(0.0) + n as f64 / self.rate;
                            self.skip(e);
                            Dip::FadeIn { done: 0 }
                        }
                    }
                };
                n
            }
            Dip::Silence { left } => {
                let n = want.min(left);
                out.resize(start + n * ch, 0.0);
                self.counters.gap_frames += n as u64;
                rel.silence_frames += n;
                self.dip = if n < left {
                    Dip::Silence { left: left - n }
                } else {
                    Dip::FadeIn { done: 0 }
                };
                n
            }
            Dip::FadeIn { done } => {
                let n = self.read(1.0, false, want.min(fade - done), out);
                ramp(&mut out[start..], ch, |j| {
                    (done + j + 1) as f32 / fade as f32
                });
                self.dip = if done + n < fade {
                    Dip::FadeIn { done: done + n }
                } else {
                    Dip::None
                };
                n
            }
        }
    }

    /// Reads up to `n` frames at `step`, joining queued blocks as the stream needs them.
    fn read(&mut self, step: f64, land: bool, n: usize, out: &mut Vec<f32>) -> usize {
        let mut got = 0;
        loop {
            got += self.joined.read(step, land, n - got, out);
            if got == n || !self.join_one() {
                return got;
            }
        }
    }

    /// Skips `secs` of audio from the read position (an immediate correction).
    fn skip(&mut self, secs: f64) {
        let Some(from) = self.joined.read_pts() else {
            return;
        };
        let target = from + secs;
        loop {
            let (Some(at), Some(end)) = (self.joined.read_pts(), self.joined.end_pts()) else {
                return;
            };
            if end >= target {
                let s = self.joined.skip((target - at) * self.rate);
                self.counters.trimmed_frames += s.round() as u64;
                return;
            }
            let s = self.joined.skip(f64::INFINITY);
            self.counters.trimmed_frames += s.round() as u64;
            if !self.join_one() {
                // Not here yet: what comes is joined from the target on.
                self.joined.restart_at(target);
                return;
            }
        }
    }

    /// Restarts the stream at pts `at` with nothing played: the audio joined but not read
    /// goes back to the queue (the joins trim what is past due).
    fn restart(&mut self, at: f64) {
        if let Some((pts, samples)) = self.joined.take_unread() {
            self.queue(pts, samples);
        }
        self.joined.restart_at(at);
        self.dip = Dip::None;
    }

    /// Joins the next queued block to the stream (see the module doc). False when none.
    fn join_one(&mut self) -> bool {
        let Some(p) = self.pending.pop_front() else {
            return false;
        };
        let ch = self.channels;
        let frames = p.samples.len() / ch;
        self.pending_frames -= frames;
        let Some(end) = self.joined.end_pts() else {
            self.joined.restart_at(p.pts);
            self.joined.append(p.pts, &p.samples);
            return true;
        };
        let (mut start, mut samples) = (p.pts, p.samples);
        if start + frames as f64 / self.rate <= end + JOIN_TOL && start < end - JOIN_TOL {
            self.counters.late_blocks += 1;
            self.counters.trimmed_frames += frames as u64;
            return true;
        }
        if start < end - JOIN_TOL {
            let k = (((end - start) * self.rate).round() as usize).min(frames);
            samples.drain(..k * ch);
            self.counters.trimmed_frames += k as u64;
            start += k as f64 / self.rate;
        } else if start > end + JOIN_TOL {
            let gap = ((start - end) * self.rate).round() as usize;
            self.joined.fade_out_tail(self.fade);
            // Beyond the queue's bound, the block's own pts leaves a timing error that the
            // next releases turn into the rest of the silence (bounded memory).
            let gap = gap.min(self.max_frames);
            self.joined.append_silence(gap);
            self.counters.gap_frames += gap as u64;
            let head = samples.len().min(self.fade * ch);
            ramp(&mut samples[..head], ch, |j| {
                (j + 1) as f32 / self.fade as f32
            });
        }
        self.joined.append(start, &samples);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn block(v: f32, frames: usize) -> Vec<f32> {
        vec![v; frames]
    }

    #[test]
    fn starts_on_time_with_faded_gaps_and_trims_overlaps() {
        // Mono 1 kHz so 1 frame = 1 ms (fades: 3 frames).
        let mut p = AudioPlacer::new(1000, 1);
        let mut out = Vec::new();
        p.push(ms(25), block(1.0, 20));
        // Tick at 0 with a 40 ms horizon: 25 ms of leading silence, then 15 frames, faded in.
        let r = p.release(ms(0), ms(40), 0.0, &mut out);
        assert_eq!(r.frames, 40);
        assert!(out[..25].iter().all(|&s| s == 0.0));
        assert!(out[25] > 0.0 && out[25] < out[26] && out[26] < 1.0);
        assert!(out[27..].iter().all(|&s| s == 1.0));
        assert_eq!(p.counters().gap_frames, 25);
        // The rest of the block, faded out before a 10 ms gap.
        p.push(ms(55), block(2.0, 20));
        let r = p.release(ms(10), ms(50), 0.0, &mut out);
        assert_eq!(r.frames, 10);
        assert_eq!(out[..2], [1.0, 1.0]);
        assert!(
            out[2] < 1.0 && out[3] < out[2] && out[4] < out[3] && out[4] > 0.0,
            "{out:?}"
        );
        assert!(out[5..].iter().all(|&s| s == 0.0));
        // A block overlapping the audio before it by 5 ms is trimmed.
        p.push(ms(70), block(3.0, 20));
        let r = p.release(ms(20), ms(90), 0.0, &mut out);
        assert_eq!(r.frames, 40);
        assert!(out[..5].iter().all(|&s| s == 0.0));
        assert!(out[8..25].iter().all(|&s| s == 2.0));
        assert!(out[25..].iter().all(|&s| s == 3.0));
        assert_eq!(p.counters().trimmed_frames, 5);
        assert_eq!(p.counters().gap_frames, 35);
        // A block entirely before the stream's end is dropped as late.
        p.push(ms(60), block(4.0, 10));
        let r = p.release(ms(30), ms(95), 0.0, &mut out);
        assert_eq!(r.frames, 0);
        assert_eq!(p.counters().late_blocks, 1);
        assert_eq!(p.counters().stretched_frames, 0);
    }

    #[test]
    fn reordered_blocks_play_in_order() {
        let mut p = AudioPlacer::new(1000, 1);
        let mut out = Vec::new();
        p.push(ms(20), block(2.0, 20));
        p.push(ms(0), block(1.0, 20));
        let r = p.release(ms(0), ms(40), 0.0, &mut out);
        assert_eq!(r.frames, 40);
        assert!(out[..20].iter().all(|&s| s == 1.0) && out[20..].iter().all(|&s| s == 2.0));
    }

    #[test]
    fn a_timeline_that_ran_dry_restarts_at_now() {
        let mut p = AudioPlacer::new(1000, 2);
        let mut out = Vec::new();
        p.push(ms(0), vec![0.5; 40]);
        assert_eq!(p.release(ms(0), ms(40), 0.0, &mut out).frames, 20);
        // Nothing for a while; content resumes at 500 ms, tick at 480 ms.
        p.push(ms(500), vec![0.5; 40]);
        let r = p.release(ms(480), ms(520), 0.0, &mut out);
        assert_eq!(r.frames, 40);
        assert_eq!(out.len(), 80);
        assert!(out[..40].iter().all(|&s| s == 0.0));
        assert!(out[46..].iter().all(|&s| s == 0.5));
    }

    #[test]
    fn overflow_drops_oldest_and_counts() {
        let mut p = AudioPlacer::new(1000, 1);
        for i in 0..300u64 {
            p.push(ms(i * 10), block(0.1, 10));
        }
        assert_eq!(p.counters().overflow_blocks, 100);
        let mut out = Vec::new();
        // The oldest kept block starts at 1 s.
        let r = p.release(ms(1000), ms(1040), 0.0, &mut out);
        assert_eq!(r.frames, 40);
        assert!(out.iter().all(|&s| s == 0.1));
    }

    const RATE: f64 = 48_000.0;
    const BLOCK: usize = 960;

    /// A 440 Hz tone of amplitude 0.5 at capture frame `i`.
    fn tone(i: usize) -> f32 {
        (0.5 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / RATE).sin()) as f32
    }

    /// Largest step between consecutive samples of the tone, with `slack`.
    fn tone_step(slack: f64) -> f32 {
        (0.5 * 2.0 * std::f64::consts::PI * 440.0 / RATE * (1.0 + slack)) as f32
    }

    /// Runs 48 kHz mono 20 ms blocks of the tone with pts `pts(k)` through a placer, mix
    /// ticks of 10 ms from `start` with a 12 ms horizon and `shift(now)`, for `seconds`;
    /// returns the placer, the output and the largest |timing error| after `settle_s`.
    fn run(
        pts: impl Fn(usize) -> f64,
        shift: impl Fn(f64) -> f64,
        start: f64,
        seconds: f64,
        settle_s: f64,
    ) -> (AudioPlacer, Vec<f32>, f64) {
        let mut p = AudioPlacer::new(48_000, 1);
        let (mut all, mut out) = (Vec::new(), Vec::new());
        let (mut k, mut worst) = (0, 0.0f64);
        for tick in 0..(seconds * 100.0) as usize {
            let now = start + tick as f64 * 0.01;
            while pts(k) < now + 0.1 {
                let b: Vec<f32> = (k * BLOCK..(k + 1) * BLOCK).map(tone).collect();
                p.push(Duration::from_secs_f64(pts(k)), b);
                k += 1;
            }
            let d = Duration::from_secs_f64;
            p.release(d(now), d(now + 0.012), shift(now), &mut out);
            all.extend_from_slice(&out);
            if now > start + settle_s {
                worst = worst.max(p.timing_error().unwrap_or(0.0).abs());
            }
        }
        (p, all, worst)
    }

    fn largest_step(out: &[f32]) -> f32 {
        out.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn a_slewing_budget_is_stretched_without_gaps_or_cuts() {
        // The budget rises by 1 % of time for 2 s (20 ms), then holds: each block's pts is
        // 0.2 ms later than the previous one's end while it moves.
        let pts = |k: usize| {
            let c = k as f64 * 0.02;
            0.04 + c + 0.01 * (c - 0.5).clamp(0.0, 2.0)
        };
        let (p, out, worst) = run(pts, |_| 0.0, 0.04, 5.0, 0.0);
        let c = p.counters();
        assert_eq!((c.gap_frames, c.trimmed_frames, c.corrections), (0, 0, 0));
        assert!(c.stretched_frames > 48_000, "{c:?}");
        // Continuous: no step larger than the tone's own (plus the pitch change).
        assert!(
            largest_step(&out) < tone_step(0.03),
            "{}",
            largest_step(&out)
        );
        // Followed within ~1 ms while moving, and settled after.
        assert!(worst < 0.002, "worst error {worst}");
        assert!(p.timing_error().unwrap_or(1.0).abs() < DEADBAND);
        // Everything released in time: the timeline is full to the last horizon.
        assert!(out.len().abs_diff(((4.99 + 0.012) * RATE) as usize) <= 1);
    }

    #[test]
    fn a_jump_of_the_shift_is_corrected_at_once_with_fades() {
        // The slot's video moves by one output frame (33 ms) later at 1 s, back at 2 s.
        let pts = |k: usize| 0.04 + k as f64 * 0.02;
        let shift = |now: f64| {
            if (1.0..2.0).contains(&now) {
                0.033
            } else {
                0.0
            }
        };
        let (p, out, _) = run(pts, shift, 0.04, 3.0, 0.0);
        let c = p.counters();
        assert_eq!(c.corrections, 2, "{c:?}");
        assert_eq!(c.gap_frames, 1584);
        assert!(c.trimmed_frames.abs_diff(1584) <= 1, "{c:?}");
        // Faded over 2.5 ms: no click.
        let fade_slope = 0.5 / (FADE_S * RATE) as f32;
        assert!(largest_step(&out) < tone_step(0.01) + fade_slope);
        assert!(p.timing_error().unwrap_or(1.0).abs() < DEADBAND);
        // The silence sits where the content was early, right after the jump.
        let at = |t: f64| ((t - 0.04) * RATE) as usize;
        assert!(out[at(1.0) + 300..at(1.0) + 1500].iter().all(|&s| s == 0.0));
        assert!(out[at(1.5)..at(1.5) + 200].iter().any(|&s| s.abs() > 0.4));
    }

    #[test]
    fn small_shift_changes_are_stretched() {
        // A 3 ms phase step of the output grid at 1 s: below the correction limit.
        let pts = |k: usize| 0.04 + k as f64 * 0.02;
        let shift = |now: f64| if now >= 1.0 { 0.003 } else { 0.0 };
        let (p, out, _) = run(pts, shift, 0.04, 3.0, 0.0);
        let c = p.counters();
        assert_eq!((c.gap_frames, c.trimmed_frames, c.corrections), (0, 0, 0));
        assert!(c.stretched_frames > 0);
        assert!(largest_step(&out) < tone_step(0.03));
        assert!(p.timing_error().unwrap_or(1.0).abs() < DEADBAND);
    }
}
