//! Bounded-rate convergence: a value that follows a target but moves by at most `rate`
//! seconds per second of elapsed time, so a correction never becomes a jump.
//!
//! Units: seconds (f64) for values, elapsed time in seconds of the session clock.

/// Moves `current` toward `target` by at most `rate * elapsed` and returns the new value.
pub fn slew_toward(current: f64, target: f64, rate: f64, elapsed: f64) -> f64 {
    let step = (rate * elapsed.max(0.0)).max(0.0);
    let d = target - current;
    if d.abs() <= step {
        target
    } else {
        current + step * d.signum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_at_most_rate_times_elapsed() {
        assert_eq!(slew_toward(0.0, 1.0, 0.01, 1.0), 0.01);
        assert_eq!(slew_toward(0.0, -1.0, 0.01, 2.0), -0.02);
        assert_eq!(slew_toward(0.5, 0.505, 0.01, 1.0), 0.505);
        assert_eq!(slew_toward(0.5, 0.0, 0.01, -3.0), 0.5);
    }
}
