//! Transit floor estimation: follows the minimum observed transit (`arrival - sender time`)
//! of one clock domain, its linear drift, and how far transits rise above it (jitter).
//!
//! Sans-IO: arrival times and transits are passed in as f64 seconds (session clock for
//! arrivals). Transits are grouped in 1 s buckets of arrival time; the floor is a least
//! squares line through the minima of the last [`WINDOW_BUCKETS`] closed buckets (the slope is
//! the clock drift, zero while it is within two standard errors of zero), or the plain
//! minimum until [`MIN_FIT_BUCKETS`] buckets are closed. The
//! excess is the largest `transit - floor` within the window. Also keeps the RFC 3550
//! interarrival jitter. No allocation after the window fills.

use std::collections::VecDeque;

/// Closed buckets kept.
pub const WINDOW_BUCKETS: usize = 30;
/// Closed buckets needed before a line (and a drift) is fitted.
pub const MIN_FIT_BUCKETS: usize = 5;
/// Bucket length, seconds.
pub(super) const BUCKET_S: f64 = 1.0;
/// Largest drift believed, as a fraction (2000 ppm).
const MAX_DRIFT: f64 = 2000e-6;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    start: f64,
    min: f64,
    t_min: f64,
    max: f64,
    t_max: f64,
}

/// Minimum-transit tracker of one clock domain.
#[derive(Debug, Clone, Default)]
pub struct TransitFloor {
    closed: VecDeque<Bucket>,
    open: Option<Bucket>,
    /// Fitted floor: `a + b * (t - t_ref)`.
    fit: Option<(f64, f64, f64)>,
    /// Smallest transit seen (before a fit exists).
    all_min: Option<f64>,
    last: Option<(f64, f64)>,
    jitter: f64,
}

impl TransitFloor {
    /// Adds one observation: arrival time `t` (s) and transit `x` (s).
    pub fn push(&mut self, t: f64, x: f64) {
        if let Some((lt, lx)) = self.last
            && t >= lt
        {
            // RFC 3550 §6.4.1 (transit difference of consecutive arrivals).
            self.jitter += ((x - lx).abs() - self.jitter) / 16.0;
        }
        self.last = Some((t, x));
        self.all_min = Some(self.all_min.map_or(x, |m| m.min(x)));
        match &mut self.open {
            Some(b) if t < b.start + BUCKET_S => {
                if x < b.min {
                    b.min = x;
                    b.t_min = t;
                }
                if x > b.max {
                    b.max = x;
                    b.t_max = t;
                }
            }
            _ => {
                if let Some(b) = self.open.take() {
                    self.closed.push_back(b);
                    while self.closed.len() > WINDOW_BUCKETS {
                        self.closed.pop_front();
                    }
                    self.refit();
                }
                self.open = Some(Bucket {
                    start: t,
                    min: x,
                    t_min: t,
                    max: x,
                    t_max: t,
                });
            }
        }
    }

    fn refit(&mut self) {
        if self.closed.len() < MIN_FIT_BUCKETS {
            return;
        }
        let n = self.closed.len() as f64;
        let t_ref = self.closed.iter().map(|b| b.t_min).sum::<f64>() / n;
        let x_mean = self.closed.iter().map(|b| b.min).sum::<f64>() / n;
        let (mut sxx, mut sxy) = (0.0, 0.0);
        for b in &self.closed {
            let dt = b.t_min - t_ref;
            sxx += dt * dt;
            sxy += dt * (b.min - x_mean);
        }
        let mut slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        // A slope the minima cannot tell from their noise (within two standard errors of
        // zero) is taken as no drift: a few 1 s minima of a jittery path (±20 ms) scatter by
        // ±1–2 ms, whose least-squares slope over 5 s is ±400 ppm of pure noise.
        if sxx > 0.0 && n > 2.0 {
            let rss: f64 = self
                .closed
                .iter()
                .map(|b| {
                    let r = b.min - (x_mean + slope * (b.t_min - t_ref));
                    r * r
                })
                .sum();
            let se = (rss / (n - 2.0) / sxx).sqrt();
            if slope.abs() < 2.0 * se {
                slope = 0.0;
            }
        }
        self.fit = Some((x_mean, slope.clamp(-MAX_DRIFT, MAX_DRIFT), t_ref));
    }

    /// True once an observation was pushed.
    pub fn has_data(&self) -> bool {
        self.all_min.is_some()
    }

    /// The floor (minimum transit) at arrival time `t`, seconds.
    pub fn floor(&self, t: f64) -> f64 {
        match (self.fit, self.all_min) {
            (Some((a, b, t_ref)), _) => a + b * (t - t_ref),
            (None, Some(m)) => m,
            (None, None) => 0.0,
        }
    }

    /// Slope of the floor (d transit / d arrival): minus the sender clock's drift.
    pub fn slope(&self) -> f64 {
        self.fit.map_or(0.0, |(_, b, _)| b)
    }

    /// Largest `transit - floor` in the window (plus the open bucket), seconds, ≥ 0.
    pub fn excess(&self) -> f64 {
        self.closed
            .iter()
            .chain(self.open.iter())
            .map(|b| b.max - self.floor(b.t_max))
            .fold(0.0, f64::max)
    }

    /// RFC 3550 interarrival jitter, seconds.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_a_drifting_floor_and_measures_excess() {
        let mut f = TransitFloor::default();
        // 300 ppm slower sender: transit rises 0.3 ms/s; excess cycles 0..20 ms.
        for i in 0..3000u32 {
            let t = f64::from(i) / 50.0;
            let x = 0.05 + 300e-6 * t + f64::from(i % 7) * 0.02 / 6.0;
            f.push(t, x);
        }
        let t = 59.99;
        assert!(
            (f.floor(t) - (0.05 + 300e-6 * t)).abs() < 0.0005,
            "{}",
            f.floor(t)
        );
        assert!((f.slope() - 300e-6).abs() < 20e-6, "{}", f.slope());
        assert!((f.excess() - 0.02).abs() < 0.001, "{}", f.excess());
    }
}
