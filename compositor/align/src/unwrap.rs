//! RTP timestamp unwrapping: 32-bit wrapping RTP timestamps → a signed 64-bit extended
//! timeline, robust to reordering.
//!
//! Invariant: a timestamp is placed on the extension (multiple of 2^32) that puts it closest
//! to the highest timestamp seen so far, so a reordered (older) unit gets a slightly smaller
//! extended value and a wrap forward gets a value just past 2^32·k. Units: RTP clock ticks.

/// Unwraps one SSRC's RTP timestamps.
#[derive(Debug, Clone, Default)]
pub struct RtpUnwrapper {
    highest: Option<i64>,
}

impl RtpUnwrapper {
    /// Extended value of `ts` (does not change the state).
    pub fn peek(&self, ts: u32) -> i64 {
        match self.highest {
            None => i64::from(ts),
            Some(h) => {
                // Signed distance from the highest on the 32-bit circle.
                let diff = ts.wrapping_sub(h as u32) as i32;
                h + i64::from(diff)
            }
        }
    }

    /// Extended value of `ts`, remembering it when it is the newest so far.
    pub fn unwrap(&mut self, ts: u32) -> i64 {
        let e = self.peek(ts);
        if self.highest.is_none_or(|h| e > h) {
            self.highest = Some(e);
        }
        e
    }

    /// Forgets everything (new SSRC).
    pub fn reset(&mut self) {
        self.highest = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_forward_and_handles_reordering_across_the_wrap() {
        let mut u = RtpUnwrapper::default();
        assert_eq!(u.unwrap(u32::MAX - 10), i64::from(u32::MAX - 10));
        assert_eq!(u.unwrap(5), (1i64 << 32) + 5);
        // An older unit from before the wrap arrives late.
        assert_eq!(u.unwrap(u32::MAX - 5), i64::from(u32::MAX - 5));
        assert_eq!(u.unwrap(100), (1i64 << 32) + 100);
        u.reset();
        assert_eq!(u.unwrap(7), 7);
    }
}
