//! The [`Mixer`]: owns the inputs, sums them each tick and runs the master limiter.
//!
//! Per `mix_block` (one tick = `block_frames` frames at the mix rate):
//! 1. every input renders one block (queue -> drift-controlled resampler -> fades -> meter);
//! 2. the ducking envelope is advanced from the trigger's voice activity;
//! 3. each input's linear gain target (`gain_db`, mute, solo, ducking) is reached by a
//!    linear ramp across the block (no zipper noise), and the input is added to the sum;
//! 4. the active-speaker detector is fed the audible inputs' VAD and levels;
//! 5. the look-ahead limiter keeps the sum at or below the ceiling (−1 dBFS default, sample and 4x true peak);
//! 6. inputs that finished their leave fade are dropped, the block counter advances.
//!
//! Ownership: the mixer owns every buffer; `push` copies from the caller's slice, `mix_block`
//! writes into the caller's slice. No allocation per block in steady state (events are the
//! exception: they allocate their id strings when they happen).

use crate::dynamics::{DuckEnvelope, Limiter, db_to_lin};
use crate::input::{Input, InputParams, InputStats};
use crate::levels::{LevelMeter, Levels};
use crate::speaker::{Observation, SpeakerDetector};
use crate::{Ducking, InputFormat, MixError, MixerConfig, MixerEvent, MixerTuning};

/// Lowest accepted gain, dB.
pub const MIN_GAIN_DB: f32 = -60.0;
/// Highest accepted gain, dB.
pub const MAX_GAIN_DB: f32 = 12.0;
/// Events kept when nobody calls [`Mixer::take_events`].
const MAX_EVENTS: usize = 4096;

/// The audio mixer. See the crate documentation for the signal flow.
#[derive(Debug)]
pub struct Mixer {
    cfg: MixerConfig,
    tuning: MixerTuning,
    params: InputParams,
    inputs: Vec<Input>,
    sum: Vec<f32>,
    limiter: Limiter,
    ducking: Option<Ducking>,
    duck_env: DuckEnvelope,
    speaker: SpeakerDetector,
    events: Vec<MixerEvent>,
    block_index: u64,
    out_meter: LevelMeter,
    gain_reduction_db: f32,
}

fn invalid(msg: String) -> MixError {
    MixError::Invalid(msg)
}

fn check_range(name: &str, v: f32, lo: f32, hi: f32, unit: &str) -> Result<(), MixError> {
    if v.is_nan() {
        return Err(invalid(format!(
            "{name} must be within {lo}..={hi} {unit}, got NaN"
        )));
    }
    if v < lo {
        return Err(invalid(format!(
            "{name} {v} {unit} is below the minimum {lo} {unit}"
        )));
    }
    if v > hi {
        return Err(invalid(format!(
            "{name} {v} {unit} is above the maximum {hi} {unit}"
        )));
    }
    Ok(())
}

impl Mixer {
    /// Creates a mixer with default [`MixerTuning`]. The rate must be 8–192 kHz and a
    /// multiple of 100 Hz (so a block is exactly 10 ms); channels 1 or 2.
    pub fn new(cfg: MixerConfig) -> Result<Mixer, MixError> {
        Self::with_tuning(cfg, MixerTuning::default())
    }

    /// Creates a mixer with explicit tuning (validated; out-of-range values are refused with
    /// [`MixError::Invalid`] naming the bound).
    pub fn with_tuning(cfg: MixerConfig, tuning: MixerTuning) -> Result<Mixer, MixError> {
        if !(8_000..=192_000).contains(&cfg.sample_rate) || !cfg.sample_rate.is_multiple_of(100) {
            return Err(invalid(format!(
                "mix rate {} Hz must be within 8000..=192000 Hz and a multiple of 100 Hz",
                cfg.sample_rate
            )));
        }
        if !(1..=2).contains(&cfg.channels) {
            return Err(invalid(format!(
                "mix channels must be 1 or 2, got {}",
                cfg.channels
            )));
        }
        check_range("target_depth_ms", tuning.target_depth_ms, 10.0, 500.0, "ms")?;
        check_range("timed_depth_ms", tuning.timed_depth_ms, 11.0, 500.0, "ms")?;
        check_range(
            "max_queue_ms",
            tuning.max_queue_ms,
            2.0 * tuning.target_depth_ms,
            5000.0,
            "ms",
        )?;
        check_range("max_drift_ppm", tuning.max_drift_ppm, 0.0, 10_000.0, "ppm")?;
        check_range("drift_response_s", tuning.drift_response_s, 1.0, 600.0, "s")?;
        check_range("fade_ms", tuning.fade_ms, 5.0, 10.0, "ms")?;
        check_range(
            "limiter_ceiling_dbfs",
            tuning.limiter_ceiling_dbfs,
            -20.0,
            0.0,
            "dBFS",
        )?;
        check_range(
            "limiter_lookahead_ms",
            tuning.limiter_lookahead_ms,
            0.5,
            10.0,
            "ms",
        )?;
        check_range(
            "limiter_release_ms",
            tuning.limiter_release_ms,
            1.0,
            2000.0,
            "ms",
        )?;
        if !(10..=60_000).contains(&tuning.speaker_hold_ms) {
            return Err(invalid(format!(
                "speaker_hold_ms {} is outside 10..=60000 ms",
                tuning.speaker_hold_ms
            )));
        }
        if tuning.vad_hangover_ms > 5_000 {
            return Err(invalid(format!(
                "vad_hangover_ms {} is above the maximum 5000 ms",
                tuning.vad_hangover_ms
            )));
        }
        let rate = cfg.sample_rate;
        let ch = cfg.channels as usize;
        let block_frames = rate as usize / 100;
        let ms = |v: f32| (f64::from(v) * f64::from(rate) / 1000.0).round() as usize;
        let params = InputParams {
            mix_rate: rate,
            mix_channels: ch,
            block_frames,
            target_ms: tuning.target_depth_ms,
            timed_target_ms: tuning.timed_depth_ms,
            max_queue_ms: tuning.max_queue_ms,
            max_ppm: f64::from(tuning.max_drift_ppm),
            drift_omega: 1.0 / f64::from(tuning.drift_response_s),
            fade_frames: ms(tuning.fade_ms).max(1),
            fade_ms: tuning.fade_ms,
            vad_hang_blocks: tuning.vad_hangover_ms / 10,
            quality: tuning.resample_quality,
        };
        Ok(Mixer {
            cfg,
            tuning,
            params,
            inputs: Vec::with_capacity(32),
            sum: vec![0.0; block_frames * ch],
            limiter: Limiter::new(
                ch,
                db_to_lin(tuning.limiter_ceiling_dbfs),
                ms(tuning.limiter_lookahead_ms).max(1),
                ms(tuning.limiter_release_ms) as f32,
            ),
            ducking: None,
            duck_env: DuckEnvelope::default(),
            speaker: SpeakerDetector::new(u64::from(tuning.speaker_hold_ms.div_ceil(10)), 3.0),
            events: Vec::new(),
            block_index: 0,
            out_meter: LevelMeter::new(0, 20.0),
            gain_reduction_db: 0.0,
        })
    }

    /// Frames per 10 ms block at the mix rate.
    pub fn block_frames(&self) -> usize {
        self.params.block_frames
    }

    /// Mix channel count.
    pub fn channels(&self) -> u16 {
        self.cfg.channels
    }

    /// Mix rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.cfg.sample_rate
    }

    /// The tuning in use.
    pub fn tuning(&self) -> &MixerTuning {
        &self.tuning
    }

    /// Blocks mixed so far (the time base of events).
    pub fn block_index(&self) -> u64 {
        self.block_index
    }

    /// Output latency added by the mixer itself (limiter look-ahead), frames at the mix rate.
    /// Queue depth (target) and resampler delay come on top per input.
    pub fn latency_frames(&self) -> usize {
        self.limiter.latency()
    }

    fn find(&self, id: &str) -> Result<&Input, MixError> {
        self.inputs
            .iter()
            .find(|i| i.id == id && i.state != crate::InputState::Removing)
            .ok_or_else(|| MixError::UnknownInput(id.to_string()))
    }

    fn find_mut(&mut self, id: &str) -> Result<&mut Input, MixError> {
        self.inputs
            .iter_mut()
            .find(|i| i.id == id && i.state != crate::InputState::Removing)
            .ok_or_else(|| MixError::UnknownInput(id.to_string()))
    }

    /// Adds an input (1 or 2 channels, 8–192 kHz). It stays silent until its queue reaches
    /// the target depth, then fades in. An id that is still fading out after removal may be
    /// added again (the old instance finishes its fade independently).
    pub fn add_input(&mut self, id: &str, fmt: InputFormat) -> Result<(), MixError> {
        self.insert_input(id, fmt, false)
    }

    /// Adds a *timed* input: its caller releases samples on the mix clock, so that the
    /// sample at the head of its queue is always the one due now (e.g. an audio placer that,
    /// before mixing the block starting at `t`, has released everything due before
    /// `t + timed_depth_ms`, with silence for gaps). It starts like any input (at its
    /// depth, `timed_depth_ms`) but never re-buffers afterwards: running dry fades it out while
    /// it keeps consuming, and the next queued block fades it back in at once, so a stall
    /// never delays what comes after it. Underruns are still counted and reported.
    pub fn add_timed_input(&mut self, id: &str, fmt: InputFormat) -> Result<(), MixError> {
        self.insert_input(id, fmt, true)
    }

    fn insert_input(&mut self, id: &str, fmt: InputFormat, timed: bool) -> Result<(), MixError> {
        if id.is_empty() {
            return Err(invalid("input id must not be empty".to_string()));
        }
        if self.find(id).is_ok() {
            return Err(MixError::DuplicateInput(id.to_string()));
        }
        let input = Input::new(id, fmt, &self.params, timed)?;
        self.inputs.push(input);
        Ok(())
    }

    /// Removes an input: it fades out over `fade_ms` and is dropped afterwards; from now on
    /// its id is unknown to every other call.
    pub fn remove_input(&mut self, id: &str) -> Result<(), MixError> {
        let input = self.find_mut(id)?;
        input.begin_remove();
        if let Some((from, to)) = self.speaker.remove(id) {
            self.emit(MixerEvent::ActiveSpeakerChanged {
                from,
                to,
                at_block: self.block_index,
            });
        }
        Ok(())
    }

    /// Queues interleaved samples in the input's own format (rate and channel count given to
    /// `add_input`). Non-finite samples are replaced by silence; an empty slice is a no-op; a
    /// length that is not a whole number of frames is refused.
    pub fn push(&mut self, id: &str, interleaved: &[f32]) -> Result<(), MixError> {
        let at_block = self.block_index;
        let input = self.find_mut(id)?;
        let dropped = input.push(interleaved)?;
        if dropped > 0 {
            let id = id.to_string();
            self.emit(MixerEvent::Overrun {
                id,
                dropped_frames: dropped,
                at_block,
            });
        }
        Ok(())
    }

    /// Mixes one block into `out`: writes `block_frames() * channels()` interleaved samples
    /// (if `out` is shorter only its length is written, the block still advances; samples
    /// beyond the block are left untouched).
    pub fn mix_block(&mut self, out: &mut [f32]) {
        let ch = self.cfg.channels as usize;
        let any_solo = self
            .inputs
            .iter()
            .any(|i| i.solo && i.state != crate::InputState::Removing);
        let at_block = self.block_index;

        // 1. Render every input.
        for idx in 0..self.inputs.len() {
            let ran_dry = match self.inputs[idx].render() {
                Ok(r) => r,
                Err(_) => {
                    // A resampler error cannot happen with our buffer sizing; stay silent.
                    self.inputs[idx].block.fill(0.0);
                    false
                }
            };
            if ran_dry {
                let id = self.inputs[idx].id.clone();
                self.emit(MixerEvent::Underrun { id, at_block });
            }
        }
        let audible = |i: &Input| !i.mute && (!any_solo || i.solo);

        // 2. Ducking.
        let duck_lin = match &self.ducking {
            Some(d) => {
                let speaking = self.inputs.iter().any(|i| {
                    i.id == d.trigger
                        && i.state != crate::InputState::Removing
                        && audible(i)
                        && i.levels().speaking
                });
                let db = self.duck_env.update(
                    speaking,
                    d.depth_db,
                    d.attack_ms / 10.0,
                    d.release_ms / 10.0,
                );
                db_to_lin(db)
            }
            None => {
                let db = self.duck_env.update(false, 0.0, 1.0, 1.0);
                db_to_lin(db)
            }
        };
        let trigger = self.ducking.as_ref().map(|d| d.trigger.as_str());

        // 3. Gains and sum.
        self.sum.fill(0.0);
        let n = self.params.block_frames;
        let inv_n = 1.0 / n as f32;
        for input in &mut self.inputs {
            let mut target = if audible(input) {
                db_to_lin(input.gain_db)
            } else {
                0.0
            };
            if trigger.is_some_and(|t| t != input.id) {
                target *= duck_lin;
            }
            let start = input.gain_cur;
            input.gain_cur = target;
            if start == 0.0 && target == 0.0 {
                continue;
            }
            let step = (target - start) * inv_n;
            let wch = input.work_ch;
            for (i, (frame, src)) in self
                .sum
                .chunks_exact_mut(ch)
                .zip(input.block.chunks_exact(wch))
                .enumerate()
            {
                let g = start + step * (i + 1) as f32;
                if wch == ch {
                    for (o, s) in frame.iter_mut().zip(src) {
                        *o += g * s;
                    }
                } else {
                    let v = g * src[0];
                    for o in frame.iter_mut() {
                        *o += v;
                    }
                }
            }
        }

        // 4. Active speaker.
        let change = self.speaker.update(
            self.inputs
                .iter()
                .filter(|i| i.state != crate::InputState::Removing)
                .map(|i| {
                    let l = i.levels();
                    Observation {
                        id: i.id.as_str(),
                        speaking: l.speaking && !i.mute && (!any_solo || i.solo),
                        level_db: l.smoothed_dbfs,
                    }
                }),
        );
        if let Some((from, to)) = change {
            self.emit(MixerEvent::ActiveSpeakerChanged { from, to, at_block });
        }

        // 5. Limiter and output.
        self.limiter.process(&mut self.sum);
        self.gain_reduction_db = self.limiter.take_gain_reduction_db();
        self.out_meter.measure(&self.sum);
        let w = out.len().min(self.sum.len());
        out[..w].copy_from_slice(&self.sum[..w]);

        // 6. Drop finished inputs.
        self.inputs.retain(|i| !i.done);
        self.block_index += 1;
    }

    /// Sets an input's gain in dB (`MIN_GAIN_DB..=MAX_GAIN_DB`); applied with a ramp over
    /// the next block.
    pub fn set_gain_db(&mut self, id: &str, db: f32) -> Result<(), MixError> {
        check_range("gain_db", db, MIN_GAIN_DB, MAX_GAIN_DB, "dB")?;
        self.find_mut(id)?.gain_db = db;
        Ok(())
    }

    /// Mutes or unmutes an input (ramped; "mute opponent" is this call).
    pub fn set_mute(&mut self, id: &str, mute: bool) -> Result<(), MixError> {
        self.find_mut(id)?.mute = mute;
        Ok(())
    }

    /// Solos an input: while any input is soloed only soloed inputs are heard.
    pub fn set_solo(&mut self, id: &str, solo: bool) -> Result<(), MixError> {
        self.find_mut(id)?.solo = solo;
        Ok(())
    }

    /// Enables (`Some`) or disables (`None`) ducking. While the trigger input is speaking
    /// (VAD) and audible, every other input is lowered by `depth_db` (0..=60), reached
    /// linearly in dB over `attack_ms` and released over `release_ms` (0..=10000 ms each).
    pub fn set_ducking(&mut self, ducking: Option<Ducking>) -> Result<(), MixError> {
        if let Some(d) = &ducking {
            check_range("depth_db", d.depth_db, 0.0, 60.0, "dB")?;
            check_range("attack_ms", d.attack_ms, 0.0, 10_000.0, "ms")?;
            check_range("release_ms", d.release_ms, 0.0, 10_000.0, "ms")?;
            self.find(&d.trigger)?;
        }
        self.ducking = ducking;
        Ok(())
    }

    /// Current ducking attenuation in dB (<= 0) applied to non-trigger inputs.
    pub fn ducking_db(&self) -> f32 {
        self.duck_env.db()
    }

    /// Changes the active-speaker hold time (milliseconds, 10..=60000).
    pub fn set_speaker_hold_ms(&mut self, hold_ms: u32) -> Result<(), MixError> {
        if !(10..=60_000).contains(&hold_ms) {
            return Err(invalid(format!(
                "speaker_hold_ms {hold_ms} is outside 10..=60000 ms"
            )));
        }
        self.tuning.speaker_hold_ms = hold_ms;
        self.speaker
            .set_hold_blocks(u64::from(hold_ms.div_ceil(10)));
        Ok(())
    }

    /// The current active speaker, if any.
    pub fn active_speaker(&self) -> Option<&str> {
        self.speaker.current()
    }

    /// Takes the events produced since the last call (oldest first).
    pub fn take_events(&mut self) -> Vec<MixerEvent> {
        std::mem::take(&mut self.events)
    }

    fn emit(&mut self, e: MixerEvent) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(e);
        }
    }

    /// Ids of the inputs (not counting ones fading out after removal), in insertion order.
    pub fn input_ids(&self) -> Vec<String> {
        self.inputs
            .iter()
            .filter(|i| i.state != crate::InputState::Removing)
            .map(|i| i.id.clone())
            .collect()
    }

    /// Stats of one input.
    pub fn input_stats(&self, id: &str) -> Result<InputStats, MixError> {
        Ok(self.find(id)?.stats())
    }

    /// Stats of all inputs (not counting ones fading out after removal).
    pub fn stats(&self) -> Vec<InputStats> {
        self.inputs
            .iter()
            .filter(|i| i.state != crate::InputState::Removing)
            .map(Input::stats)
            .collect()
    }

    /// Levels of one input's last block (pre-fader).
    pub fn input_levels(&self, id: &str) -> Result<Levels, MixError> {
        Ok(self.find(id)?.levels())
    }

    /// Whether an input speaks (VAD on its last block) and is muted, for name tags; None for
    /// an unknown input. No allocation.
    pub fn speaking_muted(&self, id: &str) -> Option<(bool, bool)> {
        self.inputs
            .iter()
            .find(|i| i.id == id && i.state != crate::InputState::Removing)
            .map(|i| (i.levels().speaking, i.mute))
    }

    /// Levels of the last output block (after the limiter).
    pub fn output_levels(&self) -> Levels {
        self.out_meter.levels()
    }

    /// Limiter gain reduction during the last block, dB (<= 0).
    pub fn limiter_gain_reduction_db(&self) -> f32 {
        self.gain_reduction_db
    }
}
