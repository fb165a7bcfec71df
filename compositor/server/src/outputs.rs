//! A session's outputs: the ONE place that builds a session's sink (the output hub:
//! one encode per encoder profile fanned out to per-output queues and pipelines, see
//! `compositor_media::output`) and its [`OutputControl`], and the ONE mapping from the control API's
//! validated output request onto [`OutputSpec`].

use std::sync::Arc;

use compositor_core::frame::ColorMatrix;
use compositor_core::session::{CommandError, EventLog, SessionConfig};
use compositor_media::output::{
    EncoderSettings, OutputControl, OutputHub, OutputSink, StreamFormat,
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
