//! A session's outputs: the ONE place that builds a session's sink (the output hub:
//! one encode per encoder profile fanned out to per-output queues and pipelines, see
//! `compositor_media::output`) and its [`OutputControl`], and the ONE mapping from the control API's
//! validated output request onto [`OutputSpec`].

use std::sync::Arc;

use control_api::backend::{self as api, NewOutput};

use compositor_core::frame::ColorMatrix;
use compositor_core::session::{CommandError, EventLog, SessionConfig};
use compositor_media::output::{
    EncoderKind, EncoderSettings, H264Profile, OutputControl, OutputHub, OutputSink, OutputSpec,
    OutputTarget, SrtMode, StreamFormat, VideoCodec,
};

/// A session's sink (handed to the session) and the control of its outputs (kept by the
/// manager).
pub type SessionOutputs = (Box<dyn OutputSink>, Arc<dyn OutputControl>);

/// Builds a session's sink and output control for `cfg`'s canvas, frame rate and mix format.
/// `events` is the session's event log (outputs report connected/failed/reconnecting into it);
/// outputs added without encoder settings use `default`.
pub fn build(
    session_id: &str,
    cfg: &SessionConfig,
    default: EncoderSettings,
    events: Arc<EventLog>,
) -> Result<SessionOutputs, CommandError> {
    let fmt = StreamFormat {
        width: cfg.canvas.w,
        height: cfg.canvas.h,
        fps_num: cfg.fps.num,
        fps_den: cfg.fps.den,
        matrix: ColorMatrix::Bt709,
        sample_rate: cfg.mixer.sample_rate,
        channels: cfg.mixer.channels,
    };
    let (hub, control) =
        OutputHub::with_options(fmt, default, events, compositor_webrtc::hub_options()).map_err(
            |e| CommandError::FailedPrecondition(format!("session {session_id:?}: outputs: {e}")),
        )?;
    Ok((Box::new(hub), control))
}

/// Maps a validated gRPC output request onto the engine's [`OutputSpec`].
///
/// Hardware Force/Forbid map onto `EncoderKind::Nvh264`/`X264`; the profile names were
/// validated by the control API (baseline/main/high).
pub fn to_spec(o: NewOutput) -> OutputSpec {
    let target = match o.target {
        api::OutputTarget::Rtmp {
            url,
            stream_key,
            tls_verify,
        } => OutputTarget::Rtmp {
            url,
            stream_key,
            tls_verify,
        },
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
        profile: match e.profile.as_deref() {
            Some("baseline") => H264Profile::Baseline,
            Some("main") => H264Profile::Main,
            _ => H264Profile::High,
        },
        codec: match e.codec {
            api::Codec::Vp8 => VideoCodec::Vp8,
            api::Codec::H264 => VideoCodec::H264,
        },
    });
    OutputSpec {
        id: o.id,
        target,
        encoder,
    }
}
