//! Decor: what is drawn over a frame plan besides the scene itself — name tags and the PK
//! overlay — as extra [`DrawItem`]s plus the [`TextBox`]es their images show.
//!
//! Invariants: a text item is `Content::Image("~text/{key}")` with `Fit::Stretch` and a cell
//! of exactly its box's size (drawn 1:1) unless it pulses (then the cell scales around its
//! centre and the raster stays the same). The caller rasterizes each [`Decor::texts`] entry
//! into the image of that id (cached: a box that did not change is not rasterized again).
//! Every rect is even. Name tags are at z = [`TAG_Z`], the PK overlay at [`PK_Z`] and above.

use crate::even::{floor_even, round_even_f};
use crate::frame_plan::{Content, DrawItem, FramePlan};
use crate::geometry::{Rect, Rgba, Size};
use crate::model::{Fit, Layout};
use crate::text::{TextAlign, TextBox, TextStyle};

/// Prefix of the image ids of rasterized text (user images may not use it).
pub const TEXT_PREFIX: &str = "~text/";
/// z of name tags: above inputs (0) and default overlays (100), below the PK overlay.
pub const TAG_Z: i32 = 150;
/// z of the PK overlay's lowest item.
pub const PK_Z: i32 = 200;

/// Extra items for one frame and the texts they need.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decor {
    /// Items to draw (merged into the plan by z).
    pub items: Vec<DrawItem>,
    /// `(image id, box)` for every text item.
    pub texts: Vec<(String, TextBox)>,
}

impl Decor {
    /// Empties both lists, keeping their capacity.
    pub fn clear(&mut self) {
        self.items.clear();
        self.texts.clear();
    }

    /// A flat rect.
    pub(crate) fn solid(&mut self, key: &str, cell: Rect, color: Rgba, z: i32, radius: u32) {
        if cell.w < 2 || cell.h < 2 || color.a == 0 {
            return;
        }
        self.items.push(DrawItem {
            key: key.to_owned(),
            content: Content::Solid(color),
            cell: even(cell),
            fit: Fit::Stretch,
            z,
            opacity: 1.0,
            corner_radius: radius,
            border: None,
        });
    }

    /// An image (avatar, product picture) covering `cell`.
    pub(crate) fn image(&mut self, key: &str, image: &str, cell: Rect, z: i32, radius: u32) {
        if cell.w < 2 || cell.h < 2 {
            return;
        }
        self.items.push(DrawItem {
            key: key.to_owned(),
            content: Content::Image(image.to_owned()),
            cell: even(cell),
            fit: Fit::Cover,
            z,
            opacity: 1.0,
            corner_radius: radius,
            border: None,
        });
    }

    /// A text box at `at` (top-left, its size is the box's), scaled by `scale` around its
    /// centre, with `opacity`.
    pub(crate) fn text(
        &mut self,
        key: &str,
        text: TextBox,
        at: (i64, i64),
        z: i32,
        scale: f64,
        opacity: f32,
    ) {
        let (w, h) = (i64::from(text.size.w), i64::from(text.size.h));
        if w < 2 || h < 2 || text.text.is_empty() || opacity <= 0.0 {
            return;
        }
        let (sw, sh) = (
            round_even_f(w as f64 * scale).max(2),
            round_even_f(h as f64 * scale).max(2),
        );
        let x = floor_even(at.0 + (w - sw) / 2);
        let y = floor_even(at.1 + (h - sh) / 2);
        let id = format!("{TEXT_PREFIX}{key}");
        self.items.push(DrawItem {
            key: key.to_owned(),
            content: Content::Image(id.clone()),
            cell: Rect::new(x as i32, y as i32, sw as u32, sh as u32),
            fit: Fit::Stretch,
            z,
            opacity: opacity.clamp(0.0, 1.0),
            corner_radius: 0,
            border: None,
        });
        self.texts.push((id, text));
    }
}

/// A box size with both sides even and at least 2.
pub(crate) fn box_size(w: f64, h: f64) -> Size {
    Size::new(
        round_even_f(w).clamp(2, 4096) as u32,
        round_even_f(h).clamp(2, 4096) as u32,
    )
}

fn even(r: Rect) -> Rect {
    let x = floor_even(i64::from(r.x));
    let y = floor_even(i64::from(r.y));
    let w = round_even_f(f64::from(r.w)).max(2);
    let h = round_even_f(f64::from(r.h)).max(2);
    Rect::new(x as i32, y as i32, w as u32, h as u32)
}

/// What a name tag shows for one input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TagInfo<'a> {
    /// The label (empty: no tag).
    pub label: &'a str,
    /// The mixer hears this input above its speaking threshold.
    pub speaking: bool,
    /// Muted in the mix.
    pub muted: bool,
}

/// Whether a layout shows name tags when the scene does not say.
pub fn tags_by_default(layout: &Layout) -> bool {
    matches!(
        layout,
        Layout::Pk { .. } | Layout::Grid { .. } | Layout::Spotlight { .. }
    )
}

/// Colour of the speaking dot.
pub const SPEAKING: Rgba = Rgba::new(52, 211, 110, 255);

/// Adds a name tag at the bottom left of every input tile of `plan` that has a label:
/// the label (with "🔇 " in front when muted) in white with a dark outline and shadow, and a
/// green dot before it while the input speaks. The tag's size follows the tile's height
/// (font 5 % of it, 14..=32 px), so it changes only when the tile or the label does.
pub fn name_tags<'a>(
    plan: &FramePlan,
    family: Option<&str>,
    info: impl Fn(&str) -> Option<TagInfo<'a>>,
    out: &mut Decor,
) {
    for item in &plan.items {
        let Content::Input(id) = &item.content else {
            continue;
        };
        let Some(tag) = info(id) else { continue };
        if tag.label.is_empty() {
            continue;
        }
        let cell = item.cell;
        let font = (f64::from(cell.h) * 0.05).clamp(14.0, 32.0).round();
        let size = box_size((f64::from(cell.w) * 0.72).min(font * 14.0), font * 1.7);
        let margin = round_even_f(font * 0.5);
        let dot = round_even_f(font * 0.6).max(4);
        let y = i64::from(cell.y) + i64::from(cell.h) - i64::from(size.h) - margin;
        let x = i64::from(cell.x) + margin;
        if tag.speaking {
            let dy = y + (i64::from(size.h) - dot) / 2;
            out.solid(
                &format!("tag-dot:{id}"),
                Rect::new(x as i32, dy as i32, dot as u32, dot as u32),
                SPEAKING,
                TAG_Z,
                (dot / 2) as u32,
            );
        }
        let text = if tag.muted {
            format!("🔇 {}", tag.label)
        } else {
            tag.label.to_owned()
        };
        let style = TextStyle::new(font as f32, Rgba::new(255, 255, 255, 255))
            .weight(600)
            .outline(2, Rgba::new(0, 0, 0, 200))
            .shadow(1, 2, 2, Rgba::new(0, 0, 0, 140))
            .align(TextAlign::Left)
            .family(family.map(str::to_owned));
        out.text(
            &format!("tag:{id}"),
            TextBox { text, style, size },
            (x + dot + margin / 2, y),
            TAG_Z,
            1.0,
            1.0,
        );
    }
}
