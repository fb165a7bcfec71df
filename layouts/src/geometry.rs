//! Pixel geometry shared by the scene model and frame plans.
//!
//! Invariants: [`Rect`] is in output pixels, origin top-left, x right, y down. Rects in a
//! [`crate::FramePlan`] have even `x`, `y`, `w`, `h` (I420 chroma is subsampled 2×2) and
//! `w, h > 0`. [`UvRect`] is a normalised crop of a source, each component in `0.0..=1.0`.

use serde::{Deserialize, Serialize};

/// A width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Size {
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
}

impl Size {
    /// Builds a size.
    pub const fn new(w: u32, h: u32) -> Self {
        Self { w, h }
    }
}

/// An axis-aligned rectangle in output pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width, > 0 in a plan.
    pub w: u32,
    /// Height, > 0 in a plan.
    pub h: u32,
}

impl Rect {
    /// Builds a rect.
    pub const fn new(x: i32, y: i32, w: u32, h: u32) -> Self {
        Self { x, y, w, h }
    }
}

/// A normalised crop window into a source (0..1 in both axes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UvRect {
    /// Left, 0..1.
    pub u: f32,
    /// Top, 0..1.
    pub v: f32,
    /// Width, 0..1.
    pub w: f32,
    /// Height, 0..1.
    pub h: f32,
}

impl UvRect {
    /// The whole source.
    pub const FULL: UvRect = UvRect {
        u: 0.0,
        v: 0.0,
        w: 1.0,
        h: 1.0,
    };
}

/// Straight (not premultiplied) RGBA colour, each component 0..=255, sRGB/video gamma.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rgba {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
    /// Alpha, 255 = opaque.
    pub a: u8,
}

impl Rgba {
    /// Builds a colour.
    pub const fn new(r: u8, g: u8, b: u8, a: u8) -> Self {
        Self { r, g, b, a }
    }
    /// Opaque black.
    pub const BLACK: Rgba = Rgba::new(0, 0, 0, 255);
}
