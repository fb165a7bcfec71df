//! # mixer — pure DSP audio mixing
//!
//! No IO, no threads, no clock: the compositor's session pushes decoded audio per input and
//! asks for one mixed block per 10 ms tick of its output clock. Time inside the crate is the
//! number of `mix_block` calls (the *block counter*); durations given in ms are converted
//! to blocks or to frames at the rate they apply to.
//!
//! CONTRACT used by the compositor (keep these signatures; extend freely):
//! - `Mixer::new(MixerConfig) -> Result<Mixer, MixError>`
//! - `Mixer::block_frames(&self) -> usize` — frames per 10 ms block at the mix rate.
//! - `Mixer::channels(&self) -> u16`, `Mixer::sample_rate(&self) -> u32`
//! - `Mixer::add_input(&mut self, id: &str, fmt: InputFormat) -> Result<(), MixError>`
//! - `Mixer::remove_input(&mut self, id: &str) -> Result<(), MixError>`
//! - `Mixer::push(&mut self, id: &str, interleaved: &[f32]) -> Result<(), MixError>`
//! - `Mixer::mix_block(&mut self, out: &mut [f32])` — writes exactly
//!   `block_frames() * channels()` interleaved f32 samples.
//! - `Mixer::set_gain_db(&mut self, id: &str, db: f32) -> Result<(), MixError>`,
//!   `set_mute(id, bool)`, `set_solo(id, bool)`.
//!
//! Invariants: samples are f32 interleaved, nominal range −1..=1; an input's samples are
//! queued in arrival order and consumed one block per tick.
//!
//! ## Signal flow (one tick)
//!
//! ```text
//! push(id, samples)          [input rate, input channels]
//!   │  sanitize (NaN/inf -> 0), stereo->mono if the mix is mono
//!   ▼
//! queue (fifo.rs)            bounded; overflow drops oldest with a cross-faded seam
//!   │  depth measured every tick ──► drift.rs: PI on filtered depth ──┐
//!   ▼                                                                  │ ratio ±1000 ppm
//! resampler (resample.rs)    cubic or sinc (Auto), 1 block out     ◄──┘
//!   ▼                        [mix rate, input working channels]
//! fades (input.rs)           join / gap / leave ramps (5–10 ms)
//!   ▼
//! meter + VAD (levels.rs) ──► active speaker (speaker.rs) ──► MixerEvent
//!   ▼                    └──► ducking envelope (dynamics.rs)
//! gain · mute · solo · duck  per-block linear ramp of the linear gain (no zipper)
//!   ▼   (mono input -> both channels at unity)
//! sum ──► look-ahead limiter (dynamics.rs, ≤ −1 dBTP, 4x true-peak detector) ──► out
//! ```
//!
//! Optional final stage for the encoder: [`OutputConverter`] (mix rate -> e.g. 44.1 kHz).
//!
//! ## Units and invariants
//! - Samples: f32, interleaved, 1 or 2 channels; levels in dBFS (1.0 = 0 dBFS), floored at
//!   −120 dBFS; gains in dB at the API, linear inside.
//! - Queue depths: frames at the input's rate; blocks and limiter look-ahead: frames at the
//!   mix rate. Drift in ppm of the mix clock (positive = the input's clock runs fast).
//! - The mixer owns all buffers; `push` copies out of the caller's slice, `mix_block`
//!   writes into the caller's slice. Scratch space is allocated when an input is added, so
//!   mixing does not allocate in steady state (events allocate their strings when emitted).
//! - Nothing panics on input: unknown ids, bad lengths, out-of-range values return
//!   [`MixError`]; non-finite samples become silence.
//! - The output never exceeds the limiter ceiling (default −1 dBFS): every sample, and the
//!   true peak as estimated by the limiter's 4x oversampled detector.
//! - Latency: queue target depth (default 40 ms; timed inputs 12 ms, of which 10 ms is the
//!   block being mixed) + resampler delay (~0.7 ms) + limiter look-ahead (default 2 ms).

mod drift;
mod dynamics;
mod fifo;
mod input;
mod kaiser;
mod levels;
mod mixer;
mod resample;
mod speaker;

pub use crate::dynamics::{db_to_lin, lin_to_db};
pub use crate::input::{InputState, InputStats};
pub use crate::levels::Levels;
pub use crate::mixer::{MAX_GAIN_DB, MIN_GAIN_DB, Mixer};
pub use crate::resample::{OutputConverter, ResampleQuality, cubic_weights};

use thiserror::Error;

/// Mixer-wide settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixerConfig {
    /// Mix rate in Hz (default 48 000).
    pub sample_rate: u32,
    /// Output channels (1 or 2; default 2).
    pub channels: u16,
}

impl Default for MixerConfig {
    fn default() -> Self {
        Self {
            sample_rate: 48_000,
            channels: 2,
        }
    }
}

/// Fine tuning of the mixer's DSP (all have working defaults; see [`Mixer::with_tuning`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixerTuning {
    /// Queue depth each input is held at by the drift controller, ms (10..=500; default 40).
    /// Must cover network packet size plus jitter: with 20 ms packets keep it >= 25 ms; the
    /// default leaves 20 ms of jitter room on top of one 20 ms packet.
    pub target_depth_ms: f32,
    /// Queue depth of *timed* inputs ([`Mixer::add_timed_input`]), ms (11..=500; default
    /// 12). Their caller has already absorbed the network jitter (it releases samples on the
    /// session clock), so the queue only holds the block being mixed (10 ms) plus the
    /// resampler's look-ahead (a few frames) and slack: at the tick that mixes the block
    /// starting at `t` (which runs when `t + 10 ms` is due), the caller has released
    /// everything due before `t + timed_depth_ms`. Audio therefore has to be in hand only
    /// `timed_depth_ms - 10 ms` before it is due, which is what the session's latency budget
    /// adds for the mixer.
    pub timed_depth_ms: f32,
    /// Queue bound, ms (>= 2 × target; default 200). Beyond it the oldest audio is dropped.
    pub max_queue_ms: f32,
    /// Largest ratio correction, ppm (default 1000).
    pub max_drift_ppm: f32,
    /// Drift loop time constant, s (1..=600; default 20): how fast depth errors are corrected.
    pub drift_response_s: f32,
    /// Join / gap / leave fade length, ms (5..=10; default 10).
    pub fade_ms: f32,
    /// Limiter ceiling, dBFS, applied to sample and (4x) true peak (default −1).
    pub limiter_ceiling_dbfs: f32,
    /// Limiter look-ahead (= its latency), ms (default 2).
    pub limiter_lookahead_ms: f32,
    /// Limiter release time constant, ms (default 80).
    pub limiter_release_ms: f32,
    /// Active-speaker hold time, ms (default 1500).
    pub speaker_hold_ms: u32,
    /// VAD hang-over, ms (default 300).
    pub vad_hangover_ms: u32,
    /// Resampler quality (default [`ResampleQuality::Auto`]).
    pub resample_quality: ResampleQuality,
}

impl Default for MixerTuning {
    fn default() -> Self {
        Self {
            target_depth_ms: 40.0,
            timed_depth_ms: 12.0,
            max_queue_ms: 200.0,
            max_drift_ppm: 1000.0,
            drift_response_s: 20.0,
            fade_ms: 10.0,
            limiter_ceiling_dbfs: -1.0,
            limiter_lookahead_ms: 2.0,
            limiter_release_ms: 80.0,
            speaker_hold_ms: 1500,
            vad_hangover_ms: 300,
            resample_quality: ResampleQuality::Auto,
        }
    }
}

/// Ducking: lower every other input while `trigger` is speaking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ducking {
    /// Input whose voice activity triggers ducking.
    pub trigger: String,
    /// Attenuation of the other inputs, dB (positive number, 0..=60).
    pub depth_db: f32,
    /// Time to reach full depth once the trigger speaks, ms.
    pub attack_ms: f32,
    /// Time to return to 0 dB after the trigger stops, ms.
    pub release_ms: f32,
}

/// Something the mixer noticed; collect with [`Mixer::take_events`].
#[derive(Debug, Clone, PartialEq)]
pub enum MixerEvent {
    /// The active-speaker decision changed.
    ActiveSpeakerChanged {
        /// Previous speaker.
        from: Option<String>,
        /// New speaker (`None` when the speaker was removed).
        to: Option<String>,
        /// Block counter when it changed.
        at_block: u64,
    },
    /// An input ran dry while playing (faded out, re-buffering).
    Underrun {
        /// Input id.
        id: String,
        /// Block counter.
        at_block: u64,
    },
    /// A push overflowed an input's queue bound; the oldest audio was dropped.
    Overrun {
        /// Input id.
        id: String,
        /// Frames dropped (input rate).
        dropped_frames: usize,
        /// Block counter.
        at_block: u64,
    },
}

/// The format an input's samples arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputFormat {
    /// Hz.
    pub sample_rate: u32,
    /// 1 or 2.
    pub channels: u16,
}

/// Why a mixer call was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MixError {
    /// Unknown input id.
    #[error("unknown audio input {0:?}")]
    UnknownInput(String),
    /// Input id already present.
    #[error("audio input {0:?} already exists")]
    DuplicateInput(String),
    /// Unsupported format or parameter.
    #[error("{0}")]
    Invalid(String),
}
