//! The PK match ([`machine`]: phases, scores, results on the output clock) and what the
//! audience sees of it ([`overlay`]). Both pure: time is passed in, nothing is read from a
//! clock, so every test is deterministic.

pub mod machine;
pub mod overlay;

pub use machine::*;
pub use overlay::{FINAL_SECONDS, PkTheme, mm_ss, pk_overlay};
