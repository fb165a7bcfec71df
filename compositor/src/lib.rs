//! # compositor — the server
//!
//! Rooms: [`frame`] (raw media buffers), [`gpu`] (wgpu renderer), [`output`] (GStreamer
//! encoding and muxing), [`session`] (the engine: output clock, input slots, commands),
//! [`synthetic`] (test hosts), [`align`] (sans-IO timestamp alignment), [`measure`] (sync
//! measurement: stamped hosts and the analyzer), [`demo`] and [`bench`] (the CLI's jobs). WHIP
//! ingest and the gRPC server plug into [`session`] (see its module doc).

pub mod align;
pub mod bench;
pub mod bench_e2e;
pub mod compose;
pub mod ctl;
pub mod demo;
pub mod frame;
pub mod gpu;
pub mod images;
pub mod ingest;
pub mod measure;
pub mod output;
pub mod server;
pub mod session;
pub mod soft;
pub mod stream;
pub mod synthetic;
pub mod testkit;
