//! # proto — the gRPC contract, package `compositor.v1`
//!
//! Will own `compositor.proto` (sessions, inputs, layouts, images, outputs, events, stats and
//! the PK battle messages) and the tonic/prost code generated from it, so that the server
//! (`control-api`), the `compositor ctl` client and the tests share one set of types.
//! Not yet generated: the gRPC issue adds the schema and the build step.
