//! The session manager: every running session by id, each with its input slots (bearer token
//! and [`InputSender`] per slot), registered images, current layout, preview tap and output
//! control. It implements the gRPC [`control_api::ControlBackend`] (in `backend.rs`) and the
//! WHIP endpoint's [`IngestDirectory`].
//!
//! Locking: the session map and each session's bookkeeping sit behind their own mutexes,
//! held only for bookkeeping and for commands applied at the next frame (at most one frame);
//! a scheduled layout change waits without holding them. Media never passes through here.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use control_api::BackendError;
use control_api::backend::NewSession;
use rand::Rng;
use rand::distr::Alphanumeric;

use super::managed::{Book, Managed};
use super::outputs;
use super::preview::{Preview, PreviewTap};
use compositor_core::session::{
    ClockMode, CommandError, EventLog, Fps, Session, SessionConfig, SessionHandle,
};
use compositor_render::Gpus;
use compositor_webrtc::ingest::{IngestDirectory, IngestLookupError, IngestSlot};

/// Server-wide settings of the manager.
#[derive(Debug, Clone)]
pub struct ManagerSettings {
    /// Base of the WHIP URLs handed to hosts, e.g. `http://203.0.113.5:8080` (no trailing /).
    pub public_http_base: String,
    /// Directory `RegisterImage.server_path` is relative to; None = server paths refused.
    pub image_dir: Option<PathBuf>,
    /// Most sessions at once.
    pub max_sessions: usize,
    /// Encoder settings of outputs added without their own.
    pub encoder: compositor_media::output::EncoderSettings,
}

impl Default for ManagerSettings {
    fn default() -> Self {
        Self {
            public_http_base: "http://127.0.0.1:8080".into(),
            image_dir: None,
            max_sessions: 16,
            encoder: compositor_media::output::EncoderSettings::default(),
        }
    }
}

/// All sessions of the server.
pub struct SessionManager {
    pub(super) gpus: Gpus,
    pub(super) settings: ManagerSettings,
    pub(super) sessions: Mutex<BTreeMap<String, Arc<Managed>>>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A random alphanumeric string.
pub(super) fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Maps an engine refusal onto the control API's.
pub(super) fn from_command(e: CommandError) -> BackendError {
    match e {
        CommandError::Invalid(m) => BackendError::Invalid(m),
        CommandError::NotFound(m) => BackendError::NotFound(m),
        CommandError::AlreadyExists(m) => BackendError::AlreadyExists(m),
        CommandError::FailedPrecondition(m) => BackendError::FailedPrecondition(m),
        CommandError::Exhausted(m) => BackendError::Exhausted(m),
        CommandError::SessionEnded => {
            BackendError::FailedPrecondition("the session has ended".into())
        }
    }
}

impl SessionManager {
    /// A manager whose sessions get their compositors from `gpus` (a shared device).
    pub fn new(gpus: impl Into<Gpus>, settings: ManagerSettings) -> Self {
        let gpus = gpus.into();
        Self {
            gpus,
            settings,
            sessions: Mutex::new(BTreeMap::new()),
        }
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Managed>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn get(&self, id: &str) -> Result<Arc<Managed>, BackendError> {
        self.map()
            .get(id)
            .cloned()
            .ok_or_else(|| BackendError::NotFound(format!("session {id:?}")))
    }

    /// Handles of every session (metrics).
    pub(super) fn all(&self) -> Vec<Arc<Managed>> {
        self.map().values().cloned().collect()
    }

    /// The WHIP URL of a slot.
    pub(super) fn whip_url(&self, session: &str, input: &str) -> String {
        format!(
            "{}/whip/{session}/{input}",
            self.settings.public_http_base.trim_end_matches('/')
        )
    }

    /// Creates and starts a session.
    pub(super) fn create(&self, req: NewSession) -> Result<Arc<Managed>, BackendError> {
        // The first layout can only reference what exists: nothing yet.
        let plan = layouts::plan(&req.scene, req.canvas)
            .map_err(|e| BackendError::Invalid(format!("layout: {e}")))?;
        for item in &plan.items {
            match &item.content {
                layouts::Content::Input(i) => {
                    return Err(BackendError::NotFound(format!(
                        "input {i:?} (a new session has no inputs: add them, then set the layout)"
                    )));
                }
                layouts::Content::Image(i) => {
                    return Err(BackendError::NotFound(format!(
                        "image {i:?} (a new session has no images: register them, then set the layout)"
                    )));
                }
                layouts::Content::Solid(_) => {}
            }
        }
        let mut map = self.map();
        let id = match &req.id {
            Some(id) => {
                if map.contains_key(id) {
                    return Err(BackendError::AlreadyExists(format!("session {id:?}")));
                }
                id.clone()
            }
            None => loop {
                let id = format!("s-{}", random_token(12));
                if !map.contains_key(&id) {
                    break id;
                }
            },
        };
        if map.len() >= self.settings.max_sessions {
            return Err(BackendError::Exhausted(format!(
                "at most {} sessions per server",
                self.settings.max_sessions
            )));
        }
        let mut cfg = SessionConfig::new(req.scene.clone());
        cfg.canvas = req.canvas;
        cfg.fps = Fps::new(req.fps_num, req.fps_den);
        cfg.mixer.sample_rate = req.sample_rate;
        cfg.mixer.channels = req.channels;
        cfg.clock = ClockMode::RealTime;
        cfg.stall_timeout = req.stall_timeout;
        (cfg.align.min_budget, cfg.align.max_budget) = req.latency;
        cfg.align.initial_budget = cfg.align.initial_budget.clamp(req.latency.0, req.latency.1);
        let events = Arc::new(EventLog::default());
        let (sink, outputs) =
            outputs::build(&id, &cfg, self.settings.encoder.clone(), events.clone())
                .map_err(from_command)?;
        let preview = Arc::new(Preview::default());
        let sink = Box::new(PreviewTap::new(sink, preview.clone()));
        let renderer = self
            .gpus
            .renderer(cfg.compose, cfg.canvas)
            .map_err(|e| BackendError::Internal(format!("compositor set-up: {e}")))?;
        let session =
            Session::start_with_events(cfg, renderer, sink, events).map_err(|e| match e {
                compositor_core::session::SessionError::Config(m) => BackendError::Invalid(m),
                other => BackendError::Internal(other.to_string()),
            })?;
        let managed = Arc::new(Managed {
            id: id.clone(),
            handle: session.handle(),
            session: Mutex::new(Some(session)),
            outputs,
            preview,
            book: Mutex::new(Book {
                inputs: BTreeMap::new(),
                images: BTreeMap::new(),
                scene: req.scene.clone(),
                follow_speaker: req.follow_active_speaker,
                transition: None,
            }),
            spec: NewSession {
                id: Some(id.clone()),
                ..req
            },
        });
        if let Err(e) = super::speaker::spawn(&managed) {
            return Err(BackendError::Internal(format!(
                "cannot start the speaker follower: {e}"
            )));
        }
        map.insert(id.clone(), managed.clone());
        tracing::info!(session = %id, "session created");
        Ok(managed)
    }

    /// Stops a session (outputs finalised) and forgets it; returns its frame count.
    pub(super) fn delete(&self, id: &str) -> Result<u64, BackendError> {
        let managed = self
            .map()
            .remove(id)
            .ok_or_else(|| BackendError::NotFound(format!("session {id:?}")))?;
        let frames = stop_and_join(&managed);
        tracing::info!(session = %id, frames, "session deleted");
        Ok(frames)
    }

    /// Stops every session (outputs finalised), e.g. on SIGTERM.
    pub fn shutdown(&self) {
        let all: Vec<_> = std::mem::take(&mut *self.map()).into_values().collect();
        for m in all {
            let frames = stop_and_join(&m);
            tracing::info!(session = %m.id, frames, "session stopped");
        }
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// No sessions?
    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }
}

fn stop_and_join(m: &Managed) -> u64 {
    m.handle.stop();
    let session = m.session.lock().unwrap_or_else(|e| e.into_inner()).take();
    match session.map(Session::join) {
        Some(Ok(report)) => report.frames,
        Some(Err(e)) => {
            tracing::warn!(session = %m.id, error = %e, "session ended with an error");
            m.handle.stats().frames
        }
        None => m.handle.stats().frames,
    }
}

impl IngestDirectory for SessionManager {
    fn resolve(&self, session_id: &str, input_id: &str) -> Result<IngestSlot, IngestLookupError> {
        let m = self
            .get(session_id)
            .map_err(|_| IngestLookupError::UnknownSession(session_id.to_owned()))?;
        let book = m.book();
        let slot = book
            .inputs
            .get(input_id)
            .ok_or_else(|| IngestLookupError::UnknownInput(input_id.to_owned()))?;
        Ok(IngestSlot {
            token: slot.token.clone(),
            sender: slot.sender.clone(),
            session: m.handle.clone(),
        })
    }
}

/// Waits for a scheduled command's reply without holding any lock.
pub(super) fn wait_at(
    handle: &SessionHandle,
    cmd: compositor_core::session::Command,
    at: Option<Duration>,
) -> Result<compositor_core::session::CommandReply, BackendError> {
    handle.submit(cmd, at).wait().map_err(from_command)
}
