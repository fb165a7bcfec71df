//! # proto — the gRPC contract, package `compositor.v1`
//!
//! `compositor.proto` (next to this crate's manifest) is the one schema; `build.rs` generates
//! the prost messages and the tonic client and server from it, so the server (`control-api`),
//! the `compositor ctl` client and the tests share one set of types. [`FILE_DESCRIPTOR_SET`]
//! is the encoded schema that server reflection serves.
//!
//! Units follow the schema's conventions: output times and durations in milliseconds on the
//! session's output clock, colours as 8-bit components.

/// Generated types of package `compositor.v1` (documented in `compositor.proto`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("compositor.v1");
}

/// The encoded `FileDescriptorSet` of `compositor.proto`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("compositor_v1_descriptor");

/// Full gRPC name of the control service.
pub const SERVICE_NAME: &str = "compositor.v1.Compositor";
