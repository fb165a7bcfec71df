//! Stamped test hosts: pictures that carry their capture time in a time strip
//! ([`super::stamp`]) and sound that beeps at known capture times, for measuring lip sync
//! and cross-host alignment on the output.
//!
//! Times are capture times (`Duration` from the host's start). Video: a flat tint below the
//! strip. Audio: silence with a `beep_hz` sine of `beep_len` starting at every whole multiple
//! of `beep_every` (amplitude 0.25, −12 dBFS, hard onset so it can be timed precisely).
//! Buffers are allocated per call and given away (they go by value into input channels).

use std::time::Duration;

use super::stamp::write_strip;
use compositor_core::frame::{ColorMatrix, FrameError, I420Frame, VideoFrame, rgb_to_yuv};

/// A host whose media can be timed on the output.
#[derive(Debug, Clone)]
pub struct StampedHost {
    /// Picture width (even).
    pub width: u32,
    /// Picture height (even).
    pub height: u32,
    /// Tint below the strip (RGB).
    pub tint: (u8, u8, u8),
    /// Beep frequency, Hz.
    pub beep_hz: f64,
    /// Beep period.
    pub beep_every: Duration,
    /// Beep length.
    pub beep_len: Duration,
    /// Audio rate, Hz.
    pub sample_rate: u32,
    /// Audio channels.
    pub channels: u16,
}

impl StampedHost {
    /// 640×360 with a 20 ms beep every second, 48 kHz stereo.
    pub fn new(tint: (u8, u8, u8), beep_hz: f64) -> Self {
        Self {
            width: 640,
            height: 360,
            tint,
            beep_hz,
            beep_every: Duration::from_secs(1),
            beep_len: Duration::from_millis(20),
            sample_rate: 48_000,
            channels: 2,
        }
    }

    /// The picture captured at `capture` (its pts is set to `capture`; restamp it).
    pub fn frame(&self, capture: Duration) -> Result<VideoFrame, FrameError> {
        let matrix = ColorMatrix::for_height(self.height);
        let (y, u, v) = rgb_to_yuv(self.tint.0, self.tint.1, self.tint.2, matrix);
        let mut image = I420Frame::filled(self.width, self.height, y, u, v)?;
        let (w, h) = (self.width as usize, self.height as usize);
        let ms = (capture.as_millis() % u128::from(super::stamp::WRAP_MS)) as u32;
        write_strip(image.planes_mut().0, w, h, w, ms);
        Ok(VideoFrame {
            pts: capture,
            matrix,
            image,
        })
    }

    /// `frames` interleaved audio frames starting at capture time `start`.
    pub fn audio(&self, start: Duration, frames: usize) -> Vec<f32> {
        let ch = usize::from(self.channels.max(1));
        let rate = f64::from(self.sample_rate.max(1));
        let every = self.beep_every.as_secs_f64().max(1e-3);
        let len = self.beep_len.as_secs_f64();
        let s0 = (start.as_secs_f64() * rate).round() as u64;
        let mut out = Vec::with_capacity(frames * ch);
        for i in 0..frames as u64 {
            let t = (s0 + i) as f64 / rate;
            let since = t - (t / every).floor() * every;
            // Sample-exact beep start: the sample at or after the multiple.
            let v = if since < len - 0.5 / rate {
                (0.25 * (std::f64::consts::TAU * self.beep_hz * since).sin()) as f32
            } else {
                0.0
            };
            out.extend(std::iter::repeat_n(v, ch));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::stamp::read_strip;

    #[test]
    fn frames_carry_their_capture_ms_and_beeps_start_on_the_second() {
        let h = StampedHost::new((200, 30, 30), 1000.0);
        let f = h.frame(Duration::from_millis(12_345)).unwrap();
        let (w, hh) = (f.image.width() as usize, f.image.height() as usize);
        assert_eq!(
            read_strip(f.image.data(), w, hh, (0, 0, w, hh)),
            Some(12_345)
        );
        let a = h.audio(Duration::from_millis(990), 960);
        // 10 ms of silence (480 frames × 2 channels), then the beep.
        assert!(a[..960].iter().all(|&s| s == 0.0));
        assert!(a[960..].iter().any(|&s| s.abs() > 0.2));
    }
}
