//! Frame plans: the resolved list of things to draw for one output frame.
//!
//! CONTRACT (used by the compositor's renderer — keep these signatures):
//! - [`plan`], [`LayoutEngine`], [`DrawItem::place`], [`Easing::apply`], [`interpolate`].

use std::collections::HashMap;
use std::time::Duration;

use crate::even::{rect, round_even_f};
use crate::frame_plan::{DrawItem, FramePlan, LayoutError};
use crate::geometry::{Rect, Rgba, Size};
use crate::model::{Border, Easing, Scene, Transition};
/// Resolves a scene for a canvas into a static frame plan. Validates the scene whole.
///
/// Errors name the first invalid field (e.g. `layout.inputs[2]`) and its bound; see
/// [`LayoutError`]. The geometry rules of each preset are described in the crate docs.
pub fn plan(scene: &Scene, canvas: Size) -> Result<FramePlan, LayoutError> {
    crate::validate::scene(scene, canvas)?;
    Ok(crate::presets::build(scene, canvas))
}

/// Validates a transition alone (duration at most 10 000 ms; bezier x1, x2 in 0..=1, all
/// finite), with the same messages [`LayoutEngine::set_scene`] gives, so a controller can
/// refuse a request before it reaches the engine.
pub fn check_transition(transition: &Transition) -> Result<(), LayoutError> {
    crate::validate::transition(transition)
}

/// Blends two plans: `t` = 0 gives `from`, 1 gives `to` (already eased). Items matched by
/// `key` move/resize/fade between their states; items only in `from` fade out, items only in
/// `to` fade in. Rects stay even.
///
/// `t` is clamped to `0..=1` (NaN counts as 0). Matched items take their cell (each edge
/// lerped, then rounded to even), opacity, corner radius and border (width and colour) from
/// the blend, and their content, fit and z from `to`. Items only in `from` keep their cell
/// and fade out (`opacity × (1 − t)`); items only in `to` fade in (`opacity × t`); items
/// faded to opacity 0 are left out. The background colour is blended; canvas and regions are
/// `to`'s. Items are sorted by z, stable (fading-out items first among equal z). At `t = 1`
/// the result is exactly `to`.
pub fn interpolate(from: &FramePlan, to: &FramePlan, t: f32) -> FramePlan {
    let t = clamp01(t);
    if t >= 1.0 {
        return to.clone();
    }
    let mut from_by_key: HashMap<&str, &DrawItem> = HashMap::with_capacity(from.items.len());
    for it in &from.items {
        from_by_key.entry(it.key.as_str()).or_insert(it);
    }
    let mut to_keys: HashMap<&str, ()> = HashMap::with_capacity(to.items.len());
    for it in &to.items {
        to_keys.insert(it.key.as_str(), ());
    }

    let mut items = Vec::with_capacity(from.items.len() + to.items.len());
    for a in &from.items {
        if !to_keys.contains_key(a.key.as_str()) {
            let opacity = clamp01(a.opacity * (1.0 - t));
            if opacity > 0.0 {
                items.push(DrawItem {
                    opacity,
                    ..a.clone()
                });
            }
        }
    }
    for b in &to.items {
        match from_by_key.get(b.key.as_str()) {
            Some(a) => items.push(lerp_item(a, b, t)),
            None => {
                let opacity = clamp01(b.opacity * t);
                if opacity > 0.0 {
                    items.push(DrawItem {
                        opacity,
                        ..b.clone()
                    });
                }
            }
        }
    }
    items.sort_by_key(|it| it.z);
    FramePlan {
        canvas: to.canvas,
        background: lerp_rgba(from.background, to.background, t),
        items,
        regions: to.regions.clone(),
    }
}

/// Clamps to `0..=1`, NaN to 0.
fn clamp01(t: f32) -> f32 {
    if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) }
}

fn lerp(a: f64, b: f64, t: f32) -> f64 {
    a + (b - a) * f64::from(t)
}

fn lerp_u32(a: u32, b: u32, t: f32) -> u32 {
    lerp(f64::from(a), f64::from(b), t)
        .round()
        .clamp(0.0, f64::from(u32::MAX)) as u32
}

fn lerp_u8(a: u8, b: u8, t: f32) -> u8 {
    lerp(f64::from(a), f64::from(b), t)
        .round()
        .clamp(0.0, 255.0) as u8
}

fn lerp_rgba(a: Rgba, b: Rgba, t: f32) -> Rgba {
    Rgba::new(
        lerp_u8(a.r, b.r, t),
        lerp_u8(a.g, b.g, t),
        lerp_u8(a.b, b.b, t),
        lerp_u8(a.a, b.a, t),
    )
}

/// Lerps each edge, then rounds each edge to even; w, h at least 2.
fn lerp_rect(a: Rect, b: Rect, t: f32) -> Rect {
    let edges = |a0: i32, a1: u32, b0: i32, b1: u32| -> (i64, i64) {
        let (a0, b0) = (f64::from(a0), f64::from(b0));
        let lo = round_even_f(lerp(a0, b0, t));
        let hi = round_even_f(lerp(a0 + f64::from(a1), b0 + f64::from(b1), t));
        (lo, (hi - lo).max(2))
    };
    let (x, w) = edges(a.x, a.w, b.x, b.w);
    let (y, h) = edges(a.y, a.h, b.y, b.h);
    rect(x, y, w, h).unwrap_or(b)
}

fn lerp_border(a: Option<Border>, b: Option<Border>, t: f32) -> Option<Border> {
    let (a, b) = match (a, b) {
        (None, None) => return None,
        (Some(a), None) => (
            a,
            Border {
                width: 0,
                color: a.color,
            },
        ),
        (None, Some(b)) => (
            Border {
                width: 0,
                color: b.color,
            },
            b,
        ),
        (Some(a), Some(b)) => (a, b),
    };
    let width = lerp_u32(a.width, b.width, t);
    (width > 0).then(|| Border {
        width,
        color: lerp_rgba(a.color, b.color, t),
    })
}

fn lerp_item(a: &DrawItem, b: &DrawItem, t: f32) -> DrawItem {
    DrawItem {
        key: b.key.clone(),
        content: b.content.clone(),
        cell: lerp_rect(a.cell, b.cell, t),
        fit: b.fit,
        z: b.z,
        opacity: clamp01(lerp(f64::from(a.opacity), f64::from(b.opacity), t) as f32),
        corner_radius: lerp_u32(a.corner_radius, b.corner_radius, t),
        border: lerp_border(a.border, b.border, t),
    }
}

impl Easing {
    /// Maps linear progress 0..=1 to eased progress (0 → 0, 1 → 1). Input is clamped.
    ///
    /// NaN counts as 0. `Linear` is the identity; `EaseInOut` is the cubic
    /// `t < 0.5 ? 4t³ : 1 − (−2t + 2)³ / 2`; `CubicBezier` follows CSS `cubic-bezier()`
    /// (x solved by Newton's method with a bisection fallback; y may leave 0..=1 when y1/y2
    /// do). Non-finite bezier parameters fall back to linear; x1, x2 are clamped to 0..=1.
    pub fn apply(&self, t: f32) -> f32 {
        let t = clamp01(t);
        match *self {
            Easing::Linear => t,
            Easing::EaseInOut => {
                if t < 0.5 {
                    4.0 * t * t * t
                } else {
                    1.0 - (-2.0 * t + 2.0).powi(3) / 2.0
                }
            }
            Easing::CubicBezier { x1, y1, x2, y2 } => cubic_bezier(x1, y1, x2, y2, t),
        }
    }
}

/// CSS `cubic-bezier(x1, y1, x2, y2)` at progress `t` (already clamped to 0..=1).
fn cubic_bezier(x1: f32, y1: f32, x2: f32, y2: f32, t: f32) -> f32 {
    if t <= 0.0 {
        return 0.0;
    }
    if t >= 1.0 {
        return 1.0;
    }
    if ![x1, y1, x2, y2].iter().all(|v| v.is_finite()) {
        return t;
    }
    let x1 = f64::from(x1.clamp(0.0, 1.0));
    let x2 = f64::from(x2.clamp(0.0, 1.0));
    let (y1, y2) = (f64::from(y1), f64::from(y2));
    // Polynomial coefficients of B(s) = a s³ + b s² + c s with P0 = 0, P3 = 1.
    let coeffs = |p1: f64, p2: f64| {
        let c = 3.0 * p1;
        let b = 3.0 * (p2 - p1) - c;
        (1.0 - c - b, b, c)
    };
    let (ax, bx, cx) = coeffs(x1, x2);
    let (ay, by, cy) = coeffs(y1, y2);
    let x_at = |s: f64| ((ax * s + bx) * s + cx) * s;
    let dx_at = |s: f64| (3.0 * ax * s + 2.0 * bx) * s + cx;
    let target = f64::from(t);
    const EPS: f64 = 1e-7;

    let mut s = target;
    let mut solved = false;
    for _ in 0..8 {
        let err = x_at(s) - target;
        if err.abs() < EPS {
            solved = true;
            break;
        }
        let d = dx_at(s);
        if d.abs() < 1e-6 {
            break;
        }
        s -= err / d;
        if !(0.0..=1.0).contains(&s) {
            break;
        }
    }
    if !solved {
        // x(s) is non-decreasing on 0..=1 when x1, x2 are in 0..=1: bisect.
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        s = target;
        for _ in 0..64 {
            s = (lo + hi) / 2.0;
            let x = x_at(s);
            if (x - target).abs() < EPS {
                break;
            }
            if x < target {
                lo = s;
            } else {
                hi = s;
            }
        }
    }
    (((ay * s + by) * s + cy) * s) as f32
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
    /// Starts with `scene` on a `canvas`; validates both (errors as for [`plan`]).
    pub fn new(canvas: Size, scene: Scene) -> Result<Self, LayoutError> {
        let target = plan(&scene, canvas)?;
        Ok(Self {
            canvas,
            scene,
            target,
            transition: None,
        })
    }

    /// Switches to `scene` at `now`, cutting (no transition / 0 ms) or animating from the
    /// picture as it is at `now`. Invalid scenes change nothing.
    ///
    /// The transition (duration at most 10 000 ms; bezier x1, x2 in 0..=1, all finite) and
    /// the scene are validated first; on error the engine keeps its previous scene and any
    /// running transition. A running transition interrupted by a new scene is replaced by
    /// one starting from [`LayoutEngine::plan_at`]`(now)`, so the picture never jumps.
    pub fn set_scene(
        &mut self,
        scene: Scene,
        transition: Option<Transition>,
        now: Duration,
    ) -> Result<(), LayoutError> {
        if let Some(tr) = &transition {
            crate::validate::transition(tr)?;
        }
        let target = plan(&scene, self.canvas)?;
        let next = match transition {
            Some(tr) if tr.duration_ms > 0 => Some(ActiveTransition {
                from: self.plan_at(now),
                start: now,
                duration: Duration::from_millis(u64::from(tr.duration_ms)),
                easing: tr.easing,
            }),
            _ => None,
        };
        self.scene = scene;
        self.target = target;
        self.transition = next;
        Ok(())
    }

    /// The plan to draw at `now`.
    ///
    /// Without a running transition (or once it has ended) this is the scene's plan; before
    /// the transition's start it is the transition's origin; in between it is
    /// [`interpolate`]`(origin, target, easing(elapsed / duration))`.
    pub fn plan_at(&self, now: Duration) -> FramePlan {
        let Some(tr) = &self.transition else {
            return self.target.clone();
        };
        let Some(elapsed) = now.checked_sub(tr.start) else {
            return tr.from.clone();
        };
        if elapsed >= tr.duration || tr.duration.is_zero() {
            return self.target.clone();
        }
        let progress = elapsed.as_secs_f64() / tr.duration.as_secs_f64();
        interpolate(&tr.from, &self.target, tr.easing.apply(progress as f32))
    }

    /// Like [`LayoutEngine::plan_at`] but writes into `out`, reusing its allocations: outside
    /// transitions (the steady state) this allocates nothing once `out` has held a plan.
    pub fn plan_at_into(&self, now: Duration, out: &mut FramePlan) {
        let still = match &self.transition {
            None => Some(&self.target),
            Some(tr) => match now.checked_sub(tr.start) {
                None => Some(&tr.from),
                Some(e) if e >= tr.duration || tr.duration.is_zero() => Some(&self.target),
                Some(_) => None,
            },
        };
        match still {
            Some(p) => out.copy_from(p),
            None => *out = self.plan_at(now),
        }
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
        self.transition.as_ref().is_some_and(|t| {
            now.checked_sub(t.start)
                .is_none_or(|elapsed| elapsed < t.duration)
        })
    }
}
