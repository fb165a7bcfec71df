//! Synthetic hosts: a moving test pattern and a steady tone, fed into an input slot exactly
//! like a decoded WebRTC host would be (demo, tests, benchmarks).
//!
//! The picture is a diagonal ramp scrolling with time in the host's own tint plus a white box
//! sweeping left→right once per second, so motion and timing are visible. The sound is a sine
//! at the host's frequency, −12 dBFS, in 20 ms blocks. Messages are sent in time order, as
//! offline sessions require. Frame generation is cheap (a memcpy per row).

use std::time::{Duration, Instant};

use compositor_core::frame::{
    AudioBlock, ColorMatrix, FrameError, I420Frame, VideoFrame, rgb_to_yuv,
};
use compositor_core::session::{Fps, InputSender};

/// What a synthetic host looks and sounds like.
#[derive(Debug, Clone)]
pub struct SyntheticHost {
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// Frame rate.
    pub fps: Fps,
    /// Tint (RGB).
    pub tint: (u8, u8, u8),
    /// Tone frequency, Hz.
    pub tone_hz: f32,
    /// Audio sample rate.
    pub sample_rate: u32,
    /// Audio channels.
    pub channels: u16,
}

impl SyntheticHost {
    /// A 1280×720 30 fps host with a 48 kHz stereo tone.
    pub fn new(tint: (u8, u8, u8), tone_hz: f32) -> Self {
        Self {
            width: 1280,
            height: 720,
            fps: Fps::new(30, 1),
            tint,
            tone_hz,
            sample_rate: 48_000,
            channels: 2,
        }
    }

    /// Generates frames and audio from session time 0 until `duration` (or until the input
    /// closes) and sends them. `paced` follows the wall clock (real-time sessions); otherwise
    /// it sends as fast as the session takes them.
    pub fn run(&self, input: &InputSender, duration: Duration, paced: bool) {
        let mut pattern = PatternGen::new(self);
        let start = Instant::now();
        let block = Duration::from_millis(20);
        let (mut k, mut a) = (0u64, 0u64);
        let mut phase = 0f64;
        loop {
            let tv = self.fps.frame_time(k);
            let ta = block * a as u32;
            if tv >= duration && ta >= duration {
                break;
            }
            let video = tv <= ta && tv < duration || ta >= duration;
            let t = if video { tv } else { ta };
            if paced {
                let due = start + t;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            let res = if video {
                k += 1;
                match pattern.frame(t) {
                    Ok(f) => input.send_video(f),
                    Err(e) => {
                        tracing::error!(error = %e, "synthetic host cannot make frames");
                        break;
                    }
                }
            } else {
                a += 1;
                let frames = (self.sample_rate / 50) as usize;
                let mut samples = Vec::with_capacity(frames * usize::from(self.channels));
                let step =
                    std::f64::consts::TAU * f64::from(self.tone_hz) / f64::from(self.sample_rate);
                for _ in 0..frames {
                    let v = (phase.sin() * 0.25) as f32; // −12 dBFS
                    phase = (phase + step) % std::f64::consts::TAU;
                    for _ in 0..self.channels {
                        samples.push(v);
                    }
                }
                input.send_audio(AudioBlock {
                    pts: t,
                    sample_rate: self.sample_rate,
                    channels: self.channels,
                    samples,
                })
            };
            if res.is_err() {
                break;
            }
        }
    }
}

/// Builds pattern frames.
#[derive(Debug)]
pub struct PatternGen {
    w: usize,
    h: usize,
    ramp: Vec<u8>,
    u: u8,
    v: u8,
    matrix: ColorMatrix,
}

impl PatternGen {
    /// For a host.
    pub fn new(host: &SyntheticHost) -> Self {
        // At least 16x16 so the sweeping box fits.
        let (w, h) = (host.width.max(16) as usize, host.height.max(16) as usize);
        let matrix = ColorMatrix::for_height(host.height);
        let (_, u, v) = rgb_to_yuv(host.tint.0, host.tint.1, host.tint.2, matrix);
        let period = 256usize;
        let ramp = (0..w + h + period)
            .map(|i| 40 + ((i % period) as u32 * 150 / period as u32) as u8)
            .collect();
        Self {
            w,
            h,
            ramp,
            u,
            v,
            matrix,
        }
    }

    /// The picture at session time `t`.
    pub fn frame(&mut self, t: Duration) -> Result<VideoFrame, FrameError> {
        let (w, h) = (self.w, self.h);
        let mut data = vec![0u8; I420Frame::byte_len(w as u32, h as u32)];
        let shift = ((t.as_millis() / 8) % 256) as usize;
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        {
            let (y, rest) = data.split_at_mut(w * h);
            for r in 0..h {
                let s = (r + 256 - shift) % 256;
                y[r * w..(r + 1) * w].copy_from_slice(&self.ramp[s..s + w]);
            }
            let (u, v) = rest.split_at_mut(cw * ch);
            u.fill(self.u);
            v.fill(self.v);
            // A white box sweeping once per second.
            let bw = (w / 8).max(2);
            let bh = (h / 4).max(2);
            let frac = (t.as_micros() % 1_000_000) as usize;
            let x0 = frac * (w - bw) / 1_000_000;
            let y0 = h / 2 - bh / 2;
            for r in y0..y0 + bh {
                y[r * w + x0..r * w + x0 + bw].fill(235);
            }
            for r in y0 / 2..(y0 + bh) / 2 {
                u[r * cw + x0 / 2..r * cw + (x0 + bw) / 2].fill(128);
                v[r * cw + x0 / 2..r * cw + (x0 + bw) / 2].fill(128);
            }
        }
        let image = I420Frame::from_vec(w as u32, h as u32, data)?;
        Ok(VideoFrame {
            pts: t,
            matrix: self.matrix,
            image,
        })
    }
}
