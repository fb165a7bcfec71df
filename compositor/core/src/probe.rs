//! Measurement hooks on the serving path. The server installs none; benchmarks (the devkit's
//! `LatencyLog`) install one per session to time frames from arrival to encoded output.
//!
//! Invariant: a probe is called on the session thread, once per timed video frame placed,
//! and must not block.

use std::time::{Duration, Instant};

/// Told when a timed video frame (from ingest) is placed in its session slot.
pub trait ArrivalProbe: Send + Sync + std::fmt::Debug {
    /// Input `input`'s frame with session-clock `pts` whose last packet arrived at `completed`.
    fn note_arrival(&self, input: &str, pts: Duration, completed: Instant);
}
