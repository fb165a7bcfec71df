//! # compositor-media — GStreamer
//!
//! [`output`]: the encoder, muxers and the output hub with its sinks (RTMP/RTMPS, SRT, HLS,
//! fragmented MP4, and packet destinations such as WHIP egress plugged in by
//! `compositor-webrtc`). Implements `compositor_core::sink::OutputSink`.

pub mod output;
