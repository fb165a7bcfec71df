//! Colour arithmetic of the CPU compositor, in limited-range 8-bit code values held as f32
//! (Y 16..235, Cb/Cr 16..240 around 128) so that blending stays affine: mixing Y'CbCr codes
//! with weights that sum to one is the same as mixing the R'G'B' they stand for, which is
//! what the GPU path does on its float canvas.

use compositor_core::frame::ColorMatrix;

/// R'G'B' (0..=1, straight) to Y'CbCr code values in `m`, unrounded.
pub(crate) fn rgb_to_codes(rgb: [f32; 3], m: ColorMatrix) -> [f32; 3] {
    let (kr, kb) = m.kr_kb();
    let kg = 1.0 - kr - kb;
    let y = kr * rgb[0] + kg * rgb[1] + kb * rgb[2];
    let cb = (rgb[2] - y) / (2.0 * (1.0 - kb));
    let cr = (rgb[0] - y) / (2.0 * (1.0 - kr));
    [16.0 + 219.0 * y, 128.0 + 224.0 * cb, 128.0 + 224.0 * cr]
}

/// Y'CbCr code values in `m` to R'G'B' (0..=1 nominal, not clamped).
fn codes_to_rgb(c: [f32; 3], m: ColorMatrix) -> [f32; 3] {
    let (kr, kb) = m.kr_kb();
    let kg = 1.0 - kr - kb;
    let y = (c[0] - 16.0) / 219.0;
    let cb = (c[1] - 128.0) / 224.0;
    let cr = (c[2] - 128.0) / 224.0;
    let r = y + 2.0 * (1.0 - kr) * cr;
    let b = y + 2.0 * (1.0 - kb) * cb;
    let g = (y - kr * r - kb * b) / kg;
    [r, g, b]
}

/// Re-expresses pictures coded with one matrix in another, in 14-bit fixed point. Both
/// matrices map white to (Y, 128, 128), so chroma depends on chroma only and luma gains a
/// chroma term: `Y' = Y + ly·(U−128) + lz·(V−128)`, `U' = 128 + uu·(U−128) + uv·(V−128)`,
/// `V' = 128 + vu·(U−128) + vv·(V−128)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MatrixConvert {
    pub ly: i32,
    pub lz: i32,
    pub uu: i32,
    pub uv: i32,
    pub vu: i32,
    pub vv: i32,
}

/// Fixed-point scale of [`MatrixConvert`] coefficients.
pub(crate) const CONVERT_SHIFT: u32 = 14;

impl MatrixConvert {
    /// The conversion from `from` to `to`; None when they are the same.
    pub(crate) fn between(from: ColorMatrix, to: ColorMatrix) -> Option<Self> {
        if from == to {
            return None;
        }
        let map = |c: [f32; 3]| rgb_to_codes(codes_to_rgb(c, from), to);
        let base = map([128.0, 128.0, 128.0]);
        let du = map([128.0, 129.0, 128.0]);
        let dv = map([128.0, 128.0, 129.0]);
        let q = |v: f32| (v * (1 << CONVERT_SHIFT) as f32).round() as i32;
        Some(Self {
            ly: q(du[0] - base[0]),
            lz: q(dv[0] - base[0]),
            uu: q(du[1] - base[1]),
            uv: q(dv[1] - base[1]),
            vu: q(du[2] - base[2]),
            vv: q(dv[2] - base[2]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_matches_a_round_trip_through_rgb() {
        let c = MatrixConvert::between(ColorMatrix::Bt601, ColorMatrix::Bt709).unwrap();
        let rgb = [0.8, 0.2, 0.1];
        let src = rgb_to_codes(rgb, ColorMatrix::Bt601);
        let want = rgb_to_codes(rgb, ColorMatrix::Bt709);
        let (du, dv) = (src[1] - 128.0, src[2] - 128.0);
        let s = (1 << CONVERT_SHIFT) as f32;
        let y = src[0] + (c.ly as f32 * du + c.lz as f32 * dv) / s;
        let u = 128.0 + (c.uu as f32 * du + c.uv as f32 * dv) / s;
        let v = 128.0 + (c.vu as f32 * du + c.vv as f32 * dv) / s;
        for (got, want) in [y, u, v].iter().zip(want) {
            assert!((got - want).abs() < 0.05, "{got} vs {want}");
        }
        assert!(MatrixConvert::between(ColorMatrix::Bt709, ColorMatrix::Bt709).is_none());
    }
}
