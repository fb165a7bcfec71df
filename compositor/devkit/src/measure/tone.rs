//! Beep onset detection: a Goertzel filter per beep frequency over Hann-windowed 5 ms
//! windows, hopped by 0.5 ms; an onset is where the amplitude rises through half the
//! strongest beep's amplitude (interpolated, then moved back by half a window, so a clean
//! onset is found within a fraction of a millisecond).
//!
//! Input: mono f32 samples at `rate`, sample 0 at time `t0` (seconds). Output: onset times
//! in seconds on the same clock. Pure; no allocation beyond the returned vectors.

/// Amplitude of `freq` in `x` (Hann-windowed Goertzel; a full-scale sine reads ~1).
fn amplitude(x: &[f32], freq: f64, rate: f64) -> f64 {
    let n = x.len();
    if n == 0 {
        return 0.0;
    }
    let w = std::f64::consts::TAU * freq / rate;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut wsum = 0.0;
    for (i, &v) in x.iter().enumerate() {
        let hann = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos();
        wsum += hann;
        let s0 = f64::from(v) * hann + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - c * s1 * s2;
    2.0 * power.max(0.0).sqrt() / wsum.max(1e-9)
}

/// Onsets of beeps at `freq` Hz, seconds. Beeps closer than `min_gap` s to the previous
/// onset are one beep. `min_amp` is the smallest amplitude that counts as a beep.
pub fn onsets(x: &[f32], rate: u32, t0: f64, freq: f64, min_amp: f64, min_gap: f64) -> Vec<f64> {
    let rate_f = f64::from(rate.max(1));
    let win = ((0.005 * rate_f) as usize).max(8);
    let hop = ((0.0005 * rate_f) as usize).max(1);
    if x.len() < win {
        return Vec::new();
    }
    let amps: Vec<f64> = (0..=(x.len() - win) / hop)
        .map(|k| amplitude(&x[k * hop..k * hop + win], freq, rate_f))
        .collect();
    let peak = amps.iter().copied().fold(0.0, f64::max);
    if peak < min_amp {
        return Vec::new();
    }
    let thr = peak / 2.0;
    let mut out: Vec<f64> = Vec::new();
    for k in 1..amps.len() {
        if amps[k - 1] < thr && amps[k] >= thr {
            let frac = (thr - amps[k - 1]) / (amps[k] - amps[k - 1]);
            let start = ((k - 1) as f64 + frac) * hop as f64;
            // The window's centre crosses the onset when its amplitude is half the plateau.
            let t = t0 + (start + win as f64 / 2.0) / rate_f;
            if out.last().is_none_or(|&l| t - l >= min_gap) {
                out.push(t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_onsets_of_two_interleaved_tones_within_half_a_millisecond() {
        let rate = 48_000u32;
        let mut x = vec![0f32; rate as usize * 3];
        let beep = |x: &mut Vec<f32>, at: f64, f: f64| {
            let s0 = (at * f64::from(rate)) as usize;
            for i in 0..(0.02 * f64::from(rate)) as usize {
                let t = i as f64 / f64::from(rate);
                x[s0 + i] += (0.25 * (std::f64::consts::TAU * f * t).sin()) as f32;
            }
        };
        for k in 0..3 {
            beep(&mut x, 0.1 + f64::from(k), 1000.0);
            beep(&mut x, 0.107 + f64::from(k), 1500.0);
        }
        let a = onsets(&x, rate, 10.0, 1000.0, 0.05, 0.2);
        let b = onsets(&x, rate, 10.0, 1500.0, 0.05, 0.2);
        assert_eq!(a.len(), 3, "{a:?}");
        assert_eq!(b.len(), 3, "{b:?}");
        for k in 0..3 {
            assert!((a[k] - (10.1 + k as f64)).abs() < 0.0005, "{a:?}");
            assert!((b[k] - (10.107 + k as f64)).abs() < 0.0005, "{b:?}");
        }
        assert!(onsets(&x, rate, 0.0, 3000.0, 0.05, 0.2).is_empty());
    }
}
