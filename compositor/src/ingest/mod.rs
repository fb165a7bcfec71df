//! # Ingest: hosts publishing into input slots
//!
//! The contract between the WHIP endpoint and whoever owns sessions (the server's session
//! manager, or a test). The WHIP endpoint asks an [`IngestDirectory`] where a publish for
//! `(session_id, input_id)` may go; it checks the bearer token itself and feeds decoded
//! media into the slot's [`InputSender`]. When the session removes the slot (or ends), the
//! sender reports [`crate::session::InputClosed`] and the publisher is torn down.

use crate::session::{InputSender, SessionHandle};

/// Where a publisher may send media.
#[derive(Debug, Clone)]
pub struct IngestSlot {
    /// Bearer token the publisher must present (compared in constant time).
    pub token: String,
    /// The slot's media channel (stamped on the session clock).
    pub sender: InputSender,
    /// The session, for events ([`SessionHandle::emit`]) and its clock
    /// ([`SessionHandle::session_time`]).
    pub session: SessionHandle,
}

/// Why a publish target does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestLookupError {
    /// No such session.
    #[error("unknown session {0:?}")]
    UnknownSession(String),
    /// The session has no such input slot.
    #[error("unknown input {0:?}")]
    UnknownInput(String),
}

/// Looks up publish targets. Implemented by the server's session manager and by tests.
pub trait IngestDirectory: Send + Sync + 'static {
    /// The slot a publisher for `(session_id, input_id)` may feed, or why not.
    fn resolve(&self, session_id: &str, input_id: &str) -> Result<IngestSlot, IngestLookupError>;
}
