//! Shared test helpers: tone sources fed in 20 ms packets, FFT measurements.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use mixer::{InputFormat, Mixer};
use rustfft::{FftPlanner, num_complex::Complex};

/// A tone (or silence) source pushing realistic 20 ms packets, optionally clock-drifted.
pub struct Source {
    pub id: String,
    pub rate: u32,
    pub channels: u16,
    pub freq: f64,
    pub amp: f64,
    pub drift_ppm: f64,
    /// Frames generated so far.
    pub n: u64,
    /// Source-clock seconds produced so far (nominal).
    owed: f64,
    pub packets: u64,
}

impl Source {
    pub fn new(id: &str, rate: u32, channels: u16, freq: f64, amp: f64) -> Self {
        Self {
            id: id.into(),
            rate,
            channels,
            freq,
            amp,
            drift_ppm: 0.0,
            n: 0,
            owed: 0.0,
            packets: 0,
        }
    }
    pub fn format(&self) -> InputFormat {
        InputFormat {
            sample_rate: self.rate,
            channels: self.channels,
        }
    }
    /// Next 20 ms packet (frames = rate·0.02·(1+drift), fractional part carried).
    pub fn packet(&mut self, buf: &mut Vec<f32>) {
        self.owed += f64::from(self.rate) * 0.02 * (1.0 + self.drift_ppm * 1e-6);
        let frames = self.owed.floor() as usize;
        self.owed -= frames as f64;
        buf.clear();
        let w = 2.0 * std::f64::consts::PI * self.freq / f64::from(self.rate);
        for _ in 0..frames {
            let s = (self.amp * (w * self.n as f64).sin()) as f32;
            for _ in 0..self.channels {
                buf.push(s);
            }
            self.n += 1;
        }
        self.packets += 1;
    }
}

/// Runs `blocks` mix ticks; `feed(block, mixer)` is called before each tick. Returns the
/// interleaved output.
pub fn run(m: &mut Mixer, blocks: usize, mut feed: impl FnMut(usize, &mut Mixer)) -> Vec<f32> {
    let bs = m.block_frames() * m.channels() as usize;
    let mut out = vec![0.0; blocks * bs];
    for b in 0..blocks {
        feed(b, m);
        m.mix_block(&mut out[b * bs..(b + 1) * bs]);
    }
    out
}

/// Pushes a 20 ms packet from each source on even blocks.
pub fn feed_all(b: usize, m: &mut Mixer, sources: &mut [Source], buf: &mut Vec<f32>) {
    if b.is_multiple_of(2) {
        for s in sources.iter_mut() {
            s.packet(buf);
            m.push(&s.id, buf).unwrap();
        }
    }
}

/// Channel `c` of interleaved `x` with `ch` channels.
pub fn channel(x: &[f32], ch: usize, c: usize) -> Vec<f64> {
    x.iter()
        .skip(c)
        .step_by(ch)
        .map(|&s| f64::from(s))
        .collect()
}

fn blackman_harris(n: usize) -> Vec<f64> {
    let (a0, a1, a2, a3) = (0.35875, 0.48829, 0.14128, 0.01168);
    (0..n)
        .map(|i| {
            let t = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            a0 - a1 * t.cos() + a2 * (2.0 * t).cos() - a3 * (3.0 * t).cos()
        })
        .collect()
}

/// Windowed power spectrum (|X|² for bins 0..=N/2) and the window's coherent gain sum.
pub fn spectrum(x: &[f64]) -> (Vec<f64>, f64) {
    let n = x.len();
    let w = blackman_harris(n);
    let mut buf: Vec<Complex<f64>> = x
        .iter()
        .zip(&w)
        .map(|(s, w)| Complex::new(s * w, 0.0))
        .collect();
    FftPlanner::new().plan_fft_forward(n).process(&mut buf);
    let p = buf[..=n / 2].iter().map(|c| c.norm_sqr()).collect();
    (p, w.iter().sum())
}

/// Amplitude (peak) of the tone near `freq` Hz from the energy of its main lobe (±6 bins),
/// which is insensitive to small frequency offsets (e.g. a drift-corrected ratio):
/// one-sided lobe energy = N·A²·Σw²/4.
pub fn tone_amplitude(x: &[f64], rate: f64, freq: f64) -> f64 {
    let (p, _) = spectrum(x);
    let n = x.len();
    let w = blackman_harris(n);
    let w2: f64 = w.iter().map(|v| v * v).sum();
    let k = (freq * n as f64 / rate).round() as usize;
    let s: f64 = p[k - 6..=k + 6].iter().sum();
    (4.0 * s / (n as f64 * w2)).sqrt()
}

/// THD+N in dB of a tone at `freq`: power outside ±6 bins of the tone, 20 Hz..20 kHz, over
/// the tone's power.
pub fn thd_n_db(x: &[f64], rate: f64, freq: f64) -> f64 {
    let (p, _) = spectrum(x);
    let n = x.len();
    let hz = rate / n as f64;
    let k = (freq / hz).round() as usize;
    let lo = (20.0 / hz).ceil() as usize;
    let hi = ((20_000.0 / hz) as usize).min(p.len() - 1);
    let sig: f64 = p[k - 6..=k + 6].iter().sum();
    let noise: f64 = (lo..=hi)
        .filter(|&i| i + 6 < k || i > k + 6)
        .map(|i| p[i])
        .sum();
    10.0 * (noise / sig).log10()
}

pub fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// 4x-oversampled true peak (FFT zero-padding interpolation of consecutive segments).
pub fn true_peak_4x(x: &[f64]) -> f64 {
    true_peak_os(x, 4)
}

/// `factor`-times oversampled true peak (FFT zero-padding, i.e. ideal band-limited
/// interpolation, of half-overlapping 4096-sample segments; segment edges ignored).
pub fn true_peak_os(x: &[f64], factor: usize) -> f64 {
    let seg = 4096;
    let mut planner = FftPlanner::new();
    let fwd = planner.plan_fft_forward(seg);
    let inv = planner.plan_fft_inverse(seg * factor);
    let mut peak: f64 = 0.0;
    let mut start = 0;
    while start + seg <= x.len() {
        let mut a: Vec<Complex<f64>> = x[start..start + seg]
            .iter()
            .map(|&s| Complex::new(s, 0.0))
            .collect();
        fwd.process(&mut a);
        let mut b = vec![Complex::new(0.0, 0.0); seg * factor];
        for i in 0..seg / 2 {
            b[i] = a[i];
            b[seg * factor - seg / 2 + i] = a[seg / 2 + i];
        }
        inv.process(&mut b);
        // Ignore the segment edges (circular wrap artefacts): keep the middle half.
        for c in &b[seg * factor / 4..seg * factor * 3 / 4] {
            peak = peak.max((c.re / seg as f64).abs());
        }
        start += seg / 2;
    }
    peak
}

/// Largest |x[i+1]-x[i]|.
pub fn max_step(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f64::max)
}
