//! Commands a controller (gRPC, the demo, tests) sends to a running session, and why one can
//! be refused. Each command is validated whole on the session thread and applied atomically
//! at a frame boundary (or at the first frame at/after its requested output time); a refused
//! command changes nothing.

use std::sync::Arc;
use std::time::Duration;

use layouts::pk::{PkSpec, PkTheme, ScoreChange, Supporter};
use layouts::{Background, Scene, Transition};

use super::input::InputSender;

/// A change to a running session.
#[derive(Debug, Clone)]
pub enum Command {
    /// Switch the scene, cutting or with a transition.
    SetScene {
        /// New scene (its inputs and images must exist).
        scene: Scene,
        /// Animation; None = cut.
        transition: Option<Transition>,
    },
    /// Replace only the background of the current scene.
    SetBackground(Background),
    /// Create an input slot; the reply carries its [`InputSender`].
    AddInput {
        /// New id (1..=128 bytes).
        id: String,
    },
    /// Delete an input slot not used by the current scene.
    RemoveInput {
        /// Its id.
        id: String,
    },
    /// Register (or replace) an image that scenes can reference by id.
    RegisterImage {
        /// Id.
        id: String,
        /// Decoded pixels (straight alpha).
        image: Arc<image::RgbaImage>,
    },
    /// Forget an image not used by the current scene nor as an input's placeholder.
    RemoveImage {
        /// Id.
        id: String,
    },
    /// Show a registered image in an input's place while it has no frame (before its first
    /// frame or after the stall timeout), or go back to the solid placeholder (None).
    SetPlaceholder {
        /// Input id (must exist).
        id: String,
        /// Registered image id (must exist); None = the solid placeholder.
        image: Option<String>,
    },
    /// Set an input's mix gain in dB.
    SetGain {
        /// Input id.
        id: String,
        /// Gain, dB.
        db: f32,
    },
    /// Mute or unmute an input in the mix.
    SetMute {
        /// Input id.
        id: String,
        /// Muted?
        mute: bool,
    },
    /// Solo or unsolo an input in the mix (when any input is soloed only soloed ones sound).
    SetSolo {
        /// Input id.
        id: String,
        /// Soloed?
        solo: bool,
    },
    /// Lower the others while `trigger` speaks, or switch ducking off (None).
    SetDucking(Option<mixer::Ducking>),
    /// Set (or clear, with "") an input's label, drawn as its name tag from the next frame.
    SetLabel {
        /// Input id (must exist).
        id: String,
        /// The label (one line, at most 512 bytes).
        label: String,
    },
    /// Start a PK match (its intro begins at the frame this applies on); switches the scene
    /// to the PK layout of its teams (restored when the match ends).
    StartPk {
        /// The match.
        spec: PkSpec,
        /// Colours and font; None keeps the session's theme.
        theme: Option<PkTheme>,
    },
    /// Change a host's score (battle phase only).
    UpdatePkScore {
        /// The host's input id.
        host: String,
        /// Add or set.
        change: ScoreChange,
        /// Idempotency key: a key seen before in this match changes nothing.
        key: Option<String>,
    },
    /// End the battle now (→ result).
    EndPk,
    /// Drop the match now (→ idle, no result).
    CancelPk,
    /// Set a team's supporters shown under the bar.
    SetPkSupporters {
        /// 0 = left, 1 = right.
        team: usize,
        /// Up to three.
        supporters: Vec<Supporter>,
    },
    /// End the session (outputs finalised).
    Stop,
}

/// What a successful command gives back.
#[derive(Debug)]
pub enum CommandReply {
    /// Applied.
    Done {
        /// Output time of the first frame it shows in.
        applied_at: Duration,
    },
    /// Input created.
    Input(InputSender),
    /// A score update: whether it counted (false for a repeated idempotency key) and the
    /// team totals after it.
    PkScore {
        /// Counted?
        applied: bool,
        /// Team totals (left, right).
        scores: [u64; 2],
        /// Output time it applied at.
        applied_at: Duration,
    },
}

/// Why a command was refused (nothing changed).
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum CommandError {
    /// A field is out of range or malformed.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// An id that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// An id that already exists.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// Not allowed in the current state.
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// A limit is reached.
    #[error("resource exhausted: {0}")]
    Exhausted(String),
    /// The session has ended.
    #[error("the session has ended")]
    SessionEnded,
}
