//! Shader modules, bind group layouts and pipelines, created once per device and shared by
//! every renderer (they are immutable).
//!
//! WGSL has no includes: each module is `common.wgsl` (item and frame data, bindings,
//! sampling and shading) plus, where I420 is written, `i420.wgsl`, plus its own file.
//!
//! Two render paths share the item data, atlases and output layout (measured in
//! docs/benchmarks/render.md; chosen per adapter, `GpuOptions::render_path` forces it):
//! - **compute** (hardware): `compose.wgsl` blends every item and writes packed I420 in one
//!   dispatch. Datacenter GPUs (H100) have few graphics units: 1080p/2 inputs 0.76 ms vs
//!   1.17 ms with the raster path.
//! - **raster** (software adapter): `draw.wgsl` draws all items in one instanced draw onto an
//!   Rgba16Float canvas, `convert.wgsl` packs it to I420. llvmpipe runs this ~5x faster than
//!   the compute shader (its per-invocation arrays and loops vectorise poorly).

/// Canvas format of the raster path: 16-bit float keeps I420 → RGB → I420 within a fraction
/// of a code value and keeps out-of-gamut Y'CbCr unclipped until the final conversion.
pub const CANVAS_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba16Float;

/// Which shader path draws the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderPath {
    /// One compute dispatch (hardware GPUs).
    Compute,
    /// Instanced draw + conversion dispatch (software adapter).
    Raster,
}

/// Per-item data, mirrored by `struct Item` in common.wgsl (storage buffer, 128 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ItemData {
    pub dest: [f32; 4],
    pub uv: [f32; 4],
    pub clamp_l: [f32; 4],
    pub clamp_c: [f32; 4],
    pub color: [f32; 4],
    pub border_color: [f32; 4],
    pub params: [f32; 4],
    pub taps: [f32; 4],
}

/// `struct Frame` in compose.wgsl: per-frame constants.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FrameData {
    pub canvas: [f32; 4],
    pub bg: [f32; 4],
    pub k: [f32; 4],
    pub lay: [u32; 4],
}

pub(crate) struct Pipelines {
    pub layout: wgpu::BindGroupLayout,
    pub canvas_layout: wgpu::BindGroupLayout,
    pub compose: wgpu::ComputePipeline,
    pub draw: wgpu::RenderPipeline,
    pub convert: wgpu::ComputePipeline,
    pub sampler: wgpu::Sampler,
}

fn entry(binding: u32, ty: wgpu::BindingType) -> wgpu::BindGroupLayoutEntry {
    let visibility = wgpu::ShaderStages::VERTEX_FRAGMENT | wgpu::ShaderStages::COMPUTE;
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty,
        count: None,
    }
}

fn texture() -> wgpu::BindingType {
    texture_f(true)
}

fn texture_f(filterable: bool) -> wgpu::BindingType {
    wgpu::BindingType::Texture {
        sample_type: wgpu::TextureSampleType::Float { filterable },
        view_dimension: wgpu::TextureViewDimension::D2,
        multisampled: false,
    }
}

fn buffer(ty: wgpu::BufferBindingType) -> wgpu::BindingType {
    wgpu::BindingType::Buffer {
        ty,
        has_dynamic_offset: false,
        min_binding_size: None,
    }
}

impl Pipelines {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("compose.wgsl"),
            source: wgpu::ShaderSource::Wgsl(
                concat!(
                    include_str!("common.wgsl"),
                    include_str!("i420.wgsl"),
                    include_str!("compose.wgsl")
                )
                .into(),
            ),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("compose"),
            entries: &[
                entry(
                    0,
                    buffer(wgpu::BufferBindingType::Storage { read_only: true }),
                ),
                entry(1, buffer(wgpu::BufferBindingType::Uniform)),
                entry(2, texture()),
                entry(3, texture()),
                entry(4, texture()),
                entry(5, texture()),
                entry(
                    6,
                    wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                ),
                wgpu::BindGroupLayoutEntry {
                    binding: 7,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: buffer(wgpu::BufferBindingType::Storage { read_only: false }),
                    count: None,
                },
            ],
        });
        let canvas_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("canvas"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: texture_f(false),
                count: None,
            }],
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("compose"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let compose = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("compose + to I420"),
            layout: Some(&pl),
            module: &module,
            entry_point: Some("cs_main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("linear clamp"),
            address_mode_u: wgpu::AddressMode::ClampToEdge,
            address_mode_v: wgpu::AddressMode::ClampToEdge,
            address_mode_w: wgpu::AddressMode::ClampToEdge,
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        let draw_module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("draw.wgsl"),
            source: wgpu::ShaderSource::Wgsl(
                concat!(include_str!("common.wgsl"), include_str!("draw.wgsl")).into(),
            ),
        });
        let convert_module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("convert.wgsl"),
            source: wgpu::ShaderSource::Wgsl(
                concat!(
                    include_str!("common.wgsl"),
                    include_str!("i420.wgsl"),
                    include_str!("convert.wgsl")
                )
                .into(),
            ),
        });
        let convert_pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("convert"),
            bind_group_layouts: &[Some(&layout), Some(&canvas_layout)],
            immediate_size: 0,
        });
        let over = wgpu::BlendComponent {
            src_factor: wgpu::BlendFactor::One,
            dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
            operation: wgpu::BlendOperation::Add,
        };
        let draw = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("draw items"),
            layout: Some(&pl),
            vertex: wgpu::VertexState {
                module: &draw_module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &draw_module,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: CANVAS_FORMAT,
                    blend: Some(wgpu::BlendState {
                        color: over,
                        alpha: over,
                    }),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let convert = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("canvas to I420"),
            layout: Some(&convert_pl),
            module: &convert_module,
            entry_point: Some("cs_main"),
            compilation_options: Default::default(),
            cache: None,
        });
        Pipelines {
            layout,
            canvas_layout,
            compose,
            draw,
            convert,
            sampler,
        }
    }
}
