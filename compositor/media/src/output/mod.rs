//! Encoded output: the [`OutputSink`] contract the session pushes to, and its two
//! implementations:
//! - [`OutputHub`] (real-time sessions): one encode per encoder profile, fanned out to any
//!   number of outputs (RTMP/RTMPS, SRT, HLS, fragmented MP4, WHIP egress), each with its own bounded
//!   queue, pipeline and worker thread, reconnecting alone with a bounded back-off; added and
//!   removed at run time through [`OutputControl`].
//! - [`GstEncoder`] (offline renders such as `compositor demo`): one encode muxed to files,
//!   with backpressure instead of drops.
//!
//! Both build their pipelines from the same element builders (`elements`), and both write
//! each frame's layout metadata into the H.264 stream as an SEI ([`sei`]).
//!
//! Threads: the session thread calls the sink; GStreamer runs its own streaming threads
//! behind the `appsrc`s. A sink never blocks the session in real-time mode: when its input
//! queue is over its bound it drops (counted, logged); in offline mode it blocks instead
//! (backpressure, so nothing is lost).

mod backoff;
mod destination;
mod elements;
mod encode;
mod encoder;
mod hub;
pub mod packets;
mod queue;
pub mod sei;
mod shared;
mod snapshot;
mod worker;

pub use backoff::Backoff;
pub use compositor_core::outputs::{
    EncoderKind, EncoderSettings, H264Profile, MAX_OUTPUTS, OutputControl, OutputCounters,
    OutputFiles, OutputInfo, OutputSpec, OutputState, OutputTarget, SrtMode, StreamFormat,
    VideoCodec, describe_target, validate_spec,
};
pub use compositor_core::sink::{NullSink, OutputError, OutputSink, SinkStats};
pub use encoder::{GstEncoder, has_element, init_gstreamer};
pub use hub::{HubOptions, OUTPUT_QUEUE_BYTES, OUTPUT_QUEUE_PACKETS, OutputHub};
pub use sei::{LAYOUT_SEI_UUID, LAYOUT_SEI_UUID_STR, SeiTagger};
pub use snapshot::{SnapshotTap, save_png};
