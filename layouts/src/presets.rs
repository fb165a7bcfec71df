//! Preset geometry: turns a validated [`Scene`] into draw items. See the crate docs for the
//! rules; every rect built here is even and inside the canvas's even work area.

use crate::even::{
    ceil_even, ceil_sqrt, even_rect, fit_aspect, floor_even, overlaps_canvas, rect, round_even_f,
    work_area,
};
use crate::frame_plan::{Content, DrawItem, FramePlan, Region};
use crate::geometry::{Rect, Rgba, Size};
use crate::model::{
    Background, BarPosition, Corner, CustomItem, Fit, Layout, Scene, StripSide, Style,
};

/// Builds the plan of an already validated scene.
pub(crate) fn build(scene: &Scene, canvas: Size) -> FramePlan {
    let (cw, ch) = work_area(canvas);
    let mut out = Builder {
        items: Vec::new(),
        regions: Vec::new(),
        style: scene.style,
    };

    let bg = match &scene.background {
        Background::Color { color } => *color,
        Background::Image { image, color } => {
            if let Some(cell) = rect(0, 0, cw, ch) {
                out.items.push(DrawItem {
                    key: "background".to_owned(),
                    content: Content::Image(image.clone()),
                    cell,
                    fit: Fit::Cover,
                    z: i32::MIN,
                    opacity: 1.0,
                    corner_radius: 0,
                    border: None,
                });
            }
            *color
        }
    };

    let gap = ceil_even(i64::from(scene.style.gap));
    let (w, h) = (f64::from(canvas.w), f64::from(canvas.h));
    match &scene.layout {
        Layout::Pk {
            left,
            right,
            score_bar,
            left_partner,
            right_partner,
            tile_aspect,
        } => {
            let band = round_even_f(f64::from(score_bar.height_frac) * h).clamp(0, ch);
            let tw = floor_even((cw - 3 * gap) / 2);
            // Tiles of a fixed aspect (portrait canvases default to 3:4), stacked with the
            // band and centred vertically; or halves filling the canvas below the band.
            let aspect = tile_aspect
                .or((ch > cw).then_some((3, 4)))
                .filter(|_| ch - band - 2 * gap >= 2);
            let th = match aspect {
                Some((aw, ah)) => {
                    let th = floor_even((tw as f64 * f64::from(ah) / f64::from(aw)) as i64);
                    th.min(ch - band - 2 * gap).max(2)
                }
                None => ch - band - 2 * gap,
            };
            let block = band + th + 2 * gap;
            let y0 = if aspect.is_some() {
                floor_even((ch - block) / 2)
            } else {
                0
            };
            let (band_y, tiles_y) = match score_bar.position {
                BarPosition::Top => (y0, y0 + band + gap),
                BarPosition::Bottom => (y0 + th + 2 * gap, y0 + gap),
            };
            if band > 0
                && let Some(r) = rect(0, band_y, cw, band)
            {
                out.regions.push(Region {
                    name: "score_bar".to_owned(),
                    rect: r,
                });
            }
            let xs = [gap, cw - gap - tw];
            for (x, (main, partner)) in xs
                .into_iter()
                .zip([(left, left_partner), (right, right_partner)])
            {
                match partner {
                    None => out.input(main, rect(x, tiles_y, tw, th), 0),
                    Some(p) => {
                        let rh = floor_even((th - gap) / 2);
                        out.input(main, rect(x, tiles_y, tw, rh), 0);
                        out.input(p, rect(x, tiles_y + th - rh, tw, rh), 0);
                    }
                }
            }
        }
        Layout::Grid {
            inputs,
            tile_aspect,
        } => {
            out.grid(inputs, *tile_aspect, canvas, gap);
        }
        Layout::Spotlight {
            main,
            others,
            strip,
            strip_frac,
        } => {
            let m = others.len() as i64;
            let frac = f64::from(*strip_frac);
            if m == 0 {
                out.input(main, rect(gap, gap, cw - 2 * gap, ch - 2 * gap), 0);
            } else {
                match strip {
                    StripSide::Right => {
                        let sw = round_even_f(frac * w).clamp(0, cw);
                        out.input(main, rect(gap, gap, cw - sw - gap, ch - 2 * gap), 0);
                        let max_h = (ch - (m + 1) * gap) as f64 / m as f64;
                        let (tw, th) = fit_aspect((sw - 2 * gap) as f64, max_h, 16.0, 9.0);
                        let total = m * th + (m - 1) * gap;
                        let y0 = centre(h, total, ch);
                        let x = cw - sw + gap + floor_even((sw - 2 * gap - tw) / 2);
                        for (j, o) in others.iter().enumerate() {
                            out.input(o, rect(x, y0 + j as i64 * (th + gap), tw, th), 0);
                        }
                    }
                    StripSide::Bottom => {
                        let sh = round_even_f(frac * h).clamp(0, ch);
                        out.input(main, rect(gap, gap, cw - 2 * gap, ch - sh - gap), 0);
                        let max_w = (cw - (m + 1) * gap) as f64 / m as f64;
                        let (tw, th) = fit_aspect(max_w, (sh - 2 * gap) as f64, 16.0, 9.0);
                        let total = m * tw + (m - 1) * gap;
                        let x0 = centre(w, total, cw);
                        let y = ch - sh + gap + floor_even((sh - 2 * gap - th) / 2);
                        for (j, o) in others.iter().enumerate() {
                            out.input(o, rect(x0 + j as i64 * (tw + gap), y, tw, th), 0);
                        }
                    }
                }
            }
        }
        Layout::Pip {
            main,
            insets,
            corner,
            size_frac,
            margin,
        } => {
            out.input(main, rect(0, 0, cw, ch), 0);
            let margin = ceil_even(i64::from(*margin));
            let want = f64::from(*size_frac) * w;
            out.pip(insets, *corner, want, margin, cw, ch);
        }
        Layout::Custom { items } => {
            for it in items {
                out.custom(it, canvas);
            }
        }
    }

    for (i, o) in scene.overlays.iter().enumerate() {
        let cell = even_rect(o.rect);
        if overlaps_canvas(cell, canvas) {
            out.items.push(DrawItem {
                key: format!("overlay:{i}:{}", o.image),
                content: Content::Image(o.image.clone()),
                cell,
                fit: o.fit,
                z: o.z,
                opacity: o.opacity.clamp(0.0, 1.0),
                corner_radius: 0,
                border: None,
            });
        }
    }

    let mut items = out.items;
    items.sort_by_key(|it| it.z);
    FramePlan {
        canvas,
        background: Rgba { a: 255, ..bg },
        items,
        regions: out.regions,
    }
}

struct Builder {
    items: Vec<DrawItem>,
    regions: Vec<Region>,
    style: Style,
}

impl Builder {
    /// Adds a preset input tile styled by the scene style; `None` (empty cell) is left out.
    fn input(&mut self, id: &str, cell: Option<Rect>, z: i32) {
        if let Some(cell) = cell {
            self.items.push(DrawItem {
                key: format!("input:{id}"),
                content: Content::Input(id.to_owned()),
                cell,
                fit: self.style.fit,
                z,
                opacity: 1.0,
                corner_radius: self.style.corner_radius,
                border: self.style.border,
            });
        }
    }

    fn custom(&mut self, it: &CustomItem, canvas: Size) {
        let cell = even_rect(it.rect);
        if overlaps_canvas(cell, canvas) {
            self.items.push(DrawItem {
                key: format!("input:{}", it.input),
                content: Content::Input(it.input.clone()),
                cell,
                fit: it.fit,
                z: it.z,
                opacity: it.opacity.clamp(0.0, 1.0),
                corner_radius: it.corner_radius,
                border: it.border,
            });
        }
    }

    fn grid(&mut self, inputs: &[String], aspect: (u32, u32), canvas: Size, gap: i64) {
        let (cw, ch) = work_area(canvas);
        let (w, h) = (f64::from(canvas.w), f64::from(canvas.h));
        let n = inputs.len();
        if n == 0 {
            return;
        }
        let cols = ceil_sqrt(n);
        let rows = n.div_ceil(cols);
        let (c, r) = (cols as i64, rows as i64);
        let max_w = (cw - (c + 1) * gap) as f64 / c as f64;
        let max_h = (ch - (r + 1) * gap) as f64 / r as f64;
        let (tw, th) = fit_aspect(max_w, max_h, f64::from(aspect.0), f64::from(aspect.1));
        let total_h = r * th + (r + 1) * gap;
        let y0 = centre(h, total_h, ch);
        for (row, chunk) in inputs.chunks(cols).enumerate() {
            // Every row is centred on its own, so an incomplete (last) row is centred too.
            let k = chunk.len() as i64;
            let x0 = centre(w, k * tw + (k + 1) * gap, cw);
            let y = y0 + gap + row as i64 * (th + gap);
            for (col, id) in chunk.iter().enumerate() {
                let x = x0 + gap + col as i64 * (tw + gap);
                self.input(id, rect(x, y, tw, th), 0);
            }
        }
    }

    fn pip(&mut self, insets: &[String], corner: Corner, want: f64, m: i64, cw: i64, ch: i64) {
        let count = insets.len();
        if count == 0 {
            return;
        }
        let n = count as i64;
        // Pick the column count giving the largest inset (fewest columns on ties): one column
        // when the requested size fits, else wrap into more columns, shrinking only if needed.
        let mut best = (0i64, 0i64, 1i64); // (w, h, cols)
        for cols in 1..=n {
            let rows = count.div_ceil(cols as usize) as i64;
            let max_w = ((cw - (cols + 1) * m) as f64 / cols as f64).min(want);
            let max_h = (ch - (rows + 1) * m) as f64 / rows as f64;
            let (w, h) = fit_aspect(max_w, max_h, 16.0, 9.0);
            if w > best.0 {
                best = (w, h, cols);
            }
        }
        let (iw, ih, cols) = best;
        let rows = count.div_ceil(cols as usize) as i64;
        let right = matches!(corner, Corner::TopRight | Corner::BottomRight);
        let bottom = matches!(corner, Corner::BottomLeft | Corner::BottomRight);
        for (i, id) in insets.iter().enumerate() {
            let (col, row) = (i as i64 / rows, i as i64 % rows);
            let x = if right {
                cw - m - iw - col * (iw + m)
            } else {
                m + col * (iw + m)
            };
            let y = if bottom {
                ch - m - ih - row * (ih + m)
            } else {
                m + row * (ih + m)
            };
            self.input(id, rect(x, y, iw, ih), 1 + i as i32);
        }
    }
}

/// Even start of a `span` centred on a canvas side of `real` pixels, kept inside the even
/// work side `work` (so odd canvases still centre to within a pixel).
fn centre(real: f64, span: i64, work: i64) -> i64 {
    round_even_f((real - span as f64) / 2.0)
        .min(work - span)
        .max(0)
}
