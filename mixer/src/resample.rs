//! Sample-rate conversion built on rubato 5.
//!
//! - [`InputResampler`] (crate-internal): one per input, either the in-crate cubic or
//!   polyphase sinc (`InterpResampler`) or an adjustable `rubato::Async` sinc, all with a
//!   *fixed output* of one mix block, so every mix tick pulls exactly `block_frames` frames at
//!   the mix rate and takes however many input frames that needs (`input_frames_next`). Its
//!   ratio is nudged by the drift controller (relative ratio within ±`max_ppm`).
//! - [`OutputConverter`] (public): mix rate -> encoder rate (e.g. 48 kHz -> 44.1 kHz) with a
//!   synchronous FFT resampler; accepts any number of frames per call and appends to a
//!   caller-owned `Vec` (no allocation once that `Vec` has grown to its steady size).
//!
//! ## Quality selection: `ResampleQuality::Auto` (default)
//!
//! Per input: the cubic interpolator when the input rate equals the mix rate (drift-only
//! correction, ratio within ±1000 ppm), the in-crate polyphase sinc
//! ([`ResampleQuality::Polyphase`]: 10 taps, Kaiser β 9.5, cutoff 0.45 of the input rate,
//! 256 table phases with linear interpolation between adjacent phases, one table shared by
//! all inputs) when it is lower (upsampling), and rubato's 64-tap sinc when it is higher.
//! Downsampling must remove everything above the mix Nyquist before decimating, otherwise
//! it aliases into the audible band (a 30 kHz tone in a 96 kHz input leaks through the cubic
//! at -1.2 dB as an 18 kHz alias; the sinc removes it, measured -145 dB). Upsampling needs
//! the images of the input spectrum (at k·f_in ± f) removed: the cubic leaves them high
//! enough to hear on music (a 10 kHz tone at 44.1 kHz gets a 13.9 kHz image at -31.7 dB).
//! Drift-only correction has no images to speak of (the fractional phase sweeps slowly), so
//! it stays on the cheap cubic. Measured THD+N / level of a 0.5 tone (1 s window, drift
//! loop frozen; `tests/quality.rs`):
//!
//! | path                          | 1 kHz          | 5 kHz          | 10 kHz          | 15 kHz         |
//! |-------------------------------|----------------|----------------|-----------------|----------------|
//! | 48k->48k cubic (Auto)         | -112 dB / 0.00 | -98 dB / -0.03 | -84..-93 / -0.4 | -72..-88 / -2  |
//! | 44.1k->48k polyphase 10 (Auto)| -98.5 dB / 0.00| -92.1 dB / 0.00| -91.3 / -0.06   | -37.5 / -1.2   |
//! | 44.1k->48k cubic (Fast)       | -108 dB / 0.00 | -55 dB / -0.03 | -30.6 / -0.46   | -16 / -2.0     |
//! | 44.1k->48k sinc 64 (Balanced) | -112 dB / 0.00 | -98 dB / 0.00  | -92.5 / 0.00    | -89.5 / -0.09  |
//!
//! Cost per input and 10 ms block (480 stereo output frames, 44.1k->48k, release build, same
//! loaded 2-core machine as `docs/benchmarks/mixer.md`): cubic 4.3..5.1 µs; polyphase 10 taps
//! 6.1..8.2 µs; the same polyphase with 12 taps 8.6..8.8 µs and with 16 taps 9.8..10.1 µs
//! (16 taps measures -99.9 / -98.9 / -93.1 / -89.7 dB, but put the mix16 `Auto` benchmark at
//! 2.4 %, 12 taps at 2.3 %, over the 2 % budget); 8 taps cannot hold both -90 dB at 1 kHz
//! and ±0.2 dB at 10 kHz. rubato's `Async` sinc, the library option, with `sinc_len` 16
//! (linear interpolation, oversampling 256 or 64) measured 23.9..24.8 µs, and with 64 taps
//! 29.1 µs: its per-sample adapter calls dominate at short filters, so even 16 taps cost
//! ~4x the in-crate 10-tap filter and would put 8 such inputs ~150 µs per block over the
//! budget. The polyphase passband ends near 13 kHz (-1.2 dB at 15 kHz); choose `Balanced`
//! for a flat response to 20 kHz. The f32 floor of the measurement is -155 dB.
//!
//! Units: interleaved f32; frames at the rate stated on each method. Buffers given to the
//! converters are borrowed for the call only; all scratch space is owned and preallocated.

use crate::kaiser::bessel_i0;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Adjustable, Async, Fft, FixedAsync, FixedSync, Indexing, Resampler,
    SincInterpolationParameters, SincInterpolationType, WindowFunction,
};

use crate::MixError;

/// Interpolation quality / CPU trade-off of the per-input resamplers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResampleQuality {
    /// Cubic (4-point Lagrange) interpolation, no anti-alias filter: cheapest (about 4x
    /// cheaper than `Balanced`), fine for speech; images grow above ~5 kHz (module doc).
    /// `Auto` uses it only for inputs at the mix rate.
    Fast,
    /// Band-limited sinc, 64 taps, linear table interpolation.
    Balanced,
    /// Band-limited sinc, 128 taps, cubic table interpolation: best, most expensive.
    High,
    /// Per input (default): [`Fast`](Self::Fast) when the input rate equals the mix rate
    /// (drift-only correction), [`Polyphase`](Self::Polyphase) when it is lower
    /// (upsampling), [`Balanced`](Self::Balanced) when it is higher (downsampling needs the
    /// anti-alias filter). See the module documentation.
    #[default]
    Auto,
    /// In-crate polyphase windowed sinc (10 taps, Kaiser window, 256 table phases with
    /// linear interpolation): band-limited upsampling at about 1.3x the cost of `Fast`
    /// (see the module documentation for figures).
    /// Its cutoff is set by the input rate, so an input *above* the mix rate uses
    /// [`Balanced`](Self::Balanced) instead (see [`resolve`](Self::resolve)).
    Polyphase,
}

impl ResampleQuality {
    /// The concrete quality used for an input at `in_rate` Hz into a mix at `mix_rate` Hz
    /// (`Auto` resolved; the others returned unchanged).
    pub fn resolve(self, in_rate: u32, mix_rate: u32) -> ResampleQuality {
        match self {
            ResampleQuality::Auto if in_rate == mix_rate => ResampleQuality::Fast,
            ResampleQuality::Auto | ResampleQuality::Polyphase if in_rate <= mix_rate => {
                ResampleQuality::Polyphase
            }
            ResampleQuality::Auto | ResampleQuality::Polyphase => ResampleQuality::Balanced,
            q => q,
        }
    }
}

fn rs_err(e: impl std::fmt::Display) -> MixError {
    MixError::Invalid(format!("resampler: {e}"))
}

/// History frames kept in front of each new input chunk by [`InterpResampler`] with the
/// cubic kernel. The first output position of a block is never below −3.1 (see
/// `input_frames_next`), and the cubic reads one frame before it, so 4 would do; 8 leaves
/// margin.
const CUBIC_HISTORY: usize = 8;

/// Taps of the in-crate polyphase sinc ([`ResampleQuality::Polyphase`]).
const FIR_TAPS: usize = 10;
/// Phases per input frame in the coefficient table (linear interpolation between adjacent
/// phases).
const FIR_PHASES: usize = 256;
/// Cutoff of the polyphase sinc, in cycles per *input* frame (0.5 = input Nyquist).
const FIR_CUTOFF: f64 = 0.45;
/// Kaiser window beta of the polyphase sinc.
const FIR_BETA: f64 = 9.5;
/// History for the sinc. Each block consumes input up to `FIR_TAPS / 2` frames past its last
/// position, so the next block's first position can be as low as about `-(FIR_TAPS / 2 + 1)`,
/// and the kernel reads `FIR_TAPS / 2 - 1` frames before that: `FIR_TAPS` frames plus the
/// cubic's margin covers it.
const FIR_HISTORY: usize = FIR_TAPS + CUBIC_HISTORY;

/// Floats per phase row of [`fir_table`].
const FIR_ROW: usize = 4 * FIR_TAPS;

/// The polyphase table, built once per process and shared by every input: for phase
/// `φ` (fraction `φ / FIR_PHASES` of an input frame) a row of `FIR_TAPS` coefficients
/// followed by `FIR_TAPS` deltas to the next phase's row, each value stored twice (once per
/// stereo channel, so a row multiplies interleaved frames directly; `FIR_ROW` floats per
/// row). Tap `k` weighs the input frame `floor(pos) - (FIR_TAPS/2 - 1) + k`; each phase is
/// normalised to unity DC gain.
fn fir_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let half = (FIR_TAPS / 2) as f64;
        let i0b = bessel_i0(FIR_BETA);
        let row = |frac: f64| -> Vec<f64> {
            let mut r: Vec<f64> = (0..FIR_TAPS)
                .map(|k| {
                    let t = frac + half - 1.0 - k as f64;
                    let u = t / half;
                    if u.abs() >= 1.0 {
                        return 0.0;
                    }
                    let x = 2.0 * FIR_CUTOFF * t;
                    let sinc = if x.abs() < 1e-12 {
                        1.0
                    } else {
                        (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                    };
                    sinc * bessel_i0(FIR_BETA * (1.0 - u * u).sqrt()) / i0b
                })
                .collect();
            let sum: f64 = r.iter().sum();
            for v in &mut r {
                *v /= sum;
            }
            r
        };
        let rows: Vec<Vec<f64>> = (0..=FIR_PHASES)
            .map(|p| row(p as f64 / FIR_PHASES as f64))
            .collect();
        let mut t = Vec::with_capacity(FIR_PHASES * FIR_ROW);
        for p in 0..FIR_PHASES {
            t.extend(rows[p].iter().flat_map(|&v| [v as f32; 2]));
            t.extend(
                rows[p]
                    .iter()
                    .zip(&rows[p + 1])
                    .flat_map(|(&a, &b)| [(b as f32) - (a as f32); 2]),
            );
        }
        t
    })
}

/// Interpolation kernel of an [`InterpResampler`].
#[derive(Clone, Copy)]
enum Kernel {
    /// 4-point Lagrange.
    Cubic,
    /// `FIR_TAPS`-tap Kaiser-windowed sinc from [`fir_table`].
    Sinc(&'static [f32]),
}

impl Kernel {
    /// Frames read before / after `floor(pos)`, and the history kept.
    fn before(self) -> usize {
        match self {
            Kernel::Cubic => 1,
            Kernel::Sinc(_) => FIR_TAPS / 2 - 1,
        }
    }
    fn after(self) -> usize {
        match self {
            Kernel::Cubic => 2,
            Kernel::Sinc(_) => FIR_TAPS / 2,
        }
    }
    fn history(self) -> usize {
        match self {
            Kernel::Cubic => CUBIC_HISTORY,
            Kernel::Sinc(_) => FIR_HISTORY,
        }
    }
}

/// Drift-adjustable interpolator with a fixed output of one block: either the 4-point
/// (cubic Lagrange) kernel or the polyphase windowed sinc.
///
/// The cubic is the same kernel as rubato's `PolynomialDegree::Cubic` (points at −1, 0, 1,
/// 2 around the position), implemented here because rubato's version writes every sample
/// through a dynamic adapter call, which made it ~2/3 of the mixer's cost. The sinc reads
/// `FIR_TAPS` frames around the position with coefficients linearly interpolated between
/// the two nearest of `FIR_PHASES` table phases, so any (drifting) ratio works. Both
/// channels are processed in one pass with the weights computed once per output frame.
///
/// Positions are in input frames, 0 = the first frame of the chunk given to the next
/// `process`; `buf` holds `history` frames of the previous chunk followed by the new one.
struct InterpResampler {
    kernel: Kernel,
    channels: usize,
    block_frames: usize,
    /// Input frames per output frame at the nominal ratio.
    nominal_step: f64,
    /// Step used at the start of the next block and the one it ramps to by its end.
    step_from: f64,
    step_to: f64,
    /// Position of the next output frame.
    pos: f64,
    /// Interleaved: history + up to `max_in` new frames.
    buf: Vec<f32>,
    max_in: usize,
}

impl InterpResampler {
    fn new(kernel: Kernel, ratio: f64, max_rel: f64, channels: usize, block_frames: usize) -> Self {
        let nominal_step = 1.0 / ratio;
        let max_in =
            (block_frames as f64 * nominal_step * max_rel).ceil() as usize + kernel.after() + 2;
        Self {
            kernel,
            channels,
            block_frames,
            nominal_step,
            step_from: nominal_step,
            step_to: nominal_step,
            pos: 0.0,
            buf: vec![0.0; (kernel.history() + max_in) * channels],
            max_in,
        }
    }

    /// Sum of the first `k` steps of the block (linear ramp from `step_from` to `step_to`).
    fn advance(&self, k: usize) -> f64 {
        let n = self.block_frames as f64;
        let k = k as f64;
        k * self.step_from + (self.step_to - self.step_from) * k * (k + 1.0) / (2.0 * n)
    }

    fn input_frames_next(&self) -> usize {
        // The last output frame sits at `pos + advance(n - 1)` and reads up to
        // floor + `after`.
        let last = self.pos + self.advance(self.block_frames - 1);
        let need = (last.floor() + self.kernel.after() as f64 + 1.0).max(0.0) as usize;
        need.min(self.max_in)
    }

    fn process(&mut self, input: &[f32], available: usize, output: &mut [f32]) {
        let ch = self.channels;
        let need = self.input_frames_next();
        let h = self.kernel.history() * ch;
        let total = h + need * ch;
        // New chunk after the history; zero-pad what the caller did not have.
        let avail = available.min(need).min(input.len() / ch);
        let (_, fresh) = self.buf.split_at_mut(h);
        fresh[..avail * ch].copy_from_slice(&input[..avail * ch]);
        fresh[avail * ch..need * ch].fill(0.0);
        let buf = &self.buf[..total];
        let n = self.block_frames.min(output.len() / ch);
        let out = &mut output[..n * ch];
        // Positions p_k = pos + advance(k), stepped incrementally: step_k = from + (k+1)·d.
        let d = (self.step_to - self.step_from) / self.block_frames as f64;
        // Offset that makes every position positive, so truncation is floor (no libm
        // call), and puts the integer part at the kernel's first point.
        let off = (self.kernel.history() - self.kernel.before()) as f64;
        let start = self.pos + off;
        match (self.kernel, ch) {
            (Kernel::Cubic, 2) => cubic_block::<2>(buf, out, start, self.step_from, d),
            (Kernel::Cubic, _) => cubic_block::<1>(buf, out, start, self.step_from, d),
            (Kernel::Sinc(t), 2) => sinc_block::<2>(buf, out, t, start, self.step_from, d),
            (Kernel::Sinc(t), _) => sinc_block::<1>(buf, out, t, start, self.step_from, d),
        }
        self.pos += self.advance(self.block_frames) - need as f64;
        self.step_from = self.step_to;
        // Keep the last `history` frames as the next block's history.
        self.buf.copy_within(total - h..total, 0);
    }

    fn set_relative_ratio(&mut self, rel: f64, ramp: bool) {
        self.step_to = self.nominal_step / rel;
        if !ramp {
            self.step_from = self.step_to;
        }
    }

    fn reset(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0.0;
    }
}

/// Weights of the 4-point cubic (Lagrange) interpolator for the points at −1, 0, 1, 2 around
/// a position whose fractional part is `x` (0 ≤ x < 1): the kernel of the mixer's drift
/// correction, shared with the compositor's audio placer.
#[inline]
pub fn cubic_weights(x: f32) -> [f32; 4] {
    let xm1 = x - 1.0;
    let xp1 = x + 1.0;
    let xm2 = x - 2.0;
    [
        -x * xm1 * xm2 * (1.0 / 6.0),
        xp1 * xm1 * xm2 * 0.5,
        -x * xp1 * xm2 * 0.5,
        x * xp1 * xm1 * (1.0 / 6.0),
    ]
}

/// Interpolates `out.len() / CH` frames from `buf` (history + chunk, interleaved `CH`).
/// Frame k is interpolated at `start + k·step + d·k(k+1)/2` (a linearly ramped step), where
/// a position's integer part is the index in `buf` of the cubic's point at −1.
#[inline]
fn cubic_block<const CH: usize>(buf: &[f32], out: &mut [f32], start: f64, step: f64, d: f64) {
    let frames_in_buf = buf.len() / CH;
    if frames_in_buf < 4 {
        out.fill(0.0);
        return;
    }
    let last_i = frames_in_buf - 4;
    let mut p = start.max(0.0);
    let mut s = step;
    for frame in out.chunks_exact_mut(CH) {
        let i = p as usize; // p >= 0: truncation is floor
        let x = (p - i as f64) as f32;
        let i = i.min(last_i);
        let [w0, w1, w2, w3] = cubic_weights(x);
        let y = &buf[i * CH..i * CH + 4 * CH];
        for c in 0..CH {
            frame[c] = w0 * y[c] + w1 * y[CH + c] + w2 * y[2 * CH + c] + w3 * y[3 * CH + c];
        }
        s += d;
        p += s;
    }
}

/// Polyphase-sinc counterpart of [`cubic_block`]: a position's integer part is the index in
/// `buf` of the first tap; `table` is [`fir_table`].
#[inline]
#[allow(clippy::needless_range_loop)] // indexed lanes: this form vectorises
fn sinc_block<const CH: usize>(
    buf: &[f32],
    out: &mut [f32],
    table: &[f32],
    start: f64,
    step: f64,
    d: f64,
) {
    const K: usize = FIR_TAPS;
    const P: f64 = FIR_PHASES as f64;
    let frames_in_buf = buf.len() / CH;
    if frames_in_buf < K || table.len() < FIR_PHASES * FIR_ROW {
        out.fill(0.0);
        return;
    }
    let last_i = frames_in_buf - K;
    // Positions in units of 1/FIR_PHASES frame: one conversion gives frame and phase.
    let mut p = start.max(0.0) * P;
    let mut s = step * P;
    let d = d * P;
    for frame in out.chunks_exact_mut(CH) {
        let q = p as usize; // p >= 0: truncation is floor
        let f = (p - q as f64) as f32;
        let pi = q % FIR_PHASES;
        let i = (q / FIR_PHASES).min(last_i);
        let (Some(row), Some(y)) = (
            table.get(pi * FIR_ROW..(pi + 1) * FIR_ROW),
            buf.get(i * CH..(i + K) * CH),
        ) else {
            frame.fill(0.0);
            continue;
        };
        let (Ok(c0), Ok(dc)) = (
            <&[f32; 2 * K]>::try_from(&row[..2 * K]),
            <&[f32; 2 * K]>::try_from(&row[2 * K..]),
        ) else {
            frame.fill(0.0);
            continue;
        };
        if CH == 2 {
            let Ok(y) = <&[f32; 2 * K]>::try_from(y) else {
                frame.fill(0.0);
                continue;
            };
            // Lanes alternate left/right: the coefficients are stored once per channel.
            let mut acc = [0.0f32; 4];
            for m in 0..(2 * K / 4) {
                for j in 0..4 {
                    let n = 4 * m + j;
                    acc[j] += (c0[n] + f * dc[n]) * y[n];
                }
            }
            frame[0] = acc[0] + acc[2];
            frame[1] = acc[1] + acc[3];
        } else {
            let mut acc = [0.0f32; 4];
            for k in 0..K {
                acc[k % 4] += (c0[2 * k] + f * dc[2 * k]) * y[k * CH];
            }
            frame[0] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        }
        s += d;
        p += s;
    }
}

enum Engine {
    Interp(InterpResampler),
    Sinc(Box<Async<f32>>),
}

/// Adjustable per-input resampler producing exactly one mix block per call.
pub(crate) struct InputResampler {
    inner: Engine,
    channels: usize,
    block_frames: usize,
    rel_ratio: f64,
}

impl std::fmt::Debug for InputResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputResampler")
            .field("channels", &self.channels)
            .field("block_frames", &self.block_frames)
            .field("rel_ratio", &self.rel_ratio)
            .field("cubic", &matches!(self.inner, Engine::Interp(_)))
            .finish()
    }
}

impl InputResampler {
    /// `in_rate` -> `out_rate`, `channels` channels, `block_frames` output frames per call.
    /// `quality` is resolved per input ([`ResampleQuality::resolve`]).
    pub(crate) fn new(
        in_rate: u32,
        out_rate: u32,
        channels: usize,
        block_frames: usize,
        quality: ResampleQuality,
    ) -> Result<Self, MixError> {
        let quality = quality.resolve(in_rate, out_rate);
        let ratio = f64::from(out_rate) / f64::from(in_rate);
        // Headroom well beyond the ±1000 ppm the drift controller uses.
        let max_rel = 1.01;
        let inner = match quality {
            ResampleQuality::Fast => Engine::Interp(InterpResampler::new(
                Kernel::Cubic,
                ratio,
                max_rel,
                channels,
                block_frames,
            )),
            ResampleQuality::Polyphase => Engine::Interp(InterpResampler::new(
                Kernel::Sinc(fir_table()),
                ratio,
                max_rel,
                channels,
                block_frames,
            )),
            ResampleQuality::Balanced | ResampleQuality::High | ResampleQuality::Auto => {
                let (len, interp) = if quality == ResampleQuality::High {
                    (128, SincInterpolationType::Cubic)
                } else {
                    (64, SincInterpolationType::Linear)
                };
                let params = SincInterpolationParameters::new(len, WindowFunction::BlackmanHarris2)
                    .oversampling_factor(256)
                    .interpolation(interp);
                Engine::Sinc(Box::new(
                    Async::<f32>::new_sinc(
                        ratio,
                        max_rel,
                        &params,
                        block_frames,
                        channels,
                        FixedAsync::Output,
                    )
                    .map_err(rs_err)?,
                ))
            }
        };
        Ok(Self {
            inner,
            channels,
            block_frames,
            rel_ratio: 1.0,
        })
    }

    /// Input frames the next [`Self::process`] consumes.
    pub(crate) fn input_frames_next(&self) -> usize {
        match &self.inner {
            Engine::Interp(c) => c.input_frames_next(),
            Engine::Sinc(s) => s.input_frames_next(),
        }
    }

    /// Largest input a call can need (for sizing scratch buffers).
    pub(crate) fn input_frames_max(&self) -> usize {
        match &self.inner {
            Engine::Interp(c) => c.max_in,
            Engine::Sinc(s) => s.input_frames_max(),
        }
    }

    /// Resamples `available` frames of `input` (zero-padded up to `input_frames_next`) into
    /// exactly `block_frames` frames of `output`. Both interleaved with `channels` channels.
    pub(crate) fn process(
        &mut self,
        input: &[f32],
        available: usize,
        output: &mut [f32],
    ) -> Result<(), MixError> {
        let ch = self.channels;
        if output.len() < self.block_frames * ch {
            return Err(MixError::Invalid(format!(
                "resampler: output of {} samples is shorter than one block",
                output.len()
            )));
        }
        let inner = match &mut self.inner {
            Engine::Interp(c) => {
                c.process(input, available, output);
                return Ok(());
            }
            Engine::Sinc(s) => s,
        };
        let need = inner.input_frames_next();
        let in_frames = input.len() / ch;
        let a = InterleavedSlice::new(input, ch, in_frames).map_err(rs_err)?;
        let mut b = InterleavedSlice::new_mut(output, ch, self.block_frames).map_err(rs_err)?;
        let indexing;
        let idx = if available < need {
            indexing = Indexing::new().partial_len(available);
            Some(&indexing)
        } else {
            None
        };
        inner.process_into_buffer(&a, &mut b, idx).map_err(rs_err)?;
        Ok(())
    }

    /// Sets the ratio relative to nominal (1.0 = nominal; > 1 produces more output per input,
    /// i.e. consumes input more slowly). Ramped smoothly over the next block.
    pub(crate) fn set_relative_ratio(&mut self, rel: f64) -> Result<(), MixError> {
        if (rel - self.rel_ratio).abs() < 1e-12 {
            return Ok(());
        }
        match &mut self.inner {
            Engine::Interp(c) => c.set_relative_ratio(rel, true),
            Engine::Sinc(s) => s.set_resample_ratio_relative(rel, true).map_err(rs_err)?,
        }
        self.rel_ratio = rel;
        Ok(())
    }

    /// Clears the internal history (used before fading back in after a gap); keeps the ratio.
    pub(crate) fn reset(&mut self) -> Result<(), MixError> {
        let rel = self.rel_ratio;
        match &mut self.inner {
            Engine::Interp(c) => {
                c.reset();
                c.set_relative_ratio(rel, false);
            }
            Engine::Sinc(s) => {
                s.reset();
                s.set_resample_ratio_relative(rel, false).map_err(rs_err)?;
            }
        }
        Ok(())
    }
}

/// Converts the mix (e.g. 48 kHz) to an encoder rate (e.g. 44.1 kHz) at a fixed ratio.
///
/// Feed any number of frames per call; output is appended to a caller-owned `Vec`. Latency is
/// [`OutputConverter::delay_frames`] output frames. Not drift-adjusting: the encoder runs on
/// the mix clock.
pub struct OutputConverter {
    inner: Option<Fft<f32>>,
    channels: usize,
    chunk: usize,
    pending: Vec<f32>,
    pending_frames: usize,
    scratch_out: Vec<f32>,
}

impl std::fmt::Debug for OutputConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputConverter")
            .field("channels", &self.channels)
            .field("chunk", &self.chunk)
            .field("passthrough", &self.inner.is_none())
            .finish()
    }
}

impl OutputConverter {
    /// A converter from `from_rate` to `to_rate` Hz for `channels` (1 or 2) interleaved
    /// channels, processing in chunks of `chunk_frames` input frames (use the mixer's
    /// `block_frames()`). Equal rates give a pass-through.
    pub fn new(
        from_rate: u32,
        to_rate: u32,
        channels: u16,
        chunk_frames: usize,
    ) -> Result<Self, MixError> {
        if !(1..=2).contains(&channels) {
            return Err(MixError::Invalid(format!(
                "channels must be 1 or 2, got {channels}"
            )));
        }
        for r in [from_rate, to_rate] {
            if !(8_000..=192_000).contains(&r) {
                return Err(MixError::Invalid(format!(
                    "sample rate {r} Hz outside 8000..=192000 Hz"
                )));
            }
        }
        if chunk_frames == 0 || chunk_frames > 192_000 {
            return Err(MixError::Invalid(format!(
                "chunk_frames {chunk_frames} outside 1..=192000"
            )));
        }
        let ch = channels as usize;
        let inner = if from_rate == to_rate {
            None
        } else {
            Some(
                Fft::<f32>::new(
                    from_rate as usize,
                    to_rate as usize,
                    chunk_frames,
                    ch,
                    FixedSync::Input,
                )
                .map_err(rs_err)?,
            )
        };
        let in_chunk = inner
            .as_ref()
            .map_or(chunk_frames, |r| r.input_frames_max());
        let out_max = inner
            .as_ref()
            .map_or(chunk_frames, |r| r.output_frames_max());
        Ok(Self {
            inner,
            channels: ch,
            chunk: in_chunk,
            pending: vec![0.0; in_chunk * ch],
            pending_frames: 0,
            scratch_out: vec![0.0; out_max * ch],
        })
    }

    /// Output frames of delay the converter adds.
    pub fn delay_frames(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// Converts `input` (interleaved, at `from_rate`) and appends the produced frames to `out`
    /// (interleaved, at `to_rate`). Returns the number of frames appended. Input that does
    /// not fill a whole internal chunk is kept for the next call.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<usize, MixError> {
        let ch = self.channels;
        if !input.len().is_multiple_of(ch) {
            return Err(MixError::Invalid(format!(
                "{} samples is not a whole number of {ch}-channel frames",
                input.len()
            )));
        }
        let Some(rs) = self.inner.as_mut() else {
            out.extend(input.iter().map(|s| if s.is_finite() { *s } else { 0.0 }));
            return Ok(input.len() / ch);
        };
        let mut produced = 0;
        let mut rest = input;
        while !rest.is_empty() {
            let space = self.chunk - self.pending_frames;
            let take = space.min(rest.len() / ch);
            let dst =
                &mut self.pending[self.pending_frames * ch..(self.pending_frames + take) * ch];
            for (d, s) in dst.iter_mut().zip(&rest[..take * ch]) {
                *d = if s.is_finite() { *s } else { 0.0 };
            }
            self.pending_frames += take;
            rest = &rest[take * ch..];
            if self.pending_frames == self.chunk {
                let a = InterleavedSlice::new(&self.pending, ch, self.chunk).map_err(rs_err)?;
                let of = self.scratch_out.len() / ch;
                let mut b =
                    InterleavedSlice::new_mut(&mut self.scratch_out, ch, of).map_err(rs_err)?;
                let (_, n) = rs.process_into_buffer(&a, &mut b, None).map_err(rs_err)?;
                out.extend_from_slice(&self.scratch_out[..n * ch]);
                produced += n;
                self.pending_frames = 0;
            }
        }
        Ok(produced)
    }
}
