//! # Ingest: hosts publishing into input slots
//!
//! The contract between the WHIP endpoint and whoever owns sessions (the server's session
//! manager, or a test). The WHIP endpoint asks an [`IngestDirectory`] where a publish for
//! `(session_id, input_id)` may go; it checks the bearer token itself and feeds decoded
//! media into the slot's [`InputSender`]. When the session removes the slot (or ends), the
//! sender reports [`compositor_core::session::InputClosed`] and the publisher is torn down.
//!
//! ## The WHIP ingest (RFC 9725) built on it
//! - [`WhipServer`] ([`server`]): binds one UDP socket for every host, spawns the UDP loop
//!   ([`udp`]) on the caller's tokio runtime and gives the HTTP routes ([`http`]) to merge into
//!   the server's router. [`WhipConfig`] ([`config`]) holds its settings.
//! - Each host is a [`peer::Peer`]: a str0m `Rtc` (ICE-lite, answerer) owned by the UDP loop,
//!   one GStreamer decoder per track ([`decode`]) running on GStreamer's threads, decoded
//!   media handed to [`deliver::Delivery`] which sends it into the slot with its timing (the
//!   session thread places it: `compositor_core::session::TimedUnit`). Every decoded unit
//!   carries a [`MediaTiming`] (RTP time, clock rate, arrival instant, latest sender report)
//!   up to that send.
//! - Nothing on the media path blocks: hand-offs are bounded and drop with a counter.
//! - Threads: HTTP handlers on tokio workers; the UDP loop is one tokio task; decoders are
//!   GStreamer streaming threads. Time is `std::time::Instant`, read at the edges and passed
//!   into the sans-IO parts ([`timing`], [`offer`]).

pub mod config;
pub mod decode;
pub mod deliver;
pub mod http;
pub mod offer;
pub mod peer;
pub mod registry;
pub mod server;
pub mod stats;
pub mod timing;
pub mod udp;

pub use config::WhipConfig;
pub use server::{WhipError, WhipServer};
pub use stats::IngestStats;
pub use timing::MediaTiming;

use compositor_core::session::{InputSender, SessionHandle};

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
