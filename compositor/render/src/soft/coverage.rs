//! Per-item blend maps of the CPU compositor and the blend itself.
//!
//! An item of `w × h` destination pixels (even sizes, as plans guarantee) is blended onto the
//! canvas as `dst' = dst·(1 − A) + ws·src + K` per sample, where `A` is the item's alpha
//! (coverage × opacity × content/border alpha), `ws` the weight of the live picture `src`
//! (video items; 0 for images and colours) and `K` the premultiplied constant part (border
//! colour, image or solid content) in code values. All three are fixed point ×256, computed
//! once per item geometry and cached by the renderer. Luma maps are per pixel; chroma maps
//! average the 2×2 luma samples they cover, as the GPU's I420 conversion averages R'G'B'.
//! Rows record the span where the item is plain opaque video (`A = ws = 1`, `K = 0`), which
//! is copied instead of blended.

/// Full weight.
const FULL: u16 = 256;

/// What an item contributes at one luma pixel, before quantisation: alpha, weight of the
/// live picture, premultiplied constant Y'CbCr.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Contribution {
    pub a: f32,
    pub ws: f32,
    pub k: [f32; 3],
}

/// One plane's blend maps.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlaneMap {
    pub w: usize,
    pub h: usize,
    pub a: Vec<u16>,
    pub ws: Vec<u16>,
    pub k: Vec<u16>,
    /// Per row: the copied span `[x0, x1)` (empty when none).
    pub copy: Vec<(u32, u32)>,
    /// No live picture anywhere (`ws` = 0): the blend skips `src`.
    pub constant: bool,
}

/// Luma and chroma blend maps of one item.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlendMap {
    pub y: PlaneMap,
    pub u: PlaneMap,
    pub v: PlaneMap,
}

fn q(v: f32) -> u16 {
    (v * f32::from(FULL)).round().clamp(0.0, 65_535.0) as u16
}

fn plane(w: usize, h: usize, vals: impl Fn(usize, usize) -> (f32, f32, f32)) -> PlaneMap {
    let mut m = PlaneMap {
        w,
        h,
        a: Vec::with_capacity(w * h),
        ws: Vec::with_capacity(w * h),
        k: Vec::with_capacity(w * h),
        copy: Vec::with_capacity(h),
        constant: true,
    };
    for y in 0..h {
        let (mut x0, mut x1) = (usize::MAX, 0);
        for x in 0..w {
            let (a, ws, k) = vals(x, y);
            let (a, ws, k) = (q(a).min(FULL), q(ws).min(FULL), q(k));
            m.constant &= ws == 0;
            if a == FULL && ws == FULL && k == 0 {
                x0 = x0.min(x);
                x1 = x + 1;
            }
            m.a.push(a);
            m.ws.push(ws);
            m.k.push(k);
        }
        // Only a contiguous run of plain samples is copied (rounded rects are convex).
        let row = &m.a[y * w..];
        let plain = x0 < x1
            && (x0..x1).all(|x| row[x] == FULL && m.ws[y * w + x] == FULL && m.k[y * w + x] == 0);
        m.copy.push(if plain {
            (x0 as u32, x1 as u32)
        } else {
            (0, 0)
        });
    }
    m
}

fn uniform_plane(w: usize, h: usize, a: f32, ws: f32, k: f32) -> PlaneMap {
    let (a, ws, k) = (q(a).min(FULL), q(ws).min(FULL), q(k));
    let plain = a == FULL && ws == FULL && k == 0;
    PlaneMap {
        w,
        h,
        a: vec![a; w * h],
        ws: vec![ws; w * h],
        k: vec![k; w * h],
        copy: vec![if plain { (0, w as u32) } else { (0, 0) }; h],
        constant: ws == 0,
    }
}

impl BlendMap {
    /// Maps of a `w × h` item whose contribution is the same everywhere (no corners, no
    /// border, uniform content): cheap enough to rebuild every frame of a transition.
    pub(crate) fn uniform(w: usize, h: usize, c: Contribution) -> Self {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        BlendMap {
            y: uniform_plane(w, h, c.a, c.ws, c.k[0]),
            u: uniform_plane(cw, ch, c.a, c.ws, c.k[1]),
            v: uniform_plane(cw, ch, c.a, c.ws, c.k[2]),
        }
    }

    /// Builds the maps of a `w × h` item from its per-luma-pixel contribution.
    pub(crate) fn build(w: usize, h: usize, at: impl Fn(usize, usize) -> Contribution) -> Self {
        let luma: Vec<Contribution> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| at(x, y))
            .collect();
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let block = |x: usize, y: usize| {
            let mut s = Contribution::default();
            let mut n = 0.0;
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (lx, ly) = (2 * x + dx, 2 * y + dy);
                if lx < w && ly < h {
                    let c = luma[ly * w + lx];
                    s.a += c.a;
                    s.ws += c.ws;
                    for i in 0..3 {
                        s.k[i] += c.k[i];
                    }
                    n += 1.0;
                }
            }
            let n: f32 = if n > 0.0 { n } else { 1.0 };
            Contribution {
                a: s.a / n,
                ws: s.ws / n,
                k: s.k.map(|k| k / n),
            }
        };
        BlendMap {
            y: plane(w, h, |x, y| {
                let c = luma[y * w + x];
                (c.a, c.ws, c.k[0])
            }),
            u: plane(cw, ch, |x, y| {
                let c = block(x, y);
                (c.a, c.ws, c.k[1])
            }),
            v: plane(cw, ch, |x, y| {
                let c = block(x, y);
                (c.a, c.ws, c.k[2])
            }),
        }
    }
}

/// A destination plane and where the item's top-left sample lands in it.
pub(crate) struct Target<'a> {
    pub plane: &'a mut [u8],
    pub w: usize,
    pub h: usize,
    pub x: i64,
    pub y: i64,
}

/// Blends one plane of an item (its live picture `src`, `map.w` wide, when the map has one)
/// onto `t`, clipped to the plane.
pub(crate) fn blend(t: Target<'_>, map: &PlaneMap, src: Option<&[u8]>) {
    let (mw, mh) = (map.w as i64, map.h as i64);
    let x0 = t.x.max(0);
    let x1 = (t.x + mw).min(t.w as i64);
    let y0 = t.y.max(0);
    let y1 = (t.y + mh).min(t.h as i64);
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let (lx0, lx1) = ((x0 - t.x) as usize, (x1 - t.x) as usize);
    for cy in y0..y1 {
        let my = (cy - t.y) as usize;
        let drow = &mut t.plane[cy as usize * t.w + x0 as usize..cy as usize * t.w + x1 as usize];
        let m = my * map.w;
        let a = &map.a[m + lx0..m + lx1];
        let k = &map.k[m + lx0..m + lx1];
        match src {
            Some(src) if !map.constant => {
                let srow = &src[m + lx0..m + lx1];
                let ws = &map.ws[m + lx0..m + lx1];
                let (c0, c1) = map.copy[my];
                let (c0, c1) = (
                    (c0 as usize).clamp(lx0, lx1) - lx0,
                    (c1 as usize).clamp(lx0, lx1) - lx0,
                );
                if c0 < c1 {
                    drow[c0..c1].copy_from_slice(&srow[c0..c1]);
                    blend_live(&mut drow[..c0], &srow[..c0], &a[..c0], &ws[..c0], &k[..c0]);
                    blend_live(&mut drow[c1..], &srow[c1..], &a[c1..], &ws[c1..], &k[c1..]);
                } else {
                    blend_live(drow, srow, a, ws, k);
                }
            }
            _ => blend_const(drow, a, k),
        }
    }
}

fn blend_live(d: &mut [u8], s: &[u8], a: &[u16], ws: &[u16], k: &[u16]) {
    for ((((d, &s), &a), &ws), &k) in d.iter_mut().zip(s).zip(a).zip(ws).zip(k) {
        let v =
            u32::from(*d) * u32::from(FULL - a) + u32::from(ws) * u32::from(s) + u32::from(k) + 128;
        *d = (v >> 8).min(255) as u8;
    }
}

fn blend_const(d: &mut [u8], a: &[u16], k: &[u16]) {
    for ((d, &a), &k) in d.iter_mut().zip(a).zip(k) {
        let v = u32::from(*d) * u32::from(FULL - a) + u32::from(k) + 128;
        *d = (v >> 8).min(255) as u8;
    }
}

/// Signed distance from `p` to a rounded box of half-size `b` and radius `r` (negative
/// inside), as the GPU's `rounded_box_sdf`.
fn rounded_box_sdf(p: (f32, f32), b: (f32, f32), r: f32) -> f32 {
    let qx = p.0.abs() - b.0 + r;
    let qy = p.1.abs() - b.1 + r;
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
    outside + qx.max(qy).min(0.0) - r
}

/// Coverage of the pixel centred at `local` in an item of `size` with corner `radius` and
/// border width `bw`, and the weight of the content against the border (1 = content), as
/// the GPU's `shade`.
pub(crate) fn geometry(local: (f32, f32), size: (f32, f32), radius: f32, bw: f32) -> (f32, f32) {
    let half = (size.0 * 0.5, size.1 * 0.5);
    let radius = radius.min(half.0.min(half.1));
    if radius <= 0.0 && bw <= 0.0 {
        return (1.0, 1.0);
    }
    let d = rounded_box_sdf((local.0 - half.0, local.1 - half.1), half, radius);
    let coverage = (0.5 - d).clamp(0.0, 1.0);
    let t = if bw > 0.0 {
        (-d - bw + 0.5).clamp(0.0, 1.0)
    } else {
        1.0
    };
    (coverage, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_video_rows_are_copied_and_rounded_corners_blend() {
        let m = BlendMap::build(8, 8, |x, y| {
            let (cov, t) = geometry((x as f32 + 0.5, y as f32 + 0.5), (8.0, 8.0), 3.0, 0.0);
            Contribution {
                a: cov * t,
                ws: cov * t,
                k: [0.0; 3],
            }
        });
        // Middle rows: all plain.
        assert_eq!(m.y.copy[4], (0, 8));
        // The corner pixel is mostly outside the radius.
        assert!(m.y.a[0] < 128);
        let mut canvas = vec![10u8; 64];
        let src = vec![200u8; 64];
        blend(
            Target {
                plane: &mut canvas,
                w: 8,
                h: 8,
                x: 0,
                y: 0,
            },
            &m.y,
            Some(&src),
        );
        assert_eq!(canvas[4 * 8 + 3], 200);
        assert!(canvas[0] < 100, "corner {}", canvas[0]);
    }

    #[test]
    fn constant_layer_blends_by_alpha_and_clips() {
        let m = BlendMap::build(4, 4, |_, _| Contribution {
            a: 0.5,
            ws: 0.0,
            k: [0.5 * 100.0; 3],
        });
        let mut canvas = vec![20u8; 16];
        blend(
            Target {
                plane: &mut canvas,
                w: 4,
                h: 4,
                x: 2,
                y: -2,
            },
            &m.y,
            None,
        );
        // 20·0.5 + 50 = 60 inside the clipped part, untouched elsewhere.
        assert_eq!(canvas[2], 60);
        assert_eq!(canvas[4 + 3], 60);
        assert_eq!(canvas[0], 20);
        assert_eq!(canvas[2 * 4 + 2], 20);
    }
}
