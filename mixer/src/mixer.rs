//! The [`Mixer`]: owns the inputs and produces one mixed block per call.
//!
//! Minimal version: one FIFO per input (already converted to the mix channel count and
//! resampled with rubato to the mix rate), summed with linear gains and clamped to −1..=1.
//! Invariants: every queue holds interleaved f32 at the mix rate with `channels` samples per
//! frame; the mixer owns all buffers.

use std::collections::VecDeque;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Async, FixedAsync, PolynomialDegree, Resampler};

use crate::{InputFormat, MixError, MixerConfig};

struct Input {
    id: String,
    fmt: InputFormat,
    gain: f32,
    mute: bool,
    solo: bool,
    queue: VecDeque<f32>,
    resampler: Option<Async<f32>>,
    scratch_in: Vec<f32>,
    scratch_out: Vec<f32>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("id", &self.id)
            .field("fmt", &self.fmt)
            .finish()
    }
}

/// The mixer.
#[derive(Debug)]
pub struct Mixer {
    cfg: MixerConfig,
    inputs: Vec<Input>,
}

impl Mixer {
    /// Creates a mixer; the rate must be 8–192 kHz and channels 1 or 2.
    pub fn new(cfg: MixerConfig) -> Result<Mixer, MixError> {
        if !(8_000..=192_000).contains(&cfg.sample_rate) || !cfg.sample_rate.is_multiple_of(100) {
            return Err(MixError::Invalid(format!(
                "mix rate {} Hz unsupported",
                cfg.sample_rate
            )));
        }
        if !(1..=2).contains(&cfg.channels) {
            return Err(MixError::Invalid(format!(
                "mix channels {} unsupported",
                cfg.channels
            )));
        }
        Ok(Mixer {
            cfg,
            inputs: Vec::new(),
        })
    }

    /// Frames per 10 ms block at the mix rate.
    pub fn block_frames(&self) -> usize {
        self.cfg.sample_rate as usize / 100
    }

    /// Mix channel count.
    pub fn channels(&self) -> u16 {
        self.cfg.channels
    }

    /// Mix rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.cfg.sample_rate
    }

    fn find(&mut self, id: &str) -> Result<&mut Input, MixError> {
        self.inputs
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(|| MixError::UnknownInput(id.to_string()))
    }

    /// Adds an input.
    pub fn add_input(&mut self, id: &str, fmt: InputFormat) -> Result<(), MixError> {
        if self.inputs.iter().any(|i| i.id == id) {
            return Err(MixError::DuplicateInput(id.to_string()));
        }
        if !(1..=2).contains(&fmt.channels) || !(8_000..=192_000).contains(&fmt.sample_rate) {
            return Err(MixError::Invalid(format!(
                "input format {fmt:?} unsupported"
            )));
        }
        let ch = self.cfg.channels as usize;
        let bf = self.block_frames();
        let resampler = if fmt.sample_rate != self.cfg.sample_rate {
            let ratio = self.cfg.sample_rate as f64 / fmt.sample_rate as f64;
            Some(
                Async::<f32>::new_poly(
                    ratio,
                    1.1,
                    PolynomialDegree::Septic,
                    bf,
                    ch,
                    FixedAsync::Input,
                )
                .map_err(|e| MixError::Invalid(e.to_string()))?,
            )
        } else {
            None
        };
        let out_max = resampler.as_ref().map_or(bf, |r| r.output_frames_max());
        self.inputs.push(Input {
            id: id.to_string(),
            fmt,
            gain: 1.0,
            mute: false,
            solo: false,
            queue: VecDeque::with_capacity(ch * bf * 100),
            resampler,
            scratch_in: Vec::with_capacity(ch * bf * 4),
            scratch_out: vec![0.0; ch * out_max],
        });
        Ok(())
    }

    /// Removes an input.
    pub fn remove_input(&mut self, id: &str) -> Result<(), MixError> {
        let pos = self
            .inputs
            .iter()
            .position(|i| i.id == id)
            .ok_or_else(|| MixError::UnknownInput(id.to_string()))?;
        self.inputs.remove(pos);
        Ok(())
    }

    /// Queues interleaved samples for an input.
    pub fn push(&mut self, id: &str, interleaved: &[f32]) -> Result<(), MixError> {
        let mix_ch = self.cfg.channels as usize;
        let bf = self.block_frames();
        let inp = self.find(id)?;
        let in_ch = inp.fmt.channels as usize;
        if !interleaved.len().is_multiple_of(in_ch) {
            return Err(MixError::Invalid(format!(
                "{} samples is not a whole number of {in_ch}-channel frames",
                interleaved.len()
            )));
        }
        inp.scratch_in.clear();
        for frame in interleaved.chunks_exact(in_ch) {
            let f = |x: f32| if x.is_finite() { x } else { 0.0 };
            match (in_ch, mix_ch) {
                (1, 2) => {
                    inp.scratch_in.push(f(frame[0]));
                    inp.scratch_in.push(f(frame[0]));
                }
                (2, 1) => inp.scratch_in.push(0.5 * (f(frame[0]) + f(frame[1]))),
                _ => inp.scratch_in.extend(frame.iter().map(|&x| f(x))),
            }
        }
        match inp.resampler.as_mut() {
            None => inp.queue.extend(inp.scratch_in.iter().copied()),
            Some(rs) => {
                // FixedAsync::Input: resample whole chunks of `bf` frames; keep the rest pending.
                let frames = inp.scratch_in.len() / mix_ch;
                let mut pos = 0;
                while frames - pos >= bf {
                    let input = &inp.scratch_in[pos * mix_ch..(pos + bf) * mix_ch];
                    let out_frames = inp.scratch_out.len() / mix_ch;
                    let (Ok(a), Ok(mut b)) = (
                        InterleavedSlice::new(input, mix_ch, bf),
                        InterleavedSlice::new_mut(&mut inp.scratch_out, mix_ch, out_frames),
                    ) else {
                        break;
                    };
                    match rs.process_into_buffer(&a, &mut b, None) {
                        Ok((_, n)) => inp
                            .queue
                            .extend(inp.scratch_out[..n * mix_ch].iter().copied()),
                        Err(_) => break,
                    }
                    pos += bf;
                }
            }
        }
        Ok(())
    }

    /// Mixes one block into `out`.
    pub fn mix_block(&mut self, out: &mut [f32]) {
        out.iter_mut().for_each(|s| *s = 0.0);
        let any_solo = self.inputs.iter().any(|i| i.solo);
        let n = (self.block_frames() * self.cfg.channels as usize).min(out.len());
        for inp in &mut self.inputs {
            let audible = !inp.mute && (!any_solo || inp.solo);
            let g = if audible { inp.gain } else { 0.0 };
            for o in out[..n].iter_mut() {
                match inp.queue.pop_front() {
                    Some(s) => *o += g * s,
                    None => break,
                }
            }
        }
        out.iter_mut().for_each(|s| *s = s.clamp(-1.0, 1.0));
    }

    /// Sets an input's gain in dB (−60..=+12).
    pub fn set_gain_db(&mut self, id: &str, db: f32) -> Result<(), MixError> {
        if !(-60.0..=12.0).contains(&db) {
            return Err(MixError::Invalid(format!(
                "gain {db} dB outside -60..=12 dB"
            )));
        }
        self.find(id)?.gain = 10f32.powf(db / 20.0);
        Ok(())
    }

    /// Mutes or unmutes an input.
    pub fn set_mute(&mut self, id: &str, mute: bool) -> Result<(), MixError> {
        self.find(id)?.mute = mute;
        Ok(())
    }

    /// Solos an input; if any input is soloed only soloed inputs are heard.
    pub fn set_solo(&mut self, id: &str, solo: bool) -> Result<(), MixError> {
        self.find(id)?.solo = solo;
        Ok(())
    }
}
