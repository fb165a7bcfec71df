//! A session's outputs: the ONE place that builds a session's sink and its
//! [`OutputControl`], and the ONE mapping from the control API's validated output request
//! onto [`OutputSpec`]. The output hub (written in parallel) replaces [`build`]'s body at
//! integration; until then sessions encode nothing and `AddOutput` is refused with
//! `FailedPrecondition("outputs are not available in this build")`.

use std::sync::Arc;

use control_api::backend::{self as api, NewOutput};

use crate::output::{
    EncoderKind, EncoderSettings, NullSink, OutputControl, OutputInfo, OutputSink, OutputSpec,
    OutputTarget, SrtMode, VideoCodec,
};
use crate::session::{CommandError, EventLog};

/// A session's sink (handed to the session) and the control of its outputs (kept by the
/// manager).
pub type SessionOutputs = (Box<dyn OutputSink>, Arc<dyn OutputControl>);

/// Builds a session's sink and output control. `events` is the session's event log (outputs
/// report connected/failed/reconnecting into it).
pub fn build(session_id: &str, events: Arc<EventLog>) -> Result<SessionOutputs, CommandError> {
    let _ = (session_id, events);
    Ok((Box::new(NullSink::default()), Arc::new(Unavailable)))
}

/// Output control of a build without the output hub: refuses every add.
#[derive(Debug)]
struct Unavailable;

impl OutputControl for Unavailable {
    fn add(&self, _spec: OutputSpec) -> Result<OutputInfo, CommandError> {
        Err(CommandError::FailedPrecondition(
            "outputs are not available in this build".into(),
        ))
    }
    fn remove(&self, id: &str) -> Result<(), CommandError> {
        Err(CommandError::NotFound(format!("output {id:?}")))
    }
    fn list(&self) -> Vec<OutputInfo> {
        Vec::new()
    }
    fn request_keyframe(&self) {}
}

/// Maps a validated gRPC output request onto the engine's [`OutputSpec`].
///
/// MAPPING (to revisit at integration): `EncoderSettings` has no codec or profile field yet,
/// so `codec` is returned beside the spec and `profile` is dropped until the outputs engineer
/// adds them; hardware Force/Forbid map onto `EncoderKind::Nvh264`/`X264`.
pub fn to_spec(o: NewOutput) -> (OutputSpec, VideoCodec) {
    let target = match o.target {
        api::OutputTarget::Rtmp { url, stream_key } => OutputTarget::Rtmp { url, stream_key },
        api::OutputTarget::Srt {
            address,
            mode,
            latency_ms,
            passphrase,
        } => OutputTarget::Srt {
            address,
            mode: match mode {
                api::SrtMode::Caller => SrtMode::Caller,
                api::SrtMode::Listener => SrtMode::Listener,
            },
            latency_ms,
            passphrase,
        },
        api::OutputTarget::Hls {
            dir,
            segment_secs,
            playlist_size,
        } => OutputTarget::Hls {
            dir,
            segment_secs,
            playlist_len: playlist_size,
        },
        api::OutputTarget::Mp4 { path } => OutputTarget::Mp4 { path },
        api::OutputTarget::Whip { url, token } => OutputTarget::Whip { url, token },
    };
    let codec = match o.encoder.as_ref().map(|e| e.codec) {
        Some(api::Codec::Vp8) => VideoCodec::Vp8,
        _ => VideoCodec::H264,
    };
    let encoder = o.encoder.map(|e| EncoderSettings {
        kind: match e.hardware {
            api::Hardware::Auto => EncoderKind::Auto,
            api::Hardware::Force => EncoderKind::Nvh264,
            api::Hardware::Forbid => EncoderKind::X264,
        },
        video_kbps: e.video_kbps,
        preset: e.preset,
        keyframe_interval: e.keyframe_interval,
        audio_bps: e.audio_bps,
    });
    (
        OutputSpec {
            id: o.id,
            target,
            encoder,
        },
        codec,
    )
}
