//! Shader modules, bind group layouts and pipelines, created once per device and shared by
//! every renderer (they are immutable).

/// Canvas format: 16-bit float keeps I420 → RGB → I420 exact to well under one code value and
/// keeps out-of-gamut Y'CbCr combinations unclipped until the final conversion.
pub const CANVAS_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba16Float;

/// Per-item data, mirrored by `struct Item` in draw.wgsl (storage buffer, 144 bytes).
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
    pub mode: [u32; 4],
}

/// `struct Frame` in draw.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FrameData {
    pub canvas: [f32; 4],
}

/// `struct Params` in convert.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ConvertParams {
    pub k: [f32; 4],
    pub layout: [u32; 4],
}

pub(crate) struct Pipelines {
    pub draw_layout: wgpu::BindGroupLayout,
    pub convert_layout: wgpu::BindGroupLayout,
    pub draw: wgpu::RenderPipeline,
    pub convert: wgpu::ComputePipeline,
    pub sampler: wgpu::Sampler,
}

fn entry(
    binding: u32,
    visibility: wgpu::ShaderStages,
    ty: wgpu::BindingType,
) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty,
        count: None,
    }
}

fn texture(filterable: bool) -> wgpu::BindingType {
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
        let draw_module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("draw.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("draw.wgsl").into()),
        });
        let convert_module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("convert.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("convert.wgsl").into()),
        });
        let vf = wgpu::ShaderStages::VERTEX_FRAGMENT;
        let f = wgpu::ShaderStages::FRAGMENT;
        let draw_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("draw"),
            entries: &[
                entry(
                    0,
                    vf,
                    buffer(wgpu::BufferBindingType::Storage { read_only: true }),
                ),
                entry(1, vf, buffer(wgpu::BufferBindingType::Uniform)),
                entry(2, f, texture(true)),
                entry(3, f, texture(true)),
                entry(4, f, texture(true)),
                entry(5, f, texture(true)),
                entry(
                    6,
                    f,
                    wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                ),
            ],
        });
        let c = wgpu::ShaderStages::COMPUTE;
        let convert_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("convert"),
            entries: &[
                entry(0, c, texture(false)),
                entry(1, c, buffer(wgpu::BufferBindingType::Uniform)),
                entry(
                    2,
                    c,
                    buffer(wgpu::BufferBindingType::Storage { read_only: false }),
                ),
            ],
        });
        let draw_pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("draw"),
            bind_group_layouts: &[Some(&draw_layout)],
            immediate_size: 0,
        });
        let convert_pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("convert"),
            bind_group_layouts: &[Some(&convert_layout)],
            immediate_size: 0,
        });
        let over = wgpu::BlendComponent {
            src_factor: wgpu::BlendFactor::One,
            dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
            operation: wgpu::BlendOperation::Add,
        };
        let draw = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("draw items"),
            layout: Some(&draw_pl),
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
            label: Some("to I420"),
            layout: Some(&convert_pl),
            module: &convert_module,
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
        Pipelines {
            draw_layout,
            convert_layout,
            draw,
            convert,
            sampler,
        }
    }
}
