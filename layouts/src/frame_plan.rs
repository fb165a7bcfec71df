//! What a frame plan is: the resolved list of things to draw for one output frame
//! ([`FramePlan`], [`DrawItem`], [`Content`], [`Region`]), where an item lands
//! ([`DrawItem::place`]), and why a scene has no plan ([`LayoutError`]). Plain values: the
//! planner (`plan.rs`), the presets and validation build or refuse them.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::even::{floor_even, round_even_f, to_i32, to_u32};
use crate::geometry::{Rect, Rgba, Size, UvRect};
use crate::model::{Border, Fit};

/// What a draw item shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Content {
    /// The current frame of an input slot.
    Input(String),
    /// A registered image.
    Image(String),
    /// A flat colour.
    Solid(Rgba),
}

/// One thing to draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawItem {
    /// Stable identity across plans, used to match items in transitions
    /// (e.g. `input:alice`, `overlay:3:logo`, `background`).
    pub key: String,
    /// What to draw.
    pub content: Content,
    /// The cell allotted to the item (even pixels, w, h > 0). The border and rounded corners
    /// follow the placed rect (see [`DrawItem::place`]).
    pub cell: Rect,
    /// How the content fills the cell.
    pub fit: Fit,
    /// Drawing order (ascending).
    pub z: i32,
    /// 0..=1, multiplies the content's alpha.
    pub opacity: f32,
    /// Rounded corner radius in pixels.
    pub corner_radius: u32,
    /// Optional border drawn inside the placed rect's edge.
    pub border: Option<Border>,
}

/// Where a source of a given size lands for a [`DrawItem`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Destination in output pixels (even, inside `cell`).
    pub dest: Rect,
    /// The part of the source sampled.
    pub crop: UvRect,
}

/// A reserved area of the canvas that no input covers (e.g. the PK score bar).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Name, e.g. `score_bar`.
    pub name: String,
    /// Where.
    pub rect: Rect,
}

/// Everything to draw for one output frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FramePlan {
    /// Canvas size the plan was made for.
    pub canvas: Size,
    /// Clear colour (opaque).
    pub background: Rgba,
    /// Items in painter's order (z ascending, stable).
    pub items: Vec<DrawItem>,
    /// Reserved regions (score bar, …).
    pub regions: Vec<Region>,
}

impl FramePlan {
    /// Makes `self` equal to `src`, reusing `self`'s vectors and strings (derived `Clone`
    /// would reallocate every id each frame).
    pub fn copy_from(&mut self, src: &FramePlan) {
        self.canvas = src.canvas;
        self.background = src.background;
        self.items.truncate(src.items.len());
        let have = self.items.len();
        for (d, s) in self.items.iter_mut().zip(&src.items) {
            d.key.clone_from(&s.key);
            match (&mut d.content, &s.content) {
                (Content::Input(a), Content::Input(b)) | (Content::Image(a), Content::Image(b)) => {
                    a.clone_from(b)
                }
                (c, s) => *c = s.clone(),
            }
            d.cell = s.cell;
            d.fit = s.fit;
            d.z = s.z;
            d.opacity = s.opacity;
            d.corner_radius = s.corner_radius;
            d.border = s.border;
        }
        self.items.extend(src.items[have..].iter().cloned());
        self.regions.truncate(src.regions.len());
        let have = self.regions.len();
        for (d, s) in self.regions.iter_mut().zip(&src.regions) {
            d.name.clone_from(&s.name);
            d.rect = s.rect;
        }
        self.regions.extend(src.regions[have..].iter().cloned());
    }
}

/// Why a scene or canvas was refused. Messages name the field and the bound.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LayoutError {
    /// Canvas width or height is zero.
    #[error("canvas size {w}x{h} is invalid: both sides must be at least 2 pixels")]
    BadCanvas {
        /// Width.
        w: u32,
        /// Height.
        h: u32,
    },
    /// Too many sources for the layout.
    #[error("{field}: {got} sources, at most {max} allowed")]
    TooManySources {
        /// Field.
        field: &'static str,
        /// Count given.
        got: usize,
        /// Bound.
        max: usize,
    },
    /// Too few sources for the layout.
    #[error("{field}: {got} sources, at least {min} required")]
    TooFewSources {
        /// Field.
        field: &'static str,
        /// Count given.
        got: usize,
        /// Bound.
        min: usize,
    },
    /// A number is NaN or infinite.
    #[error("{field} must be a finite number")]
    NotFinite {
        /// Field.
        field: String,
    },
    /// A number is outside its range.
    #[error("{field} = {got} is out of range {min}..={max}")]
    OutOfRange {
        /// Field.
        field: String,
        /// Value given.
        got: f64,
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// A rect has zero width or height, or misses the canvas entirely.
    #[error("{field}: rect {w}x{h} at ({x},{y}) is empty or entirely outside the canvas")]
    BadRect {
        /// Field.
        field: String,
        /// x.
        x: i32,
        /// y.
        y: i32,
        /// w.
        w: u32,
        /// h.
        h: u32,
    },
    /// An id is empty.
    #[error("{field} must not be empty")]
    EmptyId {
        /// Field.
        field: String,
    },
    /// A text that cannot be drawn as one line.
    #[error("{field}: {reason}")]
    BadText {
        /// Field.
        field: String,
        /// Why.
        reason: &'static str,
    },
    /// The same input appears twice in one layout.
    #[error("input {id:?} appears more than once in the layout")]
    DuplicateInput {
        /// The id.
        id: String,
    },
}

impl DrawItem {
    /// Resolves `fit` for a source of `source` pixels: destination rect (even, inside `cell`)
    /// and crop window. A zero-size source is treated as the cell's own aspect.
    ///
    /// - [`Fit::Stretch`]: `dest` = cell, whole source.
    /// - [`Fit::Contain`]: the largest rect with the source's aspect inside the cell, centred,
    ///   even (within a pixel of the exact aspect); whole source.
    /// - [`Fit::Cover`]: `dest` = cell; `crop` is the centred window of the source with the
    ///   cell's aspect.
    ///
    /// A source with a zero side (or a degenerate cell) is placed like `Stretch`.
    pub fn place(&self, source: Size) -> Placement {
        let cell = self.cell;
        let full = Placement {
            dest: cell,
            crop: UvRect::FULL,
        };
        if source.w == 0 || source.h == 0 || cell.w == 0 || cell.h == 0 {
            return full;
        }
        let (sw, sh) = (f64::from(source.w), f64::from(source.h));
        let (cw, ch) = (f64::from(cell.w), f64::from(cell.h));
        match self.fit {
            Fit::Stretch => full,
            Fit::Contain => {
                let (lim_w, lim_h) = (floor_even(i64::from(cell.w)), floor_even(i64::from(cell.h)));
                if lim_w < 2 || lim_h < 2 {
                    return full;
                }
                let scale = (cw / sw).min(ch / sh);
                let w = round_even_f(sw * scale).clamp(2, lim_w);
                let h = round_even_f(sh * scale).clamp(2, lim_h);
                let x = i64::from(cell.x) + floor_even((i64::from(cell.w) - w) / 2);
                let y = i64::from(cell.y) + floor_even((i64::from(cell.h) - h) / 2);
                let dest = Rect::new(to_i32(x), to_i32(y), to_u32(w), to_u32(h));
                Placement {
                    dest,
                    crop: UvRect::FULL,
                }
            }
            Fit::Cover => {
                let (cell_aspect, src_aspect) = (cw / ch, sw / sh);
                let crop = if src_aspect > cell_aspect {
                    // Source wider than the cell: keep full height, crop the sides.
                    let w = cell_aspect / src_aspect;
                    UvRect {
                        u: ((1.0 - w) / 2.0) as f32,
                        v: 0.0,
                        w: w as f32,
                        h: 1.0,
                    }
                } else {
                    // Source taller (or equal): keep full width, crop top and bottom.
                    let h = src_aspect / cell_aspect;
                    UvRect {
                        u: 0.0,
                        v: ((1.0 - h) / 2.0) as f32,
                        w: 1.0,
                        h: h as f32,
                    }
                };
                Placement { dest: cell, crop }
            }
        }
    }
}
