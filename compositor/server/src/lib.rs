//! # compositor-server — `serve`: sessions controlled over gRPC, published to over WHIP
//!
//! [`SessionManager`] keeps every running `compositor_core::session::Session` by id (each started with
//! `Session::start_with_events` and a compositor from `compositor_render::Gpus`), with its input slots (a random
//! bearer token and an `InputSender` each), images, layout, preview tap and
//! output control. It is the [`control_api::ControlBackend`] of the gRPC service and the
//! `IngestDirectory` (`compositor-webrtc`) of the WHIP endpoint.
//!
//! - `outputs.rs`: the one place that builds a session's sink + output control, and the one
//!   mapping from gRPC output requests onto `OutputSpec`.
//! - `preview.rs`: the sink wrapper behind `GetFrame`.
//! - `convert.rs`: engine values -> proto messages.
//! - `speaker.rs`: spotlight following the active speaker.
//! - `metrics.rs`: Prometheus text of every session.
//! - `config.rs`: `compositor serve` settings (the binary fills them from TOML, the
//!   environment and flags); `run.rs`: the runtime,
//!   listeners (gRPC, and THE HTTP router) and SIGINT/SIGTERM handling.
//!
//! Time: output times are `Duration`s on each session's clock; the proto carries whole ms.
//! Threads: manager methods run on tokio's blocking pool (gRPC) or the WHIP endpoint's
//! tasks; they block at most one frame, except a scheduled layout change, which waits for its
//! output time holding no lock.

mod backend;
pub mod config;
mod convert;
mod managed;
mod manager;
pub mod metrics;
pub mod outputs;
pub mod preview;
pub mod run;
pub mod speaker;

pub use manager::{ManagerSettings, SessionManager};
