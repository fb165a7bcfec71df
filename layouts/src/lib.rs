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

mod even;
mod geometry;
mod model;
mod plan;
mod presets;
mod validate;

pub use geometry::{Rect, Rgba, Size, UvRect};
pub use model::*;
pub use plan::*;
