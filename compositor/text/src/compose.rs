//! Pixel work: the glyph coverage and fill layers, outline dilation, shadow blur and the final
//! "over" composite. Internally premultiplied `f32` (0..=1); the output is straight alpha.

use image::RgbaImage;
use layouts::{Rgba, TextOutline, TextShadow};

/// Premultiplied RGBA, components 0..=1.
type Premul = [f32; 4];

/// The glyphs of one box: their coverage (alpha 0..=1, what outline and shadow grow from) and
/// their colours (Mask glyphs in the fill colour, colour glyphs in their own), both `w × h`,
/// plus scratch layers for the effects. Kept by the rasterizer and reused from box to box
/// (no large allocation per raster).
#[derive(Default)]
pub(crate) struct Canvas {
    w: usize,
    h: usize,
    coverage: Vec<f32>,
    fill: Vec<Premul>,
    grown: Vec<f32>,
    shadow: Vec<f32>,
    tmp: Vec<f32>,
    tmp2: Vec<f32>,
}

impl std::fmt::Debug for Canvas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Canvas {{ {}x{} }}", self.w, self.h)
    }
}

/// `v` cleared to `len` zeros (keeping its allocation).
fn zeroed<T: Copy + Default>(v: &mut Vec<T>, len: usize) {
    v.clear();
    v.resize(len, T::default());
}

impl Canvas {
    /// Clears the canvas to `w × h` transparent pixels.
    pub(crate) fn reset(&mut self, w: u32, h: u32) {
        let (w, h) = (w as usize, h as usize);
        self.w = w;
        self.h = h;
        zeroed(&mut self.coverage, w * h);
        zeroed(&mut self.fill, w * h);
    }

    /// Index of pixel (x, y), or `None` outside the canvas (clip).
    fn index(&self, x: i32, y: i32) -> Option<usize> {
        let (x, y) = (usize::try_from(x).ok()?, usize::try_from(y).ok()?);
        (x < self.w && y < self.h).then(|| y * self.w + x)
    }

    /// Adds a glyph pixel of coverage `a` (0..=1) and premultiplied colour `src`.
    fn put(&mut self, x: i32, y: i32, a: f32, src: Premul) {
        if a <= 0.0 {
            return;
        }
        if let Some(i) = self.index(x, y) {
            let c = &mut self.coverage[i];
            *c = *c + a - *c * a;
            over_in_place(&mut self.fill[i], src);
        }
    }

    /// Draws an 8-bit alpha mask (`mw × mh`, row-major) with its top-left at (x0, y0) in the
    /// straight colour `color`.
    pub(crate) fn draw_mask(
        &mut self,
        x0: i32,
        y0: i32,
        mw: u32,
        mh: u32,
        data: &[u8],
        color: Rgba,
    ) {
        let c = straight(color);
        for (row, line) in data
            .chunks_exact(mw.max(1) as usize)
            .take(mh as usize)
            .enumerate()
        {
            for (col, &m) in line.iter().enumerate() {
                let a = f32::from(m) / 255.0;
                let fa = a * c[3];
                let src = [c[0] * fa, c[1] * fa, c[2] * fa, fa];
                self.put(x0 + col as i32, y0 + row as i32, a, src);
            }
        }
    }

    /// Draws a straight-alpha RGBA image (`mw × mh`, row-major) with its top-left at (x0, y0),
    /// keeping its own colours.
    pub(crate) fn draw_color(&mut self, x0: i32, y0: i32, mw: u32, mh: u32, data: &[u8]) {
        let stride = (mw.max(1) as usize) * 4;
        for (row, line) in data.chunks_exact(stride).take(mh as usize).enumerate() {
            for (col, px) in line.chunks_exact(4).enumerate() {
                let a = f32::from(px[3]) / 255.0;
                let src = [
                    f32::from(px[0]) / 255.0 * a,
                    f32::from(px[1]) / 255.0 * a,
                    f32::from(px[2]) / 255.0 * a,
                    a,
                ];
                self.put(x0 + col as i32, y0 + row as i32, a, src);
            }
        }
    }

    /// Composites shadow, outline and fill (in that order, each "over" the previous) and
    /// returns the straight-alpha image.
    pub(crate) fn finish(
        &mut self,
        outline: Option<TextOutline>,
        shadow: Option<TextShadow>,
    ) -> RgbaImage {
        let (w, h) = (self.w, self.h);
        let outline = outline.filter(|o| o.width > 0);
        if let Some(o) = outline {
            dilate(
                &self.coverage,
                &mut self.grown,
                &mut self.tmp,
                &mut self.tmp2,
                w,
                h,
                o.width as usize,
            );
        }
        if let Some(s) = shadow {
            let base = if outline.is_some() {
                &self.grown
            } else {
                &self.coverage
            };
            shift(base, &mut self.shadow, w, h, s.dx, s.dy);
            blur(
                &mut self.shadow,
                &mut self.tmp,
                &mut self.tmp2,
                w,
                h,
                s.blur as usize,
            );
        }
        let oc = outline.map(|o| straight(o.color));
        let sc = shadow.map(|s| straight(s.color));
        let mut img = RgbaImage::new(w as u32, h as u32);
        for (i, o) in img.pixels_mut().enumerate() {
            let empty = self.fill[i][3] <= 0.0
                && (sc.is_none() || self.shadow[i] <= 0.0)
                && (oc.is_none() || self.grown[i] <= 0.0);
            if empty {
                continue;
            }
            let mut d: Premul = [0.0; 4];
            if let Some(c) = sc {
                let a = self.shadow[i].clamp(0.0, 1.0) * c[3];
                d = [c[0] * a, c[1] * a, c[2] * a, a];
            }
            if let Some(c) = oc {
                let a = self.grown[i].clamp(0.0, 1.0) * c[3];
                over_in_place(&mut d, [c[0] * a, c[1] * a, c[2] * a, a]);
            }
            over_in_place(&mut d, self.fill[i]);
            let a = d[3].clamp(0.0, 1.0);
            let a8 = to_u8(a);
            if a8 == 0 {
                continue;
            }
            let inv = 1.0 / a;
            o.0 = [to_u8(d[0] * inv), to_u8(d[1] * inv), to_u8(d[2] * inv), a8];
        }
        img
    }
}

/// 0..=1 to 0..=255, rounded.
fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

/// Straight colour as 0..=1 floats.
fn straight(c: Rgba) -> [f32; 4] {
    [
        f32::from(c.r) / 255.0,
        f32::from(c.g) / 255.0,
        f32::from(c.b) / 255.0,
        f32::from(c.a) / 255.0,
    ]
}

/// Porter-Duff `src over dst`, premultiplied.
fn over_in_place(dst: &mut Premul, src: Premul) {
    let k = 1.0 - src[3];
    for (d, s) in dst.iter_mut().zip(src) {
        *d = s + *d * k;
    }
}

/// Max filter over a disc of radius `r` (+½ px, so a radius-1 disc is a plus-shaped 3×3):
/// the outline shape. Each row offset `dy` of the disc is a horizontal max of half-width
/// `k(dy)`; those are built incrementally (`H_k = max(H_{k-1}` at x−1, x, x+1`)`), so the
/// cost is O(w·h·r), not O(w·h·r²).
/// Writes into `out`, using `hk` and `tmp` as scratch.
fn dilate(
    src: &[f32],
    out: &mut Vec<f32>,
    hk: &mut Vec<f32>,
    tmp: &mut Vec<f32>,
    w: usize,
    h: usize,
    r: usize,
) {
    let rr = (r as f32 + 0.5).powi(2);
    let half = |dy: usize| ((rr - (dy * dy) as f32).max(0.0).sqrt().floor() as usize).min(r);
    zeroed(out, w * h);
    zeroed(tmp, w * h);
    hk.clear();
    hk.extend_from_slice(src);
    for k in 0..=r {
        if k > 0 {
            for y in 0..h {
                let row = &hk[y * w..(y + 1) * w];
                let dst = &mut tmp[y * w..(y + 1) * w];
                for x in 0..w {
                    let mut m = row[x];
                    if x > 0 {
                        m = m.max(row[x - 1]);
                    }
                    if x + 1 < w {
                        m = m.max(row[x + 1]);
                    }
                    dst[x] = m;
                }
            }
            std::mem::swap(hk, tmp);
        }
        for dy in 0..=r {
            if half(dy) != k {
                continue;
            }
            for sign in [-1i64, 1] {
                if dy == 0 && sign > 0 {
                    continue;
                }
                let off = sign * dy as i64;
                for y in 0..h {
                    let sy = y as i64 + off;
                    if sy < 0 || sy >= h as i64 {
                        continue;
                    }
                    let sy = sy as usize;
                    let (dst, srow) = (&mut out[y * w..(y + 1) * w], &hk[sy * w..(sy + 1) * w]);
                    for (d, &s) in dst.iter_mut().zip(srow) {
                        if s > *d {
                            *d = s;
                        }
                    }
                }
            }
        }
    }
}

/// `src` moved right by `dx` and down by `dy` into `out`; what comes in from outside is 0.
fn shift(src: &[f32], out: &mut Vec<f32>, w: usize, h: usize, dx: i32, dy: i32) {
    zeroed(out, w * h);
    for y in 0..h {
        let sy = y as i64 - i64::from(dy);
        if sy < 0 || sy >= h as i64 {
            continue;
        }
        for x in 0..w {
            let sx = x as i64 - i64::from(dx);
            if sx < 0 || sx >= w as i64 {
                continue;
            }
            out[y * w + x] = src[sy as usize * w + sx as usize];
        }
    }
}

/// Approximate Gaussian blur of total reach `radius`: three box passes (horizontal and
/// vertical) whose radii add up to `radius`, so the shadow never reaches further than
/// `radius` pixels and stays inside the style's pad.
/// `tmp` and `acc` are scratch.
fn blur(
    buf: &mut [f32],
    tmp: &mut Vec<f32>,
    acc: &mut Vec<f32>,
    w: usize,
    h: usize,
    radius: usize,
) {
    zeroed(tmp, w * h);
    for i in 0..3 {
        let r = radius / 3 + usize::from(i < radius % 3);
        if r == 0 {
            continue;
        }
        box_rows(buf, tmp, w, h, r);
        box_columns(tmp, buf, acc, w, h, r);
    }
}

/// Horizontal box filter of radius `r` (each row of `w`): reads `src`, writes `dst`. Outside
/// is 0.
fn box_rows(src: &[f32], dst: &mut [f32], w: usize, h: usize, r: usize) {
    let norm = 1.0 / (2 * r + 1) as f32;
    for y in 0..h {
        let (s, d) = (&src[y * w..(y + 1) * w], &mut dst[y * w..(y + 1) * w]);
        let mut sum: f32 = s[..(r + 1).min(w)].iter().sum();
        for i in 0..w {
            d[i] = sum * norm;
            if let Some(v) = s.get(i + r + 1) {
                sum += v;
            }
            if i >= r {
                sum -= s[i - r];
            }
        }
    }
}

/// Vertical box filter of radius `r`, a whole row at a time (cache-friendly): reads `src`,
/// writes `dst`; `acc` is the running column sum. Outside is 0.
fn box_columns(src: &[f32], dst: &mut [f32], acc: &mut Vec<f32>, w: usize, h: usize, r: usize) {
    let norm = 1.0 / (2 * r + 1) as f32;
    zeroed(acc, w);
    for row in src.chunks_exact(w).take((r + 1).min(h)) {
        acc.iter_mut().zip(row).for_each(|(a, v)| *a += v);
    }
    for y in 0..h {
        let d = &mut dst[y * w..(y + 1) * w];
        d.iter_mut()
            .zip(acc.iter())
            .for_each(|(d, a)| *d = a * norm);
        if y + r + 1 < h {
            let add = &src[(y + r + 1) * w..(y + r + 2) * w];
            acc.iter_mut().zip(add).for_each(|(a, v)| *a += v);
        }
        if y >= r {
            let sub = &src[(y - r) * w..(y - r + 1) * w];
            acc.iter_mut().zip(sub).for_each(|(a, v)| *a -= v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dilate_is_a_disc() {
        let (w, h) = (9, 9);
        let mut src = vec![0.0; w * h];
        src[4 * w + 4] = 1.0;
        let (mut d, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
        dilate(&src, &mut d, &mut a, &mut b, w, h, 2);
        let on: Vec<(usize, usize)> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| d[y * w + x] > 0.5)
            .collect();
        // radius 2.5 disc: 21 pixels (5×5 minus the four corners).
        assert_eq!(on.len(), 21);
        assert!(on.contains(&(2, 4)) && on.contains(&(4, 2)) && !on.contains(&(2, 2)));
    }

    #[test]
    fn blur_keeps_mass_and_reach() {
        let (w, h) = (21, 21);
        let mut buf = vec![0.0; w * h];
        buf[10 * w + 10] = 1.0;
        blur(&mut buf, &mut Vec::new(), &mut Vec::new(), w, h, 4);
        let total: f32 = buf.iter().sum();
        assert!((total - 1.0).abs() < 1e-4, "{total}");
        for y in 0..h {
            for x in 0..w {
                let far = x.abs_diff(10) > 4 || y.abs_diff(10) > 4;
                assert!(!far || buf[y * w + x].abs() < 1e-6, "({x},{y})");
            }
        }
    }
}
