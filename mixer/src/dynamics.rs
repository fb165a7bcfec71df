//! Gain dynamics: per-sample ramps, the ducking envelope and the master look-ahead limiter.
//!
//! Units: gains are linear amplitude factors unless a name says `_db`; times are in frames
//! at the mix rate (callers convert ms). All state is preallocated at construction; the
//! per-block methods never allocate.
//!
//! Limiter invariant: with ceiling `c`, every output sample satisfies `|y| <= c` (sample
//! peak). It delays the signal by `lookahead` frames: for each incoming frame it computes the
//! gain needed for that frame (`min(1, c/peak)`), takes the minimum over the look-ahead window
//! (monotonic deque, O(1) amortised), lets that recover with an exponential release, and
//! smooths it with a moving average of the same window length. Every gain averaged for a
//! frame is `<=` that frame's required gain, so the average is too: no overshoot, and the
//! gain reduction starts `lookahead` frames early and is click-free.

use std::collections::VecDeque;

/// Converts dB to a linear amplitude factor.
pub fn db_to_lin(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Converts a linear amplitude to dB, floored at −120 dB for zero/silence.
pub fn lin_to_db(lin: f32) -> f32 {
    if lin > 1e-6 {
        20.0 * lin.log10()
    } else {
        -120.0
    }
}

/// A per-sample linear ramp toward a target value with a fixed step (used for fades).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ramp {
    value: f32,
    target: f32,
    step: f32,
}

impl Ramp {
    /// Starts at `value`; a full 0 -> 1 move takes `frames` samples.
    pub(crate) fn new(value: f32, frames: usize) -> Self {
        Self {
            value,
            target: value,
            step: 1.0 / frames.max(1) as f32,
        }
    }

    /// Sets where the ramp goes.
    pub(crate) fn set_target(&mut self, target: f32) {
        self.target = target;
    }

    /// Current value.
    pub(crate) fn value(&self) -> f32 {
        self.value
    }

    /// True when the value has reached the target.
    pub(crate) fn settled(&self) -> bool {
        self.value == self.target
    }

    /// Advances one sample and returns the new value.
    #[inline]
    pub(crate) fn next_value(&mut self) -> f32 {
        if self.value < self.target {
            self.value = (self.value + self.step).min(self.target);
        } else if self.value > self.target {
            self.value = (self.value - self.step).max(self.target);
        }
        self.value
    }
}

/// Ducking envelope in dB: moves linearly toward `-depth` at `depth/attack` per block while
/// the trigger speaks, and back to 0 dB at `depth/release` per block otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DuckEnvelope {
    db: f32,
}

impl DuckEnvelope {
    /// Advances one block and returns the attenuation in dB (<= 0).
    pub(crate) fn update(
        &mut self,
        speaking: bool,
        depth_db: f32,
        attack_blocks: f32,
        release_blocks: f32,
    ) -> f32 {
        let depth = depth_db.abs();
        if speaking {
            let step = depth / attack_blocks.max(1.0);
            self.db = (self.db - step).max(-depth);
        } else {
            let step = depth / release_blocks.max(1.0);
            self.db = (self.db + step).min(0.0);
        }
        // A shallower depth set while ducked takes effect gradually from below.
        if self.db < -depth {
            self.db = (self.db + depth / attack_blocks.max(1.0)).min(0.0);
        }
        self.db
    }

    /// Current attenuation in dB.
    pub(crate) fn db(&self) -> f32 {
        self.db
    }
}

/// Look-ahead peak limiter on interleaved frames (channels linked).
#[derive(Debug)]
pub(crate) struct Limiter {
    channels: usize,
    ceiling: f32,
    lookahead: usize,
    release_coef: f32,
    /// Delay line of `lookahead` frames (interleaved), ring-indexed by `pos`.
    delay: Vec<f32>,
    pos: usize,
    /// Monotonic deque of (frame index, required gain) for the window minimum.
    minq: VecDeque<(u64, f32)>,
    /// Ring of the last `lookahead` released-minimum gains and their running sum.
    avg_ring: Vec<f32>,
    avg_sum: f64,
    env: f32,
    n: u64,
    min_gain_seen: f32,
}

impl Limiter {
    /// Limiter with a sample-peak `ceiling` (linear), `lookahead` frames (>= 1) and release
    /// time constant `release_frames`.
    pub(crate) fn new(
        channels: usize,
        ceiling: f32,
        lookahead: usize,
        release_frames: f32,
    ) -> Self {
        let lookahead = lookahead.max(1);
        Self {
            channels: channels.max(1),
            ceiling,
            lookahead,
            release_coef: 1.0 - (-1.0 / release_frames.max(1.0)).exp(),
            delay: vec![0.0; lookahead * channels.max(1)],
            pos: 0,
            minq: VecDeque::with_capacity(lookahead + 2),
            avg_ring: vec![1.0; lookahead],
            avg_sum: lookahead as f64,
            env: 1.0,
            n: 0,
            min_gain_seen: 1.0,
        }
    }

    /// Latency in frames.
    pub(crate) fn latency(&self) -> usize {
        self.lookahead
    }

    /// Current gain reduction in dB (<= 0) and resets the block minimum.
    pub(crate) fn take_gain_reduction_db(&mut self) -> f32 {
        let g = self.min_gain_seen;
        self.min_gain_seen = self.env.min(1.0);
        lin_to_db(g).min(0.0)
    }

    /// Limits `buf` (interleaved, whole frames) in place; the output is delayed by
    /// [`Limiter::latency`] frames.
    pub(crate) fn process(&mut self, buf: &mut [f32]) {
        let ch = self.channels;
        let la = self.lookahead;
        for frame in buf.chunks_exact_mut(ch) {
            // 1. Required gain for the incoming frame.
            let mut peak = 0.0f32;
            for s in frame.iter() {
                peak = peak.max(s.abs());
            }
            let req = if peak > self.ceiling {
                self.ceiling / peak
            } else {
                1.0
            };
            // 2. Window minimum over the last `la + 1` frames (covers the delayed frame).
            while let Some(&(_, g)) = self.minq.back() {
                if g >= req {
                    self.minq.pop_back();
                } else {
                    break;
                }
            }
            self.minq.push_back((self.n, req));
            while let Some(&(i, _)) = self.minq.front() {
                if i + (la as u64) < self.n {
                    self.minq.pop_front();
                } else {
                    break;
                }
            }
            let wmin = self.minq.front().map_or(1.0, |&(_, g)| g);
            // 3. Release: instant drop, exponential recovery; never above the window minimum.
            self.env = if wmin < self.env {
                wmin
            } else {
                (self.env + self.release_coef * (wmin - self.env)).min(wmin)
            };
            // 4. Moving average over the window.
            let slot = (self.n % la as u64) as usize;
            self.avg_sum += f64::from(self.env) - f64::from(self.avg_ring[slot]);
            self.avg_ring[slot] = self.env;
            let gain = ((self.avg_sum / la as f64) as f32).min(1.0);
            if gain < self.min_gain_seen {
                self.min_gain_seen = gain;
            }
            // 5. Swap the frame through the delay line and apply the gain to the delayed one.
            let d = &mut self.delay[self.pos * ch..(self.pos + 1) * ch];
            for (s, old) in frame.iter_mut().zip(d.iter_mut()) {
                let delayed = *old;
                *old = *s;
                // Float rounding of the running average can exceed the exact bound by ~1 ulp.
                *s = (delayed * gain).clamp(-self.ceiling, self.ceiling);
            }
            self.pos = (self.pos + 1) % la;
            self.n += 1;
        }
        // Re-sum the ring occasionally to cancel accumulated rounding.
        if self.n % (la as u64 * 1024) < (buf.len() / ch) as u64 {
            self.avg_sum = self.avg_ring.iter().map(|&g| f64::from(g)).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_bounds_and_passes_quiet() {
        let mut l = Limiter::new(1, 0.891, 96, 4800.0);
        let mut buf: Vec<f32> = (0..4800).map(|i| 3.0 * (i as f32 * 0.05).sin()).collect();
        l.process(&mut buf);
        assert!(buf.iter().all(|s| s.abs() <= 0.891));
        let mut l = Limiter::new(1, 0.891, 96, 4800.0);
        let mut quiet: Vec<f32> = (0..4800).map(|i| 0.5 * (i as f32 * 0.05).sin()).collect();
        let orig = quiet.clone();
        l.process(&mut quiet);
        for i in 96..4800 {
            assert!((quiet[i] - orig[i - 96]).abs() < 1e-6);
        }
    }

    #[test]
    fn ramp_reaches_target() {
        let mut r = Ramp::new(0.0, 10);
        r.set_target(1.0);
        for _ in 0..10 {
            r.next_value();
        }
        assert!(r.settled());
    }
}
