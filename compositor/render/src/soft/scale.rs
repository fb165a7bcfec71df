//! Planar 8-bit scaling with precomputed [`Taps`]: a vertical pass into a 16-bit row
//! (`Σ w·s` with weights summing to 256 fits in u16 exactly), then a horizontal pass.
//! Rows that need no filtering in either direction are copied.
//!
//! Buffers: `src` is a tightly packed plane `src_w` wide; `dst` is `h.len() × v.len()`,
//! tightly packed; `tmp` is the caller's scratch row (grown once, reused).

use super::filter::{ONE, Taps};

/// Scales `src` into `dst` (see the module doc).
pub(crate) fn scale_plane(
    src: &[u8],
    src_w: usize,
    h: &Taps,
    v: &Taps,
    tmp: &mut Vec<u16>,
    dst: &mut [u8],
) {
    let (out_w, out_h) = (h.len(), v.len());
    let (c0, c1) = (h.span.0 as usize, h.span.1 as usize);
    if out_w == 0 || out_h == 0 || c1 > src_w || dst.len() < out_w * out_h {
        return;
    }
    let rows = src.len() / src_w.max(1);
    if tmp.len() < c1 - c0 {
        tmp.resize(c1 - c0, 0);
    }
    let tmp = &mut tmp[..c1 - c0];
    for (r, out) in dst.chunks_exact_mut(out_w).take(out_h).enumerate() {
        let (vi, vw) = v.at(r);
        if vi.iter().any(|&i| i as usize >= rows) {
            return;
        }
        let single = vi
            .iter()
            .zip(vw)
            .find(|(_, w)| **w == ONE)
            .map(|(&i, _)| i as usize);
        if let Some(row) = single {
            let line = &src[row * src_w..(row + 1) * src_w];
            if h.identity {
                out.copy_from_slice(&line[c0..c0 + out_w]);
            } else {
                horizontal_u8(line, h, out);
            }
            continue;
        }
        tmp.fill(0);
        for (&i, &w) in vi.iter().zip(vw) {
            if w == 0 {
                continue;
            }
            let line = &src[i as usize * src_w + c0..i as usize * src_w + c1];
            for (t, &s) in tmp.iter_mut().zip(line) {
                *t += w * u16::from(s);
            }
        }
        if h.identity {
            for (o, &t) in out.iter_mut().zip(tmp.iter()) {
                *o = ((u32::from(t) + 128) >> 8) as u8;
            }
        } else {
            horizontal_u16(tmp, c0, h, out);
        }
    }
}

fn horizontal_u8(line: &[u8], h: &Taps, out: &mut [u8]) {
    for (o, (ix, wt)) in out
        .iter_mut()
        .zip(h.idx.chunks_exact(h.per).zip(h.wt.chunks_exact(h.per)))
    {
        let mut acc = 128u32;
        for (&i, &w) in ix.iter().zip(wt) {
            acc += u32::from(w) * u32::from(line[i as usize]);
        }
        *o = (acc >> 8) as u8;
    }
}

fn horizontal_u16(tmp: &[u16], c0: usize, h: &Taps, out: &mut [u8]) {
    for (o, (ix, wt)) in out
        .iter_mut()
        .zip(h.idx.chunks_exact(h.per).zip(h.wt.chunks_exact(h.per)))
    {
        let mut acc = 32_768u32;
        for (&i, &w) in ix.iter().zip(wt) {
            acc += u32::from(w) * u32::from(tmp[i as usize - c0]);
        }
        *o = (acc >> 16).min(255) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soft::filter::taps_for;

    #[test]
    fn copy_halve_and_stretch() {
        // 8x4 ramp.
        let src: Vec<u8> = (0..32).map(|i| (i * 8) as u8).collect();
        let mut tmp = Vec::new();
        // Identity.
        let (h, v) = (
            Taps::build(8, 8, 0.0, 1.0, 1),
            Taps::build(4, 4, 0.0, 1.0, 1),
        );
        let mut dst = vec![0u8; 32];
        scale_plane(&src, 8, &h, &v, &mut tmp, &mut dst);
        assert_eq!(dst, src);
        // Halve both ways: each output is the mean of a 2x2 block.
        let (h, v) = (
            Taps::build(4, 8, 0.0, 1.0, taps_for(2.0)),
            Taps::build(2, 4, 0.0, 1.0, taps_for(2.0)),
        );
        let mut dst = vec![0u8; 8];
        scale_plane(&src, 8, &h, &v, &mut tmp, &mut dst);
        for (o, d) in dst.iter().enumerate() {
            let (x, y) = (2 * (o % 4), 2 * (o / 4));
            let m = [(x, y), (x + 1, y), (x, y + 1), (x + 1, y + 1)]
                .iter()
                .map(|&(x, y)| u32::from(src[y * 8 + x]))
                .sum::<u32>() as f32
                / 4.0;
            assert!((f32::from(*d) - m).abs() <= 1.0, "{o}: {d} vs {m}");
        }
        // Crop the right half of row 0..4 at 1:1 (identity with an offset).
        let (h, v) = (
            Taps::build(4, 8, 0.5, 0.5, 1),
            Taps::build(4, 4, 0.0, 1.0, 1),
        );
        assert!(h.identity);
        let mut dst = vec![0u8; 16];
        scale_plane(&src, 8, &h, &v, &mut tmp, &mut dst);
        assert_eq!(&dst[..4], &src[4..8]);
    }
}
