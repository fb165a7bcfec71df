//! # Sync measurement tools
//!
//! - [`StampedHost`]: test hosts whose pictures carry their capture time in a time strip
//!   ([`stamp`]) and whose sound beeps at whole seconds of capture time.
//! - [`analyze_file`]: decodes an output recording and reports per-host lip sync and
//!   cross-host alignment ([`SyncReport`]); `compositor analyze <file> --host …` prints it.
//!
//! - [`latency`]: the server's added latency (UDP arrival of a host frame → encoded output
//!   frame showing it), p50/p99 and its parts.
//!
//! Conventions: capture times are ms since the host's start (the strip holds them modulo
//! [`stamp::WRAP_MS`]); offsets are "audio minus video" (positive = sound late) and "other
//! host minus first host".

mod analyze;
mod host;
pub mod latency;
pub mod stamp;
pub mod tone;

pub use analyze::{
    AnalyzeError, Decoded, HostRegion, HostSync, SyncReport, analyze_decoded, analyze_file,
    decode_file,
};
pub use host::StampedHost;
