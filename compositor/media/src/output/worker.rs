//! One output's worker thread: takes packets from the output's own queue, feeds its own mux
//! pipeline, and on failure tears the pipeline down and builds a new one after a bounded
//! exponential back-off ([`Backoff`]), announcing each step in the session's [`EventLog`].
//!
//! Invariants:
//! - Only this thread owns and drives the pipeline; the hub only reads the shared state and
//!   may set it to `Null` to unblock a stuck push when removing the output.
//! - Every pipeline instance starts at a video keyframe (one is requested from the encode)
//!   and rebases timestamps so its first keyframe is at 0; audio before it is dropped. After
//!   a queue overflow (a gap) the worker skips to the next keyframe again.
//! - Packets reach the pipeline in queue order; a blocked push (slow destination) only fills
//!   this output's queue, which then drops its oldest packets (counted).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use tracing::{info, warn};

use super::backoff::Backoff;
use super::destination::{self, DestPipeline};
use super::encode::{Encode, MediaKind, Packet};
use super::packets::{PacketDestination, PacketLink};
use super::shared::OutputShared;
use super::{OutputState, OutputTarget};
use compositor_core::session::SessionEvent;

/// How long a pipeline must run error-free after its first keyframe to count as connected.
const CONNECT_GRACE: Duration = Duration::from_millis(300);
/// How long a removed output may take to finalise (EOS through the muxer).
const FINISH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a pipeline instance ended.
enum Ended {
    /// Stopped on request, finalised.
    Stopped,
    /// Failed; retry if `retryable`.
    Failed { error: String, retryable: bool },
}

/// Runs the worker until the output is stopped or fails for good.
pub(crate) fn run(
    shared: Arc<OutputShared>,
    encode: Arc<Encode>,
    backoff: Backoff,
    packets: Option<Arc<dyn PacketDestination>>,
) {
    let retryable = matches!(
        shared.target,
        OutputTarget::Rtmp { .. } | OutputTarget::Srt { .. } | OutputTarget::Whip { .. }
    );
    let mut attempt = 0u32;
    loop {
        shared.queue.clear();
        encode.request_keyframe();
        let ended = run_once(&shared, &encode, packets.as_deref(), &mut attempt);
        match ended {
            Ended::Stopped => break,
            Ended::Failed { error, .. } if shared.stopping() => {
                info!(output = %shared.id, %error, "output ended while stopping");
                break;
            }
            Ended::Failed {
                error,
                retryable: r,
            } => {
                let retry = retryable && r;
                warn!(output = %shared.id, %error, retry, "output failed");
                shared.events.push(SessionEvent::OutputFailed {
                    id: shared.id.clone(),
                    error: error.clone(),
                    retrying: retry,
                });
                if !retry {
                    encode.unsubscribe(&shared.id);
                    shared.queue.clear();
                    shared.set_state(OutputState::Failed { error });
                    return;
                }
                attempt = attempt.saturating_add(1);
                let delay = backoff.delay(attempt);
                shared.set_state(OutputState::Reconnecting {
                    attempt,
                    last_error: error,
                });
                shared.events.push(SessionEvent::OutputReconnecting {
                    id: shared.id.clone(),
                    attempt,
                    delay_ms: delay.as_millis() as u64,
                });
                let until = Instant::now() + delay;
                while Instant::now() < until && !shared.stopping() {
                    std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
                }
                if shared.stopping() {
                    break;
                }
                shared.reconnects.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    shared.set_state(OutputState::Stopped);
}

fn bus_error(pipeline: &gst::Pipeline) -> Option<String> {
    let bus = pipeline.bus()?;
    let msg = bus.pop_filtered(&[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(e) => Some(format!(
            "{}: {}",
            msg.src().map(|s| s.name().to_string()).unwrap_or_default(),
            e.error()
        )),
        _ => None,
    }
}

/// A packet with its timestamps moved back by `offset` (shares the bytes).
fn rebased(p: &Packet, offset: gst::ClockTime) -> Option<gst::Buffer> {
    let pts = p.buffer.pts()?;
    let pts = pts.checked_sub(offset)?;
    let mut b = p.buffer.copy();
    let m = b.make_mut();
    m.set_pts(pts);
    let dts = p.buffer.dts().and_then(|d| d.checked_sub(offset));
    m.set_dts(dts);
    Some(b)
}

fn finish(dest: &DestPipeline) {
    let _ = dest.vsrc.end_of_stream();
    let _ = dest.asrc.end_of_stream();
    if let Some(bus) = dest.pipeline.bus() {
        let _ = bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(FINISH_TIMEOUT.as_nanos() as u64),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
    }
}

fn run_once(
    shared: &OutputShared,
    encode: &Arc<Encode>,
    packets: Option<&dyn PacketDestination>,
    attempt: &mut u32,
) -> Ended {
    let fail = |error: String, retryable: bool| Ended::Failed { error, retryable };
    if let Some(dest) = packets.filter(|d| d.serves(&shared.target)) {
        let link = PacketLink { shared, encode };
        return match dest.run(&shared.target, &link, attempt) {
            Ok(()) => Ended::Stopped,
            Err(e) => fail(e.message, e.retryable),
        };
    }
    if matches!(shared.target, OutputTarget::Whip { .. }) {
        return fail(
            "WHIP egress is not available: no packet destination serves it".into(),
            false,
        );
    }
    let dest = match destination::build(&shared.target, &format!("output-{}", shared.id)) {
        Ok(d) => d,
        Err(e) => return fail(e.to_string(), false),
    };
    *shared.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(dest.pipeline.clone());
    let ended = drive(shared, encode, &dest, attempt);
    if matches!(ended, Ended::Stopped) {
        finish(&dest);
    }
    let _ = dest.pipeline.set_state(gst::State::Null);
    *shared.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    ended
}

fn drive(shared: &OutputShared, encode: &Encode, dest: &DestPipeline, attempt: &mut u32) -> Ended {
    let fail = |error: String, retryable: bool| Ended::Failed { error, retryable };
    if let Err(e) = dest.pipeline.set_state(gst::State::Playing) {
        let detail = bus_error(&dest.pipeline).unwrap_or_else(|| e.to_string());
        return fail(detail, true);
    }
    let mut offset: Option<gst::ClockTime> = None;
    let mut need_key = true;
    let mut caps_set = (false, false);
    let mut started: Option<Instant> = None;
    let mut connected = false;
    loop {
        if let Some(err) = bus_error(&dest.pipeline) {
            return fail(err, true);
        }
        if !connected && started.is_some_and(|t| t.elapsed() >= CONNECT_GRACE) {
            connected = true;
            *attempt = 0;
            shared.set_state(OutputState::Connected);
            shared.events.push(SessionEvent::OutputConnected {
                id: shared.id.clone(),
            });
            info!(output = %shared.id, "output connected");
        }
        if shared.stopping() {
            return Ended::Stopped;
        }
        let Some((packet, gap)) = shared.queue.pop_timeout(Duration::from_millis(50)) else {
            continue;
        };
        if gap {
            need_key = true;
            encode.request_keyframe();
        }
        if need_key {
            if packet.kind != MediaKind::Video || !packet.keyframe {
                continue;
            }
            need_key = false;
        }
        let off = *offset.get_or_insert_with(|| packet.buffer.pts().unwrap_or_default());
        let Some(buf) = rebased(&packet, off) else {
            tracing::debug!(output = %shared.id, kind = ?packet.kind, pts = ?packet.buffer.pts(), offset = ?off, "packet before the start dropped");
            continue;
        };
        let (src, set) = match packet.kind {
            MediaKind::Video => (&dest.vsrc, &mut caps_set.0),
            MediaKind::Audio => (&dest.asrc, &mut caps_set.1),
        };
        if !*set {
            src.set_caps(Some(&packet.caps));
            *set = true;
        }
        let size = buf.size() as u64;
        if let Err(e) = src.push_buffer(buf) {
            let detail = bus_error(&dest.pipeline).unwrap_or_else(|| format!("push: {e:?}"));
            return fail(detail, true);
        }
        started.get_or_insert_with(Instant::now);
        shared.bytes.fetch_add(size, Ordering::Relaxed);
        shared.buffers.fetch_add(1, Ordering::Relaxed);
    }
}
