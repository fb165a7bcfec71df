//! The Kaiser window's Bessel function, shared by the resampler's polyphase sinc and the
//! limiter's true-peak interpolator.

/// Zeroth-order modified Bessel function of the first kind (power series).
pub(crate) fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..64 {
        term *= q / (k as f64 * k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}
