//! Text on screen: turns a [`layouts::TextBox`] (a string, a [`layouts::TextStyle`] and a
//! size) into an RGBA image of exactly `size` pixels, which the compositors draw 1:1 like any
//! other image.
//!
//! - Shaping is cosmic-text's (`Shaping::Advanced`, one line, no wrapping), glyph rasters
//!   come from its swash cache: outlines as alpha masks in the fill colour, colour emoji
//!   (CBDT bitmaps, COLR) in their own colours.
//! - Fonts: the style's family if given, else "Noto Sans CJK SC" (Latin and Han, Simplified
//!   Chinese forms), else sans-serif; emoji graphemes ask "Noto Color Emoji" first, and
//!   cosmic-text's fallback covers whatever a face lacks ([`FontLibrary::chain`]). The
//!   weight snaps to one the family has as a static face (CSS matching rule), because
//!   cosmic-text only takes faces of exactly the weight asked; a family that is not
//!   installed is replaced by the default (logged once).
//! - Layout: the line is aligned inside `size.w − 2·pad` (`pad` = [`layouts::TextStyle::pad`],
//!   room for outline and shadow): left at `pad`, right flush at `size.w − pad` (advance
//!   box), centred by its ink (glyph rasters, so side bearings do not bias it); its ascent +
//!   descent are centred vertically; the pen origin is rounded to whole pixels. Text too wide is cut at a grapheme boundary to the longest
//!   prefix that fits with "…" after it. Control characters are dropped.
//! - Effects: the outline is the glyph coverage dilated by a disc of the outline width, the
//!   shadow is that (or the bare coverage) shifted and box-blurred; shadow, outline and fill
//!   are composited in that order with Porter-Duff "over".
//!
//! Invariants: all sizes and positions are output pixels. Images are straight (not
//! premultiplied) alpha, sRGB values as given, transparent where nothing is drawn; pixels
//! falling outside the box are clipped. Rasterizing is deterministic (equal boxes, equal
//! bytes), so a cache keyed by the box is exact ([`TextCache`]). No input string panics;
//! an empty string gives a transparent image.
//!
//! Ownership and threads: a [`FontLibrary`] is loaded once per process (it reads font files)
//! and shared (`Arc`, `Send + Sync`); each thread that draws text owns a [`TextRasterizer`]
//! (or a [`TextCache`], which owns one): they hold mutable shaping and glyph caches and are
//! not `Sync`.

mod cache;
mod compose;
mod library;
mod raster;

use std::path::PathBuf;

pub use cache::TextCache;
pub use library::{CJK_FAMILY, EMOJI_FAMILY, FONT_DIR_ENV, FontLibrary, SANS_FAMILY};
pub use raster::{ELLIPSIS, Shaped, ShapedGlyph, TextRasterizer};

/// Longest side of a text box, pixels.
pub const MAX_BOX_SIDE: u32 = 4096;

/// Why text could not be drawn, or fonts not loaded.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A box side is 0 or larger than [`MAX_BOX_SIDE`].
    #[error("text box {w}x{h} px: each side must be 1..={max} pixels")]
    BadSize {
        /// Width asked.
        w: u32,
        /// Height asked.
        h: u32,
        /// Largest side accepted.
        max: u32,
    },
    /// The style is out of bounds ([`layouts::TextStyle::validate`]).
    #[error("text style: {0}")]
    BadStyle(#[from] layouts::LayoutError),
    /// A font directory could not be read.
    #[error("font directory {}: {source}", path.display())]
    FontDir {
        /// The directory.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}
