//! Raw media buffers that move between sources, the session, the renderer and the encoder.
//!
//! Invariants:
//! - [`I420Frame`] is planar 8-bit Y, U, V stored tightly in one `Vec<u8>`: Y is `w*h`, U and V
//!   are `cw*ch` each with `cw = ceil(w/2)`, `ch = ceil(h/2)`. No row padding.
//! - Timestamps ([`VideoFrame::pts`], [`AudioBlock::pts`]) are `Duration`s on the session clock
//!   (0 = the session's first output tick): the time at which they should be shown/heard
//!   (network sources get it from [`crate::session::SessionHandle::align`]).
//! - Ownership: a source allocates a frame and gives it away by value through its input
//!   channel; the session keeps the newest one per input slot and the renderer only borrows it.
//!   The session owns the output frame the renderer writes into and reuses it every tick.
//! - Audio is f32 interleaved, nominal range −1..=1.

use std::time::Duration;

/// How Y'CbCr maps to R'G'B' (always limited/"TV" range here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorMatrix {
    /// ITU-R BT.709 (HD).
    #[default]
    Bt709,
    /// ITU-R BT.601 (SD).
    Bt601,
}

impl ColorMatrix {
    /// The conventional matrix for a picture height: BT.601 below 720 lines, else BT.709.
    pub fn for_height(height: u32) -> Self {
        if height < 720 {
            ColorMatrix::Bt601
        } else {
            ColorMatrix::Bt709
        }
    }

    /// (Kr, Kb) luma coefficients.
    pub fn kr_kb(self) -> (f32, f32) {
        match self {
            ColorMatrix::Bt709 => (0.2126, 0.0722),
            ColorMatrix::Bt601 => (0.299, 0.114),
        }
    }
}

/// Errors building frames from untrusted sizes or data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// Zero or absurd dimensions.
    #[error("invalid frame size {0}x{1}: both sides must be 1..=8192")]
    BadSize(u32, u32),
    /// Data length does not match the dimensions.
    #[error("I420 data for {w}x{h} must be {expected} bytes, got {got}")]
    BadLength {
        /// Width.
        w: u32,
        /// Height.
        h: u32,
        /// Expected byte count.
        expected: usize,
        /// Given byte count.
        got: usize,
    },
}

/// An 8-bit I420 picture.
#[derive(Clone, PartialEq, Eq)]
pub struct I420Frame {
    width: u32,
    height: u32,
    data: Vec<u8>,
    /// Per-frame metadata carried to the encoder (the layout JSON written as an H.264 SEI);
    /// empty = none. Reused across frames by the session.
    meta: Vec<u8>,
}

impl std::fmt::Debug for I420Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "I420Frame({}x{})", self.width, self.height)
    }
}

/// Largest accepted side, in pixels.
pub const MAX_SIDE: u32 = 8192;

impl I420Frame {
    /// Byte length of an I420 picture of `w`×`h`.
    pub fn byte_len(w: u32, h: u32) -> usize {
        let (cw, ch) = chroma_size(w, h);
        (w as usize) * (h as usize) + 2 * (cw as usize) * (ch as usize)
    }

    /// A black (Y=16, U=V=128) frame.
    pub fn black(w: u32, h: u32) -> Result<Self, FrameError> {
        Self::filled(w, h, 16, 128, 128)
    }

    /// A frame of one colour.
    pub fn filled(w: u32, h: u32, y: u8, u: u8, v: u8) -> Result<Self, FrameError> {
        check_size(w, h)?;
        let luma = (w as usize) * (h as usize);
        let mut data = vec![y; Self::byte_len(w, h)];
        let (cw, ch) = chroma_size(w, h);
        let c = (cw as usize) * (ch as usize);
        data[luma..luma + c].fill(u);
        data[luma + c..].fill(v);
        Ok(Self {
            width: w,
            height: h,
            data,
            meta: Vec::new(),
        })
    }

    /// Wraps existing tightly packed I420 data.
    pub fn from_vec(w: u32, h: u32, data: Vec<u8>) -> Result<Self, FrameError> {
        check_size(w, h)?;
        let expected = Self::byte_len(w, h);
        if data.len() != expected {
            return Err(FrameError::BadLength {
                w,
                h,
                expected,
                got: data.len(),
            });
        }
        Ok(Self {
            width: w,
            height: h,
            data,
            meta: Vec::new(),
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Chroma plane size.
    pub fn chroma_size(&self) -> (u32, u32) {
        chroma_size(self.width, self.height)
    }
    /// All bytes (Y, then U, then V).
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    /// The frame's metadata (the layout JSON; empty = none).
    pub fn meta(&self) -> &[u8] {
        &self.meta
    }
    /// Replaces the metadata, reusing the buffer.
    pub fn set_meta(&mut self, meta: &[u8]) {
        self.meta.clear();
        self.meta.extend_from_slice(meta);
    }
    /// The metadata buffer, to write into in place (cleared by the caller as needed).
    pub fn meta_mut(&mut self) -> &mut Vec<u8> {
        &mut self.meta
    }
    /// The three planes.
    pub fn planes(&self) -> (&[u8], &[u8], &[u8]) {
        let luma = (self.width as usize) * (self.height as usize);
        let (cw, ch) = self.chroma_size();
        let c = (cw as usize) * (ch as usize);
        let (y, rest) = self.data.split_at(luma);
        let (u, v) = rest.split_at(c);
        (y, u, &v[..c])
    }
    /// The three planes, mutable.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let luma = (self.width as usize) * (self.height as usize);
        let (cw, ch) = chroma_size(self.width, self.height);
        let c = (cw as usize) * (ch as usize);
        let (y, rest) = self.data.split_at_mut(luma);
        let (u, v) = rest.split_at_mut(c);
        (y, u, v)
    }
    /// Gives the bytes away.
    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }

    /// Converts to packed RGB8 on the CPU (for snapshots and tests; not the render path).
    pub fn to_rgb(&self, matrix: ColorMatrix) -> Vec<u8> {
        let (kr, kb) = matrix.kr_kb();
        let kg = 1.0 - kr - kb;
        let (yp, up, vp) = self.planes();
        let (cw, _) = self.chroma_size();
        let w = self.width as usize;
        let mut out = Vec::with_capacity(w * self.height as usize * 3);
        for row in 0..self.height as usize {
            for col in 0..w {
                let y = (f32::from(yp[row * w + col]) - 16.0) / 219.0;
                let ci = (row / 2) * cw as usize + col / 2;
                let cb = (f32::from(up[ci]) - 128.0) / 224.0;
                let cr = (f32::from(vp[ci]) - 128.0) / 224.0;
                let r = y + 2.0 * (1.0 - kr) * cr;
                let b = y + 2.0 * (1.0 - kb) * cb;
                let g = (y - kr * r - kb * b) / kg;
                for c in [r, g, b] {
                    out.push((c * 255.0).round().clamp(0.0, 255.0) as u8);
                }
            }
        }
        out
    }
}

/// Chroma plane size for a luma size.
pub fn chroma_size(w: u32, h: u32) -> (u32, u32) {
    (w.div_ceil(2), h.div_ceil(2))
}

fn check_size(w: u32, h: u32) -> Result<(), FrameError> {
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(FrameError::BadSize(w, h));
    }
    Ok(())
}

/// A decoded (or synthetic) picture from one input, stamped on the session clock.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    /// When to show it, on the session clock.
    pub pts: Duration,
    /// How its Y'CbCr maps to RGB.
    pub matrix: ColorMatrix,
    /// The picture.
    pub image: I420Frame,
}

/// A block of decoded audio from one input.
#[derive(Debug, Clone)]
pub struct AudioBlock {
    /// Session time of the first sample.
    pub pts: Duration,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// 1 or 2.
    pub channels: u16,
    /// Interleaved samples.
    pub samples: Vec<f32>,
}

impl AudioBlock {
    /// Duration covered by the block.
    pub fn duration(&self) -> Duration {
        let frames = self.samples.len() / usize::from(self.channels.max(1));
        Duration::from_secs_f64(frames as f64 / f64::from(self.sample_rate.max(1)))
    }
}

/// Converts 8-bit RGB to limited-range Y'CbCr (for tests, images and synthetic sources).
pub fn rgb_to_yuv(r: u8, g: u8, b: u8, matrix: ColorMatrix) -> (u8, u8, u8) {
    let (kr, kb) = matrix.kr_kb();
    let kg = 1.0 - kr - kb;
    let (r, g, b) = (
        f32::from(r) / 255.0,
        f32::from(g) / 255.0,
        f32::from(b) / 255.0,
    );
    let y = kr * r + kg * g + kb * b;
    let cb = (b - y) / (2.0 * (1.0 - kb));
    let cr = (r - y) / (2.0 * (1.0 - kr));
    let q = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    (
        q(16.0 + 219.0 * y),
        q(128.0 + 224.0 * cb),
        q(128.0 + 224.0 * cr),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_planes() {
        let f = I420Frame::black(5, 3).unwrap();
        assert_eq!(f.chroma_size(), (3, 2));
        assert_eq!(f.data().len(), 15 + 2 * 6);
        let (y, u, v) = f.planes();
        assert_eq!((y.len(), u.len(), v.len()), (15, 6, 6));
        assert!(I420Frame::from_vec(4, 4, vec![0; 3]).is_err());
        assert!(I420Frame::black(0, 4).is_err());
    }

    #[test]
    fn rgb_roundtrip_cpu() {
        for m in [ColorMatrix::Bt709, ColorMatrix::Bt601] {
            let (y, u, v) = rgb_to_yuv(200, 40, 90, m);
            let f = I420Frame::filled(2, 2, y, u, v).unwrap();
            let rgb = f.to_rgb(m);
            assert!((i32::from(rgb[0]) - 200).abs() <= 2, "{rgb:?}");
            assert!((i32::from(rgb[1]) - 40).abs() <= 2, "{rgb:?}");
            assert!((i32::from(rgb[2]) - 90).abs() <= 2, "{rgb:?}");
        }
    }
}
