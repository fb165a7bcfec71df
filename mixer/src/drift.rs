//! Clock-drift controller: holds an input queue at a target depth by trimming the
//! resampling ratio.
//!
//! Model (continuous time, depth `q` in seconds of input audio): `dq/dt = δ − c`, where `δ` is
//! the input clock's offset from the mix clock (e.g. +300 ppm = the host sends 1.0003 s of
//! audio per mix second) and `c` is the extra consumption rate we apply (relative ratio
//! `1 / (1 + c)`). A PI law `c = Kp·e + Ki·∫e` on the filtered depth error `e = q − q_target`
//! with `Kp = 2ω`, `Ki = ω²` (critically damped) drives `e → 0` and the integral `→ δ`, so
//! the integrator *is* the drift estimate.
//!
//! Invariants: time advances one mix block (`block_s` seconds) per [`DriftController::update`];
//! depths are in input frames and converted with the input rate; the correction is clamped
//! to ±`max_ppm` with anti-windup (the integrator stops while saturated). Pure arithmetic,
//! no allocation.

/// PI controller state for one input.
#[derive(Debug, Clone)]
pub(crate) struct DriftController {
    in_rate: f64,
    block_s: f64,
    target_frames: f64,
    max: f64,
    kp: f64,
    ki: f64,
    filt_alpha: f64,
    filtered: Option<f64>,
    integ: f64,
    correction: f64,
}

impl DriftController {
    /// `in_rate` Hz input, blocks of `block_s` s, target depth in input frames, clamp in ppm,
    /// loop natural frequency `omega` (rad/s) and depth filter time constant `filter_s`.
    pub(crate) fn new(
        in_rate: u32,
        block_s: f64,
        target_frames: usize,
        max_ppm: f64,
        omega: f64,
        filter_s: f64,
    ) -> Self {
        Self {
            in_rate: f64::from(in_rate.max(1)),
            block_s,
            target_frames: target_frames as f64,
            max: max_ppm * 1e-6,
            kp: 2.0 * omega,
            ki: omega * omega,
            filt_alpha: 1.0 - (-block_s / filter_s.max(block_s)).exp(),
            filtered: None,
            integ: 0.0,
            correction: 0.0,
        }
    }

    /// Feeds the queue depth (input frames, measured before this block's consumption) and
    /// returns the relative resampling ratio to use (output/input, relative to nominal).
    pub(crate) fn update(&mut self, depth_frames: usize) -> f64 {
        let d = depth_frames as f64;
        let f = match self.filtered {
            Some(prev) => prev + self.filt_alpha * (d - prev),
            None => d,
        };
        self.filtered = Some(f);
        let e = (f - self.target_frames) / self.in_rate; // seconds
        let unclamped = self.kp * e + self.integ + self.ki * e * self.block_s;
        let saturated_same_dir =
            (unclamped > self.max && e > 0.0) || (unclamped < -self.max && e < 0.0);
        if !saturated_same_dir {
            self.integ = (self.integ + self.ki * e * self.block_s).clamp(-self.max, self.max);
        }
        self.correction = (self.kp * e + self.integ).clamp(-self.max, self.max);
        1.0 / (1.0 + self.correction)
    }

    /// Restarts depth filtering (after a gap) while keeping the learned drift.
    pub(crate) fn restart(&mut self) {
        self.filtered = None;
    }

    /// Estimated input clock offset vs. the mix clock, ppm (positive = input runs fast).
    pub(crate) fn drift_ppm(&self) -> f64 {
        self.integ * 1e6
    }

    /// Correction currently applied, ppm (positive = consuming faster than nominal).
    pub(crate) fn correction_ppm(&self) -> f64 {
        self.correction * 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates a queue fed at +300 ppm in 20 ms packets and consumed per block.
    #[test]
    fn converges_to_drift() {
        let rate = 44_100.0;
        let mut c = DriftController::new(44_100, 0.01, 1323, 1000.0, 0.05, 1.0);
        let mut q = 1323.0f64;
        let mut fed = 0.0f64;
        for block in 0..60_000u64 {
            if block % 2 == 0 {
                let t = (block + 2) as f64 * 0.01;
                let target_total = t * rate * 1.0003;
                let n = (target_total - fed).floor();
                fed += n;
                q += n;
            }
            let rel = c.update(q as usize);
            q -= 441.0 / rel;
            assert!(q > 441.0, "underrun at block {block}");
        }
        assert!((c.drift_ppm() - 300.0).abs() < 5.0, "{}", c.drift_ppm());
    }
}
