//! # mixer — pure DSP audio mixing
//!
//! No IO, no threads, no clock: the compositor's session pushes decoded audio per input and
//! asks for one mixed block per 10 ms tick of its output clock.
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

mod mixer;

pub use crate::mixer::Mixer;
