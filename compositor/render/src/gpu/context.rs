//! The one wgpu device shared by every session of the process.
//!
//! Adapter choice: [`AdapterChoice::Auto`] takes a hardware adapter (discrete, integrated or
//! virtual GPU) when one is present and falls back to a software one (Mesa lavapipe, device
//! type `Cpu`). [`GpuOptions::adapter`] (the binary reads `COMPOSITOR_ADAPTER`) forces either;
//! forcing one that is absent is an error, never a silent fallback. The log says which
//! adapter was taken.
//!
//! Thread-safety: `wgpu::Device` and `wgpu::Queue` are `Send + Sync`; sessions render from
//! their own threads through the same device. The shared pipelines are immutable.

use std::sync::{Arc, Mutex};

use tracing::info;

use super::pipelines::{Pipelines, RenderPath};

/// Which kind of adapter to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterChoice {
    /// Hardware when present, else software.
    #[default]
    Auto,
    /// A hardware GPU or an error.
    Hardware,
    /// The software adapter (lavapipe) or an error.
    Software,
}

impl std::str::FromStr for AdapterChoice {
    type Err = GpuError;
    fn from_str(s: &str) -> Result<Self, GpuError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(AdapterChoice::Auto),
            "hardware" | "hw" | "gpu" => Ok(AdapterChoice::Hardware),
            "software" | "sw" | "cpu" => Ok(AdapterChoice::Software),
            other => Err(GpuError::BadChoice(other.to_string())),
        }
    }
}

/// How frame completion is awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GpuWait {
    /// Spin on hardware (lower latency), block on the software adapter (its rasterizer
    /// threads need the CPU).
    #[default]
    Auto,
    /// Always poll.
    Spin,
    /// Always block.
    Block,
}

/// How the device is opened (the binary fills this from flags and `COMPOSITOR_ADAPTER`,
/// `COMPOSITOR_GPU_WAIT`, `COMPOSITOR_RENDER_PATH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GpuOptions {
    /// Which adapter.
    pub adapter: AdapterChoice,
    /// How frame completion is awaited.
    pub wait: GpuWait,
    /// Which shader path (None: compute on hardware, raster on the software adapter).
    pub render_path: Option<RenderPath>,
}

impl From<AdapterChoice> for GpuOptions {
    fn from(adapter: AdapterChoice) -> Self {
        GpuOptions {
            adapter,
            ..GpuOptions::default()
        }
    }
}

/// GPU set-up and rendering failures.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// Unknown adapter choice string.
    #[error("unknown adapter choice {0:?}: use auto, hardware or software")]
    BadChoice(String),
    /// No adapter of the requested kind.
    #[error(
        "no {0} graphics adapter found (adapters seen: {1}); on Debian install mesa-vulkan-drivers and libvulkan1 (scripts/setup.sh)"
    )]
    NoAdapter(&'static str, String),
    /// Device creation failed.
    #[error("could not open the graphics device: {0}")]
    Device(#[from] wgpu::RequestDeviceError),
    /// A wgpu validation or out-of-memory error during rendering.
    #[error("GPU error: {0}")]
    Wgpu(String),
    /// Waiting for the GPU failed or timed out.
    #[error("GPU wait failed: {0}")]
    Poll(String),
    /// Mapping a readback buffer failed.
    #[error("GPU buffer map failed: {0}")]
    Map(String),
    /// A size outside what the renderer supports.
    #[error("{0}")]
    Unsupported(String),
}

/// The process-wide device, queue and shared pipelines.
pub struct GpuContext {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// What adapter it runs on.
    pub info: wgpu::AdapterInfo,
    pub(crate) pipelines: Pipelines,
    errors: Arc<Mutex<Vec<String>>>,
    spin_wait: bool,
    render_path: RenderPath,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.info.name)
            .finish()
    }
}

static SHARED: Mutex<Option<Arc<GpuContext>>> = Mutex::new(None);

impl GpuContext {
    /// The process-wide context, created on first use with `choice`. Later calls return the
    /// same device whatever they ask (one device serves all sessions).
    pub fn shared(options: impl Into<GpuOptions>) -> Result<Arc<GpuContext>, GpuError> {
        let mut guard = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ctx) = guard.as_ref() {
            return Ok(ctx.clone());
        }
        let ctx = Arc::new(Self::new(options)?);
        *guard = Some(ctx.clone());
        Ok(ctx)
    }

    /// Opens a new device (tests and benchmarks; servers use [`GpuContext::shared`]).
    pub fn new(options: impl Into<GpuOptions>) -> Result<GpuContext, GpuError> {
        let GpuOptions {
            adapter: choice,
            wait,
            render_path: path,
        } = options.into();
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::from_env()
                .unwrap_or(wgpu::Backends::VULKAN | wgpu::Backends::GL),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        let seen: Vec<String> = adapters
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("{} ({:?}, {:?})", i.name, i.device_type, i.backend)
            })
            .collect();
        let seen = if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join("; ")
        };
        let rank = |a: &wgpu::Adapter| -> i32 {
            let i = a.get_info();
            let kind = match i.device_type {
                wgpu::DeviceType::DiscreteGpu => 40,
                wgpu::DeviceType::IntegratedGpu => 30,
                wgpu::DeviceType::VirtualGpu => 20,
                wgpu::DeviceType::Other => 10,
                wgpu::DeviceType::Cpu => 0,
            };
            let backend = if i.backend == wgpu::Backend::Vulkan {
                5
            } else {
                0
            };
            kind + backend
        };
        let is_sw = |a: &wgpu::Adapter| a.get_info().device_type == wgpu::DeviceType::Cpu;
        let mut candidates: Vec<wgpu::Adapter> = adapters
            .into_iter()
            .filter(|a| match choice {
                AdapterChoice::Auto => true,
                AdapterChoice::Hardware => !is_sw(a),
                AdapterChoice::Software => is_sw(a),
            })
            .collect();
        candidates.sort_by_key(|a| -rank(a));
        let Some(adapter) = candidates.into_iter().next() else {
            let what = match choice {
                AdapterChoice::Auto => "usable",
                AdapterChoice::Hardware => "hardware",
                AdapterChoice::Software => "software",
            };
            return Err(GpuError::NoAdapter(what, seen));
        };
        let info = adapter.get_info();
        let kind = if info.device_type == wgpu::DeviceType::Cpu {
            "software"
        } else {
            "hardware"
        };
        info!(adapter = %info.name, backend = ?info.backend, driver = %info.driver, kind, ?choice, "graphics adapter selected");
        let (device, queue) =
            pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
                label: Some("compositor"),
                required_features: wgpu::Features::empty(),
                required_limits: adapter.limits(),
                ..Default::default()
            }))?;
        // wgpu's default is to panic on an uncaptured error; a server must not. Errors are
        // recorded here and surface as `GpuError::Wgpu` from the next render.
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            tracing::error!(error = %e, "GPU error");
            let mut v = sink.lock().unwrap_or_else(|p| p.into_inner());
            if v.len() < 16 {
                v.push(e.to_string());
            }
        }));
        let pipelines = Pipelines::new(&device);
        // Waiting for frame completion: spin on hardware (lower latency), block on the software
        // adapter (its rasterizer threads need the CPU). COMPOSITOR_GPU_WAIT=spin|block forces.
        let spin_wait = match wait {
            GpuWait::Spin => true,
            GpuWait::Block => false,
            GpuWait::Auto => info.device_type != wgpu::DeviceType::Cpu,
        };
        let render_path = match path {
            Some(p) => p,
            None if info.device_type == wgpu::DeviceType::Cpu => RenderPath::Raster,
            None => RenderPath::Compute,
        };
        info!(?render_path, spin_wait, "render path");
        let ctx = GpuContext {
            device,
            queue,
            info,
            pipelines,
            errors,
            spin_wait,
            render_path,
        };
        if let Some(e) = ctx.take_error() {
            return Err(GpuError::Wgpu(format!("pipeline creation failed: {e}")));
        }
        Ok(ctx)
    }

    /// The first GPU error recorded since the last call, if any.
    pub fn take_error(&self) -> Option<String> {
        let mut v = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if v.is_empty() {
            None
        } else {
            Some(v.drain(..).collect::<Vec<_>>().join("; "))
        }
    }

    /// Whether frame completion is awaited by polling (hardware) or blocking (software).
    pub fn spin_wait(&self) -> bool {
        self.spin_wait
    }

    /// Which shader path renders frames (see `pipelines.rs`).
    pub fn render_path(&self) -> RenderPath {
        self.render_path
    }

    /// True when running on a software (CPU) adapter.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }
}
