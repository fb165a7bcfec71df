//! # layouts — what to draw where, at time t
//!
//! A pure crate: no GPU, no IO, no clock of its own. A producer describes a [`Scene`] (a preset
//! or custom rects, style, overlays, background); [`plan`] turns it into a [`FramePlan`] for a
//! canvas size: the list of [`DrawItem`]s in painter's order. [`LayoutEngine`] adds time: it
//! holds the current scene and an optional running transition and answers
//! [`LayoutEngine::plan_at`] for any instant on the session clock.
//!
//! Invariants:
//! - Time is a [`std::time::Duration`] since the session's start (the output clock). The crate
//!   never reads a clock; callers pass time in.
//! - Every rect in a plan is in output pixels with even x, y, w, h (I420 chroma is 2×2) and
//!   w, h > 0; items that would be empty after rounding are left out.
//! - `FramePlan::items` is sorted by `z` ascending, ties keep scene order (stable).
//! - A scene is validated whole before anything changes; an invalid scene returns a
//!   [`LayoutError`] naming the field and the bound, and the engine keeps its previous state.
//! - Mid-transition changes start from where things are: the new transition's origin is the
//!   interpolated plan at the moment of the change.
//!
//! ## Preset geometry
//!
//! All presets tile the canvas's *work area*: each side floored to even (an odd 1281×721
//! canvas tiles 1280×720, so rects stay even and inside). `style.gap` and the PiP `margin`
//! are rounded up to even. Tiles smaller than 2×2 after rounding are left out. Inputs are
//! drawn at z = 0 with `style` (fit, corner radius, border) and key `input:{id}`.
//!
//! - **PK** ([`Layout::Pk`]): a band of height `round_even(height_frac × H)` at the top or
//!   bottom is reserved as the `score_bar` [`Region`] (none when it rounds to 0). The rest is
//!   split into two equal halves, left | right, with `gap` between and around them (each
//!   half `floor_even((W − 3·gap) / 2)` wide; any spare 2 px go in the middle).
//!   1280×720, default bar: band (0,0,1280,58), halves (0,58,640,662) and (640,58,640,662).
//! - **Grid** ([`Layout::Grid`]): `cols = ceil(√n)`, `rows = ceil(n / cols)`; every tile has
//!   the same size, the largest with `tile_aspect` (within a pixel of rounding) that fits
//!   `cols × rows` tiles with `gap` between and around them. The grid is centred vertically
//!   and each row is centred horizontally, so an incomplete last row is centred. `n = 0`
//!   gives no input items.
//! - **Spotlight** ([`Layout::Spotlight`]): the strip is a column `round_even(strip_frac × W)`
//!   wide on the right, or a row `round_even(strip_frac × H)` high at the bottom. Strip tiles
//!   are 16:9, all the same size (the largest that fits the strip with `gap` around them),
//!   centred along and across the strip. The main input takes the rest of the canvas (inset
//!   by `gap`); with no others it takes the whole canvas (inset by `gap`).
//! - **PiP** ([`Layout::Pip`]): main = whole canvas (z = 0). Insets are `size_frac × W`
//!   wide, 16:9, the first `margin` away from `corner`, the next stacked vertically away
//!   from that corner with `margin` between (inset `i` at z = 1 + i). When the stack does
//!   not fit the canvas height it wraps into further columns (moving away from the corner
//!   horizontally), and insets shrink only when even that does not fit.
//! - **Custom** ([`Layout::Custom`]): each rect as given, x, y rounded down to even and w, h
//!   up to even (at least 2); parts off the canvas are kept (the renderer clips), but each
//!   rect must overlap the canvas.
//!
//! A `Background::Image` adds the item `background` (whole work area, `Cover`,
//! z = `i32::MIN`); overlays become `overlay:{index}:{image}` items with their even-rounded
//! rect, z, opacity and fit. Items are then sorted by z (stable).

mod decor;
mod even;
mod frame_plan;
mod geometry;
mod model;
pub mod pk;
mod plan;
mod presets;
mod text;
mod validate;

pub use decor::*;
pub use frame_plan::*;
pub use geometry::{Rect, Rgba, Size, UvRect};
pub use model::*;
pub use plan::*;
pub use text::*;
