//! # compositor-webrtc — WebRTC with str0m
//!
//! [`ingest`]: WHIP ingest (RFC 9725): the HTTP routes, one str0m `Rtc` per host (ICE-lite,
//! all hosts on one UDP port), GStreamer decoders, and the hand-off of decoded media into
//! session slots. [`WhipEgress`]: WHIP egress, the output hub's packet destination for
//! `OutputTarget::Whip`.

pub mod ingest;
mod whip_out;

pub use whip_out::WhipEgress;

/// Output hub options with WHIP egress as its packet destination (default back-off): what
/// the server and the devkit's live sessions use.
pub fn hub_options() -> compositor_media::output::HubOptions {
    compositor_media::output::HubOptions {
        packets: Some(std::sync::Arc::new(WhipEgress)),
        ..Default::default()
    }
}
