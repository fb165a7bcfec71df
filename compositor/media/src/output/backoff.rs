//! Reconnect back-off of an output: exponential, bounded, pure (the worker sleeps).
//!
//! Attempt `n` (1 = first retry) waits `min(base * 2^(n-1), max)`. The bound keeps a
//! destination that comes back reached again within `max` plus one connect.

use std::time::Duration;

/// Back-off policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(250),
            max: Duration::from_secs(2),
        }
    }
}

impl Backoff {
    /// Delay before retry `attempt` (1-based; 0 is treated as 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(20);
        self.base.saturating_mul(1u32 << shift).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let b = Backoff::default();
        let ms: Vec<u128> = (0..7).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(ms, vec![250, 250, 500, 1000, 2000, 2000, 2000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(2));
    }
}
