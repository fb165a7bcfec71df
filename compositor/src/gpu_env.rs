//! The graphics settings the environment may force, read once by the binary and handed to
//! the library crates as plain values (`compositor_render::Gpus`): `COMPOSITOR_ADAPTER`
//! (through the `--adapter` flag), `COMPOSITOR_GPU_WAIT=spin|block`,
//! `COMPOSITOR_RENDER_PATH=compute|raster` and `COMPOSITOR_COMPOSE=auto|gpu|cpu`.

use anyhow::bail;
use compositor_core::render::ComposeChoice;
use compositor_render::Gpus;
use compositor_render::gpu::{AdapterChoice, GpuOptions, GpuWait, RenderPath};

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The compose override of `COMPOSITOR_COMPOSE` (None when unset or `auto`).
pub fn compose_override() -> anyhow::Result<Option<ComposeChoice>> {
    match var("COMPOSITOR_COMPOSE") {
        None => Ok(None),
        Some(v) => {
            let c: ComposeChoice = v
                .parse()
                .map_err(|e| anyhow::anyhow!("COMPOSITOR_COMPOSE: {e}"))?;
            Ok((c != ComposeChoice::Auto).then_some(c))
        }
    }
}

/// Device options for `adapter` with the environment's wait and render-path settings.
pub fn gpu_options(adapter: AdapterChoice) -> anyhow::Result<GpuOptions> {
    let wait = match var("COMPOSITOR_GPU_WAIT").as_deref() {
        None => GpuWait::Auto,
        Some("spin") => GpuWait::Spin,
        Some("block") => GpuWait::Block,
        Some(other) => bail!("COMPOSITOR_GPU_WAIT={other:?}: use spin or block"),
    };
    let render_path = match var("COMPOSITOR_RENDER_PATH").as_deref() {
        None => None,
        Some("compute") => Some(RenderPath::Compute),
        Some("raster") => Some(RenderPath::Raster),
        Some(other) => bail!("COMPOSITOR_RENDER_PATH={other:?}: use compute or raster"),
    };
    Ok(GpuOptions {
        adapter,
        wait,
        render_path,
    })
}

/// Where sessions get their compositors: the device opened lazily with the environment's
/// options, and the compose override.
pub fn gpus(adapter: AdapterChoice) -> anyhow::Result<Gpus> {
    let mut gpus = Gpus::lazy(gpu_options(adapter)?);
    gpus.compose_override = compose_override()?;
    Ok(gpus)
}
