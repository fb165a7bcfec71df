//! Shaping (cosmic-text), fitting (ellipsis), placing and rasterizing one [`TextBox`].

use std::collections::HashMap;

use cosmic_text::{
    Attrs, AttrsList, BufferLine, Family, FontSystem, LayoutGlyph, LineEnding, Shaping, Stretch,
    Style, SwashCache, SwashContent, Weight, Wrap,
};
use image::RgbaImage;
use layouts::{TextAlign, TextBox, TextStyle};
use unicode_segmentation::UnicodeSegmentation;

use crate::compose::Canvas;
use crate::library::{CJK_FAMILY, EMOJI_FAMILY, FontLibrary};
use crate::{MAX_BOX_SIDE, TextError};

/// The ellipsis appended to text cut to fit.
pub const ELLIPSIS: &str = "…";

/// Longest text shaped, bytes; longer text is cut (at a grapheme boundary) and ellipsized.
/// Far more than a 4096 px line can show at the smallest size.
const MAX_SHAPED_BYTES: usize = 4 * layouts::MAX_TEXT_BYTES;

/// Glyph rasters kept before the glyph cache is emptied (a few MB at overlay sizes).
const MAX_CACHED_GLYPHS: usize = 4096;

/// Locale handed to cosmic-text: Han characters take the Simplified Chinese forms.
const LOCALE: &str = "zh-CN";

/// One shaped glyph (see [`TextRasterizer::shape`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ShapedGlyph {
    /// Family of the face the glyph comes from (e.g. "Noto Color Emoji").
    pub font_family: String,
    /// Glyph index in that face; 0 is the missing glyph (`.notdef`, a "tofu" box).
    pub glyph_id: u16,
    /// The text cluster the glyph draws.
    pub text: String,
}

/// The result of shaping a box without rasterizing it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shaped {
    /// Glyphs in visual order.
    pub glyphs: Vec<ShapedGlyph>,
    /// Width of the line (sum of advances), pixels.
    pub width: f32,
    /// Whether the text was cut and ends with "…".
    pub ellipsized: bool,
    /// The text actually shaped (control characters removed, possibly cut + "…").
    pub text: String,
}

/// A laid-out line.
struct Line {
    text: String,
    glyphs: Vec<LayoutGlyph>,
    width: f32,
    ascent: f32,
    descent: f32,
    ellipsized: bool,
}

/// Turns [`TextBox`]es into RGBA images. Owns a cosmic-text `FontSystem` (its own copy of the
/// library's face list, locale "zh-CN") and a glyph raster cache, both mutable: not `Sync`,
/// use one per thread.
#[derive(Debug)]
pub struct TextRasterizer {
    fonts: FontSystem,
    glyphs: SwashCache,
    /// Family used when the style names none ("Noto Sans CJK SC" when installed).
    default_family: Option<String>,
    /// Whether the colour emoji face is installed (emoji graphemes are then asked of it).
    has_emoji: bool,
    /// Whether any face can be shaped with (cosmic-text panics on a library without one).
    usable: bool,
    /// Pixel layers, reused from box to box.
    canvas: Canvas,
    /// Weight actually used for (family, weight asked), see [`TextRasterizer::resolve`].
    weights: HashMap<(String, u16), Option<u16>>,
}

impl TextRasterizer {
    /// A rasterizer drawing with the fonts of `lib`.
    pub fn new(lib: &FontLibrary) -> TextRasterizer {
        let db = lib.db().clone();
        // cosmic-text matches only upright, normal-width faces (and emoji ones); with none of
        // those its shaper has no font at all.
        let usable = db.faces().any(|f| {
            (f.style == Style::Normal && f.stretch == Stretch::Normal)
                || f.post_script_name.contains("Emoji")
        });
        if !usable {
            tracing::error!(
                faces = db.len(),
                "no usable font face: text will not be drawn"
            );
        }
        let fonts = FontSystem::new_with_locale_and_db(LOCALE.to_owned(), db);
        TextRasterizer {
            fonts,
            glyphs: SwashCache::new(),
            default_family: lib.has_family(CJK_FAMILY).then(|| CJK_FAMILY.to_owned()),
            has_emoji: lib.has_family(EMOJI_FAMILY),
            usable,
            canvas: Canvas::default(),
            weights: HashMap::new(),
        }
    }

    /// The weight to ask `family` for when `want` is wanted, `None` when the family has no
    /// face. cosmic-text only takes a family's face (and its fallbacks' faces) whose weight
    /// equals the one asked, so the weight snaps to one the family has, by the CSS rule
    /// (exact; 400–500 look up to 500 then down; below 400 down first; above 500 up first).
    /// Logs once per family that is not installed.
    fn resolve(&mut self, family: &str, want: u16) -> Option<u16> {
        let key = (family.to_owned(), want);
        if let Some(w) = self.weights.get(&key) {
            return *w;
        }
        let db = self.fonts.db();
        let mut have: Vec<u16> = db
            .faces()
            .filter(|f| f.families.iter().any(|(n, _)| n == family))
            .filter(|f| f.style == Style::Normal && f.stretch == Stretch::Normal)
            .map(|f| f.weight.0)
            .collect();
        have.sort_unstable();
        have.dedup();
        let order = |w: u16| -> (u8, u16) {
            match (w.cmp(&want), want) {
                (std::cmp::Ordering::Equal, _) => (0, 0),
                (std::cmp::Ordering::Greater, 400..=500) if w <= 500 => (1, w - want),
                (std::cmp::Ordering::Less, ..=500) => (2, want - w),
                (std::cmp::Ordering::Greater, ..=500) => (3, w - want),
                (std::cmp::Ordering::Greater, _) => (1, w - want),
                (std::cmp::Ordering::Less, _) => (2, want - w),
            }
        };
        let got = have.into_iter().min_by_key(|&w| order(w));
        if got.is_none() && self.weights.keys().all(|(f, _)| f != family) {
            tracing::warn!(
                family,
                "font family not installed: drawing with the default chain"
            );
        }
        self.weights.insert(key, got);
        got
    }

    /// Rasterizes one box into an image of exactly `tb.size` pixels, straight alpha,
    /// transparent where there is no text. Deterministic: the same box gives the same pixels.
    ///
    /// Errors: a side of 0 or over 4096 pixels, or a style out of bounds
    /// ([`TextStyle::validate`]).
    pub fn rasterize(&mut self, tb: &TextBox) -> Result<RgbaImage, TextError> {
        let (w, h) = (tb.size.w, tb.size.h);
        if w == 0 || h == 0 || w > MAX_BOX_SIDE || h > MAX_BOX_SIDE {
            return Err(TextError::BadSize {
                w,
                h,
                max: MAX_BOX_SIDE,
            });
        }
        tb.style.validate("style")?;
        let style = &tb.style;
        let pad = style.pad();
        let line = self.fit(&tb.text, style, available(tb));
        if line.glyphs.is_empty() {
            return Ok(RgbaImage::new(w, h));
        }
        if self.glyphs.image_cache.len() > MAX_CACHED_GLYPHS {
            // Bounded memory over a long session of changing text; refilled on demand.
            self.glyphs.image_cache.clear();
        }
        self.canvas.reset(w, h);
        let pen_x = match style.align {
            TextAlign::Left => pad as f32,
            TextAlign::Right => w as f32 - pad as f32 - line.width,
            TextAlign::Center => self.centred_pen(&line, w, pad),
        }
        .round();
        let baseline = ((h as f32 - (line.ascent + line.descent)) / 2.0 + line.ascent).round();
        let baseline = baseline as i32;
        for glyph in &line.glyphs {
            // pen_x is whole, so the glyphs' subpixel positions do not depend on it.
            let pg = glyph.physical((pen_x, 0.0), 1.0);
            let Some(img) = self.glyphs.get_image(&mut self.fonts, pg.cache_key) else {
                continue;
            };
            let p = img.placement;
            let x0 = pg.x + p.left;
            let y0 = baseline + pg.y - p.top;
            match img.content {
                SwashContent::Mask => {
                    self.canvas
                        .draw_mask(x0, y0, p.width, p.height, &img.data, style.color)
                }
                SwashContent::Color => self.canvas.draw_color(x0, y0, p.width, p.height, &img.data),
                SwashContent::SubpixelMask => {}
            }
        }
        Ok(self.canvas.finish(style.outline, style.shadow))
    }

    /// Pen origin centring the line's ink (the union of its glyph rasters, not its advance
    /// box, so side bearings do not push it off centre), kept so that the advance box stays
    /// inside the pad when it fits.
    fn centred_pen(&mut self, line: &Line, w: u32, pad: u32) -> f32 {
        let advance_centred = (w as f32 - line.width) / 2.0;
        let mut ink: Option<(i32, i32)> = None;
        for glyph in &line.glyphs {
            let pg = glyph.physical((0.0, 0.0), 1.0);
            if let Some(img) = self.glyphs.get_image(&mut self.fonts, pg.cache_key) {
                let p = img.placement;
                if p.width == 0 || p.height == 0 {
                    continue;
                }
                let (l, r) = (pg.x + p.left, pg.x + p.left + p.width as i32);
                ink = Some(ink.map_or((l, r), |(a, b)| (a.min(l), b.max(r))));
            }
        }
        let Some((l, r)) = ink else {
            return advance_centred;
        };
        let pen = (w as f32 - (r - l) as f32) / 2.0 - l as f32;
        let (lo, hi) = (pad as f32, w as f32 - pad as f32 - line.width);
        if lo <= hi {
            pen.clamp(lo, hi)
        } else {
            advance_centred
        }
    }

    /// Shapes (and fits, with the ellipsis) without rasterizing: the glyphs chosen, the line
    /// width and whether the text was cut. Never fails: an out-of-range style is clamped.
    pub fn shape(&mut self, tb: &TextBox) -> Shaped {
        let line = self.fit(&tb.text, &tb.style, available(tb));
        let glyphs = line
            .glyphs
            .iter()
            .map(|g| ShapedGlyph {
                font_family: self
                    .fonts
                    .db()
                    .face(g.font_id)
                    .and_then(|f| f.families.first())
                    .map(|(name, _)| name.clone())
                    .unwrap_or_default(),
                glyph_id: g.glyph_id,
                text: line.text.get(g.start..g.end).unwrap_or_default().to_owned(),
            })
            .collect();
        Shaped {
            glyphs,
            width: line.width,
            ellipsized: line.ellipsized,
            text: line.text,
        }
    }

    /// The line for `text`, cut with "…" to the longest grapheme prefix that fits `avail`.
    fn fit(&mut self, text: &str, style: &TextStyle, avail: f32) -> Line {
        let (clean, capped) = clean_text(text);
        if !capped {
            let line = self.layout(clean.clone(), style);
            if line.width <= avail + 0.01 {
                return line;
            }
        }
        // Byte ends of each grapheme prefix: prefix k is clean[..ends[k]], k graphemes.
        let mut ends: Vec<usize> = vec![0];
        ends.extend(clean.grapheme_indices(true).map(|(i, g)| i + g.len()));
        // Without the cap the whole text is known not to fit.
        let max_k = ends.len() - 1 - usize::from(!capped);
        let try_k = |this: &mut Self, k: usize| {
            let mut s = clean[..ends[k]].trim_end().to_owned();
            s.push_str(ELLIPSIS);
            let mut line = this.layout(s, style);
            line.ellipsized = true;
            (line.width <= avail + 0.01).then_some(line)
        };
        let Some(mut best) = try_k(self, 0) else {
            // Not even "…" fits: draw nothing.
            return Line {
                text: String::new(),
                glyphs: Vec::new(),
                width: 0.0,
                ascent: 0.0,
                descent: 0.0,
                ellipsized: true,
            };
        };
        let (mut lo, mut hi) = (0, max_k);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            match try_k(self, mid) {
                Some(line) => {
                    best = line;
                    lo = mid;
                }
                None => hi = mid - 1,
            }
        }
        best
    }

    /// Shapes and lays out `text` as one unwrapped line.
    fn layout(&mut self, text: String, style: &TextStyle) -> Line {
        if !self.usable || text.is_empty() {
            return Line {
                text,
                glyphs: Vec::new(),
                width: 0.0,
                ascent: 0.0,
                descent: 0.0,
                ellipsized: false,
            };
        }
        let size = style.size_px().clamp(4.0, 400.0);
        let want = style.weight.clamp(100, 900);
        let asked = style.family.as_deref().filter(|f| !f.is_empty());
        let named = [asked, self.default_family.clone().as_deref()]
            .into_iter()
            .flatten()
            .find_map(|f| self.resolve(f, want).map(|w| (f.to_owned(), w)));
        let (family, weight) = match &named {
            Some((f, w)) => (Family::Name(f), *w),
            None => (Family::SansSerif, want),
        };
        let attrs = Attrs::new().family(family).weight(Weight(weight));
        let mut list = AttrsList::new(&attrs);
        if self.has_emoji {
            let w = self.resolve(EMOJI_FAMILY, want).unwrap_or(want);
            let emoji = attrs
                .clone()
                .family(Family::Name(EMOJI_FAMILY))
                .weight(Weight(w));
            for (i, g) in text.grapheme_indices(true) {
                if is_emoji_grapheme(g) {
                    list.add_span(i..i + g.len(), &emoji);
                }
            }
        }
        let mut bl = BufferLine::new(text, LineEnding::None, list, Shaping::Advanced);
        let laid = bl.layout(&mut self.fonts, size, None, Wrap::None, None, 8);
        let mut line = Line {
            text: String::new(),
            glyphs: Vec::new(),
            width: 0.0,
            ascent: 0.0,
            descent: 0.0,
            ellipsized: false,
        };
        for l in laid {
            line.glyphs.extend(l.glyphs.iter().cloned());
            line.width = line.width.max(l.w);
            line.ascent = line.ascent.max(l.max_ascent);
            line.descent = line.descent.max(l.max_descent);
        }
        line.text = bl.into_text();
        line
    }
}

/// Width available to the line: the box minus the pad on both sides.
fn available(tb: &TextBox) -> f32 {
    tb.size.w.saturating_sub(2 * tb.style.pad()) as f32
}

/// The text to shape: control characters and line/paragraph separators removed, cut to
/// [`MAX_SHAPED_BYTES`] at a grapheme boundary (`true` when cut).
fn clean_text(text: &str) -> (String, bool) {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}'))
        .collect();
    if clean.len() <= MAX_SHAPED_BYTES {
        return (clean, false);
    }
    let end = clean
        .grapheme_indices(true)
        .map(|(i, g)| i + g.len())
        .take_while(|&e| e <= MAX_SHAPED_BYTES)
        .last()
        .unwrap_or(0);
    (clean[..end].to_owned(), true)
}

/// Whether a grapheme should be drawn from the colour emoji face: it asks for emoji
/// presentation (VS16, keycap), or holds a character whose default presentation is emoji
/// (the pictographic planes U+1F000..U+1FAFF, and the BMP `Emoji_Presentation` set). A
/// grapheme with VS15 (text presentation) is left to the text faces. The emoji face is only
/// the first choice: cosmic-text falls back for what it lacks.
fn is_emoji_grapheme(g: &str) -> bool {
    if g.contains('\u{FE0E}') {
        return false;
    }
    g.chars().any(|c| {
        matches!(c as u32,
            0xFE0F | 0x20E3 | 0x1F000..=0x1FAFF
            | 0x231A..=0x231B | 0x23E9..=0x23EC | 0x23F0 | 0x23F3 | 0x25FD..=0x25FE
            | 0x2614..=0x2615 | 0x2648..=0x2653 | 0x267F | 0x2693 | 0x26A1 | 0x26AA..=0x26AB
            | 0x26BD..=0x26BE | 0x26C4..=0x26C5 | 0x26CE | 0x26D4 | 0x26EA | 0x26F2..=0x26F3
            | 0x26F5 | 0x26FA | 0x26FD | 0x2705 | 0x270A..=0x270B | 0x2728 | 0x274C | 0x274E
            | 0x2753..=0x2755 | 0x2757 | 0x2795..=0x2797 | 0x27B0 | 0x27BF | 0x2B1B..=0x2B1C
            | 0x2B50 | 0x2B55)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_drops_controls_and_caps() {
        assert_eq!(clean_text("a\nb\tc\u{2028}d"), ("abcd".to_owned(), false));
        let long = "小".repeat(MAX_SHAPED_BYTES);
        let (c, capped) = clean_text(&long);
        assert!(capped && c.len() <= MAX_SHAPED_BYTES && c.len() % 3 == 0);
    }

    #[test]
    fn emoji_graphemes() {
        assert!(is_emoji_grapheme("🌸"));
        assert!(is_emoji_grapheme("✨"));
        assert!(is_emoji_grapheme("❤\u{FE0F}"));
        assert!(is_emoji_grapheme("1\u{FE0F}\u{20E3}"));
        assert!(!is_emoji_grapheme("❤"));
        assert!(!is_emoji_grapheme("小"));
        assert!(!is_emoji_grapheme("✨\u{FE0E}"));
    }
}
