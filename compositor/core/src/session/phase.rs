//! Output frame-grid phase lock (sans-IO).
//!
//! A slot shows a host frame at the first output tick at or after the frame's playout time.
//! When a host's frames and the output's ticks have unrelated phases, each frame waits for the
//! grid between 0 and one frame period (16.7 ms on average at 30 fps): pure added latency, on
//! top of the aligner's budget. Hosts that run at the output rate (cameras at 30 fps into a
//! 30 fps composite: the PK case) keep a constant phase, so the session can move its ticks to
//! fall just after their frames are due. That is what this module decides.
//!
//! ## Model
//! - Tick `k` is at `grid(k + shift) + offset` on the session clock (`grid(k) = k / fps`
//!   exactly, `shift` a whole number of frames); the output pts of tick `k` is that same time, so video and audio stay on one clock and lip
//!   sync is unchanged (the audio of a slot already follows the wait of its video).
//! - Per slot, [`PhaseWindow`] keeps, for the last [`WINDOW`] frames shown, `grid(k) - pts`:
//!   the wait the frame would have had with offset 0. Those values do not depend on the offset
//!   in force, so the controller has no feedback lag. A slot is *coherent* when those waits
//!   (taken modulo one frame) lie within [`MAX_SPREAD`] of each other: it runs at the output
//!   rate. Hosts at other rates (24, 25, 15 fps) have no phase to lock to and are ignored.
//! - [`GridPhase::update`] works out the best offset: the one that gives one coherent slot
//!   exactly `margin` and every other slot the least extra wait.
//! - **The offset moves by steps, never by slewing**, and only when the ticks are off:
//!   a coherent slot's frames come less than [`MIN_WAIT`] before the tick (a little jitter
//!   and they miss it), or the worst wait exceeds the best arrangement's by more than
//!   [`STEP_GAIN`] (a host joined or left, or the phase walked). One step makes one output
//!   frame longer or shorter by under half a frame; every other frame keeps exactly
//!   `1 / fps`. Why steps: while an offset slews, every frame duration is off by up to the
//!   slew rate, and that is enough for ffprobe (and CDN ingest, which expects constant frame
//!   timing) to read a 30 fps FLV as 30000/1001 or 359/12. A step is one irregular frame,
//!   like a repeated one, typically when a host joins and the picture changes anyway.
//! - The step goes to the equivalent offset nearest the current one (within half a frame),
//!   and the offset is kept within half a frame of the grid by folding whole frames into
//!   a tick index shift ([`GridPhase::index_shift`]): tick `k` is at
//!   `grid(k + shift) + offset`, so output timestamps never drift from the frame grid.
//! - While the hosts' phase moves (the aligner's budget slewing, 1 % of time), the ticks
//!   hold still and the waits wrap as they would unlocked; one step follows once the phase
//!   settles. Stepping after a moving phase would make an irregular frame every few frames.
//! - A drifting host (29.97 fps into 30: the phase walks 1 ms per second) is kept within
//!   `MIN_WAIT..=margin + STEP_GAIN` by a step of about 3 ms every 3 s; unlocked, its wait
//!   would cycle through the whole frame.

//! ## Units
//! Seconds as `f64`. The session thread owns one [`GridPhase`] and one [`PhaseWindow`] per
//! slot; it calls [`GridPhase::update`] once per rendered tick (real-time sessions only: an
//! offline session keeps the exact grid). With the lock on by default
//! (`SessionConfig::phase_lock`), a session of hosts at the output rate loses the random
//! 0–33 ms grid wait per frame.

/// Frames kept per slot.
pub const WINDOW: usize = 12;
/// Largest spread (s) of a slot's recent waits for it to count as running at the output rate.
pub const MAX_SPREAD: f64 = 0.004;
/// Wait (s) the earliest coherent host's frames get before the tick: covers pts jitter of a
/// frame or two (RTP timestamps of cameras, the aligner's slewed corrections).
pub const DEFAULT_MARGIN: f64 = 0.004;
/// Smallest wait (s) a coherent slot's frames may have before the ticks step: under it, a
/// frame a little late misses its tick.
pub const MIN_WAIT: f64 = 0.001;
/// Extra worst wait (s) over the best arrangement tolerated before the ticks step.
pub const STEP_GAIN: f64 = 0.005;
/// Ticks over which the lead phase is watched for movement.
const MOVE_TICKS: usize = 15;
/// A lead phase that moved more than this (s) over [`MOVE_TICKS`] is moving: the aligner's
/// budget is slewing (1 % moves it 5 ms in 15 frames). The ticks hold still until it settles:
/// stepping after a moving phase would make an irregular frame every few frames. A drifting
/// clock (29.97 fps into 30: 0.5 ms in 15 frames) is not "moving".
const MOVE_LIMIT: f64 = 0.001;

/// The last [`WINDOW`] waits of one slot's frames on the exact grid (`grid(k) - pts`, s).
#[derive(Debug, Clone, Default)]
pub struct PhaseWindow {
    waits: [f64; WINDOW],
    len: usize,
    next: usize,
}

impl PhaseWindow {
    /// Notes a frame shown at tick `k`: `grid_wait` = `grid(k) - pts` (s).
    pub fn push(&mut self, grid_wait: f64) {
        if !grid_wait.is_finite() {
            return;
        }
        self.waits[self.next] = grid_wait;
        self.next = (self.next + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
    }

    /// Forgets every frame (a stall, a new stream).
    pub fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
    }

    /// The smallest recent wait taken modulo `frame` (`0..frame`) when the window is full and
    /// its waits lie within [`MAX_SPREAD`] of each other (circularly); else None.
    pub fn coherent_min(&self, frame: f64) -> Option<f64> {
        if self.len < WINDOW || frame.is_nan() || frame <= 0.0 {
            return None;
        }
        let newest = self.waits[(self.next + WINDOW - 1) % WINDOW].rem_euclid(frame);
        // Unwrap every wait around the newest one (within half a frame of it).
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for w in &self.waits {
            let mut d = w.rem_euclid(frame) - newest;
            if d > frame / 2.0 {
                d -= frame;
            } else if d < -frame / 2.0 {
                d += frame;
            }
            lo = lo.min(d);
            hi = hi.max(d);
        }
        (hi - lo <= MAX_SPREAD).then(|| (newest + lo).rem_euclid(frame))
    }
}

/// The offset of the output ticks from the exact frame grid (see the module doc).
#[derive(Debug, Clone)]
pub struct GridPhase {
    frame: f64,
    /// Within half a frame of the grid.
    offset: f64,
    /// Whole frames folded out of the offset: tick `k` is at `grid(k + shift) + offset`.
    shift: i64,
    margin: f64,
    steps: u64,
    /// The best arrangement's lead phase over the last [`MOVE_TICKS`] ticks (ring).
    lead_history: [f64; MOVE_TICKS],
    lead_len: usize,
    lead_next: usize,
}

impl GridPhase {
    /// For an output frame period `frame` (s).
    pub fn new(frame: f64) -> Self {
        let frame = if frame.is_finite() && frame > 0.0 {
            frame
        } else {
            1.0 / 30.0
        };
        Self {
            frame,
            offset: 0.0,
            shift: 0,
            margin: DEFAULT_MARGIN.min(frame / 4.0),
            steps: 0,
            lead_history: [0.0; MOVE_TICKS],
            lead_len: 0,
            lead_next: 0,
        }
    }

    /// The output frame period (s).
    pub fn frame(&self) -> f64 {
        self.frame
    }

    /// Current offset of the ticks from the grid (s, within half a frame either side).
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// Whole frames folded out of the offset: tick `k` is at `grid(k + shift) + offset`.
    pub fn index_shift(&self) -> i64 {
        self.shift
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// One tick: `phases` are the coherent slots' smallest grid waits
    /// ([`PhaseWindow::coherent_min`]). Steps the offset when the ticks are off (see the
    /// module doc) and returns it. No coherent slot: the offset stays.
    pub fn update(&mut self, phases: &[f64]) -> f64 {
        let frame = self.frame;
        let margin = self.margin;
        let phases = phases
            .iter()
            .filter(|p| p.is_finite())
            .map(|p| p.rem_euclid(frame));
        // The best arrangement: one slot at exactly the margin, the others later by their
        // phase difference; the least worst wait wins.
        let mut best: Option<(f64, f64)> = None;
        let (mut now_min, mut now_max) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in phases.clone() {
            let worst = phases
                .clone()
                .map(|q| margin + (q - p).rem_euclid(frame))
                .fold(margin, f64::max);
            if best.is_none_or(|(_, w)| worst < w - 1e-9) {
                best = Some((p, worst));
            }
            let now = (p + self.offset).rem_euclid(frame);
            now_min = now_min.min(now);
            now_max = now_max.max(now);
        }
        let Some((lead, worst)) = best else {
            self.lead_len = 0;
            return self.offset;
        };
        if self.lead_moving(lead) || (now_min >= MIN_WAIT && now_max <= worst + STEP_GAIN) {
            return self.offset;
        }
        // The offset giving `lead` the margin, nearest the current one.
        let base = margin - lead;
        let target = base + ((self.offset - base) / frame).round() * frame;
        if (target - self.offset).abs() > 1e-9 {
            self.offset = target;
            self.steps += 1;
            // Fold whole frames into the index shift: the tick times are unchanged.
            while self.offset > frame / 2.0 {
                self.offset -= frame;
                self.shift += 1;
            }
            while self.offset <= -frame / 2.0 {
                self.offset += frame;
                self.shift -= 1;
            }
        }
        self.offset
    }

    /// Notes this tick's lead phase; true when it moved over [`MOVE_LIMIT`] (circularly)
    /// since [`MOVE_TICKS`] ticks ago, or when fewer ticks were seen.
    fn lead_moving(&mut self, lead: f64) -> bool {
        let oldest = self.lead_history[self.lead_next];
        self.lead_history[self.lead_next] = lead;
        self.lead_next = (self.lead_next + 1) % MOVE_TICKS;
        self.lead_len = (self.lead_len + 1).min(MOVE_TICKS);
        if self.lead_len < MOVE_TICKS {
            return true;
        }
        let d = (lead - oldest).rem_euclid(self.frame);
        d.min(self.frame - d) > MOVE_LIMIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: f64 = 1.0 / 30.0;

    /// What a run showed: per host, the waits of the frames shown after the first 10 s;
    /// the tick times; the steps taken.
    struct Run {
        waits: Vec<Vec<f64>>,
        ticks: Vec<f64>,
        lock: GridPhase,
    }

    /// Runs `ticks` output ticks with hosts whose frames are due at `phase + n * period`
    /// (s), each present from `join` s on.
    fn run(hosts: &[(f64, f64, f64)], ticks: usize) -> Run {
        run_with(hosts, ticks, |_| 0.0)
    }

    /// As [`run`], every frame captured at `c` due `budget(c)` later (a budget moving).
    fn run_with(hosts: &[(f64, f64, f64)], ticks: usize, budget: impl Fn(f64) -> f64) -> Run {
        let due = |phase: f64, period: f64, n: u64| {
            let c = phase + n as f64 * period;
            c + budget(c)
        };
        let mut lock = GridPhase::new(F);
        let mut windows = vec![PhaseWindow::default(); hosts.len()];
        let mut next = vec![0u64; hosts.len()];
        let mut waits = vec![Vec::new(); hosts.len()];
        let mut times = Vec::new();
        for k in 0..ticks {
            let grid = k as f64 * F;
            let tick = (k as i64 + lock.index_shift()) as f64 * F + lock.offset();
            times.push(tick);
            for (h, &(phase, period, join)) in hosts.iter().enumerate() {
                // Newest frame due by the tick.
                let mut shown = None;
                while due(phase, period, next[h]) <= tick {
                    shown = Some(due(phase, period, next[h]));
                    next[h] += 1;
                }
                if let Some(pts) = shown.filter(|p| *p >= join) {
                    windows[h].push(grid - pts);
                    if k >= 300 {
                        waits[h].push(tick - pts);
                    }
                }
            }
            let phases: Vec<f64> = windows.iter().filter_map(|w| w.coherent_min(F)).collect();
            lock.update(&phases);
        }
        Run {
            waits,
            ticks: times,
            lock,
        }
    }

    /// Tick intervals that are not exactly one frame (beyond rounding).
    fn irregular(ticks: &[f64]) -> Vec<f64> {
        ticks
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| (d - F).abs() > 1e-9)
            .collect()
    }

    #[test]
    fn one_host_at_the_output_rate_waits_the_margin_after_one_step() {
        // Due 5 ms after each grid point: unlocked it would wait 28.3 ms per frame.
        let r = run(&[(0.005, F, 0.0)], 400);
        for w in &r.waits[0] {
            assert!((w - DEFAULT_MARGIN).abs() < 1e-6, "wait {w}");
        }
        // One step, so one irregular frame; every other tick is exactly a frame apart.
        assert_eq!(r.lock.steps(), 1);
        let odd = irregular(&r.ticks);
        assert_eq!(odd.len(), 1, "{odd:?}");
        assert!(odd[0] > F / 2.0 && odd[0] < 1.5 * F, "{odd:?}");
        assert!(r.lock.offset().abs() <= F / 2.0);
    }

    #[test]
    fn two_hosts_lock_to_the_one_that_leaves_the_least_wait() {
        // Host B due 10 ms after host A: the tick goes just after B's frames, so B waits the
        // margin and A 10 ms more (a tick just after A's would leave B a 27 ms wait).
        let r = run(&[(0.002, F, 0.0), (0.012, F, 0.0)], 400);
        let a = r.waits[0].iter().copied().fold(0.0, f64::max);
        let b = r.waits[1].iter().copied().fold(0.0, f64::max);
        assert!((b - DEFAULT_MARGIN).abs() < 1e-6, "b {b}");
        assert!((a - DEFAULT_MARGIN - 0.010).abs() < 1e-6, "a {a}");
    }

    #[test]
    fn a_host_joining_later_moves_the_ticks_once_when_it_gains_enough() {
        // A alone locks first; B joins at 5 s, due 3 ms after A: just after A's tick, so it
        // would wait 30.3 ms. The ticks step once more to just after B's frames: B waits the
        // margin and A 3 ms more.
        let r = run(&[(0.002, F, 0.0), (0.005, F, 5.0)], 600);
        assert_eq!(r.lock.steps(), 2);
        assert_eq!(irregular(&r.ticks).len(), 2);
        let a = r.waits[0].iter().copied().fold(0.0, f64::max);
        let b = r.waits[1].iter().copied().fold(0.0, f64::max);
        assert!((b - DEFAULT_MARGIN).abs() < 1e-6, "b {b}");
        assert!((a - DEFAULT_MARGIN - 0.003).abs() < 1e-6, "a {a}");
        // B due 20 ms after A waits 17.3 ms; the other way A would wait 24: no step.
        let r = run(&[(0.002, F, 0.0), (0.022, F, 5.0)], 600);
        assert_eq!(r.lock.steps(), 1);
        let a = r.waits[0].iter().copied().fold(0.0, f64::max);
        let b = r.waits[1].iter().copied().fold(0.0, f64::max);
        assert!((a - DEFAULT_MARGIN).abs() < 1e-6, "a {a}");
        assert!((b - DEFAULT_MARGIN - F + 0.020).abs() < 1e-6, "b {b}");
    }

    #[test]
    fn ticks_hold_still_while_the_budget_slews_then_step_once() {
        // Locked by 2 s; from 4 s to 7 s the budget falls 30 ms (1 %), then holds.
        let budget = |c: f64| 0.030 - 0.01 * (c - 4.0).clamp(0.0, 3.0);
        let r = run_with(&[(0.005, F, 0.0)], 30 * 12, budget);
        // The first lock and one step after the slew: not one every 5 ms of movement.
        assert_eq!(r.lock.steps(), 2);
        let steps: Vec<usize> = r
            .ticks
            .windows(2)
            .enumerate()
            .filter(|(_, w)| (w[1] - w[0] - F).abs() > 1e-9)
            .map(|(k, _)| k)
            .collect();
        assert!(steps[1] >= 7 * 30, "{steps:?}");
        assert!(steps[1] <= 8 * 30, "{steps:?}");
        // Then the frames wait the margin again.
        let last = r.waits[0].last().copied().unwrap_or(0.0);
        assert!((last - DEFAULT_MARGIN).abs() < 1e-6, "{last}");
    }

    #[test]
    fn a_host_at_another_rate_leaves_the_grid_alone() {
        let r = run(&[(0.003, 1.0 / 24.0, 0.0)], 400);
        assert_eq!(r.lock.steps(), 0);
        assert!(irregular(&r.ticks).is_empty());
    }

    #[test]
    fn a_drifting_host_is_kept_near_the_margin_by_rare_small_steps() {
        // 29.97 fps into 30: the phase walks 33 µs per frame; three minutes of ticks.
        let period = 1001.0 / 30_000.0;
        let r = run(&[(0.020, period, 0.0)], 30 * 180);
        // Every frame is shown with a wait in the band (none misses its tick by a frame).
        let w = &r.waits[0];
        assert!(
            w.iter()
                .all(|x| *x >= MIN_WAIT - 0.0001 && *x <= DEFAULT_MARGIN + STEP_GAIN + 0.0001),
            "{:?}",
            w.iter()
                .fold((1.0f64, 0.0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)))
        );
        // The first lock, then about one 3 ms step every 3 s; each frame otherwise exactly
        // 1/30 s.
        let odd = irregular(&r.ticks);
        assert!(odd.len() <= 70, "{} steps", odd.len());
        assert!((odd[0] - F).abs() < F / 2.0, "{odd:?}");
        assert!(odd[1..].iter().all(|d| (d - F).abs() <= 0.0035), "{odd:?}");
        // The ticks stay on the grid: offset within half a frame, whole frames folded.
        assert!(r.lock.offset().abs() <= F / 2.0);
        assert!(r.lock.index_shift() > 0);
    }

    #[test]
    fn jittery_waits_are_not_coherent() {
        let mut w = PhaseWindow::default();
        for i in 0..WINDOW {
            w.push(if i % 2 == 0 { 0.010 } else { 0.020 });
        }
        assert_eq!(w.coherent_min(F), None);
        w.clear();
        for i in 0..WINDOW {
            // Straddling the wrap: 32 ms and 1 ms are 2.3 ms apart on the circle.
            w.push(if i % 2 == 0 { 0.032 } else { F + 0.001 });
        }
        let m = w.coherent_min(F).unwrap();
        assert!((m - 0.032).abs() < 1e-9, "{m}");
    }
}
