//! GPU rendering with wgpu: the shared device ([`GpuContext`]) and per-session
//! [`Renderer`]s. See `renderer.rs` for the per-frame flow and buffer ownership.

mod atlas;
mod context;
mod pipelines;
mod renderer;
mod upload;

pub use context::{AdapterChoice, GpuContext, GpuError};
pub use pipelines::RenderPath;
pub use renderer::{FrameSource, ImageAsset, PLACEHOLDER, RenderTimings, Renderer};
