//! # control-api — the producer's console over gRPC
//!
//! The tonic service for `compositor.v1` ([`ControlService`]). It validates each request
//! whole (ids, ranges, NaN, empty strings, layouts against the session's canvas via
//! `layouts::plan`, output URLs and encoder settings) and only then calls a
//! [`ControlBackend`] — implemented by `compositor::server` — with already-validated domain
//! types; refusals map onto gRPC statuses (`InvalidArgument` naming the field and bound,
//! `NotFound`, `AlreadyExists`, `FailedPrecondition`, `ResourceExhausted`). It holds no logic
//! that the engine or the `layouts` crate own, and depends on neither `compositor` nor any
//! IO beyond its listener.
//!
//! [`serve`] runs the service with bearer-token auth ([`BearerAuth`]), server reflection and
//! `grpc.health.v1`, optionally over TLS.
//!
//! Threads: handlers run on the tokio runtime; backend calls (which may block up to about a
//! frame) run on tokio's blocking pool.

pub mod auth;
pub mod backend;
pub mod check;
pub mod layout;
pub mod output;
pub mod pk;
pub mod serve;
pub mod service;

pub use auth::BearerAuth;
pub use backend::{BackendError, ControlBackend};
pub use serve::{ServeError, ServeOptions, TlsPem, serve};
pub use service::ControlService;
