//! # compositor-core — the engine, free of IO
//!
//! Rooms: [`frame`] (raw media buffers), [`images`] (decoding registered images),
//! [`align`] (sans-IO timestamp alignment, its own crate `compositor-align`), [`session`] (the engine: output clock, input
//! slots, commands, events, stats), [`outputs`] (what an output is, validated), and the
//! contracts the IO crates implement: [`render::FrameRenderer`] (`compositor-render`),
//! [`sink::OutputSink`] (`compositor-media`), [`probe::ArrivalProbe`] (the devkit's
//! benchmarks).
//!
//! No wgpu, GStreamer, tokio or str0m here (`cargo tree -p compositor-core` shows it): time
//! and data are passed in, threads are the session's own.

/// Timestamp alignment: the `compositor-align` crate (sans-IO), re-exported.
pub use compositor_align as align;
mod error;
pub mod frame;
pub mod images;
pub mod outputs;
pub mod probe;
pub mod render;
pub mod session;
pub mod sink;

pub use error::Invalid;
