//! GPU rendering with wgpu: the shared device ([`GpuContext`]) and per-session
//! [`Renderer`]s. See `renderer.rs` for the per-frame flow and buffer ownership.

mod atlas;
mod context;
mod pipelines;
mod renderer;
mod upload;

pub use compositor_core::render::{FrameSource, ImageAsset, PLACEHOLDER, RenderTimings};
pub use context::{AdapterChoice, GpuContext, GpuError, GpuOptions, GpuWait};
pub use pipelines::RenderPath;
pub use renderer::Renderer;
