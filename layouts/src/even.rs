//! Even-pixel arithmetic shared by the presets, placement and interpolation.
//!
//! All geometry is computed in `i64`/`f64` and converted to [`Rect`] at the end with saturating
//! conversions, so no input can overflow or panic.

use crate::geometry::{Rect, Size};

/// Largest canvas side the presets tile over; larger canvases are tiled over this much of
/// themselves (keeps every coordinate far inside `i32`).
pub(crate) const MAX_SIDE: i64 = 1 << 30;

/// Rounds down to an even number (towards negative infinity).
pub(crate) fn floor_even(v: i64) -> i64 {
    v - v.rem_euclid(2)
}

/// Rounds up to an even number (towards positive infinity).
pub(crate) fn ceil_even(v: i64) -> i64 {
    v + v.rem_euclid(2)
}

/// Rounds a real number to the nearest even integer (halves away from zero); NaN gives 0,
/// infinities saturate.
pub(crate) fn round_even_f(v: f64) -> i64 {
    double((v / 2.0).round())
}

/// Rounds a real number down to an even integer; NaN gives 0, infinities saturate.
pub(crate) fn floor_even_f(v: f64) -> i64 {
    double((v / 2.0).floor())
}

/// `2 * half` for an integral `half`, saturating to the even extremes of `i64`.
fn double(half: f64) -> i64 {
    // `as` saturates and maps NaN to 0.
    let half = (half as i64).clamp(i64::MIN / 2, i64::MAX / 2);
    half * 2
}

/// Clamps an `i64` into `i32`.
pub(crate) fn to_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Clamps an `i64` into `u32`.
pub(crate) fn to_u32(v: i64) -> u32 {
    v.clamp(0, i64::from(u32::MAX)) as u32
}

/// The tiling area of a canvas: each side floored to even and capped at [`MAX_SIDE`].
pub(crate) fn work_area(canvas: Size) -> (i64, i64) {
    let side = |v: u32| floor_even(i64::from(v).min(MAX_SIDE));
    (side(canvas.w), side(canvas.h))
}

/// Builds a rect from `i64` parts, or `None` when it would be narrower or lower than 2 pixels.
pub(crate) fn rect(x: i64, y: i64, w: i64, h: i64) -> Option<Rect> {
    (w >= 2 && h >= 2).then(|| Rect::new(to_i32(x), to_i32(y), to_u32(w), to_u32(h)))
}

/// Rounds a producer's rect to even pixels: x, y down to even; w, h up to the next even
/// number (odd sizes grow by one pixel), at least 2.
pub(crate) fn even_rect(r: Rect) -> Rect {
    let x = to_i32(floor_even(i64::from(r.x)));
    let y = to_i32(floor_even(i64::from(r.y)));
    let size = |v: u32| -> u32 {
        let v = i64::from(v);
        let e = ceil_even(v).max(2);
        if e > i64::from(u32::MAX) {
            to_u32(floor_even(v))
        } else {
            to_u32(e)
        }
    };
    Rect::new(x, y, size(r.w), size(r.h))
}

/// Whether `r` covers at least one pixel of a `canvas`-sized canvas at the origin.
pub(crate) fn overlaps_canvas(r: Rect, canvas: Size) -> bool {
    let (x, y) = (i64::from(r.x), i64::from(r.y));
    let (w, h) = (i64::from(r.w), i64::from(r.h));
    w > 0 && h > 0 && x < i64::from(canvas.w) && y < i64::from(canvas.h) && x + w > 0 && y + h > 0
}

/// The largest even `(w, h)` with aspect `aw:ah` inside `max_w × max_h` (within one pixel of
/// rounding on the non-limiting side). Either side may be 0 when nothing fits.
pub(crate) fn fit_aspect(max_w: f64, max_h: f64, aw: f64, ah: f64) -> (i64, i64) {
    if !(max_w >= 2.0 && max_h >= 2.0 && aw > 0.0 && ah > 0.0) {
        return (0, 0);
    }
    let ratio = aw / ah;
    let (w_lim, h_lim) = (floor_even_f(max_w), floor_even_f(max_h));
    if max_w / max_h > ratio {
        // Height-limited.
        let h = h_lim;
        let w = round_even_f(h as f64 * ratio).min(w_lim);
        (w, h)
    } else {
        // Width-limited.
        let w = w_lim;
        let h = round_even_f(w as f64 / ratio).min(h_lim);
        (w, h)
    }
}

/// `ceil(sqrt(n))` for small `n`, in integers.
pub(crate) fn ceil_sqrt(n: usize) -> usize {
    let mut c = 0usize;
    while c.saturating_mul(c) < n {
        c += 1;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_helpers() {
        assert_eq!(floor_even(5), 4);
        assert_eq!(floor_even(-1), -2);
        assert_eq!(floor_even(i64::from(i32::MIN)), i64::from(i32::MIN));
        assert_eq!(ceil_even(5), 6);
        assert_eq!(ceil_even(-1), 0);
        assert_eq!(round_even_f(57.6), 58);
        assert_eq!(round_even_f(86.4), 86);
        assert_eq!(round_even_f(f64::NAN), 0);
        assert_eq!(round_even_f(f64::INFINITY), i64::MAX - 1);
        assert_eq!(floor_even_f(426.67), 426);
        assert_eq!(ceil_sqrt(0), 0);
        assert_eq!(ceil_sqrt(1), 1);
        assert_eq!(ceil_sqrt(5), 3);
        assert_eq!(ceil_sqrt(16), 4);
    }

    #[test]
    fn even_rect_extremes() {
        let r = even_rect(Rect::new(-1, 3, 1, u32::MAX));
        assert_eq!(r, Rect::new(-2, 2, 2, u32::MAX - 1));
        let r = even_rect(Rect::new(i32::MIN + 1, i32::MAX, 0, 7));
        assert_eq!(r, Rect::new(i32::MIN, i32::MAX - 1, 2, 8));
    }
}
