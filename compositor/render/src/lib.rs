//! # compositor-render — the session's compositors
//!
//! [`gpu`]: the wgpu renderer (one device shared by every session, [`gpu::GpuContext`]);
//! [`soft`]: the CPU compositor, which needs no wgpu device at all. Both implement
//! `compositor_core::render::FrameRenderer` and draw the same pictures (the goldens hold for
//! both). [`Gpus`] builds the right one for a session ([`start_session`]).

mod compose;
pub mod gpu;
pub mod soft;

pub use compose::{Gpus, start_session};
