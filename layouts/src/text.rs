//! Text as the layout describes it: a string in a box with a style. Rasterizing is not done
//! here (this crate is pure); `compositor-text` turns a [`TextBox`] into an RGBA image of
//! exactly `size` pixels, and the compositors draw that image 1:1 like any other.
//!
//! Invariants: sizes are output pixels; one line of text, vertically centred in the box,
//! aligned horizontally by [`TextAlign`] inside `size.w − 2 × pad` where `pad` covers the
//! outline and shadow; text wider than that is cut at a grapheme boundary and ends with "…".
//! Two equal `TextBox`es rasterize to equal pixels, so a cache keyed by the box is exact.

use serde::{Deserialize, Serialize};

use crate::frame_plan::LayoutError;
use crate::geometry::{Rgba, Size};

/// Longest accepted text, bytes (names, titles, prices, banners).
pub const MAX_TEXT_BYTES: usize = 512;

/// Horizontal alignment inside the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextAlign {
    /// Flush left.
    Left,
    /// Centred.
    #[default]
    Center,
    /// Flush right.
    Right,
}

/// A solid outline around every glyph (readable over any picture).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TextOutline {
    /// Width in pixels, 0..=16.
    pub width: u32,
    /// Colour.
    pub color: Rgba,
}

/// A soft drop shadow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TextShadow {
    /// Offset right, pixels (−32..=32).
    pub dx: i32,
    /// Offset down, pixels (−32..=32).
    pub dy: i32,
    /// Blur radius, pixels (0..=16).
    pub blur: u32,
    /// Colour (its alpha scales the shadow).
    pub color: Rgba,
}

/// How text looks. Sizes in output pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextStyle {
    /// Font size (em height), pixels, 4..=400. Stored ×100 as an integer so styles hash.
    pub size_centi_px: u32,
    /// Fill colour.
    pub color: Rgba,
    /// CSS weight 100..=900 (400 regular, 700 bold).
    #[serde(default = "regular")]
    pub weight: u16,
    /// Optional outline.
    #[serde(default)]
    pub outline: Option<TextOutline>,
    /// Optional shadow.
    #[serde(default)]
    pub shadow: Option<TextShadow>,
    /// Horizontal alignment.
    #[serde(default)]
    pub align: TextAlign,
    /// Preferred font family (a brand's font); the fallback chain covers what it lacks.
    #[serde(default)]
    pub family: Option<String>,
}

impl Eq for TextStyle {}
impl std::hash::Hash for TextStyle {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.size_centi_px.hash(state);
        self.color.hash(state);
        self.weight.hash(state);
        self.outline.hash(state);
        self.shadow.hash(state);
        self.align.hash(state);
        self.family.hash(state);
    }
}

fn regular() -> u16 {
    400
}

impl TextStyle {
    /// A style of `size_px` pixels in `color`, regular weight, centred, no outline or shadow.
    pub fn new(size_px: f32, color: Rgba) -> Self {
        Self {
            size_centi_px: (size_px.clamp(0.0, 10_000.0) * 100.0).round() as u32,
            color,
            weight: 400,
            outline: None,
            shadow: None,
            align: TextAlign::Center,
            family: None,
        }
    }
    /// Font size in pixels.
    pub fn size_px(&self) -> f32 {
        self.size_centi_px as f32 / 100.0
    }
    /// With this weight.
    pub fn weight(mut self, w: u16) -> Self {
        self.weight = w;
        self
    }
    /// With this outline.
    pub fn outline(mut self, width: u32, color: Rgba) -> Self {
        self.outline = Some(TextOutline { width, color });
        self
    }
    /// With this shadow.
    pub fn shadow(mut self, dx: i32, dy: i32, blur: u32, color: Rgba) -> Self {
        self.shadow = Some(TextShadow {
            dx,
            dy,
            blur,
            color,
        });
        self
    }
    /// With this alignment.
    pub fn align(mut self, a: TextAlign) -> Self {
        self.align = a;
        self
    }
    /// With this preferred family.
    pub fn family(mut self, f: Option<String>) -> Self {
        self.family = f;
        self
    }

    /// Pixels kept free on each side of the box for the outline and the shadow.
    pub fn pad(&self) -> u32 {
        let o = self.outline.map_or(0, |o| o.width);
        let s = self
            .shadow
            .map_or(0, |s| s.dx.unsigned_abs().max(s.dy.unsigned_abs()) + s.blur);
        o.max(s) + 1
    }

    /// Checks every bound; `field` names the style in messages.
    pub fn validate(&self, field: &str) -> Result<(), LayoutError> {
        let range = |name: &str, got: f64, min: f64, max: f64| {
            if got < min || got > max {
                Err(LayoutError::OutOfRange {
                    field: format!("{field}.{name}"),
                    got,
                    min,
                    max,
                })
            } else {
                Ok(())
            }
        };
        range("size", f64::from(self.size_px()), 4.0, 400.0)?;
        range("weight", f64::from(self.weight), 100.0, 900.0)?;
        if let Some(o) = self.outline {
            range("outline.width", f64::from(o.width), 0.0, 16.0)?;
        }
        if let Some(s) = self.shadow {
            range("shadow.dx", f64::from(s.dx), -32.0, 32.0)?;
            range("shadow.dy", f64::from(s.dy), -32.0, 32.0)?;
            range("shadow.blur", f64::from(s.blur), 0.0, 16.0)?;
        }
        if let Some(f) = &self.family
            && (f.is_empty() || f.len() > 128)
        {
            return Err(LayoutError::OutOfRange {
                field: format!("{field}.family (length)"),
                got: f.len() as f64,
                min: 1.0,
                max: 128.0,
            });
        }
        Ok(())
    }
}

/// One line of text in a box: what `compositor-text` rasterizes into a `size` image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TextBox {
    /// The text (one line; control characters are dropped when drawn).
    pub text: String,
    /// Style.
    pub style: TextStyle,
    /// Box size in pixels (the raster's size).
    pub size: Size,
}

/// Checks a user-supplied text: at most [`MAX_TEXT_BYTES`] and no control characters (a
/// label is one line).
pub fn check_text(field: &str, text: &str) -> Result<(), LayoutError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(LayoutError::OutOfRange {
            field: format!("{field} (bytes)"),
            got: text.len() as f64,
            min: 0.0,
            max: MAX_TEXT_BYTES as f64,
        });
    }
    if text.chars().any(char::is_control) {
        return Err(LayoutError::BadText {
            field: field.to_owned(),
            reason: "control characters are not allowed (text is one line)",
        });
    }
    Ok(())
}
