//! The time strip: a capture time written into a picture as one row of large black/white
//! blocks, readable after scaling and H.264 compression.
//!
//! Layout: the top [`STRIP_FRACTION`] of the picture, split into [`BLOCKS`] equal blocks
//! across its width: 4 sync blocks (white, black, white, black), [`VALUE_BITS`] value bits
//! (MSB first, white = 1) and one even-parity bit. The value is the capture time in ms modulo
//! 2^19 (about 8.7 minutes). Luma only: white = 235, black = 16 (limited range).
//!
//! Reading samples the middle half of each block (both ways), thresholds halfway between
//! the sync blocks' levels, and refuses a strip whose sync pattern, contrast or parity is
//! wrong (returns `None`), so a picture without a strip is never misread as a time.

/// Blocks in the strip.
pub const BLOCKS: usize = 24;
/// Bits of the value.
pub const VALUE_BITS: usize = 19;
/// The strip's height as a fraction of the picture's height (1/8).
pub const STRIP_FRACTION: u32 = 8;
/// Values wrap at this many ms.
pub const WRAP_MS: u32 = 1 << VALUE_BITS;

const SYNC: [bool; 4] = [true, false, true, false];
const WHITE: u8 = 235;
const BLACK: u8 = 16;

fn bits(ms: u32) -> [bool; BLOCKS] {
    let v = ms % WRAP_MS;
    let mut b = [false; BLOCKS];
    b[..4].copy_from_slice(&SYNC);
    for i in 0..VALUE_BITS {
        b[4 + i] = (v >> (VALUE_BITS - 1 - i)) & 1 == 1;
    }
    b[BLOCKS - 1] = v.count_ones() % 2 == 1;
    b
}

/// Writes the strip for `ms` into a luma plane (`w`×`h`, row stride `stride`).
pub fn write_strip(y: &mut [u8], w: usize, h: usize, stride: usize, ms: u32) {
    let sh = (h / STRIP_FRACTION as usize).max(1);
    let b = bits(ms);
    for row in 0..sh.min(h) {
        let line = &mut y[row * stride..row * stride + w];
        for (x, px) in line.iter_mut().enumerate() {
            *px = if b[x * BLOCKS / w] { WHITE } else { BLACK };
        }
    }
}

/// Reads the strip of the picture at (`x0`, `y0`, `w`, `h`) inside a luma plane of row
/// stride `stride` (and `plane_h` rows). `None` when no valid strip is there.
pub fn read_strip(
    y: &[u8],
    stride: usize,
    plane_h: usize,
    (x0, y0, w, h): (usize, usize, usize, usize),
) -> Option<u32> {
    let sh = h / STRIP_FRACTION as usize;
    if w < BLOCKS * 2 || sh < 2 || y0 + sh > plane_h || x0 + w > stride {
        return None;
    }
    let mut means = [0f64; BLOCKS];
    for (i, m) in means.iter_mut().enumerate() {
        let bx0 = x0 + i * w / BLOCKS;
        let bx1 = x0 + (i + 1) * w / BLOCKS;
        let bw = bx1 - bx0;
        let (sx0, sx1) = (bx0 + bw / 4, bx1 - bw / 4);
        let (sy0, sy1) = (y0 + sh / 4, y0 + sh - sh / 4);
        let (mut sum, mut n) = (0u64, 0u64);
        for row in sy0..sy1.max(sy0 + 1) {
            let line = y.get(row * stride + sx0..row * stride + sx1.max(sx0 + 1))?;
            sum += line.iter().map(|&p| u64::from(p)).sum::<u64>();
            n += line.len() as u64;
        }
        *m = sum as f64 / n.max(1) as f64;
    }
    let white = (means[0] + means[2]) / 2.0;
    let black = (means[1] + means[3]) / 2.0;
    if white - black < 60.0 {
        return None;
    }
    let thr = (white + black) / 2.0;
    let b: Vec<bool> = means.iter().map(|&m| m > thr).collect();
    if b[..4] != SYNC {
        return None;
    }
    let mut v = 0u32;
    for bit in &b[4..4 + VALUE_BITS] {
        v = (v << 1) | u32::from(*bit);
    }
    if (v.count_ones() % 2 == 1) != b[BLOCKS - 1] {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_round_trips_and_survives_scaling_and_noise() {
        let (w, h) = (640usize, 360usize);
        for ms in [0u32, 1, 33_333, 123_456, WRAP_MS - 1] {
            let mut y = vec![100u8; w * h];
            write_strip(&mut y, w, h, w, ms);
            assert_eq!(read_strip(&y, w, h, (0, 0, w, h)), Some(ms));
            // Downscale 2x by decimation, add noise, place inside a bigger plane.
            let (pw, ph) = (800usize, 400usize);
            let mut plane = vec![16u8; pw * ph];
            for r in 0..h / 2 {
                for c in 0..w / 2 {
                    let noise = ((r * 7 + c * 13) % 21) as i32 - 10;
                    let v = i32::from(y[(2 * r) * w + 2 * c]) + noise;
                    plane[(r + 30) * pw + c + 50] = v.clamp(0, 255) as u8;
                }
            }
            assert_eq!(read_strip(&plane, pw, ph, (50, 30, w / 2, h / 2)), Some(ms));
        }
        // No strip: a flat or random picture is refused.
        let flat = vec![128u8; w * h];
        assert_eq!(read_strip(&flat, w, h, (0, 0, w, h)), None);
        let mut y = vec![100u8; w * h];
        write_strip(&mut y, w, h, w, 4242);
        // Flip one value block: parity refuses it.
        let bx = (4 + 7) * w / BLOCKS + 5;
        for r in 0..h / 8 {
            y[r * w + bx..r * w + bx + w / BLOCKS - 10]
                .iter_mut()
                .for_each(|p| *p = 251 - *p);
        }
        assert_eq!(read_strip(&y, w, h, (0, 0, w, h)), None);
    }
}
