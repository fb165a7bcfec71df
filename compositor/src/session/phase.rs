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
//! - Tick `k` is at `grid(k) + offset` on the session clock (`grid(k) = k / fps` exactly); the
//!   output pts of tick `k` is that same time, so video and audio stay on one clock and lip
//!   sync is unchanged (the audio of a slot already follows the wait of its video).
//! - Per slot, [`PhaseWindow`] keeps, for the last [`WINDOW`] frames shown, `grid(k) - pts`:
//!   the wait the frame would have had with offset 0. Those values do not depend on the offset
//!   in force, so the controller has no feedback lag. A slot is *coherent* when those waits
//!   (taken modulo one frame) lie within [`MAX_SPREAD`] of each other: it runs at the output
//!   rate. Hosts at other rates (24, 25, 15 fps) have no phase to lock to and are ignored.
//! - [`GridPhase::update`] takes the smallest wait of each coherent slot and picks the offset
//!   that gives one of them exactly `margin` and every other slot the least extra wait (ties
//!   keep the current choice). The same phase exists one frame either side; the target is the
//!   one within `-frame..=frame` nearest the current offset, so the offset stays within one frame
//!   of the exact grid (output timestamps never drift from `k / fps`). When a host's clock drifts
//!   (0.1 % for 29.97 fps into 30), the target walks and wraps by one frame now and then: the
//!   move through the wrap shows one host frame a tick early or late, as any rate conversion
//!   does.
//! - The offset moves by at most `rate` of a frame per frame (1 % like the aligner's budget),
//!   so tick spacing stays within 1 % of `1 / fps` and output timestamps never jump.
//!
//! ## Units
//! Seconds as `f64`. The session thread owns one [`GridPhase`] and one [`PhaseWindow`] per
//! slot; it calls [`GridPhase::update`] once per rendered tick (real-time sessions only: an
//! offline session keeps the exact grid).

/// Frames kept per slot.
pub const WINDOW: usize = 12;
/// Largest spread (s) of a slot's recent waits for it to count as running at the output rate.
pub const MAX_SPREAD: f64 = 0.004;
/// Wait (s) the earliest coherent host's frames get before the tick: covers pts jitter of a
/// frame or two (RTP timestamps of cameras, the aligner's slewed corrections).
pub const DEFAULT_MARGIN: f64 = 0.004;
/// Smallest correction worth moving for (s).
const DEADBAND: f64 = 0.0005;
/// A candidate offset replaces the current one only when its worst wait is better by this (s).
const HYSTERESIS: f64 = 0.003;

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
    offset: f64,
    margin: f64,
    step: f64,
}

impl GridPhase {
    /// For an output frame period `frame` (s), moving at most `rate` of a frame per frame.
    pub fn new(frame: f64, rate: f64) -> Self {
        let frame = if frame.is_finite() && frame > 0.0 {
            frame
        } else {
            1.0 / 30.0
        };
        Self {
            frame,
            offset: 0.0,
            margin: DEFAULT_MARGIN.min(frame / 4.0),
            step: frame * rate.clamp(0.0, 0.1),
        }
    }

    /// The output frame period (s).
    pub fn frame(&self) -> f64 {
        self.frame
    }

    /// Current offset of the ticks from the exact grid (s, within one frame either side).
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// The wait (s) of a frame whose grid wait (`grid(k) - pts`, modulo a frame) is `phase`,
    /// with the ticks at `offset`.
    fn wait(&self, phase: f64, offset: f64) -> f64 {
        (phase + offset).rem_euclid(self.frame)
    }

    /// The offset within one frame of the grid that gives a frame of grid wait `phase` the
    /// wait `margin`, nearest `from`.
    fn target_for(&self, phase: f64, from: f64) -> f64 {
        let base = self.margin - phase;
        [base - self.frame, base, base + self.frame]
            .into_iter()
            .filter(|t| t.abs() <= self.frame)
            .min_by(|a, b| (a - from).abs().total_cmp(&(b - from).abs()))
            .unwrap_or(0.0)
    }

    /// One tick: `phases` are the coherent slots' smallest grid waits
    /// ([`PhaseWindow::coherent_min`]). Moves the offset one step toward the best target and
    /// returns it. No coherent slot: the offset stays.
    pub fn update(&mut self, phases: &[f64]) -> f64 {
        let frame = self.frame;
        // Worst wait over all slots when `phase` gets exactly the margin.
        let worst = |this: &Self, t: f64| {
            phases
                .iter()
                .map(|p| this.wait(*p, t))
                .fold(0.0f64, f64::max)
        };
        let mut best: Option<(f64, f64)> = None;
        for p in phases.iter().filter(|p| p.is_finite()) {
            let t = self.target_for(p.rem_euclid(frame), self.offset);
            let score = worst(self, t);
            let keep_current = best.is_some_and(|(bt, bs)| {
                // Prefer the target nearer the current offset unless clearly worse.
                let nearer = (t - self.offset).abs() < (bt - self.offset).abs();
                if nearer {
                    score > bs + HYSTERESIS
                } else {
                    score + HYSTERESIS >= bs
                }
            });
            if !keep_current {
                best = Some((t, score));
            }
        }
        if let Some((target, _)) = best {
            let err = target - self.offset;
            if err.abs() > DEADBAND {
                self.offset += err.clamp(-self.step, self.step);
            }
        }
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: f64 = 1.0 / 30.0;

    /// Runs `ticks` output ticks with hosts whose frames are due at `phase + n * period`
    /// (s); returns the waits of the frames shown after the first 10 s and the offsets seen.
    fn run(hosts: &[(f64, f64)], ticks: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut lock = GridPhase::new(F, 0.01);
        let mut windows = vec![PhaseWindow::default(); hosts.len()];
        let mut next = vec![0u64; hosts.len()];
        let mut waits = vec![Vec::new(); hosts.len()];
        let mut offsets = Vec::new();
        for k in 0..ticks {
            let grid = k as f64 * F;
            let tick = grid + lock.offset();
            for (h, &(phase, period)) in hosts.iter().enumerate() {
                // Newest frame due by the tick.
                let mut shown = None;
                while phase + next[h] as f64 * period <= tick {
                    shown = Some(phase + next[h] as f64 * period);
                    next[h] += 1;
                }
                if let Some(pts) = shown {
                    windows[h].push(grid - pts);
                    if k >= 300 {
                        waits[h].push(tick - pts);
                    }
                }
            }
            let phases: Vec<f64> = windows.iter().filter_map(|w| w.coherent_min(F)).collect();
            offsets.push(lock.update(&phases));
        }
        (waits, offsets)
    }

    fn max_step(offsets: &[f64]) -> f64 {
        offsets
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn one_host_at_the_output_rate_waits_the_margin_only() {
        // Due 5 ms after each grid point: unlocked it would wait 28.3 ms per frame.
        let (waits, offsets) = run(&[(0.005, F)], 400);
        for w in &waits[0] {
            assert!((w - DEFAULT_MARGIN).abs() < 0.001, "wait {w}");
        }
        assert!(max_step(&offsets) <= F * 0.01 + 1e-12);
        assert!(offsets.iter().all(|o| o.abs() <= F));
    }

    #[test]
    fn two_hosts_lock_to_the_one_that_leaves_the_least_wait() {
        // Host B due 10 ms after host A: the tick goes just after B's frames, so B waits the
        // margin and A 10 ms more (a tick just after A's would leave B a 27 ms wait).
        let (waits, _) = run(&[(0.002, F), (0.012, F)], 400);
        let a = waits[0].iter().copied().fold(0.0, f64::max);
        let b = waits[1].iter().copied().fold(0.0, f64::max);
        assert!((b - DEFAULT_MARGIN).abs() < 0.001, "b {b}");
        assert!((a - DEFAULT_MARGIN - 0.010).abs() < 0.001, "a {a}");
    }

    #[test]
    fn a_host_at_another_rate_leaves_the_grid_alone() {
        let (_, offsets) = run(&[(0.003, 1.0 / 24.0)], 400);
        assert!(offsets.iter().all(|o| *o == 0.0), "{offsets:?}");
    }

    #[test]
    fn a_drifting_host_is_followed_within_one_frame_and_no_tick_jumps() {
        // 29.97 fps into 30: the phase walks 33 µs per frame; three minutes of ticks.
        let period = 1001.0 / 30_000.0;
        let (waits, offsets) = run(&[(0.020, period)], 30 * 180);
        assert!(offsets.iter().all(|o| o.abs() <= F + 1e-12));
        assert!(max_step(&offsets) <= F * 0.01 + 1e-12);
        // Locked most of the time: the target wraps by a frame about every 33 s, and the
        // 3.3 s move back costs extra wait only then.
        let w = &waits[0];
        let small = w.iter().filter(|x| **x < DEFAULT_MARGIN + 0.002).count();
        assert!(small * 100 >= w.len() * 85, "{small} of {} small", w.len());
        assert!(w.iter().all(|x| *x <= F + 1e-9));
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
