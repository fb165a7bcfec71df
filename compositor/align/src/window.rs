//! Windowed statistics of per-unit figures (processing time, lateness) over the same window
//! as the transit floor: 1 s buckets of observation time, the last [`WINDOW_BUCKETS`] closed
//! ones plus the open one (30–31 s).
//!
//! - [`WindowMax`]: the largest value (what the audio path must cover: a late audio block is
//!   an audible gap).
//! - [`WindowTop`]: an upper quantile (what the video path must cover: a frame ready after
//!   its playout time is shown at the next output tick, one frame late, and counted; letting
//!   the rarest spikes of a loaded decoder through keeps the whole session from running up
//!   to 30 ms later for 30 s after each one).
//!
//! Sans-IO: times and values are f64 seconds passed in. No allocation after the window fills;
//! reads are O(1) / O([`TOP`]), since they happen for every unit aligned.

use std::collections::VecDeque;

use super::floor::{BUCKET_S, WINDOW_BUCKETS};

/// Largest value seen over the same window as [`TransitFloor`] (1 s buckets, the last
/// [`WINDOW_BUCKETS`] closed ones plus the open one): a track's processing time, from a
/// unit's arrival to its hand-over decoded. Sans-IO; no allocation after the window fills.
#[derive(Debug, Clone, Default)]
pub struct WindowMax {
    /// `(bucket start, max)` of the closed buckets, oldest first.
    closed: VecDeque<(f64, f64)>,
    /// The open bucket.
    open: Option<(f64, f64)>,
    /// Largest max among `closed` (recomputed when a bucket closes, once a second), ≥ 0.
    closed_max: f64,
}

impl WindowMax {
    /// Adds value `x` observed at time `t` (s). Times before the open bucket's start count
    /// in the open bucket (reordering).
    pub fn push(&mut self, t: f64, x: f64) {
        match &mut self.open {
            Some((start, max)) if t < *start + BUCKET_S => *max = max.max(x),
            open => {
                if let Some(b) = open.replace((t, x)) {
                    self.closed.push_back(b);
                    while self.closed.len() > WINDOW_BUCKETS {
                        self.closed.pop_front();
                    }
                    self.closed_max = self.closed.iter().fold(0.0, |a, &(_, m)| a.max(m));
                }
            }
        }
    }

    /// The largest value in the window, 0 when empty (never below 0). O(1): it is read for
    /// every unit aligned.
    pub fn max(&self) -> f64 {
        self.open
            .map_or(self.closed_max, |(_, m)| self.closed_max.max(m))
    }
}

/// Largest values kept per bucket by [`WindowTop`]: the quantile skips at most `TOP - 1`
/// values of the window.
pub const TOP: usize = 16;

/// The `TOP` largest values of a bucket (or of several merged), largest first.
#[derive(Debug, Clone, Copy)]
struct Top {
    vals: [f64; TOP],
    len: usize,
}

impl Default for Top {
    fn default() -> Self {
        Self {
            vals: [0.0; TOP],
            len: 0,
        }
    }
}

impl Top {
    fn insert(&mut self, x: f64) {
        if self.len == TOP && x <= self.vals[TOP - 1] {
            return;
        }
        let mut i = self.len.min(TOP - 1);
        self.len = (self.len + 1).min(TOP);
        while i > 0 && self.vals[i - 1] < x {
            self.vals[i] = self.vals[i - 1];
            i -= 1;
        }
        self.vals[i] = x;
    }

    fn as_slice(&self) -> &[f64] {
        &self.vals[..self.len]
    }
}

#[derive(Debug, Clone, Copy)]
struct TopBucket {
    start: f64,
    count: u64,
    top: Top,
}

/// An upper quantile over the window: the value exceeded by at most a `share` of the
/// window's observations (and by at most `TOP - 1` of them). With fewer than `1 / share`
/// observations that is the maximum.
#[derive(Debug, Clone, Default)]
pub struct WindowTop {
    closed: VecDeque<TopBucket>,
    open: Option<TopBucket>,
    /// Merged top of the closed buckets and their count (recomputed when a bucket closes).
    closed_top: Top,
    closed_count: u64,
}

impl WindowTop {
    /// Adds value `x` observed at time `t` (s). Times before the open bucket's start count
    /// in the open bucket (reordering). Non-finite values are ignored.
    pub fn push(&mut self, t: f64, x: f64) {
        if !x.is_finite() {
            return;
        }
        match &mut self.open {
            Some(b) if t < b.start + BUCKET_S => {
                b.count += 1;
                b.top.insert(x);
            }
            open => {
                let mut b = TopBucket {
                    start: t,
                    count: 1,
                    top: Top::default(),
                };
                b.top.insert(x);
                if let Some(old) = open.replace(b) {
                    self.closed.push_back(old);
                    while self.closed.len() > WINDOW_BUCKETS {
                        self.closed.pop_front();
                    }
                    self.closed_top = Top::default();
                    self.closed_count = 0;
                    for c in &self.closed {
                        self.closed_count += c.count;
                        for &v in c.top.as_slice() {
                            self.closed_top.insert(v);
                        }
                    }
                }
            }
        }
    }

    /// The value exceeded by at most `share` (0..=1) of the window's observations, 0 when
    /// empty (never below 0).
    pub fn upper(&self, share: f64) -> f64 {
        let open = self.open.as_ref();
        let n = self.closed_count + open.map_or(0, |b| b.count);
        let share = if share.is_finite() {
            share.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let skip = ((n as f64 * share).floor() as usize).min(TOP - 1);
        // The (skip + 1)-th largest of the two sorted lists.
        let (a, b) = (
            self.closed_top.as_slice(),
            open.map_or(&[][..], |b| b.top.as_slice()),
        );
        let (mut i, mut j) = (0, 0);
        let mut v = 0.0f64;
        for _ in 0..=skip {
            v = match (a.get(i), b.get(j)) {
                (Some(&x), Some(&y)) if x >= y => {
                    i += 1;
                    x
                }
                (_, Some(&y)) => {
                    j += 1;
                    y
                }
                (Some(&x), None) => {
                    i += 1;
                    x
                }
                (None, None) => break,
            };
        }
        v.max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_max_forgets_after_the_window() {
        let mut m = WindowMax::default();
        assert_eq!(m.max(), 0.0);
        m.push(0.0, 0.012);
        for i in 1..=300u32 {
            m.push(f64::from(i) * 0.1, 0.003);
        }
        // 30 s later the 12 ms is still in the window (30 closed buckets + the open one).
        assert!((m.max() - 0.012).abs() < 1e-12, "{}", m.max());
        for i in 301..=330u32 {
            m.push(f64::from(i) * 0.1, 0.003);
        }
        assert!((m.max() - 0.003).abs() < 1e-12, "{}", m.max());
    }

    #[test]
    fn window_top_skips_a_share_of_spikes_and_forgets_them() {
        let mut w = WindowTop::default();
        assert_eq!(w.upper(0.01), 0.0);
        // 30 fps for 10 s: 8 ms each, with 2 spikes of 25 and 30 ms.
        for i in 0..300u32 {
            let x = match i {
                100 => 0.025,
                200 => 0.030,
                _ => 0.008,
            };
            w.push(f64::from(i) / 30.0, x);
        }
        // 1 % of 300 = 3 values may be skipped: both spikes are.
        assert!((w.upper(0.01) - 0.008).abs() < 1e-12, "{}", w.upper(0.01));
        // The maximum still sees them; so does a share too small to skip one.
        assert!((w.upper(0.0) - 0.030).abs() < 1e-12);
        assert!((w.upper(0.001) - 0.030).abs() < 1e-12);
        // Spikes at 3 % are not skipped at 1 %: the third largest of them counts.
        for i in 300..600u32 {
            let x = if i % 33 == 0 {
                0.020 + f64::from(i) * 1e-6
            } else {
                0.008
            };
            w.push(f64::from(i) / 30.0, x);
        }
        let u = w.upper(0.01);
        assert!(u > 0.02 && u < 0.031, "{u}");
        // 31 s of quiet: everything forgotten.
        for i in 600..1540u32 {
            w.push(f64::from(i) / 30.0, 0.005);
        }
        assert!((w.upper(0.01) - 0.005).abs() < 1e-12, "{}", w.upper(0.01));
    }

    #[test]
    fn window_top_with_few_observations_is_the_maximum() {
        let mut w = WindowTop::default();
        for (i, x) in [0.004, 0.012, 0.003, -0.002].into_iter().enumerate() {
            w.push(i as f64 * 0.5, x);
        }
        assert!((w.upper(0.01) - 0.012).abs() < 1e-12);
        // More spikes than the share can skip: the (TOP)-th largest at most is skipped.
        let mut w = WindowTop::default();
        for i in 0..100_000u32 {
            w.push(f64::from(i) * 1e-4, f64::from(i % 1000) * 1e-5);
        }
        assert!(
            w.upper(0.5) >= 0.00999 - TOP as f64 * 1e-5,
            "{}",
            w.upper(0.5)
        );
    }
}
