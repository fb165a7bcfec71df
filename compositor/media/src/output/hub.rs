//! The output hub: one encode per encoder profile, fanned out to any number of outputs, each
//! with its own bounded queue, its own mux pipeline and its own worker thread.
//!
//! ```text
//! session thread ─ OutputHub (OutputSink) ─┬ Encode(profile A) ─ appsinks ─┬ queue ─ worker ─ RTMP pipeline
//!                                          │                               └ queue ─ worker ─ MP4 pipeline
//!                                          └ Encode(profile B) ─ …
//! control API ─ Arc<dyn OutputControl> (add / remove / list / request_keyframe)
//! ```
//!
//! Invariants:
//! - The session thread only takes the `encodes` lock, held for the pushes of one frame or
//!   block (non-blocking appsrc pushes: a busy encoder drops, counted). Control operations are
//!   serialised by their own lock and hold `encodes` only to insert or remove an `Arc`.
//! - An encode starts when the first output needing its profile is added and stops when the
//!   last one is removed. A new output asks its encode for a keyframe.
//! - Real-time only: pushes never block. Offline sessions use [`super::GstEncoder`].
//! - Timestamps in: session clock; each output rebases its own (see `worker`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use tracing::{info, warn};

use super::backoff::Backoff;
use super::elements::AudioCodec;
use super::encode::Encode;
use super::packets::PacketDestination;
use super::queue::SharedQueue;
use super::shared::OutputShared;
use super::worker;
use super::{
    EncoderSettings, OutputControl, OutputError, OutputInfo, OutputSink, OutputSpec, OutputState,
    OutputTarget, SinkStats, StreamFormat,
};
use super::{MAX_OUTPUTS, describe_target as describe, validate_spec as validate};
use compositor_core::frame::I420Frame;
use compositor_core::session::{CommandError, EventLog, SessionEvent};

/// Packets an output's queue holds (about 4 s of 30 fps video plus AAC).
pub const OUTPUT_QUEUE_PACKETS: usize = 320;
/// Bytes an output's queue holds.
pub const OUTPUT_QUEUE_BYTES: usize = 16 << 20;
/// How long removing an output waits for it to finalise before forcing its pipeline down.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(6);

struct OutputEntry {
    shared: Arc<OutputShared>,
    encode: Arc<Encode>,
    thread: Option<JoinHandle<()>>,
    kind: &'static str,
    destination: String,
}

impl OutputEntry {
    fn info(&self) -> OutputInfo {
        OutputInfo {
            id: self.shared.id.clone(),
            kind: self.kind.to_string(),
            destination: self.destination.clone(),
            state: self
                .shared
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            counters: self.shared.counters(),
        }
    }
}

struct HubShared {
    fmt: StreamFormat,
    default: EncoderSettings,
    events: Arc<EventLog>,
    backoff: Backoff,
    packets: Option<Arc<dyn PacketDestination>>,
    control: Mutex<Vec<OutputEntry>>,
    encodes: Mutex<Vec<Arc<Encode>>>,
    closed: AtomicBool,
    video_frames: AtomicU64,
    video_dropped: AtomicU64,
    audio_blocks: AtomicU64,
    audio_dropped: AtomicU64,
}

/// How a hub reconnects and which packet destinations it has.
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    /// Reconnect back-off.
    pub backoff: Backoff,
    /// Serves targets no GStreamer pipeline does (WHIP egress); None refuses them.
    pub packets: Option<Arc<dyn PacketDestination>>,
}

/// The hub as the session's sink.
pub struct OutputHub {
    shared: Arc<HubShared>,
    last_error_log: Option<Instant>,
}

impl std::fmt::Debug for OutputHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutputHub")
    }
}

/// The hub as the control API sees it.
struct HubControl(Arc<HubShared>);

impl OutputHub {
    /// A hub for streams of `fmt`; outputs without their own encoder settings use `default`.
    /// Returns the sink to hand to the session and the control surface.
    pub fn new(
        fmt: StreamFormat,
        default: EncoderSettings,
        events: Arc<EventLog>,
    ) -> Result<(Self, Arc<dyn OutputControl>), OutputError> {
        Self::with_options(fmt, default, events, HubOptions::default())
    }

    /// [`OutputHub::new`] with a custom reconnect back-off and packet destinations.
    pub fn with_options(
        fmt: StreamFormat,
        default: EncoderSettings,
        events: Arc<EventLog>,
        options: HubOptions,
    ) -> Result<(Self, Arc<dyn OutputControl>), OutputError> {
        let HubOptions { backoff, packets } = options;
        super::init_gstreamer()?;
        fmt.validate()
            .map_err(|e| OutputError::Setup(e.to_string()))?;
        default
            .validate()
            .map_err(|e| OutputError::Setup(e.to_string()))?;
        let shared = Arc::new(HubShared {
            fmt,
            default,
            events,
            backoff,
            packets,
            control: Mutex::new(Vec::new()),
            encodes: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            video_frames: AtomicU64::new(0),
            video_dropped: AtomicU64::new(0),
            audio_blocks: AtomicU64::new(0),
            audio_dropped: AtomicU64::new(0),
        });
        let control: Arc<dyn OutputControl> = Arc::new(HubControl(shared.clone()));
        Ok((
            Self {
                shared,
                last_error_log: None,
            },
            control,
        ))
    }

    /// Encoded H.264 frames with a layout SEI and without one, summed over the encodes
    /// running now (a stopped encode's counts go with it).
    pub fn sei_counts(&self) -> (u64, u64) {
        self.shared
            .lock_encodes()
            .iter()
            .map(|e| e.sei_counts())
            .fold((0, 0), |(t, u), (a, b)| (t + a, u + b))
    }

    fn note_error(&mut self, e: &str) {
        let now = Instant::now();
        if self
            .last_error_log
            .is_none_or(|t| now - t > Duration::from_secs(5))
        {
            self.last_error_log = Some(now);
            warn!(error = %e, "hub encode error");
            self.shared.events.push(SessionEvent::Error {
                source: "outputs".into(),
                message: e.to_string(),
            });
        }
    }
}

impl HubShared {
    fn lock_control(&self) -> std::sync::MutexGuard<'_, Vec<OutputEntry>> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_encodes(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Encode>>> {
        self.encodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops an output taken out of the list and its encode if it was the last user.
    fn stop_entry(&self, mut entry: OutputEntry) {
        let id = entry.shared.id.clone();
        entry.shared.stop.store(true, Ordering::Release);
        entry.shared.queue.wake();
        let remaining = entry.encode.unsubscribe(&id);
        if let Some(t) = entry.thread.take() {
            let deadline = Instant::now() + REMOVE_TIMEOUT;
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !t.is_finished() {
                warn!(output = %id, "output did not finish in time: forcing it down");
                if let Some(p) = entry
                    .shared
                    .current
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                {
                    let _ = p.set_state(gst::State::Null);
                }
            }
            let _ = t.join();
        }
        if remaining == 0 {
            self.lock_encodes()
                .retain(|e| !Arc::ptr_eq(e, &entry.encode));
            info!(
                encoder = entry.encode.encoder_name(),
                "hub encode stopped (no output uses it)"
            );
        }
        self.events.push(SessionEvent::OutputRemoved { id });
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let entries: Vec<OutputEntry> = self.lock_control().drain(..).collect();
        for e in entries {
            self.stop_entry(e);
        }
        self.lock_encodes().clear();
    }
}

fn audio_codec_for(target: &OutputTarget) -> AudioCodec {
    match target {
        OutputTarget::Whip { .. } => AudioCodec::Opus,
        _ => AudioCodec::Aac,
    }
}

impl OutputControl for HubControl {
    fn add(&self, spec: OutputSpec) -> Result<OutputInfo, CommandError> {
        let hub = &self.0;
        if hub.closed.load(Ordering::Acquire) {
            return Err(CommandError::SessionEnded);
        }
        let settings = spec.encoder.clone().unwrap_or_else(|| hub.default.clone());
        validate(&spec, &settings).map_err(|e| CommandError::Invalid(e.0))?;
        let mut outputs = hub.lock_control();
        if outputs.iter().any(|o| o.shared.id == spec.id) {
            return Err(CommandError::AlreadyExists(format!("output {:?}", spec.id)));
        }
        if outputs.len() >= MAX_OUTPUTS {
            return Err(CommandError::Exhausted(format!(
                "at most {MAX_OUTPUTS} outputs per session"
            )));
        }
        let audio = audio_codec_for(&spec.target);
        let existing = hub
            .lock_encodes()
            .iter()
            .find(|e| e.settings == settings && e.audio == audio)
            .cloned();
        let encode = match existing {
            Some(e) => e,
            None => {
                let e = Arc::new(Encode::start(&hub.fmt, &settings, audio).map_err(|e| {
                    CommandError::FailedPrecondition(format!("cannot start the encoder: {e}"))
                })?);
                hub.lock_encodes().push(e.clone());
                e
            }
        };
        let (kind, destination) = describe(&spec.target);
        let shared = Arc::new(OutputShared {
            id: spec.id.clone(),
            target: spec.target.clone(),
            queue: Arc::new(SharedQueue::new(OUTPUT_QUEUE_PACKETS, OUTPUT_QUEUE_BYTES)),
            state: Mutex::new(OutputState::Starting),
            bytes: AtomicU64::new(0),
            buffers: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            current: Mutex::new(None),
            events: hub.events.clone(),
        });
        hub.events.push(SessionEvent::OutputAdded {
            id: spec.id.clone(),
        });
        let thread = {
            let (s, e, b, p) = (
                shared.clone(),
                encode.clone(),
                hub.backoff,
                hub.packets.clone(),
            );
            std::thread::Builder::new()
                .name(format!(
                    "output-{}",
                    spec.id.chars().take(8).collect::<String>()
                ))
                .spawn(move || worker::run(s, e, b, p))
        };
        let thread = match thread {
            Ok(t) => t,
            Err(err) => {
                if encode.unsubscribe(&spec.id) == 0 {
                    hub.lock_encodes().retain(|e| !Arc::ptr_eq(e, &encode));
                }
                return Err(CommandError::Exhausted(format!(
                    "cannot start a thread: {err}"
                )));
            }
        };
        encode.subscribe(&spec.id, shared.queue.clone());
        info!(output = %spec.id, kind, %destination, encoder = encode.encoder_name(), "output added");
        let entry = OutputEntry {
            shared,
            encode,
            thread: Some(thread),
            kind,
            destination,
        };
        let info = entry.info();
        outputs.push(entry);
        Ok(info)
    }

    fn remove(&self, id: &str) -> Result<(), CommandError> {
        let entry = {
            let mut outputs = self.0.lock_control();
            let Some(i) = outputs.iter().position(|o| o.shared.id == id) else {
                return Err(CommandError::NotFound(format!("output {id:?}")));
            };
            outputs.remove(i)
        };
        self.0.stop_entry(entry);
        Ok(())
    }

    fn list(&self) -> Vec<OutputInfo> {
        self.0
            .lock_control()
            .iter()
            .map(OutputEntry::info)
            .collect()
    }

    fn request_keyframe(&self) {
        for e in self.0.lock_encodes().iter() {
            e.request_keyframe();
        }
    }
}

impl OutputSink for OutputHub {
    fn push_video(
        &mut self,
        frame: &I420Frame,
        pts: Duration,
        duration: Duration,
    ) -> Result<(), OutputError> {
        let mut errors = Vec::new();
        let mut dropped = false;
        for e in self.shared.lock_encodes().iter() {
            match e.push_video(frame, pts, duration) {
                Ok(true) => {}
                Ok(false) => dropped = true,
                Err(err) => errors.push(err.to_string()),
            }
            if let Some(err) = e.error() {
                errors.push(err);
            }
        }
        if dropped {
            self.shared.video_dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.shared.video_frames.fetch_add(1, Ordering::Relaxed);
        }
        for e in errors {
            self.note_error(&e);
        }
        Ok(())
    }

    fn push_audio(&mut self, samples: &[f32], pts: Duration) -> Result<(), OutputError> {
        let mut errors = Vec::new();
        let mut dropped = false;
        for e in self.shared.lock_encodes().iter() {
            match e.push_audio(samples, pts) {
                Ok(true) => {}
                Ok(false) => dropped = true,
                Err(err) => errors.push(err.to_string()),
            }
        }
        if dropped {
            self.shared.audio_dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.shared.audio_blocks.fetch_add(1, Ordering::Relaxed);
        }
        for e in errors {
            self.note_error(&e);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), OutputError> {
        if !self.shared.closed.load(Ordering::Acquire) {
            self.shared.close();
        }
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        SinkStats {
            video_frames: self.shared.video_frames.load(Ordering::Relaxed),
            video_dropped: self.shared.video_dropped.load(Ordering::Relaxed),
            audio_blocks: self.shared.audio_blocks.load(Ordering::Relaxed),
            audio_dropped: self.shared.audio_dropped.load(Ordering::Relaxed),
        }
    }
}

impl Drop for OutputHub {
    fn drop(&mut self) {
        if !self.shared.closed.load(Ordering::Acquire) {
            self.shared.close();
        }
    }
}
