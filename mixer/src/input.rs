//! One mixer input: jitter queue -> drift-controlled resampler -> join/gap/leave fades ->
//! level meter. Gains, mute, solo and ducking are applied by the mixer when summing.
//!
//! Invariants:
//! - The queue holds the input's samples at the *input* rate in the input's *working*
//!   channel layout (`min(input channels, mix channels)`: stereo into a mono mix is
//!   downmixed `(L+R)/2` on push; mono into a stereo mix stays mono here and is copied to
//!   both mix channels at unity gain when summed).
//! - [`Input::render`] produces exactly one mix block (`block_frames` frames at the mix rate)
//!   into the input-owned `block` buffer, every tick, whatever the queue holds.
//! - State machine: `Buffering` (silent, waits until the queue reaches the target depth) ->
//!   `Playing` (fades in over `fade_frames`) -> back to `Buffering` when the queue cannot
//!   cover this block plus one more (so the fade-out over `fade_frames` still uses real
//!   queued audio; counted as an underrun) -> `Removing` (fades out, then the mixer drops the input).
//! - A *timed* input (`Mixer::add_timed_input`) is fed by a caller that releases samples on
//!   the session clock, so its queue head is always the sample due now. Its queue is held at
//!   `timed_depth_ms` (one block plus look-ahead, not a jitter buffer: the caller absorbed
//!   the jitter). After its first start it never re-buffers: when it cannot fill a block it
//!   fades out over the real audio left, keeps consuming every block (silence where nothing
//!   is queued) and fades back in as soon as a block is queued again. Re-buffering it would
//!   hold back the leftover samples and make everything after them late by that much (the
//!   drift control would need seconds to drain it).
//! - All buffers are allocated in [`Input::new`]; render/push do not allocate.

use crate::drift::DriftController;
use crate::dynamics::Ramp;
use crate::fifo::Fifo;
use crate::levels::{LevelMeter, Levels};
use crate::resample::{InputResampler, ResampleQuality};
use crate::{InputFormat, MixError};

/// Playback state of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputState {
    /// Waiting for the queue to reach its target depth; silent.
    Buffering,
    /// Audible (possibly fading in).
    Playing,
    /// Removed by the caller; fading out before being dropped.
    Removing,
}

/// A snapshot of one input's counters and levels.
#[derive(Debug, Clone, PartialEq)]
pub struct InputStats {
    /// Input id.
    pub id: String,
    /// Format the input was added with.
    pub format: InputFormat,
    /// Playback state.
    pub state: InputState,
    /// Frames queued (at the input rate).
    pub queued_frames: usize,
    /// Queue depth in milliseconds.
    pub queued_ms: f32,
    /// Depth the drift controller holds the queue at, frames at the input rate.
    pub target_frames: usize,
    /// Times the input ran dry while playing (each followed by a fade-out and re-buffering).
    pub underruns: u64,
    /// Pushes that overflowed the queue bound (oldest audio dropped, seam cross-faded).
    pub overruns: u64,
    /// Frames dropped by overruns.
    pub dropped_frames: u64,
    /// Estimated input clock offset vs. the mix clock, ppm (positive = input runs fast).
    pub drift_ppm: f64,
    /// Ratio correction currently applied, ppm (positive = consuming faster).
    pub correction_ppm: f64,
    /// Gain setting, dB.
    pub gain_db: f32,
    /// Mute setting.
    pub muted: bool,
    /// Solo setting.
    pub soloed: bool,
    /// Pre-fader levels of the last block (after fades, before gain/mute/ducking).
    pub levels: Levels,
}

/// Sizes and controller settings shared by all inputs of a mixer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InputParams {
    pub mix_rate: u32,
    pub mix_channels: usize,
    pub block_frames: usize,
    pub target_ms: f32,
    pub timed_target_ms: f32,
    pub max_queue_ms: f32,
    pub max_ppm: f64,
    pub drift_omega: f64,
    pub fade_frames: usize,
    pub fade_ms: f32,
    pub vad_hang_blocks: u32,
    pub quality: ResampleQuality,
}

/// Per-input processing state.
#[derive(Debug)]
pub(crate) struct Input {
    pub id: String,
    pub fmt: InputFormat,
    pub work_ch: usize,
    pub state: InputState,
    pub gain_db: f32,
    pub mute: bool,
    pub solo: bool,
    /// Linear gain applied at the end of the previous block (for per-block ramps).
    pub gain_cur: f32,
    /// The rendered block: `block_frames * work_ch` samples at the mix rate.
    pub block: Vec<f32>,
    fifo: Fifo,
    resampler: InputResampler,
    drift: DriftController,
    scratch_in: Vec<f32>,
    presence: Ramp,
    meter: LevelMeter,
    target_frames: usize,
    reserve_frames: usize,
    pub underruns: u64,
    pub overruns: u64,
    pub dropped_frames: u64,
    /// Set when a removing input has finished its fade-out.
    pub done: bool,
    /// Fed on schedule by the caller: never re-buffers after the first start.
    timed: bool,
    /// Timed input only: ran dry and is faded out, waiting for samples (still consuming).
    dry: bool,
    /// Mix rate / input rate.
    ratio: f64,
}

fn frames_for_ms(ms: f32, rate: u32) -> usize {
    ((f64::from(ms) * f64::from(rate) / 1000.0).round() as usize).max(1)
}

impl Input {
    /// Creates an input (validates the format).
    pub(crate) fn new(
        id: &str,
        fmt: InputFormat,
        p: &InputParams,
        timed: bool,
    ) -> Result<Self, MixError> {
        if !(1..=2).contains(&fmt.channels) {
            return Err(MixError::Invalid(format!(
                "input channels must be 1 or 2, got {}",
                fmt.channels
            )));
        }
        if !(8_000..=192_000).contains(&fmt.sample_rate) {
            return Err(MixError::Invalid(format!(
                "input sample rate {} Hz outside 8000..=192000 Hz",
                fmt.sample_rate
            )));
        }
        let work_ch = (fmt.channels as usize).min(p.mix_channels);
        let resampler = InputResampler::new(
            fmt.sample_rate,
            p.mix_rate,
            work_ch,
            p.block_frames,
            p.quality,
        )?;
        let target_ms = if timed {
            p.timed_target_ms
        } else {
            p.target_ms
        };
        let target_frames = frames_for_ms(target_ms, fmt.sample_rate);
        let max_frames = frames_for_ms(p.max_queue_ms, fmt.sample_rate).max(target_frames * 2);
        let xfade = frames_for_ms(p.fade_ms, fmt.sample_rate);
        let block_s = p.block_frames as f64 / f64::from(p.mix_rate);
        let scratch_len = resampler.input_frames_max() * work_ch;
        Ok(Self {
            id: id.to_string(),
            fmt,
            work_ch,
            state: InputState::Buffering,
            gain_db: 0.0,
            mute: false,
            solo: false,
            gain_cur: 1.0,
            block: vec![0.0; p.block_frames * work_ch],
            fifo: Fifo::new(work_ch, max_frames, target_frames, xfade),
            drift: DriftController::new(
                fmt.sample_rate,
                block_s,
                target_frames,
                p.max_ppm,
                p.drift_omega,
                1.0,
            ),
            resampler,
            scratch_in: vec![0.0; scratch_len],
            presence: Ramp::new(0.0, p.fade_frames),
            meter: LevelMeter::new(p.vad_hang_blocks, 20.0),
            target_frames,
            // Plain input: one block's worth of input (+ slack): a draining queue always
            // passes through `need..need + reserve`, where a full block of real audio is left
            // for the fade. Timed input: none; its queue holds one block (plus look-ahead) by
            // design, and when it runs short the fade is fitted to the real audio left.
            reserve_frames: if timed {
                0
            } else {
                (p.block_frames as f64 * f64::from(fmt.sample_rate) / f64::from(p.mix_rate)).ceil()
                    as usize
                    + 2
            },
            underruns: 0,
            overruns: 0,
            dropped_frames: 0,
            done: false,
            timed,
            dry: false,
            ratio: f64::from(p.mix_rate) / f64::from(fmt.sample_rate),
        })
    }

    /// Queues interleaved samples in the input's own format. Returns frames dropped by an
    /// overrun (0 if none).
    pub(crate) fn push(&mut self, interleaved: &[f32]) -> Result<usize, MixError> {
        let in_ch = self.fmt.channels as usize;
        if !interleaved.len().is_multiple_of(in_ch) {
            return Err(MixError::Invalid(format!(
                "{} samples is not a whole number of {in_ch}-channel frames",
                interleaved.len()
            )));
        }
        if interleaved.is_empty() {
            return Ok(0);
        }
        let out = if in_ch == self.work_ch {
            self.fifo.push_frames(interleaved.iter().copied())
        } else {
            // Stereo into a mono mix.
            self.fifo.push_frames(interleaved.chunks_exact(2).map(|f| {
                let l = if f[0].is_finite() { f[0] } else { 0.0 };
                let r = if f[1].is_finite() { f[1] } else { 0.0 };
                0.5 * (l + r)
            }))
        };
        if out.dropped_frames > 0 {
            self.overruns += 1;
            self.dropped_frames += out.dropped_frames as u64;
        }
        Ok(out.dropped_frames)
    }

    /// Starts the leave fade.
    pub(crate) fn begin_remove(&mut self) {
        if self.state == InputState::Buffering && self.presence.value() == 0.0 {
            self.done = true;
        }
        self.state = InputState::Removing;
        self.presence.set_target(0.0);
    }

    /// Renders one block into `self.block`. Returns `true` when it ran dry this block
    /// (an underrun).
    pub(crate) fn render(&mut self) -> Result<bool, MixError> {
        let ch = self.work_ch;
        if self.state == InputState::Buffering {
            if self.fifo.frames() >= self.target_frames {
                self.resampler.reset()?;
                self.drift.restart();
                self.state = InputState::Playing;
                self.presence.set_target(1.0);
            } else {
                self.block.fill(0.0);
                self.meter.silent();
                return Ok(false);
            }
        }
        if self.state == InputState::Removing && self.presence.value() == 0.0 {
            self.block.fill(0.0);
            self.meter.silent();
            self.done = true;
            return Ok(false);
        }
        let depth = self.fifo.frames();
        let short = depth < self.resampler.input_frames_next() + self.reserve_frames;
        if self.dry && !short {
            // Timed input: samples are queued again, on time; fade back in.
            self.dry = false;
            self.presence.set_target(1.0);
        }
        // A dry timed input holds its rate correction: its depth says nothing about drift.
        if self.state == InputState::Playing && !self.dry {
            let rel = self.drift.update(depth);
            self.resampler.set_relative_ratio(rel)?;
        }
        let need = self.resampler.input_frames_next();
        let mut ran_dry = false;
        if self.state == InputState::Playing && !self.dry && depth < need + self.reserve_frames {
            ran_dry = true;
            self.underruns += 1;
            if self.timed {
                // Fade out over the real audio that is left (output frames it becomes),
                // not over the zeros that pad the block.
                let left = (depth as f64 * self.ratio) as usize;
                self.presence
                    .set_target_within(0.0, left.clamp(1, self.block.len() / ch));
            } else {
                self.presence.set_target(0.0);
            }
        }
        let need = need.min(self.scratch_in.len() / ch);
        let avail = self.fifo.pop_into(&mut self.scratch_in, need);
        self.resampler
            .process(&self.scratch_in[..need * ch], avail, &mut self.block)?;
        if self.presence.settled() && self.presence.value() == 1.0 {
            // Fully present: nothing to scale.
        } else {
            for frame in self.block.chunks_exact_mut(ch) {
                let g = self.presence.next_value();
                for s in frame {
                    *s *= g;
                }
            }
        }
        self.meter.measure(&self.block);
        if ran_dry {
            if self.timed {
                self.dry = true;
            } else {
                self.state = InputState::Buffering;
            }
        }
        if self.state == InputState::Removing && self.presence.value() == 0.0 {
            self.done = true;
        }
        Ok(ran_dry)
    }

    /// Latest levels.
    pub(crate) fn levels(&self) -> Levels {
        self.meter.levels()
    }

    /// Counters and levels.
    pub(crate) fn stats(&self) -> InputStats {
        let q = self.fifo.frames();
        InputStats {
            id: self.id.clone(),
            format: self.fmt,
            state: self.state,
            queued_frames: q,
            queued_ms: (q as f64 * 1000.0 / f64::from(self.fmt.sample_rate)) as f32,
            target_frames: self.target_frames,
            underruns: self.underruns,
            overruns: self.overruns,
            dropped_frames: self.dropped_frames,
            drift_ppm: self.drift.drift_ppm(),
            correction_ppm: self.drift.correction_ppm(),
            gain_db: self.gain_db,
            muted: self.mute,
            soloed: self.solo,
            levels: self.meter.levels(),
        }
    }
}
