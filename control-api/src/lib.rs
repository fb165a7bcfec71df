//! # control-api — the producer's console over gRPC
//!
//! Will own the tonic service for `compositor.v1`: it validates each request whole (ranges,
//! ids, sizes, NaN, empty strings), turns it into the session engine's commands
//! (`compositor::session::Command`), and maps refusals onto gRPC statuses
//! (`InvalidArgument` naming the field and bound, `NotFound`, `AlreadyExists`,
//! `FailedPrecondition`, `ResourceExhausted`). It holds no logic that the engine or the
//! `layouts` crate own. Reflection, `grpc.health.v1` and bearer-token auth live here too.
//! Not yet implemented: see the gRPC control API issue.
