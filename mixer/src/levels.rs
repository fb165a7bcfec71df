//! Level metering and voice-activity detection.
//!
//! Units: levels in dBFS (0 dBFS = full-scale sample value 1.0), floored at −120 dBFS;
//! one measurement per mix block (10 ms at the default rate) over all channels of that block.
//!
//! VAD: speech is declared when the block RMS rises `onset_db` above the tracked noise floor
//! (and above an absolute minimum), and released only after the level has stayed below
//! `floor + release_db` for the hang-over time: two thresholds plus hang-over = hysteresis.
//! The noise floor follows falls immediately and rises slowly (`floor_rise_db_per_block`),
//! and is capped so a loud steady signal is always "speaking".

use crate::dynamics::lin_to_db;

/// Block levels of one signal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    /// RMS of the last block, dBFS.
    pub rms_dbfs: f32,
    /// Sample peak of the last block, dBFS.
    pub peak_dbfs: f32,
    /// Smoothed RMS (about 200 ms time constant), dBFS; used for speaker dominance.
    pub smoothed_dbfs: f32,
    /// Voice-activity decision after hysteresis.
    pub speaking: bool,
}

impl Default for Levels {
    fn default() -> Self {
        Self {
            rms_dbfs: -120.0,
            peak_dbfs: -120.0,
            smoothed_dbfs: -120.0,
            speaking: false,
        }
    }
}

/// Level meter + VAD for one signal.
#[derive(Debug, Clone)]
pub(crate) struct LevelMeter {
    levels: Levels,
    smoothed_pow: f32,
    smooth_alpha: f32,
    floor_db: f32,
    hang_blocks: u32,
    hang_left: u32,
}

/// VAD thresholds.
const ONSET_DB: f32 = 12.0;
const RELEASE_DB: f32 = 6.0;
const ABS_MIN_DB: f32 = -55.0;
const FLOOR_CAP_DB: f32 = -45.0;
const FLOOR_RISE_DB_PER_BLOCK: f32 = 0.002; // 0.2 dB/s at 10 ms blocks

impl LevelMeter {
    /// Meter with a VAD hang-over of `hang_blocks` blocks and smoothing over `smooth_blocks`.
    pub(crate) fn new(hang_blocks: u32, smooth_blocks: f32) -> Self {
        Self {
            levels: Levels::default(),
            smoothed_pow: 0.0,
            smooth_alpha: 1.0 - (-1.0 / smooth_blocks.max(1.0)).exp(),
            floor_db: -90.0,
            hang_blocks,
            hang_left: 0,
        }
    }

    /// Measures one block of interleaved samples (any channel count).
    pub(crate) fn measure(&mut self, block: &[f32]) {
        let mut sum = 0.0f32;
        let mut peak = 0.0f32;
        for &s in block {
            sum += s * s;
            peak = peak.max(s.abs());
        }
        let pow = if block.is_empty() {
            0.0
        } else {
            sum / block.len() as f32
        };
        self.update(pow, peak);
    }

    /// Records a silent block.
    pub(crate) fn silent(&mut self) {
        self.update(0.0, 0.0);
    }

    fn update(&mut self, pow: f32, peak: f32) {
        let rms_db = lin_to_db(pow.sqrt());
        self.smoothed_pow += self.smooth_alpha * (pow - self.smoothed_pow);
        // Noise floor: fast fall, slow rise, capped.
        if rms_db < self.floor_db {
            self.floor_db = rms_db.max(-120.0);
        } else {
            self.floor_db = (self.floor_db + FLOOR_RISE_DB_PER_BLOCK).min(FLOOR_CAP_DB);
        }
        let onset = (self.floor_db + ONSET_DB).max(ABS_MIN_DB);
        let release = (self.floor_db + RELEASE_DB).max(ABS_MIN_DB - (ONSET_DB - RELEASE_DB));
        let mut speaking = self.levels.speaking;
        if rms_db >= onset {
            speaking = true;
            self.hang_left = self.hang_blocks;
        } else if speaking {
            if rms_db >= release {
                self.hang_left = self.hang_blocks;
            } else if self.hang_left > 0 {
                self.hang_left -= 1;
            } else {
                speaking = false;
            }
        }
        self.levels = Levels {
            rms_dbfs: rms_db,
            peak_dbfs: lin_to_db(peak),
            smoothed_dbfs: lin_to_db(self.smoothed_pow.sqrt()),
            speaking,
        };
    }

    /// Latest levels.
    pub(crate) fn levels(&self) -> Levels {
        self.levels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vad_hysteresis() {
        let mut m = LevelMeter::new(20, 20.0);
        for _ in 0..50 {
            m.silent();
        }
        assert!(!m.levels().speaking);
        let tone: Vec<f32> = (0..480).map(|i| 0.3 * (i as f32 * 0.1).sin()).collect();
        m.measure(&tone);
        assert!(m.levels().speaking);
        assert!((m.levels().peak_dbfs - lin_to_db(0.3)).abs() < 0.1);
        for _ in 0..20 {
            m.silent();
            assert!(m.levels().speaking, "hang-over keeps speech");
        }
        m.silent();
        assert!(!m.levels().speaking);
    }
}
