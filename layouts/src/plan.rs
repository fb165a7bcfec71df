//! Frame plans: the resolved list of things to draw for one output frame.
//!
//! CONTRACT (used by the compositor's renderer — keep these signatures):
//! - [`plan`], [`LayoutEngine`], [`DrawItem::place`], [`Easing::apply`], [`interpolate`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::geometry::{Rect, Rgba, Size, UvRect};
use crate::model::{Border, Easing, Fit, Scene, Transition};

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
    /// The same input appears twice in one layout.
    #[error("input {id:?} appears more than once in the layout")]
    DuplicateInput {
        /// The id.
        id: String,
    },
}

/// Resolves a scene for a canvas into a static frame plan. Validates the scene whole.
pub fn plan(scene: &Scene, canvas: Size) -> Result<FramePlan, LayoutError> {
    let _ = (scene, canvas);
    unimplemented!("layouts helper implements this")
}

/// Blends two plans: `t` = 0 gives `from`, 1 gives `to` (already eased). Items matched by
/// `key` move/resize/fade between their states; items only in `from` fade out, items only in
/// `to` fade in. Rects stay even.
pub fn interpolate(from: &FramePlan, to: &FramePlan, t: f32) -> FramePlan {
    let _ = (from, to, t);
    unimplemented!("layouts helper implements this")
}

impl DrawItem {
    /// Resolves `fit` for a source of `source` pixels: destination rect (even, inside `cell`)
    /// and crop window. A zero-size source is treated as the cell's own aspect.
    pub fn place(&self, source: Size) -> Placement {
        let _ = source;
        unimplemented!("layouts helper implements this")
    }
}

impl Easing {
    /// Maps linear progress 0..=1 to eased progress (0 → 0, 1 → 1). Input is clamped.
    pub fn apply(&self, t: f32) -> f32 {
        let _ = t;
        unimplemented!("layouts helper implements this")
    }
}

/// The scene in force plus any running transition, answered at any instant.
#[derive(Debug, Clone)]
pub struct LayoutEngine {
    canvas: Size,
    scene: Scene,
    target: FramePlan,
    transition: Option<ActiveTransition>,
}

#[derive(Debug, Clone)]
struct ActiveTransition {
    from: FramePlan,
    start: Duration,
    duration: Duration,
    easing: Easing,
}

impl LayoutEngine {
    /// Starts with `scene` on a `canvas`; validates both.
    pub fn new(canvas: Size, scene: Scene) -> Result<Self, LayoutError> {
        let target = plan(&scene, canvas)?;
        Ok(Self { canvas, scene, target, transition: None })
    }

    /// Switches to `scene` at `now`, cutting (no transition / 0 ms) or animating from the
    /// picture as it is at `now`. Invalid scenes change nothing.
    pub fn set_scene(
        &mut self,
        scene: Scene,
        transition: Option<Transition>,
        now: Duration,
    ) -> Result<(), LayoutError> {
        let _ = (scene, transition, now, &self.canvas);
        unimplemented!("layouts helper implements this")
    }

    /// The plan to draw at `now`.
    pub fn plan_at(&self, now: Duration) -> FramePlan {
        let _ = now;
        unimplemented!("layouts helper implements this")
    }

    /// The scene in force (the target of any running transition).
    pub fn scene(&self) -> &Scene {
        &self.scene
    }

    /// The canvas size.
    pub fn canvas(&self) -> Size {
        self.canvas
    }

    /// Whether a transition is still running at `now`.
    pub fn in_transition(&self, now: Duration) -> bool {
        self.transition.as_ref().is_some_and(|t| now < t.start + t.duration)
    }
}
