//! Resampling filters of the CPU compositor: for each output sample of one axis, the source
//! samples it reads and their weights, computed to sample where the GPU path samples.
//!
//! The GPU samples the source bilinearly at the output pixel's centre, clamped to the
//! source's outermost sample centres, and when downscaling by more than 2× it averages `n`
//! bilinear taps spread over the pixel's footprint (`n = ceil(scale / 2 − 0.01)`, 1..=4).
//! [`Taps`] holds exactly that as a fixed number of (index, weight) pairs per output sample,
//! weights in 1/256 summing to 256 (8-bit fixed point: 16-bit intermediates in the scaler).

/// Weight of a full sample.
pub(crate) const ONE: u16 = 256;

/// Per-output-sample taps along one axis.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Taps {
    /// Pairs per output sample.
    pub per: usize,
    /// Source indices, `per` per output sample.
    pub idx: Vec<u32>,
    /// Weights, `per` per output sample, each group summing to [`ONE`].
    pub wt: Vec<u16>,
    /// Smallest and one past the largest index read.
    pub span: (u32, u32),
    /// Every output sample `i` reads source `span.0 + i` at full weight (a plain copy).
    pub identity: bool,
}

/// Taps count the GPU uses for a downscale of `scale` source samples per output sample.
pub(crate) fn taps_for(scale: f32) -> usize {
    (scale / 2.0 - 0.01).ceil().clamp(1.0, 4.0) as usize
}

impl Taps {
    /// Taps for `out_len` output samples covering a crop that starts at `crop_start` and is
    /// `crop_len` long (both as fractions of the source) of a source `src_len` samples long.
    /// `n` = taps per output sample (see [`taps_for`]).
    pub(crate) fn build(
        out_len: usize,
        src_len: usize,
        crop_start: f32,
        crop_len: f32,
        n: usize,
    ) -> Self {
        let n = n.clamp(1, 4);
        let per = 2 * n;
        let mut idx = Vec::with_capacity(out_len * per);
        let mut wt = Vec::with_capacity(out_len * per);
        let src = src_len.max(1) as f64;
        let last = (src_len.max(1) - 1) as f64;
        let step = f64::from(crop_len) * src / out_len.max(1) as f64;
        let mut lo = u32::MAX;
        let mut hi = 0u32;
        for i in 0..out_len {
            let centre = (f64::from(crop_start)
                + (i as f64 + 0.5) / out_len as f64 * f64::from(crop_len))
                * src
                - 0.5;
            let mut w = [0f64; 8];
            let mut ix = [0u32; 8];
            for k in 0..n {
                let off = ((k as f64 + 0.5) / n as f64 - 0.5) * step;
                let t = (centre + off).clamp(0.0, last);
                let i0 = t.floor();
                let f = t - i0;
                let i0 = i0 as u32;
                let i1 = (i0 + 1).min(last as u32);
                ix[2 * k] = i0;
                ix[2 * k + 1] = i1;
                w[2 * k] = (1.0 - f) / n as f64;
                w[2 * k + 1] = f / n as f64;
            }
            // Quantise to 1/256 and give the rounding error to the largest weight.
            let mut q = [0u16; 8];
            let mut sum = 0i32;
            for k in 0..per {
                q[k] = (w[k] * f64::from(ONE)).round() as u16;
                sum += i32::from(q[k]);
            }
            let big = (0..per).max_by(|&a, &b| w[a].total_cmp(&w[b])).unwrap_or(0);
            q[big] = (i32::from(q[big]) + i32::from(ONE) - sum).clamp(0, i32::from(ONE)) as u16;
            for k in 0..per {
                if q[k] == 0 {
                    // Unused tap: point it at a used sample so spans stay tight.
                    ix[k] = ix[big];
                }
                lo = lo.min(ix[k]);
                hi = hi.max(ix[k] + 1);
            }
            idx.extend_from_slice(&ix[..per]);
            wt.extend_from_slice(&q[..per]);
        }
        if out_len == 0 {
            lo = 0;
        }
        let identity = out_len > 0
            && (0..out_len).all(|i| {
                (0..per).any(|k| wt[i * per + k] == ONE && idx[i * per + k] == lo + i as u32)
            });
        Taps {
            per,
            idx,
            wt,
            span: (lo, hi.max(lo)),
            identity,
        }
    }

    /// Number of output samples.
    pub(crate) fn len(&self) -> usize {
        self.idx.len() / self.per.max(1)
    }

    /// The taps of output sample `i`: (indices, weights).
    pub(crate) fn at(&self, i: usize) -> (&[u32], &[u16]) {
        let r = i * self.per..(i + 1) * self.per;
        (&self.idx[r.clone()], &self.wt[r])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_one_is_an_identity_copy() {
        // A 1280-wide source, centre half cropped into 640 outputs: exactly 1:1.
        let t = Taps::build(640, 1280, 0.25, 0.5, 1);
        assert!(t.identity);
        assert_eq!(t.span.0, 320);
        let (i, w) = t.at(10);
        assert!(i.iter().zip(w).any(|(&i, &w)| i == 330 && w == ONE));
    }

    #[test]
    fn halving_averages_neighbours_and_weights_sum_to_one() {
        let t = Taps::build(4, 8, 0.0, 1.0, taps_for(2.0));
        assert!(!t.identity);
        for o in 0..4 {
            let (i, w) = t.at(o);
            assert_eq!(w.iter().map(|&w| u32::from(w)).sum::<u32>(), u32::from(ONE));
            // Centre of output o is at source 2o + 0.5: half of 2o, half of 2o + 1.
            let sum: u32 = i.iter().zip(w).map(|(&i, &w)| i * u32::from(w)).sum();
            assert_eq!(sum, (2 * o as u32) * 256 + 128);
        }
    }

    #[test]
    fn edges_clamp_to_the_outermost_samples() {
        let t = Taps::build(16, 4, 0.0, 1.0, 1);
        let (i, w) = t.at(0);
        assert!(i.iter().zip(w).all(|(&i, &w)| i == 0 || w == 0));
        let (i, w) = t.at(15);
        assert!(i.iter().zip(w).all(|(&i, &w)| i == 3 || w == 0));
        assert_eq!(taps_for(8.0), 4);
        assert_eq!(taps_for(2.0), 1);
    }
}
