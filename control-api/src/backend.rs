//! The engine side of the control API: the [`ControlBackend`] trait the tonic service calls
//! with requests it has already validated whole, the domain types those requests arrive in,
//! and [`BackendError`], the refusals a backend may answer with.
//!
//! Invariants: every method is synchronous and may block for up to about one output frame
//! (a command applied at the next frame boundary) — the service calls it on tokio's blocking
//! pool, never on a runtime thread. A method that returns an error has changed nothing.
//! Times are `Duration`s on the session's output clock (0 = first frame).

use std::path::PathBuf;
use std::time::Duration;

pub use compositor_core::outputs::{
    EncoderKind, EncoderSettings, H264Profile, OutputSpec, OutputTarget, SrtMode, VideoCodec,
};
use proto::v1 as pb;

pub use crate::pk::{MixerChange, PkRequest};

/// Why a backend refused a request (nothing changed). Each maps onto one gRPC status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// A field is invalid in a way only the engine can tell (`InvalidArgument`).
    #[error("{0}")]
    Invalid(String),
    /// An unknown id (`NotFound`).
    #[error("{0}")]
    NotFound(String),
    /// A taken id (`AlreadyExists`).
    #[error("{0}")]
    AlreadyExists(String),
    /// Not allowed in the current state (`FailedPrecondition`).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A limit is reached (`ResourceExhausted`).
    #[error("{0}")]
    Exhausted(String),
    /// The request would need a capability this build lacks (`Unimplemented`).
    #[error("{0}")]
    Unimplemented(String),
    /// Timed out waiting for the engine (`DeadlineExceeded`).
    #[error("{0}")]
    Timeout(String),
    /// An internal failure (`Internal`).
    #[error("{0}")]
    Internal(String),
}

impl From<BackendError> for tonic::Status {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Invalid(m) => tonic::Status::invalid_argument(m),
            BackendError::NotFound(m) => tonic::Status::not_found(m),
            BackendError::AlreadyExists(m) => tonic::Status::already_exists(m),
            BackendError::FailedPrecondition(m) => tonic::Status::failed_precondition(m),
            BackendError::Exhausted(m) => tonic::Status::resource_exhausted(m),
            BackendError::Unimplemented(m) => tonic::Status::unimplemented(m),
            BackendError::Timeout(m) => tonic::Status::deadline_exceeded(m),
            BackendError::Internal(m) => tonic::Status::internal(m),
        }
    }
}

/// A validated session to create (defaults already filled in).
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    /// Id; None = the backend picks one.
    pub id: Option<String>,
    /// Canvas size (even sides within the engine's bounds).
    pub canvas: layouts::Size,
    /// Frame rate numerator.
    pub fps_num: u32,
    /// Frame rate denominator.
    pub fps_den: u32,
    /// Mix rate, Hz.
    pub sample_rate: u32,
    /// Mix channels.
    pub channels: u16,
    /// Alignment latency budget bounds (min, max).
    pub latency: (Duration, Duration),
    /// Stall timeout.
    pub stall_timeout: Duration,
    /// First scene (validated against `canvas`; references nothing when inputs don't exist yet:
    /// the backend refuses references to unknown inputs/images).
    pub scene: layouts::Scene,
    /// Follow the active speaker (spotlight only).
    pub follow_active_speaker: bool,
}

/// Changes to an input slot; `None` fields stay.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputUpdate {
    /// New label.
    pub label: Option<String>,
    /// Mix gain, dB (finite, in range).
    pub volume_db: Option<f32>,
    /// Mute.
    pub mute: Option<bool>,
    /// Placeholder image: `Some(None)` = back to the plain placeholder, `Some(Some(id))` = a
    /// registered image (id already checked well-formed), None = unchanged.
    pub placeholder_image: Option<Option<String>>,
}

/// A validated layout change.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutChange {
    /// The scene (validated against the session's canvas).
    pub scene: layouts::Scene,
    /// Transition (validated); None = cut.
    pub transition: Option<layouts::Transition>,
    /// Apply at the first frame at/after this output time; None = next frame.
    pub at: Option<Duration>,
    /// Spotlight only: keep the active speaker in the spotlight.
    pub follow_active_speaker: bool,
}

/// Where an image's pixels come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Encoded PNG/JPEG bytes (size already checked).
    Bytes(Vec<u8>),
    /// A relative path under the server's image directory (no `..`, not absolute).
    ServerPath(PathBuf),
}

/// A validated output to add: the engine's own [`OutputSpec`] (one definition of the output
/// kinds, shared with the server and the output hub).
pub type NewOutput = OutputSpec;

/// The engine behind the service. Implemented by `compositor-server` (and by tests).
pub trait ControlBackend: Send + Sync + 'static {
    /// Creates and starts a session. `AlreadyExists`, `Exhausted` (session limit).
    fn create_session(&self, req: NewSession) -> Result<pb::Session, BackendError>;
    /// One session.
    fn get_session(&self, id: &str) -> Result<pb::Session, BackendError>;
    /// Every session, ordered by id.
    fn list_sessions(&self) -> Vec<pb::Session>;
    /// Stops (outputs finalised) and forgets a session; returns its frame count.
    fn delete_session(&self, id: &str) -> Result<u64, BackendError>;
    /// A session's canvas (for validating layouts).
    fn canvas(&self, session: &str) -> Result<layouts::Size, BackendError>;
    /// Adds a host slot with a fresh bearer token.
    fn add_input(
        &self,
        session: &str,
        input: &str,
        label: String,
    ) -> Result<pb::AddInputResponse, BackendError>;
    /// Removes a host slot.
    fn remove_input(&self, session: &str, input: &str) -> Result<(), BackendError>;
    /// Updates a slot, all or nothing.
    fn update_input(
        &self,
        session: &str,
        input: &str,
        update: InputUpdate,
    ) -> Result<pb::Input, BackendError>;
    /// Applies a layout; returns the output time of the first frame showing it.
    fn set_layout(&self, session: &str, change: LayoutChange) -> Result<Duration, BackendError>;
    /// Registers (or replaces) an image.
    fn register_image(
        &self,
        session: &str,
        image: &str,
        source: ImageSource,
    ) -> Result<pb::Image, BackendError>;
    /// Forgets an image.
    fn remove_image(&self, session: &str, image: &str) -> Result<(), BackendError>;
    /// Adds an output.
    fn add_output(&self, session: &str, output: NewOutput) -> Result<pb::Output, BackendError>;
    /// Removes an output.
    fn remove_output(&self, session: &str, output: &str) -> Result<(), BackendError>;
    /// Outputs in the order added.
    fn list_outputs(&self, session: &str) -> Result<Vec<pb::Output>, BackendError>;
    /// Events with seq > `after`, oldest first.
    fn events_since(&self, session: &str, after: u64) -> Result<Vec<pb::Event>, BackendError>;
    /// Counters.
    fn stats(&self, session: &str) -> Result<pb::SessionStats, BackendError>;
    /// The first composed frame at/after `at` (None = the next one), as PNG.
    fn frame(&self, session: &str, at: Option<Duration>) -> Result<pb::Frame, BackendError>;
    /// A PK request; returns whether it counted (false only for a repeated score key) and
    /// the match after it.
    fn pk(&self, session: &str, req: PkRequest) -> Result<(bool, pb::PkState), BackendError>;
    /// Mixer controls (solo, ducking), all or nothing.
    fn set_mixer(&self, session: &str, change: MixerChange) -> Result<(), BackendError>;
}
