//! Whole-scene validation: every field is checked before any plan is built, and the first
//! problem found is reported with the field's path and the bound it broke.

use std::collections::HashSet;

use crate::even::overlaps_canvas;
use crate::frame_plan::LayoutError;
use crate::geometry::{Rect, Size};
use crate::model::{Background, Border, Easing, Layout, MAX_SOURCES, Scene, Style, Transition};

/// Bounds of the numeric fields (documented on the model types).
pub(crate) mod bounds {
    /// `Style::gap`.
    pub const GAP: (u32, u32) = (0, 256);
    /// `Style::corner_radius`, `CustomItem::corner_radius`.
    pub const CORNER_RADIUS: (u32, u32) = (0, 512);
    /// `Border::width`.
    pub const BORDER_WIDTH: (u32, u32) = (0, 64);
    /// `ScoreBar::height_frac`.
    pub const SCORE_BAR_FRAC: (f64, f64) = (0.0, 0.3);
    /// `Layout::Spotlight::strip_frac`.
    pub const STRIP_FRAC: (f64, f64) = (0.1, 0.5);
    /// `Layout::Pip::size_frac`.
    pub const PIP_FRAC: (f64, f64) = (0.05, 0.5);
    /// Each side of `Layout::Grid::tile_aspect`.
    pub const TILE_ASPECT: (u32, u32) = (1, 100_000);
    /// `Overlay::opacity`, `CustomItem::opacity`.
    pub const OPACITY: (f64, f64) = (0.0, 1.0);
    /// `Transition::duration_ms`.
    pub const DURATION_MS: (u32, u32) = (0, 10_000);
    /// `Easing::CubicBezier` `x1`, `x2`.
    pub const BEZIER_X: (f64, f64) = (0.0, 1.0);
}

/// Canvas must be at least 2×2.
pub(crate) fn canvas(c: Size) -> Result<(), LayoutError> {
    if c.w < 2 || c.h < 2 {
        return Err(LayoutError::BadCanvas { w: c.w, h: c.h });
    }
    Ok(())
}

/// Validates a whole scene for a canvas.
pub(crate) fn scene(s: &Scene, c: Size) -> Result<(), LayoutError> {
    canvas(c)?;
    layout(&s.layout, c)?;
    style(&s.style)?;
    background(&s.background)?;
    for (i, o) in s.overlays.iter().enumerate() {
        let f = |name: &str| format!("overlays[{i}].{name}");
        id(&f("image"), &o.image)?;
        f32_in(&f("opacity"), o.opacity, bounds::OPACITY)?;
        rect(&f("rect"), o.rect, c)?;
    }
    Ok(())
}

/// Validates a transition: duration and easing parameters.
pub(crate) fn transition(t: &Transition) -> Result<(), LayoutError> {
    u32_in("transition.duration_ms", t.duration_ms, bounds::DURATION_MS)?;
    easing("transition.easing", &t.easing)
}

/// Validates an easing curve; `prefix` names the field (e.g. `transition.easing`).
pub(crate) fn easing(prefix: &str, e: &Easing) -> Result<(), LayoutError> {
    if let Easing::CubicBezier { x1, y1, x2, y2 } = *e {
        for (name, v) in [("x1", x1), ("y1", y1), ("x2", x2), ("y2", y2)] {
            finite(&format!("{prefix}.{name}"), v)?;
        }
        f32_in(&format!("{prefix}.x1"), x1, bounds::BEZIER_X)?;
        f32_in(&format!("{prefix}.x2"), x2, bounds::BEZIER_X)?;
    }
    Ok(())
}

fn layout(l: &Layout, c: Size) -> Result<(), LayoutError> {
    let mut seen = Inputs::default();
    match l {
        Layout::Pk {
            left,
            right,
            score_bar,
            left_partner,
            right_partner,
            tile_aspect,
        } => {
            seen.add("layout.left", left)?;
            seen.add("layout.right", right)?;
            if let Some(p) = left_partner {
                seen.add("layout.left_partner", p)?;
            }
            if let Some(p) = right_partner {
                seen.add("layout.right_partner", p)?;
            }
            if let Some((aw, ah)) = tile_aspect {
                u32_in("layout.tile_aspect.0", *aw, (1, 100))?;
                u32_in("layout.tile_aspect.1", *ah, (1, 100))?;
            }
            f32_in(
                "layout.score_bar.height_frac",
                score_bar.height_frac,
                bounds::SCORE_BAR_FRAC,
            )?;
        }
        Layout::Grid {
            inputs,
            tile_aspect,
        } => {
            count("layout.inputs", inputs.len(), 0, MAX_SOURCES)?;
            for (i, input) in inputs.iter().enumerate() {
                seen.add(&format!("layout.inputs[{i}]"), input)?;
            }
            u32_in("layout.tile_aspect.0", tile_aspect.0, bounds::TILE_ASPECT)?;
            u32_in("layout.tile_aspect.1", tile_aspect.1, bounds::TILE_ASPECT)?;
        }
        Layout::Spotlight {
            main,
            others,
            strip: _,
            strip_frac,
        } => {
            count("layout.others", others.len(), 0, MAX_SOURCES - 1)?;
            seen.add("layout.main", main)?;
            for (i, input) in others.iter().enumerate() {
                seen.add(&format!("layout.others[{i}]"), input)?;
            }
            f32_in("layout.strip_frac", *strip_frac, bounds::STRIP_FRAC)?;
        }
        Layout::Pip {
            main,
            insets,
            corner: _,
            size_frac,
            margin: _,
        } => {
            count("layout.insets", insets.len(), 1, MAX_SOURCES - 1)?;
            seen.add("layout.main", main)?;
            for (i, input) in insets.iter().enumerate() {
                seen.add(&format!("layout.insets[{i}]"), input)?;
            }
            f32_in("layout.size_frac", *size_frac, bounds::PIP_FRAC)?;
        }
        Layout::Custom { items } => {
            count("layout.items", items.len(), 0, MAX_SOURCES)?;
            for (i, it) in items.iter().enumerate() {
                let f = |name: &str| format!("layout.items[{i}].{name}");
                seen.add(&f("input"), &it.input)?;
                f32_in(&f("opacity"), it.opacity, bounds::OPACITY)?;
                u32_in(&f("corner_radius"), it.corner_radius, bounds::CORNER_RADIUS)?;
                border(&f("border"), it.border.as_ref())?;
                rect(&f("rect"), it.rect, c)?;
            }
        }
    }
    Ok(())
}

fn style(s: &Style) -> Result<(), LayoutError> {
    u32_in("style.gap", s.gap, bounds::GAP)?;
    u32_in(
        "style.corner_radius",
        s.corner_radius,
        bounds::CORNER_RADIUS,
    )?;
    border("style.border", s.border.as_ref())
}

fn background(b: &Background) -> Result<(), LayoutError> {
    match b {
        Background::Color { .. } => Ok(()),
        Background::Image { image, .. } => id("background.image", image),
    }
}

fn border(field: &str, b: Option<&Border>) -> Result<(), LayoutError> {
    match b {
        Some(b) => u32_in(&format!("{field}.width"), b.width, bounds::BORDER_WIDTH),
        None => Ok(()),
    }
}

/// Ids seen so far in one layout.
#[derive(Default)]
struct Inputs<'a> {
    seen: HashSet<&'a str>,
}

impl<'a> Inputs<'a> {
    fn add(&mut self, field: &str, input: &'a str) -> Result<(), LayoutError> {
        id(field, input)?;
        if !self.seen.insert(input) {
            return Err(LayoutError::DuplicateInput {
                id: input.to_owned(),
            });
        }
        Ok(())
    }
}

fn id(field: &str, s: &str) -> Result<(), LayoutError> {
    if s.is_empty() {
        return Err(LayoutError::EmptyId {
            field: field.to_owned(),
        });
    }
    Ok(())
}

fn count(field: &'static str, got: usize, min: usize, max: usize) -> Result<(), LayoutError> {
    if got > max {
        return Err(LayoutError::TooManySources { field, got, max });
    }
    if got < min {
        return Err(LayoutError::TooFewSources { field, got, min });
    }
    Ok(())
}

fn finite(field: &str, v: f32) -> Result<(), LayoutError> {
    if !v.is_finite() {
        return Err(LayoutError::NotFinite {
            field: field.to_owned(),
        });
    }
    Ok(())
}

fn f32_in(field: &str, v: f32, (min, max): (f64, f64)) -> Result<(), LayoutError> {
    finite(field, v)?;
    // Compare in f32 so that a bound like 0.3 admits the f32 value 0.3.
    if !(min as f32..=max as f32).contains(&v) {
        // Report the shortest decimal of the f32 (0.31, not 0.3100000023841858).
        let got = v.to_string().parse::<f64>().unwrap_or(f64::from(v));
        return Err(LayoutError::OutOfRange {
            field: field.to_owned(),
            got,
            min,
            max,
        });
    }
    Ok(())
}

fn u32_in(field: &str, v: u32, (min, max): (u32, u32)) -> Result<(), LayoutError> {
    if !(min..=max).contains(&v) {
        return Err(LayoutError::OutOfRange {
            field: field.to_owned(),
            got: f64::from(v),
            min: f64::from(min),
            max: f64::from(max),
        });
    }
    Ok(())
}

fn rect(field: &str, r: Rect, c: Size) -> Result<(), LayoutError> {
    if r.w == 0 || r.h == 0 || !overlaps_canvas(r, c) {
        return Err(LayoutError::BadRect {
            field: field.to_owned(),
            x: r.x,
            y: r.y,
            w: r.w,
            h: r.h,
        });
    }
    Ok(())
}
