//! Session settings, validated whole before a session starts.

use std::time::Duration;

use layouts::{Scene, Size};
use mixer::MixerConfig;

/// Output frame rate as a fraction (30/1, 30000/1001, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fps {
    /// Numerator.
    pub num: u32,
    /// Denominator.
    pub den: u32,
}

impl Fps {
    /// Builds a frame rate.
    pub const fn new(num: u32, den: u32) -> Self {
        Self { num, den }
    }

    /// Session time of output frame `k` (exact to the nanosecond, no accumulated drift).
    pub fn frame_time(self, k: u64) -> Duration {
        let ns = u128::from(k) * u128::from(self.den) * 1_000_000_000 / u128::from(self.num.max(1));
        Duration::from_nanos(ns.min(u128::from(u64::MAX)) as u64)
    }

    /// Frames per second as a float.
    pub fn as_f64(self) -> f64 {
        f64::from(self.num) / f64::from(self.den.max(1))
    }
}

impl std::str::FromStr for Fps {
    type Err = crate::Invalid;
    fn from_str(s: &str) -> Result<Self, crate::Invalid> {
        let (n, d) = s.split_once('/').unwrap_or((s, "1"));
        let num = n
            .trim()
            .parse::<u32>()
            .map_err(|_| crate::Invalid(format!("bad frame rate {s:?}")))?;
        let den = d
            .trim()
            .parse::<u32>()
            .map_err(|_| crate::Invalid(format!("bad frame rate {s:?}")))?;
        Ok(Fps { num, den })
    }
}

/// How the session clock advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// Ticks follow the wall clock; inputs are never waited for (serving).
    #[default]
    RealTime,
    /// Ticks run as fast as possible with the same timestamps; each tick waits until every
    /// live input has delivered its content up to that time (demo, tests, file jobs).
    Offline,
}

/// Everything a session needs to start.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Canvas size (even sides).
    pub canvas: Size,
    /// Output frame rate, 1..=120 fps.
    pub fps: Fps,
    /// Mix rate and channels.
    pub mixer: MixerConfig,
    /// Clock mode.
    pub clock: ClockMode,
    /// Scene in force at the first tick (its inputs are registered by `initial_inputs`).
    pub scene: Scene,
    /// Input slots created before the first tick.
    pub initial_inputs: Vec<String>,
    /// Capacity of each input's channel, in messages (video frames + audio blocks).
    pub input_queue: usize,
    /// How long an input's last frame is held before its placeholder is shown.
    pub stall_timeout: Duration,
    /// Stop by itself after this much output (None = until stopped).
    pub duration: Option<Duration>,
    /// Commands applied at given output times (deterministic scripted changes, e.g. the
    /// demo's mid-way layout switch). Refusals are logged.
    pub scheduled: Vec<(Duration, super::Command)>,
    /// Timestamp alignment of timed units ([`super::TimedUnit`], placed on the session
    /// thread; budget bounds, slew rate). `epoch_unix` None: taken from the wall clock at the first unit.
    pub align: crate::align::AlignConfig,
    /// Audio is handed to the sink this much ahead of its video, to cancel a known delay of
    /// the audio encoder that the container does not record (AAC priming: 1024 samples,
    /// 21.3 ms at 48 kHz, when the muxer writes no edit list). 0..=1 s.
    pub audio_lead: Duration,
    /// Which compositor draws the frames (`compositor-render`; `Auto`: the GPU renderer on a
    /// hardware adapter, the CPU compositor on a software one).
    pub compose: crate::render::ComposeChoice,
    /// Real time: step the output ticks (by under half a frame, only when they are off) so
    /// hosts running at the output rate do not wait up to a frame for the grid
    /// ([`super::phase`]). Offline sessions always keep the exact grid.
    ///
    /// On by default: it removes a random 0–33 ms per run from the added latency at 30 fps.
    /// Each step makes one output frame longer or shorter (typically once when a host joins,
    /// every few seconds for a host at 29.97 fps); all other frames keep exactly `1 / fps`.
    /// Off: every frame is exactly `1 / fps`, for a sink that cannot take one irregular frame.
    pub phase_lock: bool,
}

impl SessionConfig {
    /// A 1280×720, 30 fps, 48 kHz stereo, real-time session showing `scene`.
    pub fn new(scene: Scene) -> Self {
        Self {
            canvas: Size::new(1280, 720),
            fps: Fps::new(30, 1),
            mixer: MixerConfig::default(),
            clock: ClockMode::RealTime,
            scene,
            initial_inputs: Vec::new(),
            input_queue: 64,
            stall_timeout: Duration::from_secs(2),
            duration: None,
            scheduled: Vec::new(),
            align: crate::align::AlignConfig::default(),
            audio_lead: Duration::ZERO,
            compose: crate::render::ComposeChoice::Auto,
            phase_lock: true,
        }
    }

    /// Checks every field; the message names the field and the bound.
    pub fn validate(&self) -> Result<(), crate::Invalid> {
        self.check().map_err(crate::Invalid)
    }

    fn check(&self) -> Result<(), String> {
        let Size { w, h } = self.canvas;
        if !(16..=7680).contains(&w) || !(16..=4320).contains(&h) || w % 2 == 1 || h % 2 == 1 {
            return Err(format!(
                "canvas {w}x{h}: sides must be even, width 16..=7680, height 16..=4320"
            ));
        }
        if self.fps.num == 0 || self.fps.den == 0 || !(1.0..=120.0).contains(&self.fps.as_f64()) {
            return Err(format!(
                "fps {}/{}: must be 1..=120 frames per second",
                self.fps.num, self.fps.den
            ));
        }
        if !(8_000..=192_000).contains(&self.mixer.sample_rate)
            || !(1..=2).contains(&self.mixer.channels)
        {
            return Err(format!(
                "mixer: rate {} Hz and {} channels: rate must be 8000..=192000 and channels 1 or 2",
                self.mixer.sample_rate, self.mixer.channels
            ));
        }
        if !self.mixer.sample_rate.is_multiple_of(100) {
            return Err(format!(
                "mixer rate {} Hz must be a multiple of 100 (10 ms blocks)",
                self.mixer.sample_rate
            ));
        }
        if !(2..=4096).contains(&self.input_queue) {
            return Err(format!(
                "input_queue {}: must be 2..=4096",
                self.input_queue
            ));
        }
        self.align.validate().map_err(|e| e.to_string())?;
        if self.audio_lead > Duration::from_secs(1) {
            return Err("audio_lead must be <= 1 s".into());
        }
        if self.stall_timeout.is_zero() || self.stall_timeout > Duration::from_secs(600) {
            return Err("stall_timeout must be > 0 and <= 600 s".into());
        }
        if self.clock == ClockMode::Offline && self.duration.is_none() {
            return Err("an offline session needs a duration".into());
        }
        let mut seen = std::collections::HashSet::new();
        for id in &self.initial_inputs {
            if id.is_empty() || id.len() > 128 {
                return Err(format!("input id {id:?}: must be 1..=128 bytes"));
            }
            if !seen.insert(id) {
                return Err(format!("input id {id:?} given twice"));
            }
        }
        layouts::plan(&self.scene, self.canvas).map_err(|e| format!("scene: {e}"))?;
        Ok(())
    }
}
