//! # The session engine
//!
//! A [`Session`] is one composite: its own output clock, input slots, scene, mixer, renderer
//! and sink. This is the API that ingest (WHIP), alignment, the mixer, gRPC and outputs plug
//! into.
//!
//! ## Threads and ownership
//! - [`Session::start`] validates the config (errors are returned synchronously), takes the
//!   [`FrameRenderer`] the caller built (GPU or CPU: `compositor-render`) and spawns **one session thread** that owns
//!   everything mutable: the slots, the [`layouts::LayoutEngine`], the [`mixer::Mixer`], the
//!   renderer and the [`OutputSink`]. Nothing else touches them; no locks on the media path.
//! - Sources feed input slots through bounded channels ([`InputSender`]); they own the frames
//!   they allocate and give them away by value. The session keeps the newest frame per slot;
//!   the renderer borrows it; the session owns and reuses the output frame.
//! - Controllers talk through a cloneable [`SessionHandle`]: commands go through a bounded
//!   channel and are applied by the session thread at a frame boundary (or at the first frame
//!   at/after the requested output time); the reply says when it took effect or why it was
//!   refused (nothing changed then). Counters are atomics readable from any thread.
//!
//! ## Time
//! - Session time is a `Duration` from the first output tick (0). Video tick `k` is at
//!   `k * den / num` seconds exactly (no accumulated rounding) plus, in real time with
//!   `SessionConfig::phase_lock` (on by default), the [`phase`] offset: the ticks step, now
//!   and then by under half a frame, to fall just after the frames of hosts running at the
//!   output rate; its output pts is that time. Mix tick `m` covers
//!   `[m * 10 ms, (m + 1) * 10 ms)`. Ticks are processed in time order (video first on ties).
//! - Input frames carry a `pts` on the session clock; at each video tick a slot shows its
//!   newest frame with `pts <= tick`; older unshown ones are counted as skipped, frames older
//!   than the one shown are counted late and discarded. A slot whose shown frame is older
//!   than `stall_timeout` shows its placeholder (the image set by
//!   [`Command::SetPlaceholder`], else a solid colour); a late or silent input never holds the others.
//! - Audio blocks carry a `pts` too: the mix block starting at `t` is mixed (stamped `t`)
//!   when `t + 10 ms` is due; before it, each slot's [`crate::align::AudioPlacer`] hands the
//!   mixer exactly the samples due before `t` + the mixer's timed depth (12 ms) (gaps become
//!   silence, overlaps are trimmed, past-due blocks dropped; all counted in
//!   [`InputStats`]), so the mixer's queue head is the sample due at `t`. Audio must thus be
//!   in hand 2 ms + the audio lead before it is due, which the aligner's budget covers. A
//!   slot's audio is delayed by the mean wait of its video frames between their pts and the
//!   tick that shows them (the output frame grid), so lip sync survives the quantisation to
//!   output frames.
//! - Alignment: sources with RTP timing send [`TimedUnit`]s ([`InputSender::send_timed`]);
//!   the session thread owns the session's [`crate::align::Aligner`] and stamps each unit's
//!   playout time when it drains the slot ([`placement`]): the hand-off is one channel send,
//!   no lock and no allocation per unit. Per-host figures appear in
//!   [`StatsSnapshot::align`], refreshed every 100 ms.
//! - [`ClockMode::RealTime`]: ticks are due at `start + t` on the wall clock; inputs are only
//!   polled (never waited for); when more than one frame behind, a video tick is skipped and
//!   counted (`late_ticks`) while the clock keeps its pace; audio ticks are never skipped.
//! - [`ClockMode::Offline`]: no sleeping; before each tick the session waits until every live
//!   input has sent content past that time (sources must send in time order), so output is
//!   identical to a perfect real-time run, as fast as the machine allows.

mod command;
mod config;
mod engine;
mod events;
mod graphics;
mod input;
pub mod phase;
mod placement;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

pub use command::{Command, CommandError, CommandReply};
pub use config::{ClockMode, Fps, SessionConfig};
pub use engine::MIX_TICK;
pub use events::{EVENT_LOG_CAPACITY, EventLog, SessionEvent};
pub use graphics::{PkStats, outcome_word};
pub use input::{InputClosed, InputCounters, InputMessage, InputSender, InputStats};
pub use placement::{
    FALLBACK_BUDGET, IMPLAUSIBLE, LATEST_AHEAD, RESUME_AHEAD, TimedMedia, TimedUnit,
};

use crate::align::HostAlignStats;
use crate::probe::ArrivalProbe;
use crate::render::FrameRenderer;
use crate::sink::{OutputSink, SinkStats};

/// Why a session could not start or ended badly.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    /// Invalid configuration.
    #[error("invalid session config: {0}")]
    Config(String),
    /// GPU set-up or persistent render failure.
    #[error("render: {0}")]
    Render(String),
    /// The sink failed.
    #[error("output: {0}")]
    Output(String),
    /// The session thread panicked (a bug).
    #[error("session thread crashed")]
    Crashed,
}

/// Summary of a finished session.
#[derive(Debug, Clone)]
pub struct SessionReport {
    /// Video frames sent to the sink.
    pub frames: u64,
    /// Audio blocks sent to the sink.
    pub audio_blocks: u64,
    /// Real-time ticks skipped because rendering fell behind.
    pub late_ticks: u64,
    /// Steps of the output ticks ([`phase`]): each made one output frame irregular.
    pub grid_steps: u64,
    /// Sink counters.
    pub sink: SinkStats,
    /// Wall-clock time the session ran.
    pub wall: Duration,
}

pub(crate) struct Envelope {
    pub(crate) cmd: Command,
    pub(crate) at: Option<Duration>,
    pub(crate) reply: Sender<Result<CommandReply, CommandError>>,
}

/// Counters shared between the session thread and handles.
#[derive(Debug, Default)]
pub struct SharedStats {
    /// Frames rendered and sent.
    pub frames: AtomicU64,
    /// Mix blocks sent.
    pub audio_blocks: AtomicU64,
    /// Real-time video ticks skipped.
    pub late_ticks: AtomicU64,
    /// Render failures.
    pub render_errors: AtomicU64,
    /// Sum of render times, ns.
    pub render_ns_total: AtomicU64,
    /// Worst render time, ns.
    pub render_ns_max: AtomicU64,
    /// Session time of the last frame, ns.
    pub media_ns: AtomicU64,
    /// Offset of the output ticks from the exact frame grid, µs ([`phase`]).
    pub grid_offset_us: std::sync::atomic::AtomicI64,
    /// Steps of the output ticks ([`phase`]): each made one output frame irregular.
    pub grid_steps: AtomicU64,
    /// True once the session thread has finished.
    pub ended: AtomicBool,
    /// Per-input counters.
    pub inputs: Mutex<HashMap<String, Arc<InputCounters>>>,
    /// Event log.
    pub events: Arc<EventLog>,
    /// Wall-clock instant of session time 0 (set when the session thread starts ticking, or
    /// earlier by [`Session::start`]); maps arrival instants onto the session clock.
    pub wall_start: std::sync::OnceLock<std::time::Instant>,
    /// Mixer figures per audio input (queue depth, drift ppm, levels…), refreshed every 100 ms.
    pub audio: Mutex<Vec<mixer::InputStats>>,
    /// Alignment figures per input (host).
    pub align: Mutex<HashMap<String, HostAlignStats>>,
    /// The arrival probe a benchmark installed ([`SessionHandle::set_arrival_probe`]).
    pub probe: std::sync::OnceLock<Arc<dyn ArrivalProbe>>,
    /// Text boxes rasterized so far (name tags, PK texts): grows only when a text changes.
    pub text_rasters: AtomicU64,
    /// The PK match as of the last frame.
    pub pk: Mutex<PkStats>,
}

/// A point-in-time copy of a session's counters.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StatsSnapshot {
    /// Frames sent.
    pub frames: u64,
    /// Mix blocks sent.
    pub audio_blocks: u64,
    /// Skipped real-time ticks.
    pub late_ticks: u64,
    /// Render failures.
    pub render_errors: u64,
    /// Mean render time, ms.
    pub render_ms_mean: f64,
    /// Worst render time, ms.
    pub render_ms_max: f64,
    /// Session time reached.
    pub media_time: Duration,
    /// Offset of the output ticks from the exact frame grid, ms ([`phase`]; 0 offline or
    /// with no host at the output rate).
    pub grid_offset_ms: f64,
    /// Steps of the output ticks so far: each made one output frame longer or shorter.
    pub grid_steps: u64,
    /// Finished?
    pub ended: bool,
    /// Per input.
    pub inputs: Vec<(String, InputStats)>,
    /// Mixer figures per audio input (drift ppm, queue, levels), as of the last 100 ms.
    #[serde(skip)]
    pub audio: Vec<mixer::InputStats>,
    /// Alignment figures per input (transit offset, jitter, budget, drift ppm, A/V offset,
    /// late units), sorted by input id.
    pub align: Vec<(String, HostAlignStats)>,
    /// Text boxes rasterized so far (grows only when a text changes).
    pub text_rasters: u64,
    /// The PK match (phase `idle` when none).
    pub pk: PkStats,
}

/// Cloneable remote control of a running session.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    tx: Sender<Envelope>,
    stats: Arc<SharedStats>,
}

/// A command's reply, to be waited for later.
#[derive(Debug)]
pub struct PendingReply(Receiver<Result<CommandReply, CommandError>>);

impl PendingReply {
    /// Waits for the session to apply or refuse the command.
    pub fn wait(self) -> Result<CommandReply, CommandError> {
        self.0.recv().unwrap_or(Err(CommandError::SessionEnded))
    }
}

impl SessionHandle {
    /// Queues `cmd` for the next frame boundary (or the first at/after `at`) without waiting.
    pub fn submit(&self, cmd: Command, at: Option<Duration>) -> PendingReply {
        let (reply, rx) = crossbeam_channel::bounded(1);
        if self
            .tx
            .try_send(Envelope {
                cmd,
                at,
                reply: reply.clone(),
            })
            .is_err()
        {
            let _ = reply.send(Err(CommandError::Exhausted(
                "command queue full or session ended".into(),
            )));
        }
        PendingReply(rx)
    }

    /// Sends `cmd` and waits until it is applied at a frame boundary or refused.
    pub fn command(&self, cmd: Command) -> Result<CommandReply, CommandError> {
        self.submit(cmd, None).wait()
    }

    /// Creates an input slot and returns its sender.
    pub fn add_input(&self, id: &str) -> Result<InputSender, CommandError> {
        match self.command(Command::AddInput { id: id.to_string() })? {
            CommandReply::Input(s) => Ok(s),
            _ => Err(CommandError::Invalid("unexpected reply".into())),
        }
    }

    /// Events after sequence number `after` (0 = all kept), oldest first. Pass the last
    /// sequence number seen to resume without losing events.
    pub fn events_since(&self, after: u64) -> Vec<(u64, SessionEvent)> {
        self.stats.events.since(after)
    }

    /// Appends an event from outside the session thread (ingest, outputs). Returns its
    /// sequence number.
    pub fn emit(&self, event: SessionEvent) -> u64 {
        self.stats.events.push(event)
    }

    /// The shared event log (outputs created before the session use it to report).
    pub fn event_log(&self) -> Arc<EventLog> {
        self.stats.events.clone()
    }

    /// Session time of a wall-clock instant (real-time sessions: the instant minus the
    /// instant of session time 0; saturates at 0 for instants before the start).
    pub fn session_time(&self, at: std::time::Instant) -> Duration {
        let start = *self.stats.wall_start.get_or_init(std::time::Instant::now);
        at.saturating_duration_since(start)
    }

    /// Installs `probe`, told of every video frame ingest delivers (benchmarks; off by
    /// default). False when one is installed already (the first stays).
    pub fn set_arrival_probe(&self, probe: Arc<dyn ArrivalProbe>) -> bool {
        self.stats.probe.set(probe).is_ok()
    }

    /// The arrival probe, when one is installed.
    pub fn arrival_probe(&self) -> Option<&Arc<dyn ArrivalProbe>> {
        self.stats.probe.get()
    }

    /// Records alignment figures for `input` (sources that run their own
    /// [`crate::align::Aligner`], such as offline tests, publish through this).
    pub fn publish_align_stats(&self, input: &str, stats: HostAlignStats) {
        self.stats
            .align
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(input.to_string(), stats);
    }

    /// Asks the session to end at the next frame boundary (does not wait).
    pub fn stop(&self) {
        let _ = self.submit(Command::Stop, None);
    }

    /// Current counters.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.stats;
        let frames = s.frames.load(Ordering::Relaxed);
        let mut inputs: Vec<(String, InputStats)> = s
            .inputs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.snapshot()))
            .collect();
        inputs.sort_by(|a, b| a.0.cmp(&b.0));
        StatsSnapshot {
            frames,
            audio_blocks: s.audio_blocks.load(Ordering::Relaxed),
            late_ticks: s.late_ticks.load(Ordering::Relaxed),
            render_errors: s.render_errors.load(Ordering::Relaxed),
            render_ms_mean: s.render_ns_total.load(Ordering::Relaxed) as f64
                / 1e6
                / frames.max(1) as f64,
            render_ms_max: s.render_ns_max.load(Ordering::Relaxed) as f64 / 1e6,
            media_time: Duration::from_nanos(s.media_ns.load(Ordering::Relaxed)),
            grid_offset_ms: s.grid_offset_us.load(Ordering::Relaxed) as f64 / 1e3,
            grid_steps: s.grid_steps.load(Ordering::Relaxed),
            ended: s.ended.load(Ordering::Relaxed),
            inputs,
            audio: s.audio.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            align: {
                let mut v: Vec<(String, HostAlignStats)> = s
                    .align
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v
            },
            text_rasters: s.text_rasters.load(Ordering::Relaxed),
            pk: {
                let g = s.pk.lock().unwrap_or_else(|e| e.into_inner());
                if g.phase.is_empty() || g.phase == "idle" {
                    PkStats {
                        phase: "idle".to_owned(),
                        ..PkStats::default()
                    }
                } else {
                    let media = Duration::from_nanos(s.media_ns.load(Ordering::Relaxed));
                    PkStats {
                        left_ms: g.ends_at.saturating_sub(media).as_millis() as u64,
                        ..g.clone()
                    }
                }
            },
        }
    }
}

/// A running session.
#[derive(Debug)]
pub struct Session {
    handle: SessionHandle,
    thread: Option<JoinHandle<Result<SessionReport, SessionError>>>,
    inputs: Vec<InputSender>,
}

impl Session {
    /// Validates `config`, prepares the renderer and starts the session thread. Senders for
    /// `config.initial_inputs` are available from [`Session::take_inputs`].
    pub fn start(
        config: SessionConfig,
        renderer: Box<dyn FrameRenderer>,
        sink: Box<dyn OutputSink>,
    ) -> Result<Session, SessionError> {
        Self::start_with_events(config, renderer, sink, Arc::new(EventLog::default()))
    }

    /// Like [`Session::start`], with an event log created beforehand (so a sink built before
    /// the session, such as the output hub, can report into the session's events).
    pub fn start_with_events(
        config: SessionConfig,
        renderer: Box<dyn FrameRenderer>,
        sink: Box<dyn OutputSink>,
        events: Arc<EventLog>,
    ) -> Result<Session, SessionError> {
        config.validate().map_err(|e| SessionError::Config(e.0))?;
        let mut config = config;
        // Audio enters the mixer ahead of its playout time: the budget covers that on top of
        // the worst audio path, or audio blocks are late (silence, lip sync off by the
        // shortfall). The engine's mixer runs at the default tuning.
        let ahead = engine::audio_ahead(&mixer::MixerTuning::default(), config.audio_lead);
        config.align.audio_queue = config.align.audio_queue.max(ahead);
        let (tx, rx) = crossbeam_channel::bounded(256);
        let stats = Arc::new(SharedStats {
            events,
            ..SharedStats::default()
        });
        let (engine, inputs) = engine::Engine::new(config, renderer, sink, rx, stats.clone())?;
        let thread = std::thread::Builder::new()
            .name("session".into())
            .spawn(move || engine.run())
            .map_err(|e| SessionError::Config(format!("cannot spawn the session thread: {e}")))?;
        Ok(Session {
            handle: SessionHandle { tx, stats },
            thread: Some(thread),
            inputs,
        })
    }

    /// A handle for controllers.
    pub fn handle(&self) -> SessionHandle {
        self.handle.clone()
    }

    /// The senders of the initial inputs (once).
    pub fn take_inputs(&mut self) -> Vec<InputSender> {
        std::mem::take(&mut self.inputs)
    }

    /// Waits for the session to end (by its duration or a Stop) and returns its report.
    pub fn join(mut self) -> Result<SessionReport, SessionError> {
        match self.thread.take() {
            Some(t) => t.join().unwrap_or(Err(SessionError::Crashed)),
            None => Err(SessionError::Crashed),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.handle.stop();
            let _ = t.join();
        }
    }
}
