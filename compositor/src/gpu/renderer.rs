//! One session's renderer: draws a [`FramePlan`] from I420 inputs, images and colours onto a
//! GPU canvas and reads the result back as I420.
//!
//! Per frame (all on the calling thread, normally the session thread):
//! 1. changed input frames (new `seq`) and the item uniforms are written into the mapped
//!    upload [`Arena`]; unchanged inputs (a held frame) are not uploaded again;
//! 2. one command buffer: arena → R8 Y/U/V textures and the uniform buffer, draw the items in
//!    plan order onto the Rgba16Float canvas (I420 → R'G'B' in WGSL, BT.709 or BT.601 limited
//!    range per input), convert the canvas to Y (full size) and U+V (half size) R8 targets,
//!    copy those into the readback buffer with 256-byte row alignment;
//! 3. wait, copy the rows out into the caller's [`I420Frame`].
//!
//! Ownership: textures per input slot and per image, the canvas, the targets, the arena and
//! the readback buffer all belong to the renderer and are reused; they are re-created only
//! when a size changes (an input's resolution, a bigger plan). Images are uploaded once per
//! (id, generation). Inputs not used for [`Renderer::EVICT_AFTER`] frames are freed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use layouts::{Content, DrawItem, FramePlan, Rgba, Size};

use super::context::{GpuContext, GpuError};
use super::pipelines::{CANVAS_FORMAT, ConvertUniform, ITEM_UNIFORM_SIZE, ItemUniform};
use super::upload::{Arena, COPY_ALIGN, align_up, map_slot, take_map};
use crate::frame::{ColorMatrix, I420Frame, VideoFrame};

/// Colour drawn for an input slot that has no picture (not joined yet, or stalled).
pub const PLACEHOLDER: Rgba = Rgba::new(40, 40, 48, 255);

/// Where the renderer finds input frames: `(frame, seq)` where `seq` changes whenever the
/// frame's content does.
pub trait FrameSource {
    /// The frame to show for `input`, if any.
    fn frame(&self, input: &str) -> Option<(&VideoFrame, u64)>;
}

impl FrameSource for HashMap<String, (VideoFrame, u64)> {
    fn frame(&self, input: &str) -> Option<(&VideoFrame, u64)> {
        self.get(input).map(|(f, s)| (f, *s))
    }
}

/// A decoded RGBA image registered with a session (straight alpha, video gamma).
#[derive(Debug, Clone)]
pub struct ImageAsset {
    /// Bumped when the id is registered again with new content.
    pub generation: u64,
    /// Pixels.
    pub rgba: Arc<image::RgbaImage>,
}

/// Time spent in each stage of one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RenderTimings {
    /// CPU copy of changed planes into the arena (+ GPU copy when split).
    pub upload: Duration,
    /// Drawing + conversion (only measured separately in split mode).
    pub draw: Duration,
    /// Readback wait + copy out.
    pub readback: Duration,
    /// Whole frame.
    pub total: Duration,
    /// Input planes uploaded this frame.
    pub uploaded_inputs: u32,
}

struct PlaneTex {
    tex: wgpu::Texture,
    w: u32,
    h: u32,
}

struct SourceTex {
    size: (u32, u32),
    planes: [PlaneTex; 3],
    bind: wgpu::BindGroup,
    seq: Option<u64>,
    last_used: u64,
}

struct ImageTex {
    generation: u64,
    size: (u32, u32),
    bind: wgpu::BindGroup,
}

struct Target {
    tex: wgpu::Texture,
    view: wgpu::TextureView,
}

struct PlaneCopy {
    input: usize,
    plane: usize,
    offset: u64,
    pitch: u32,
}

/// Draws frame plans for one canvas size.
pub struct Renderer {
    ctx: Arc<GpuContext>,
    canvas: Size,
    out_matrix: ColorMatrix,
    canvas_target: Target,
    y_target: Target,
    u_target: Target,
    v_target: Target,
    convert_bind: wgpu::BindGroup,
    readback: wgpu::Buffer,
    rb_layout: [(u64, u32, u32, u32); 3],
    uniforms: wgpu::Buffer,
    uniform_capacity: u64,
    item_bind: wgpu::BindGroup,
    uniform_stride: u64,
    arena: Arena,
    sources: HashMap<String, SourceTex>,
    images: HashMap<String, ImageTex>,
    solid_bind: wgpu::BindGroup,
    frame_no: u64,
    scratch_uniforms: Vec<ItemUniform>,
    scratch_binds: Vec<Bind>,
    scratch_copies: Vec<PlaneCopy>,
    scratch_inputs: Vec<String>,
    missing_images_logged: std::collections::HashSet<String>,
}

#[derive(Clone)]
enum Bind {
    Source(String),
    Image(String),
    Solid,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Renderer({}x{})", self.canvas.w, self.canvas.h)
    }
}

fn target(
    device: &wgpu::Device,
    label: &str,
    w: u32,
    h: u32,
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> Target {
    let tex = device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    });
    let view = tex.create_view(&wgpu::TextureViewDescriptor::default());
    Target { tex, view }
}

fn rgba_f(c: Rgba) -> [f32; 4] {
    [
        f32::from(c.r) / 255.0,
        f32::from(c.g) / 255.0,
        f32::from(c.b) / 255.0,
        f32::from(c.a) / 255.0,
    ]
}

impl Renderer {
    /// Frames an unused input's textures are kept before being freed.
    pub const EVICT_AFTER: u64 = 300;

    /// A renderer for an even-sized canvas of `canvas` pixels (output matrix chosen from the
    /// height: BT.709 from 720 lines up, else BT.601).
    pub fn new(ctx: Arc<GpuContext>, canvas: Size) -> Result<Self, GpuError> {
        let max = ctx.device.limits().max_texture_dimension_2d;
        if canvas.w < 16
            || canvas.h < 16
            || canvas.w % 2 == 1
            || canvas.h % 2 == 1
            || canvas.w > max
            || canvas.h > max
        {
            return Err(GpuError::Unsupported(format!(
                "canvas {}x{} is not supported: sides must be even and within 16..={max}",
                canvas.w, canvas.h
            )));
        }
        let device = &ctx.device;
        let p = &ctx.pipelines;
        let canvas_target = target(
            device,
            "canvas",
            canvas.w,
            canvas.h,
            CANVAS_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
        );
        let plane_usage = wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC;
        let (cw, ch) = (canvas.w / 2, canvas.h / 2);
        let y_target = target(
            device,
            "out Y",
            canvas.w,
            canvas.h,
            wgpu::TextureFormat::R8Unorm,
            plane_usage,
        );
        let u_target = target(
            device,
            "out U",
            cw,
            ch,
            wgpu::TextureFormat::R8Unorm,
            plane_usage,
        );
        let v_target = target(
            device,
            "out V",
            cw,
            ch,
            wgpu::TextureFormat::R8Unorm,
            plane_usage,
        );
        let out_matrix = ColorMatrix::for_height(canvas.h);
        let (kr, kb) = out_matrix.kr_kb();
        let cu = ConvertUniform {
            k: [kr, kb, canvas.w as f32, canvas.h as f32],
        };
        let convert_uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("convert uniform"),
            size: std::mem::size_of::<ConvertUniform>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        ctx.queue
            .write_buffer(&convert_uniform, 0, bytemuck::bytes_of(&cu));
        let convert_bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("convert"),
            layout: &p.convert_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&canvas_target.view),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: convert_uniform.as_entire_binding(),
                },
            ],
        });
        let mut rb_layout = [(0u64, 0u32, 0u32, 0u32); 3];
        let mut off = 0u64;
        for (i, (w, h)) in [(canvas.w, canvas.h), (cw, ch), (cw, ch)]
            .into_iter()
            .enumerate()
        {
            let pitch = align_up(u64::from(w), u64::from(COPY_ALIGN)) as u32;
            rb_layout[i] = (off, pitch, w, h);
            off += u64::from(pitch) * u64::from(h);
        }
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: off,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let uniform_stride = ITEM_UNIFORM_SIZE.max(u64::from(
            device.limits().min_uniform_buffer_offset_alignment,
        ));
        let uniform_capacity = 32;
        let (uniforms, item_bind) = Self::make_uniforms(&ctx, uniform_stride, uniform_capacity);
        let dummy = target(
            device,
            "dummy",
            1,
            1,
            wgpu::TextureFormat::R8Unorm,
            wgpu::TextureUsages::TEXTURE_BINDING,
        );
        let solid_bind = Self::tex_bind(&ctx, [&dummy.view, &dummy.view, &dummy.view]);
        let arena = Arena::new(device, uniform_stride * uniform_capacity + 4 * 1024 * 1024);
        Ok(Renderer {
            ctx,
            canvas,
            out_matrix,
            canvas_target,
            y_target,
            u_target,
            v_target,
            convert_bind,
            readback,
            rb_layout,
            uniforms,
            uniform_capacity,
            item_bind,
            uniform_stride,
            arena,
            sources: HashMap::new(),
            images: HashMap::new(),
            solid_bind,
            frame_no: 0,
            scratch_uniforms: Vec::new(),
            scratch_binds: Vec::new(),
            scratch_copies: Vec::new(),
            scratch_inputs: Vec::new(),
            missing_images_logged: Default::default(),
        })
    }

    /// Canvas size.
    pub fn canvas(&self) -> Size {
        self.canvas
    }

    /// The matrix the output I420 uses.
    pub fn output_matrix(&self) -> ColorMatrix {
        self.out_matrix
    }

    /// The GPU context.
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    fn make_uniforms(
        ctx: &GpuContext,
        stride: u64,
        capacity: u64,
    ) -> (wgpu::Buffer, wgpu::BindGroup) {
        let buf = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("item uniforms"),
            size: stride * capacity,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("item uniforms"),
            layout: &ctx.pipelines.item_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &buf,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<ItemUniform>() as u64),
                }),
            }],
        });
        (buf, bind)
    }

    fn tex_bind(ctx: &GpuContext, views: [&wgpu::TextureView; 3]) -> wgpu::BindGroup {
        ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("item textures"),
            layout: &ctx.pipelines.tex_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(views[0]),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(views[1]),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::TextureView(views[2]),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::Sampler(&ctx.pipelines.sampler),
                },
            ],
        })
    }

    fn ensure_source(&mut self, id: &str, w: u32, h: u32) {
        if let Some(s) = self.sources.get(id) {
            if s.size == (w, h) {
                return;
            }
            tracing::info!(input = id, from = ?s.size, to = ?(w, h), "input resolution changed");
        }
        let device = &self.ctx.device;
        let usage = wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST;
        let (cw, ch) = crate::frame::chroma_size(w, h);
        let mk = |label: &str, w: u32, h: u32| {
            let t = target(device, label, w, h, wgpu::TextureFormat::R8Unorm, usage);
            (PlaneTex { tex: t.tex, w, h }, t.view)
        };
        let (py, vy) = mk("in Y", w, h);
        let (pu, vu) = mk("in U", cw, ch);
        let (pv, vv) = mk("in V", cw, ch);
        let bind = Self::tex_bind(&self.ctx, [&vy, &vu, &vv]);
        self.sources.insert(
            id.to_string(),
            SourceTex {
                size: (w, h),
                planes: [py, pu, pv],
                bind,
                seq: None,
                last_used: self.frame_no,
            },
        );
    }

    fn ensure_image(&mut self, id: &str, asset: &ImageAsset) -> bool {
        if self
            .images
            .get(id)
            .is_some_and(|t| t.generation == asset.generation)
        {
            return true;
        }
        let (w, h) = asset.rgba.dimensions();
        let max = self.ctx.device.limits().max_texture_dimension_2d;
        if w == 0 || h == 0 || w > max || h > max {
            return false;
        }
        let t = target(
            &self.ctx.device,
            "image",
            w,
            h,
            wgpu::TextureFormat::Rgba8Unorm,
            wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        );
        // One-time upload per (id, generation): not on the per-frame path.
        self.ctx.queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &t.tex,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            asset.rgba.as_raw(),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(4 * w),
                rows_per_image: Some(h),
            },
            wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
        );
        let bind = Self::tex_bind(&self.ctx, [&t.view, &t.view, &t.view]);
        self.images.insert(
            id.to_string(),
            ImageTex {
                generation: asset.generation,
                size: (w, h),
                bind,
            },
        );
        true
    }

    fn item_uniform(
        &self,
        item: &DrawItem,
        src: Size,
        mode: u32,
        matrix: ColorMatrix,
        color: Rgba,
    ) -> Option<ItemUniform> {
        let place = item.place(src);
        let d = place.dest;
        if d.w == 0 || d.h == 0 || item.opacity <= 0.0 || !item.opacity.is_finite() {
            return None;
        }
        // Entirely outside the canvas: nothing to draw.
        if d.x >= self.canvas.w as i32
            || d.y >= self.canvas.h as i32
            || d.x + d.w as i32 <= 0
            || d.y + d.h as i32 <= 0
        {
            return None;
        }
        let c = place.crop;
        let (sx, sy) = if src.w > 0 && src.h > 0 {
            (
                c.w * src.w as f32 / d.w as f32,
                c.h * src.h as f32 / d.h as f32,
            )
        } else {
            (1.0, 1.0)
        };
        // One bilinear tap covers a 2x2 footprint, so n taps cover up to 2n texels per pixel.
        let taps = |s: f32| (s / 2.0 - 0.01).ceil().clamp(1.0, 4.0);
        let (bw, bc) = match item.border {
            Some(b) if b.width > 0 => (b.width as f32, rgba_f(b.color)),
            _ => (0.0, [0.0; 4]),
        };
        Some(ItemUniform {
            dest: [d.x as f32, d.y as f32, d.w as f32, d.h as f32],
            crop: [c.u, c.v, c.w, c.h],
            canvas: [
                self.canvas.w as f32,
                self.canvas.h as f32,
                1.0 / self.canvas.w as f32,
                1.0 / self.canvas.h as f32,
            ],
            color: rgba_f(color),
            border_color: bc,
            params: [
                item.opacity.clamp(0.0, 1.0),
                item.corner_radius as f32,
                bw,
                0.0,
            ],
            taps: [taps(sx), taps(sy), c.w / d.w as f32, c.h / d.h as f32],
            mode: [mode, u32::from(matrix == ColorMatrix::Bt601), 0, 0],
        })
    }

    /// Renders `plan` into `out` (resized to the canvas if needed).
    pub fn render(
        &mut self,
        plan: &FramePlan,
        frames: &dyn FrameSource,
        images: &HashMap<String, ImageAsset>,
        out: &mut I420Frame,
    ) -> Result<RenderTimings, GpuError> {
        self.render_inner(plan, frames, images, out, false)
    }

    /// Like [`Renderer::render`] but waits for the GPU between upload, draw and readback so
    /// each stage can be timed (benchmarks only: slower than `render`).
    pub fn render_split(
        &mut self,
        plan: &FramePlan,
        frames: &dyn FrameSource,
        images: &HashMap<String, ImageAsset>,
        out: &mut I420Frame,
    ) -> Result<RenderTimings, GpuError> {
        self.render_inner(plan, frames, images, out, true)
    }

    fn wait(&self) -> Result<(), GpuError> {
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| GpuError::Poll(e.to_string()))
    }

    fn render_inner(
        &mut self,
        plan: &FramePlan,
        frames: &dyn FrameSource,
        images: &HashMap<String, ImageAsset>,
        out: &mut I420Frame,
        split: bool,
    ) -> Result<RenderTimings, GpuError> {
        let t0 = Instant::now();
        self.frame_no += 1;
        if plan.canvas != self.canvas {
            return Err(GpuError::Unsupported(format!(
                "plan is for {}x{} but the renderer draws {}x{}",
                plan.canvas.w, plan.canvas.h, self.canvas.w, self.canvas.h
            )));
        }
        let mut uniforms = std::mem::take(&mut self.scratch_uniforms);
        let mut binds = std::mem::take(&mut self.scratch_binds);
        let mut copies = std::mem::take(&mut self.scratch_copies);
        let mut inputs = std::mem::take(&mut self.scratch_inputs);
        uniforms.clear();
        binds.clear();
        copies.clear();
        inputs.clear();

        // Resolve every item: textures ready, uniforms computed, uploads listed.
        let mut upload_bytes = 0u64;
        for item in &plan.items {
            match &item.content {
                Content::Input(id) => match frames.frame(id) {
                    Some((frame, seq)) => {
                        let (w, h) = (frame.image.width(), frame.image.height());
                        self.ensure_source(id, w, h);
                        let Some(u) =
                            self.item_uniform(item, Size::new(w, h), 0, frame.matrix, Rgba::BLACK)
                        else {
                            continue;
                        };
                        if let Some(src) = self.sources.get_mut(id.as_str()) {
                            src.last_used = self.frame_no;
                            if src.seq != Some(seq) && !inputs.iter().any(|i| i == id) {
                                src.seq = Some(seq);
                                let idx = inputs.len();
                                inputs.push(id.clone());
                                for (pi, p) in src.planes.iter().enumerate() {
                                    let pitch =
                                        align_up(u64::from(p.w), u64::from(COPY_ALIGN)) as u32;
                                    copies.push(PlaneCopy {
                                        input: idx,
                                        plane: pi,
                                        offset: upload_bytes,
                                        pitch,
                                    });
                                    upload_bytes += u64::from(pitch) * u64::from(p.h);
                                }
                            }
                        }
                        uniforms.push(u);
                        binds.push(Bind::Source(id.clone()));
                    }
                    None => {
                        if let Some(u) = self.item_uniform(
                            item,
                            Size::new(0, 0),
                            2,
                            ColorMatrix::Bt709,
                            PLACEHOLDER,
                        ) {
                            uniforms.push(u);
                            binds.push(Bind::Solid);
                        }
                    }
                },
                Content::Image(id) => {
                    let ok = match images.get(id) {
                        Some(asset) => self.ensure_image(id, asset),
                        None => false,
                    };
                    if !ok {
                        if self.missing_images_logged.insert(id.clone()) {
                            tracing::warn!(image = %id, "image not registered or unusable; item skipped");
                        }
                        continue;
                    }
                    let size = self.images.get(id).map(|t| t.size).unwrap_or((0, 0));
                    if let Some(u) = self.item_uniform(
                        item,
                        Size::new(size.0, size.1),
                        1,
                        ColorMatrix::Bt709,
                        Rgba::BLACK,
                    ) {
                        uniforms.push(u);
                        binds.push(Bind::Image(id.clone()));
                    }
                }
                Content::Solid(c) => {
                    if let Some(u) =
                        self.item_uniform(item, Size::new(0, 0), 2, ColorMatrix::Bt709, *c)
                    {
                        uniforms.push(u);
                        binds.push(Bind::Solid);
                    }
                }
            }
        }

        // Grow the uniform buffer if this plan has more items than ever before.
        let n_items = uniforms.len() as u64;
        if n_items > self.uniform_capacity {
            let cap = n_items.next_power_of_two();
            let (b, g) = Self::make_uniforms(&self.ctx, self.uniform_stride, cap);
            self.uniforms = b;
            self.item_bind = g;
            self.uniform_capacity = cap;
        }
        let uniform_bytes = n_items * self.uniform_stride;
        let plane_base = align_up(uniform_bytes, 256);
        self.arena
            .ensure(&self.ctx.device, plane_base + upload_bytes)?;

        // CPU → arena.
        for (i, u) in uniforms.iter().enumerate() {
            self.arena
                .write(i as u64 * self.uniform_stride, bytemuck::bytes_of(u))?;
        }
        let mut uploaded = 0u32;
        for (idx, id) in inputs.iter().enumerate() {
            let Some((frame, _)) = frames.frame(id) else {
                continue;
            };
            let (y, u, v) = frame.image.planes();
            for c in copies.iter().filter(|c| c.input == idx) {
                let Some(src) = self.sources.get(id.as_str()) else {
                    continue;
                };
                let p = &src.planes[c.plane];
                let data = [y, u, v][c.plane];
                self.arena.write_rows(
                    plane_base + c.offset,
                    data,
                    p.w as usize,
                    p.h as usize,
                    c.pitch as usize,
                )?;
            }
            uploaded += 1;
        }
        self.arena.unmap();

        let device = &self.ctx.device;
        let queue = &self.ctx.queue;
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("frame"),
        });
        if uniform_bytes > 0 {
            enc.copy_buffer_to_buffer(&self.arena.buffer, 0, &self.uniforms, 0, uniform_bytes);
        }
        for c in &copies {
            let Some(src) = inputs
                .get(c.input)
                .and_then(|id| self.sources.get(id.as_str()))
            else {
                continue;
            };
            let p = &src.planes[c.plane];
            enc.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer: &self.arena.buffer,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: plane_base + c.offset,
                        bytes_per_row: Some(c.pitch),
                        rows_per_image: Some(p.h),
                    },
                },
                wgpu::TexelCopyTextureInfo {
                    texture: &p.tex,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::Extent3d {
                    width: p.w,
                    height: p.h,
                    depth_or_array_layers: 1,
                },
            );
        }
        let mut t_upload_done = Instant::now();
        if split {
            queue.submit(Some(enc.finish()));
            self.wait()?;
            t_upload_done = Instant::now();
            enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("draw"),
            });
        }

        // Draw.
        {
            let bg = rgba_f(plan.background);
            let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("canvas"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &self.canvas_target.view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color {
                            r: f64::from(bg[0]),
                            g: f64::from(bg[1]),
                            b: f64::from(bg[2]),
                            a: 1.0,
                        }),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(&self.ctx.pipelines.draw);
            for (i, b) in binds.iter().enumerate() {
                let tex = match b {
                    Bind::Source(id) => self.sources.get(id.as_str()).map(|s| &s.bind),
                    Bind::Image(id) => self.images.get(id.as_str()).map(|s| &s.bind),
                    Bind::Solid => Some(&self.solid_bind),
                };
                let Some(tex) = tex else { continue };
                pass.set_bind_group(
                    0,
                    &self.item_bind,
                    &[(i as u64 * self.uniform_stride) as u32],
                );
                pass.set_bind_group(1, tex, &[]);
                pass.draw(0..6, 0..1);
            }
        }
        for (pipeline, targets) in [
            (&self.ctx.pipelines.to_y, vec![&self.y_target.view]),
            (
                &self.ctx.pipelines.to_uv,
                vec![&self.u_target.view, &self.v_target.view],
            ),
        ] {
            let atts: Vec<Option<wgpu::RenderPassColorAttachment>> = targets
                .into_iter()
                .map(|view| {
                    Some(wgpu::RenderPassColorAttachment {
                        view,
                        depth_slice: None,
                        resolve_target: None,
                        ops: wgpu::Operations {
                            load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                            store: wgpu::StoreOp::Store,
                        },
                    })
                })
                .collect();
            let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("to I420"),
                color_attachments: &atts,
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &self.convert_bind, &[]);
            pass.draw(0..3, 0..1);
        }
        let mut t_draw_done = t_upload_done;
        if split {
            queue.submit(Some(enc.finish()));
            self.wait()?;
            t_draw_done = Instant::now();
            enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback"),
            });
        }
        for (i, t) in [&self.y_target, &self.u_target, &self.v_target]
            .into_iter()
            .enumerate()
        {
            let (off, pitch, w, h) = self.rb_layout[i];
            enc.copy_texture_to_buffer(
                wgpu::TexelCopyTextureInfo {
                    texture: &t.tex,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::TexelCopyBufferInfo {
                    buffer: &self.readback,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: off,
                        bytes_per_row: Some(pitch),
                        rows_per_image: Some(h),
                    },
                },
                wgpu::Extent3d {
                    width: w,
                    height: h,
                    depth_or_array_layers: 1,
                },
            );
        }
        queue.submit(Some(enc.finish()));
        self.arena.remap();
        let slot = map_slot();
        let s = slot.clone();
        self.readback.map_async(wgpu::MapMode::Read, .., move |r| {
            *s.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        });
        let res = loop {
            self.wait()?;
            if let Some(r) = take_map(&slot) {
                break r;
            }
        };
        res.map_err(|e| GpuError::Map(e.to_string()))?;
        if out.width() != self.canvas.w || out.height() != self.canvas.h {
            *out = I420Frame::black(self.canvas.w, self.canvas.h)
                .map_err(|e| GpuError::Unsupported(e.to_string()))?;
        }
        {
            let view = self
                .readback
                .get_mapped_range(..)
                .map_err(|e| GpuError::Map(e.to_string()))?;
            let (oy, ou, ov) = out.planes_mut();
            for (i, dst) in [oy, ou, ov].into_iter().enumerate() {
                let (off, pitch, w, h) = self.rb_layout[i];
                let (off, pitch, w) = (off as usize, pitch as usize, w as usize);
                for r in 0..h as usize {
                    dst[r * w..(r + 1) * w]
                        .copy_from_slice(&view[off + r * pitch..off + r * pitch + w]);
                }
            }
        }
        self.readback.unmap();

        // Free textures of inputs that left.
        let now = self.frame_no;
        self.sources
            .retain(|_, s| now - s.last_used < Self::EVICT_AFTER);

        let end = Instant::now();
        self.scratch_uniforms = uniforms;
        self.scratch_binds = binds;
        self.scratch_copies = copies;
        self.scratch_inputs = inputs;
        Ok(RenderTimings {
            upload: t_upload_done - t0,
            draw: if split {
                t_draw_done - t_upload_done
            } else {
                Duration::ZERO
            },
            readback: end - t_draw_done,
            total: end - t0,
            uploaded_inputs: uploaded,
        })
    }

    /// Forgets an image (e.g. unregistered); its texture is freed.
    pub fn drop_image(&mut self, id: &str) {
        self.images.remove(id);
    }
}
