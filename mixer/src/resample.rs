//! Sample-rate conversion built on rubato 5.
//!
//! - [`InputResampler`] (crate-internal): one per input, an adjustable `rubato::Async` with a
//!   *fixed output* of one mix block, so every mix tick pulls exactly `block_frames` frames at
//!   the mix rate and takes however many input frames that needs (`input_frames_next`). Its
//!   ratio is nudged by the drift controller (relative ratio within ±`max_ppm`).
//! - [`OutputConverter`] (public): mix rate -> encoder rate (e.g. 48 kHz -> 44.1 kHz) with a
//!   synchronous FFT resampler; accepts any number of frames per call and appends to a
//!   caller-owned `Vec` (no allocation once that `Vec` has grown to its steady size).
//!
//! Units: interleaved f32; frames at the rate stated on each method. Buffers given to the
//! converters are borrowed for the call only; all scratch space is owned and preallocated.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Adjustable, Async, Fft, FixedAsync, FixedSync, Indexing, PolynomialDegree, Resampler,
    SincInterpolationParameters, SincInterpolationType, WindowFunction,
};

use crate::MixError;

/// Interpolation quality / CPU trade-off of the per-input resamplers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResampleQuality {
    /// Polynomial (cubic) interpolation, no anti-alias filter: cheapest (about 2.5x faster
    /// than `Balanced`), fine for speech.
    Fast,
    /// Band-limited sinc, 64 taps, linear table interpolation (default).
    #[default]
    Balanced,
    /// Band-limited sinc, 128 taps, cubic table interpolation: best, most expensive.
    High,
}

fn rs_err(e: impl std::fmt::Display) -> MixError {
    MixError::Invalid(format!("resampler: {e}"))
}

/// Adjustable per-input resampler producing exactly one mix block per call.
pub(crate) struct InputResampler {
    inner: Async<f32>,
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
            .finish()
    }
}

impl InputResampler {
    /// `in_rate` -> `out_rate`, `channels` channels, `block_frames` output frames per call.
    pub(crate) fn new(
        in_rate: u32,
        out_rate: u32,
        channels: usize,
        block_frames: usize,
        quality: ResampleQuality,
    ) -> Result<Self, MixError> {
        let ratio = f64::from(out_rate) / f64::from(in_rate);
        // Headroom well beyond the ±1000 ppm the drift controller uses.
        let max_rel = 1.01;
        let inner = match quality {
            ResampleQuality::Fast => Async::<f32>::new_poly(
                ratio,
                max_rel,
                PolynomialDegree::Cubic,
                block_frames,
                channels,
                FixedAsync::Output,
            ),
            ResampleQuality::Balanced | ResampleQuality::High => {
                let (len, interp) = if quality == ResampleQuality::High {
                    (128, SincInterpolationType::Cubic)
                } else {
                    (64, SincInterpolationType::Linear)
                };
                let params = SincInterpolationParameters::new(len, WindowFunction::BlackmanHarris2)
                    .oversampling_factor(256)
                    .interpolation(interp);
                Async::<f32>::new_sinc(
                    ratio,
                    max_rel,
                    &params,
                    block_frames,
                    channels,
                    FixedAsync::Output,
                )
            }
        }
        .map_err(rs_err)?;
        Ok(Self {
            inner,
            channels,
            block_frames,
            rel_ratio: 1.0,
        })
    }

    /// Input frames the next [`Self::process`] consumes.
    pub(crate) fn input_frames_next(&self) -> usize {
        self.inner.input_frames_next()
    }

    /// Largest input a call can need (for sizing scratch buffers).
    pub(crate) fn input_frames_max(&self) -> usize {
        self.inner.input_frames_max()
    }

    /// Resamples `available` frames of `input` (zero-padded up to `input_frames_next`) into
    /// exactly `block_frames` frames of `output`. Both interleaved with `channels` channels.
    pub(crate) fn process(
        &mut self,
        input: &[f32],
        available: usize,
        output: &mut [f32],
    ) -> Result<(), MixError> {
        let need = self.inner.input_frames_next();
        let ch = self.channels;
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
        self.inner
            .process_into_buffer(&a, &mut b, idx)
            .map_err(rs_err)?;
        Ok(())
    }

    /// Sets the ratio relative to nominal (1.0 = nominal; > 1 produces more output per input,
    /// i.e. consumes input more slowly). Ramped smoothly over the next block.
    pub(crate) fn set_relative_ratio(&mut self, rel: f64) -> Result<(), MixError> {
        if (rel - self.rel_ratio).abs() < 1e-12 {
            return Ok(());
        }
        self.inner
            .set_resample_ratio_relative(rel, true)
            .map_err(rs_err)?;
        self.rel_ratio = rel;
        Ok(())
    }

    /// Clears the internal history (used before fading back in after a gap); keeps the ratio.
    pub(crate) fn reset(&mut self) -> Result<(), MixError> {
        self.inner.reset();
        let rel = self.rel_ratio;
        self.inner
            .set_resample_ratio_relative(rel, false)
            .map_err(rs_err)?;
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
