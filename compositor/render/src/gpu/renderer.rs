//! One session's renderer: draws a [`FramePlan`] from I420 inputs, images and colours onto a
//! GPU canvas and reads the result back as I420.
//!
//! Per frame (all on the calling thread, normally the session thread):
//! 1. changed input frames (new `seq`) and the per-item data are written into the mapped
//!    upload [`Arena`]; unchanged inputs (a held frame) are not uploaded again;
//! 2. one command buffer: arena → the input planes' places in the R8 Y/U/V atlases (rows
//!    256-byte aligned) and the item storage buffer; **one instanced draw** of every item in
//!    plan order onto the Rgba16Float canvas (I420 → R'G'B' in WGSL, BT.709 or BT.601 limited
//!    range per input); one compute dispatch converts the canvas to packed I420 in a storage
//!    buffer, copied into the readback buffer;
//! 3. wait, copy the rows out into the caller's [`I420Frame`].
//!
//! Ownership: the atlases (inputs, images), the canvas, the item and output buffers, the
//! arena and the readback buffer belong to the renderer and are reused; atlases are re-packed
//! only when an input joins, leaves (after [`Renderer::EVICT_AFTER`] unused frames) or changes
//! resolution, or an image is (re)registered. Images are uploaded once per (id, generation).
//! An input item without a frame is drawn as its [`FrameSource::placeholder_image`] (through
//! the image atlas, with the item's fit, crop, corners, border and opacity) when that image is
//! registered, else as the solid [`PLACEHOLDER`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use layouts::{Content, DrawItem, FramePlan, Rgba, Size};

use super::atlas::{Packing, Slot, pack};
use super::context::{GpuContext, GpuError};
use super::pipelines::{CANVAS_FORMAT, FrameData, ItemData, RenderPath};
use super::upload::{Arena, COPY_ALIGN, align_up, map_slot, take_map};
use compositor_core::frame::{ColorMatrix, I420Frame, VideoFrame};
use compositor_core::render::{FrameSource, ImageAsset, PLACEHOLDER, RenderTimings};

struct Tex {
    tex: wgpu::Texture,
    view: wgpu::TextureView,
}

fn texture(
    device: &wgpu::Device,
    label: &str,
    w: u32,
    h: u32,
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> Tex {
    let tex = device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width: w.max(1),
            height: h.max(1),
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
    Tex { tex, view }
}

const ATLAS_USAGE: wgpu::TextureUsages =
    wgpu::TextureUsages::TEXTURE_BINDING.union(wgpu::TextureUsages::COPY_DST);

/// Y, U and V atlases of every input's current picture.
struct InputAtlas {
    packing: Packing,
    y: Tex,
    u: Tex,
    v: Tex,
}

impl InputAtlas {
    fn new(device: &wgpu::Device, packing: Packing) -> Self {
        let (w, h) = (packing.width, packing.height);
        let r8 = wgpu::TextureFormat::R8Unorm;
        InputAtlas {
            y: texture(device, "atlas Y", w, h, r8, ATLAS_USAGE),
            u: texture(device, "atlas U", w / 2, h / 2, r8, ATLAS_USAGE),
            v: texture(device, "atlas V", w / 2, h / 2, r8, ATLAS_USAGE),
            packing,
        }
    }
}

/// RGBA atlas of registered images in use.
struct ImageAtlas {
    packing: Packing,
    tex: Tex,
    generations: HashMap<String, u64>,
}

struct InputState {
    size: (u32, u32),
    seq: Option<u64>,
    last_used: u64,
}

struct PlaneCopy {
    input: usize,
    plane: usize,
    offset: u64,
    pitch: u32,
}

/// Byte layout of the packed I420 output buffer written by the convert shader.
#[derive(Debug, Clone, Copy)]
struct OutLayout {
    y_pitch: u32,
    c_pitch: u32,
    u_off: u64,
    v_off: u64,
    total: u64,
}

/// Draws frame plans for one canvas size.
pub struct Renderer {
    ctx: Arc<GpuContext>,
    canvas: Size,
    out_matrix: ColorMatrix,
    frame_uniform: wgpu::Buffer,
    /// Raster path only: the Rgba16Float canvas and its bind group for the conversion.
    raster: Option<(Tex, wgpu::BindGroup)>,
    out_layout: OutLayout,
    out_buf: wgpu::Buffer,
    readback: wgpu::Buffer,
    items_buf: wgpu::Buffer,
    items_capacity: u64,
    inputs_atlas: InputAtlas,
    images_atlas: ImageAtlas,
    draw_bind: Option<wgpu::BindGroup>,
    arena: Arena,
    readback_slot: super::upload::MapSlot,
    inputs: HashMap<String, InputState>,
    frame_no: u64,
    max_side: u32,
    scratch_items: Vec<ItemData>,
    scratch_copies: Vec<PlaneCopy>,
    scratch_inputs: Vec<String>,
    missing_images_logged: std::collections::HashSet<String>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Renderer({}x{})", self.canvas.w, self.canvas.h)
    }
}

fn rgba_f(c: Rgba) -> [f32; 4] {
    [
        f32::from(c.r) / 255.0,
        f32::from(c.g) / 255.0,
        f32::from(c.b) / 255.0,
        f32::from(c.a) / 255.0,
    ]
}

const ITEM_SIZE: u64 = std::mem::size_of::<ItemData>() as u64;
/// Bytes reserved for the frame constants at the start of the arena.
const FRAME_BYTES: u64 = 256;

impl Renderer {
    /// Frames an unused input keeps its place in the atlas.
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
        let out_matrix = ColorMatrix::for_height(canvas.h);
        let y_pitch = canvas.w.next_multiple_of(8);
        let c_pitch = y_pitch / 2;
        let u_off = u64::from(y_pitch) * u64::from(canvas.h);
        let v_off = u_off + u64::from(c_pitch) * u64::from(canvas.h / 2);
        let out_layout = OutLayout {
            y_pitch,
            c_pitch,
            u_off,
            v_off,
            total: v_off + u64::from(c_pitch) * u64::from(canvas.h / 2),
        };
        let mk_buf = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        let frame_uniform = mk_buf(
            "frame",
            std::mem::size_of::<FrameData>() as u64,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );
        let out_buf = mk_buf(
            "I420 out",
            out_layout.total,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let readback = mk_buf(
            "readback",
            out_layout.total,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let raster = (ctx.render_path() == RenderPath::Raster).then(|| {
            let tex = texture(
                device,
                "canvas",
                canvas.w,
                canvas.h,
                CANVAS_FORMAT,
                wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
            );
            let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("canvas"),
                layout: &ctx.pipelines.canvas_layout,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&tex.view),
                }],
            });
            (tex, bind)
        });
        let items_capacity = 32;
        let items_buf = mk_buf(
            "items",
            ITEM_SIZE * items_capacity,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        );
        let empty = Packing {
            width: 2,
            height: 2,
            slots: Default::default(),
        };
        let inputs_atlas = InputAtlas::new(device, empty.clone());
        let images_atlas = ImageAtlas {
            tex: texture(
                device,
                "atlas RGBA",
                2,
                2,
                wgpu::TextureFormat::Rgba8Unorm,
                ATLAS_USAGE,
            ),
            packing: empty,
            generations: HashMap::new(),
        };
        let arena = Arena::new(
            device,
            FRAME_BYTES + ITEM_SIZE * items_capacity + 8 * 1024 * 1024,
        );
        let mut renderer = Renderer {
            ctx,
            canvas,
            out_matrix,
            frame_uniform,
            raster,
            out_layout,
            out_buf,
            readback,
            items_buf,
            items_capacity,
            inputs_atlas,
            images_atlas,
            draw_bind: None,
            arena,
            readback_slot: map_slot(),
            inputs: HashMap::new(),
            frame_no: 0,
            max_side: max,
            scratch_items: Vec::new(),
            scratch_copies: Vec::new(),
            scratch_inputs: Vec::new(),
            missing_images_logged: Default::default(),
        };
        renderer.warm_up()?;
        Ok(renderer)
    }

    /// Renders one throw-away frame so shader compilation (the software adapter JIT-compiles
    /// on first use) happens at set-up, not on the first tick of a real-time session.
    fn warm_up(&mut self) -> Result<(), GpuError> {
        let plan = FramePlan {
            canvas: self.canvas,
            background: Rgba::BLACK,
            items: vec![DrawItem {
                key: "warm-up".into(),
                content: Content::Solid(PLACEHOLDER),
                cell: layouts::Rect::new(0, 0, self.canvas.w / 2 * 2, self.canvas.h / 2 * 2),
                fit: layouts::Fit::Stretch,
                z: 0,
                opacity: 1.0,
                corner_radius: 8,
                border: None,
            }],
            regions: Vec::new(),
        };
        let mut out = I420Frame::black(self.canvas.w, self.canvas.h)
            .map_err(|e| GpuError::Unsupported(e.to_string()))?;
        let no_frames: HashMap<String, (VideoFrame, u64)> = HashMap::new();
        self.render(&plan, &no_frames, &HashMap::new(), &mut out)?;
        self.frame_no = 0;
        Ok(())
    }

    /// Canvas size.
    pub fn canvas(&self) -> Size {
        self.canvas
    }

    /// The matrix the output I420 uses.
    pub fn output_matrix(&self) -> ColorMatrix {
        self.out_matrix
    }

    /// Re-packs the input atlas if an input is new or changed size. Returns an error when the
    /// inputs cannot fit in one texture of the device's maximum size.
    fn ensure_inputs(&mut self, needed: &[(&str, u32, u32)]) -> Result<(), GpuError> {
        let fits = needed.iter().all(|(id, w, h)| {
            self.inputs_atlas
                .packing
                .slots
                .get(*id)
                .is_some_and(|s| (s.w, s.h) == (*w, *h))
        });
        if fits {
            return Ok(());
        }
        for (id, w, h) in needed {
            let st = self.inputs.entry(id.to_string()).or_insert(InputState {
                size: (*w, *h),
                seq: None,
                last_used: self.frame_no,
            });
            if st.size != (*w, *h) {
                tracing::info!(input = %id, from = ?st.size, to = ?(w, h), "input resolution changed");
                st.size = (*w, *h);
            }
        }
        let now = self.frame_no;
        self.inputs.retain(|id, s| {
            now - s.last_used < Self::EVICT_AFTER || needed.iter().any(|n| n.0 == id)
        });
        let mut list: Vec<(String, u32, u32)> = self
            .inputs
            .iter()
            .map(|(id, s)| (id.clone(), s.size.0, s.size.1))
            .collect();
        list.sort();
        let packing = pack(&list, self.max_side).ok_or_else(|| {
            GpuError::Unsupported(format!(
                "{} inputs do not fit in one {}x{} atlas",
                list.len(),
                self.max_side,
                self.max_side
            ))
        })?;
        tracing::debug!(
            inputs = list.len(),
            w = packing.width,
            h = packing.height,
            "input atlas re-packed"
        );
        self.inputs_atlas = InputAtlas::new(&self.ctx.device, packing);
        for s in self.inputs.values_mut() {
            s.seq = None;
        }
        self.draw_bind = None;
        Ok(())
    }

    /// Re-packs and re-uploads the image atlas if an image in use is new or changed.
    fn ensure_images(
        &mut self,
        used: &[&str],
        images: &HashMap<String, ImageAsset>,
    ) -> Result<(), GpuError> {
        let fresh = used.iter().all(|id| {
            images
                .get(*id)
                .is_some_and(|a| self.images_atlas.generations.get(*id) == Some(&a.generation))
        });
        if fresh {
            return Ok(());
        }
        let mut list: Vec<(String, u32, u32)> = Vec::new();
        for id in used {
            if let Some(a) = images.get(*id) {
                let (w, h) = a.rgba.dimensions();
                if w > 0 && h > 0 && !list.iter().any(|l| l.0 == *id) {
                    list.push((id.to_string(), w, h));
                }
            }
        }
        list.sort();
        let packing = pack(&list, self.max_side)
            .ok_or_else(|| GpuError::Unsupported("images in use do not fit in one atlas".into()))?;
        let tex = texture(
            &self.ctx.device,
            "atlas RGBA",
            packing.width,
            packing.height,
            wgpu::TextureFormat::Rgba8Unorm,
            ATLAS_USAGE,
        );
        let mut generations = HashMap::new();
        // One-time upload per (id, generation): not on the per-frame path.
        for (id, slot) in &packing.slots {
            let Some(a) = images.get(id) else { continue };
            self.ctx.queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture: &tex.tex,
                    mip_level: 0,
                    origin: wgpu::Origin3d {
                        x: slot.x,
                        y: slot.y,
                        z: 0,
                    },
                    aspect: wgpu::TextureAspect::All,
                },
                a.rgba.as_raw(),
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(4 * slot.w),
                    rows_per_image: Some(slot.h),
                },
                wgpu::Extent3d {
                    width: slot.w,
                    height: slot.h,
                    depth_or_array_layers: 1,
                },
            );
            generations.insert(id.clone(), a.generation);
        }
        self.images_atlas = ImageAtlas {
            packing,
            tex,
            generations,
        };
        self.draw_bind = None;
        Ok(())
    }

    fn bind(&mut self) -> &wgpu::BindGroup {
        let ctx = &self.ctx;
        let (ia, im) = (&self.inputs_atlas, &self.images_atlas);
        let (items, frame, out) = (&self.items_buf, &self.frame_uniform, &self.out_buf);
        self.draw_bind.get_or_insert_with(|| {
            ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("compose"),
                layout: &ctx.pipelines.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: items.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: frame.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: wgpu::BindingResource::TextureView(&ia.y.view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: wgpu::BindingResource::TextureView(&ia.u.view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 4,
                        resource: wgpu::BindingResource::TextureView(&ia.v.view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 5,
                        resource: wgpu::BindingResource::TextureView(&im.tex.view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 6,
                        resource: wgpu::BindingResource::Sampler(&ctx.pipelines.sampler),
                    },
                    wgpu::BindGroupEntry {
                        binding: 7,
                        resource: out.as_entire_binding(),
                    },
                ],
            })
        })
    }

    /// Builds one item's data; None when nothing of it would be visible.
    #[allow(clippy::too_many_arguments)]
    fn item_data(
        &self,
        item: &DrawItem,
        src: Size,
        slot: Option<(Slot, u32, u32)>,
        mode: u32,
        matrix: ColorMatrix,
        color: Rgba,
    ) -> Option<ItemData> {
        let place = compositor_core::render::visible_placement(item, src, self.canvas)?;
        let d = place.dest;
        let c = place.crop;
        let (mut uv, mut clamp_l, mut clamp_c, mut taps) =
            ([0.0; 4], [0.0; 4], [0.0; 4], [1.0, 1.0, 0.0, 0.0]);
        if let Some((s, aw, ah)) = slot {
            let (aw, ah) = (aw as f32, ah as f32);
            let (sx, sy, sw, sh) = (s.x as f32, s.y as f32, s.w as f32, s.h as f32);
            uv = [
                (sx + c.u * sw) / aw,
                (sy + c.v * sh) / ah,
                c.w * sw / aw,
                c.h * sh / ah,
            ];
            clamp_l = [
                (sx + 0.5) / aw,
                (sy + 0.5) / ah,
                (sx + sw - 0.5) / aw,
                (sy + sh - 0.5) / ah,
            ];
            let (cw, ch) = ((s.w.div_ceil(2)) as f32, (s.h.div_ceil(2)) as f32);
            let (caw, cah) = (aw / 2.0, ah / 2.0);
            clamp_c = [
                (sx / 2.0 + 0.5) / caw,
                (sy / 2.0 + 0.5) / cah,
                (sx / 2.0 + cw - 0.5) / caw,
                (sy / 2.0 + ch - 0.5) / cah,
            ];
            // One bilinear tap covers a 2x2 footprint, so n taps cover up to 2n texels.
            let n = |scale: f32| (scale / 2.0 - 0.01).ceil().clamp(1.0, 4.0);
            taps = [
                n(c.w * sw / d.w as f32),
                n(c.h * sh / d.h as f32),
                uv[2] / d.w as f32,
                uv[3] / d.h as f32,
            ];
        }
        let (bw, bc) = match item.border {
            Some(b) if b.width > 0 => (b.width as f32, rgba_f(b.color)),
            _ => (0.0, [0.0; 4]),
        };
        Some(ItemData {
            dest: [d.x as f32, d.y as f32, d.w as f32, d.h as f32],
            uv,
            clamp_l,
            clamp_c,
            color: rgba_f(color),
            border_color: bc,
            params: [
                item.opacity.clamp(0.0, 1.0),
                item.corner_radius as f32,
                bw,
                // Content mode and colour matrix in one float (see common.wgsl).
                (mode * 2 + u32::from(matrix == ColorMatrix::Bt601)) as f32,
            ],
            taps,
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
        // Which inputs and images this plan needs, and their sizes.
        let mut needed: Vec<(&str, u32, u32)> = Vec::new();
        let mut used_images: Vec<&str> = Vec::new();
        for item in &plan.items {
            match &item.content {
                Content::Input(id) => match frames.frame(id) {
                    Some((f, _)) => {
                        if !needed.iter().any(|n| n.0 == id) {
                            needed.push((id, f.image.width(), f.image.height()));
                        }
                    }
                    None => {
                        if let Some(pid) = frames.placeholder_image(id)
                            && images.contains_key(pid)
                        {
                            used_images.push(pid);
                        }
                    }
                },
                Content::Image(id) => {
                    if images.contains_key(id) {
                        used_images.push(id);
                    } else if self.missing_images_logged.insert(id.clone()) {
                        tracing::warn!(image = %id, "image not registered; item skipped");
                    }
                }
                Content::Solid(_) => {}
            }
        }
        self.ensure_inputs(&needed)?;
        self.ensure_images(&used_images, images)?;

        let mut items = std::mem::take(&mut self.scratch_items);
        let mut copies = std::mem::take(&mut self.scratch_copies);
        let mut uploads = std::mem::take(&mut self.scratch_inputs);
        items.clear();
        copies.clear();
        // `uploads[..n_up]` are this frame's; the strings beyond are kept for reuse.
        let mut n_up = 0usize;
        let mut upload_bytes = 0u64;
        let (iaw, iah) = (
            self.inputs_atlas.packing.width,
            self.inputs_atlas.packing.height,
        );
        let (maw, mah) = (
            self.images_atlas.packing.width,
            self.images_atlas.packing.height,
        );
        for item in &plan.items {
            let data = match &item.content {
                Content::Input(id) => {
                    match (frames.frame(id), self.inputs_atlas.packing.slots.get(id)) {
                        (Some((frame, seq)), Some(&slot)) => {
                            if let Some(st) = self.inputs.get_mut(id.as_str()) {
                                st.last_used = self.frame_no;
                                if st.seq != Some(seq) && !uploads[..n_up].iter().any(|u| u == id) {
                                    st.seq = Some(seq);
                                    let idx = n_up;
                                    match uploads.get_mut(n_up) {
                                        Some(u) => u.clone_from(id),
                                        None => uploads.push(id.clone()),
                                    }
                                    n_up += 1;
                                    let (cw, ch) = frame.image.chroma_size();
                                    for (pi, (w, h)) in [(slot.w, slot.h), (cw, ch), (cw, ch)]
                                        .into_iter()
                                        .enumerate()
                                    {
                                        let pitch =
                                            align_up(u64::from(w), u64::from(COPY_ALIGN)) as u32;
                                        copies.push(PlaneCopy {
                                            input: idx,
                                            plane: pi,
                                            offset: upload_bytes,
                                            pitch,
                                        });
                                        upload_bytes += u64::from(pitch) * u64::from(h);
                                    }
                                }
                            }
                            let size = Size::new(frame.image.width(), frame.image.height());
                            self.item_data(
                                item,
                                size,
                                Some((slot, iaw, iah)),
                                0,
                                frame.matrix,
                                Rgba::BLACK,
                            )
                        }
                        _ => {
                            // No picture: the input's placeholder image if it has a
                            // registered one (drawn like an image item), else the solid colour.
                            let ph = frames
                                .placeholder_image(id)
                                .filter(|pid| images.contains_key(*pid))
                                .and_then(|pid| self.images_atlas.packing.slots.get(pid));
                            match ph {
                                Some(&slot) => self.item_data(
                                    item,
                                    Size::new(slot.w, slot.h),
                                    Some((slot, maw, mah)),
                                    1,
                                    ColorMatrix::Bt709,
                                    Rgba::BLACK,
                                ),
                                None => self.item_data(
                                    item,
                                    Size::new(0, 0),
                                    None,
                                    2,
                                    ColorMatrix::Bt709,
                                    PLACEHOLDER,
                                ),
                            }
                        }
                    }
                }
                Content::Image(id) => match self.images_atlas.packing.slots.get(id) {
                    Some(&slot) => self.item_data(
                        item,
                        Size::new(slot.w, slot.h),
                        Some((slot, maw, mah)),
                        1,
                        ColorMatrix::Bt709,
                        Rgba::BLACK,
                    ),
                    None => None,
                },
                Content::Solid(c) => {
                    self.item_data(item, Size::new(0, 0), None, 2, ColorMatrix::Bt709, *c)
                }
            };
            if let Some(d) = data {
                items.push(d);
            }
        }

        let n_items = items.len() as u64;
        if n_items > self.items_capacity {
            self.items_capacity = n_items.next_power_of_two();
            self.items_buf = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("items"),
                size: ITEM_SIZE * self.items_capacity,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            self.draw_bind = None;
        }
        // Arena layout: [frame constants: 256 B][items][changed planes, 256-aligned rows].
        let item_bytes = n_items * ITEM_SIZE;
        let plane_base = align_up(FRAME_BYTES + item_bytes, 256);
        self.arena
            .ensure(&self.ctx.device, plane_base + upload_bytes)?;
        let (kr, kb) = self.out_matrix.kr_kb();
        let l = self.out_layout;
        let bg = rgba_f(plan.background);
        let fd = FrameData {
            canvas: [
                self.canvas.w as f32,
                self.canvas.h as f32,
                1.0 / self.canvas.w as f32,
                1.0 / self.canvas.h as f32,
            ],
            bg: [bg[0], bg[1], bg[2], 1.0],
            k: [kr, kb, n_items as f32, 0.0],
            lay: [
                l.y_pitch / 4,
                l.c_pitch / 4,
                (l.u_off / 4) as u32,
                (l.v_off / 4) as u32,
            ],
        };
        self.arena.write(0, bytemuck::bytes_of(&fd))?;
        self.arena
            .write(FRAME_BYTES, bytemuck::cast_slice(&items))?;
        for (idx, id) in uploads[..n_up].iter().enumerate() {
            let Some((frame, _)) = frames.frame(id) else {
                continue;
            };
            let (y, u, v) = frame.image.planes();
            let (cw, ch) = frame.image.chroma_size();
            let dims = [
                (frame.image.width(), frame.image.height()),
                (cw, ch),
                (cw, ch),
            ];
            for c in copies.iter().filter(|c| c.input == idx) {
                let (w, h) = dims[c.plane];
                self.arena.write_rows(
                    plane_base + c.offset,
                    [y, u, v][c.plane],
                    w as usize,
                    h as usize,
                    c.pitch as usize,
                )?;
            }
        }
        self.arena.unmap();
        let t_staged = Instant::now();

        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("frame"),
            });
        enc.copy_buffer_to_buffer(
            &self.arena.buffer,
            0,
            &self.frame_uniform,
            0,
            std::mem::size_of::<FrameData>() as u64,
        );
        if item_bytes > 0 {
            enc.copy_buffer_to_buffer(
                &self.arena.buffer,
                FRAME_BYTES,
                &self.items_buf,
                0,
                item_bytes,
            );
        }
        for c in &copies {
            let Some(slot) = uploads
                .get(c.input)
                .and_then(|id| self.inputs_atlas.packing.slots.get(id))
            else {
                continue;
            };
            let (cw, ch) = (slot.w.div_ceil(2), slot.h.div_ceil(2));
            let (tex, x, y, w, h) = match c.plane {
                0 => (&self.inputs_atlas.y.tex, slot.x, slot.y, slot.w, slot.h),
                1 => (&self.inputs_atlas.u.tex, slot.x / 2, slot.y / 2, cw, ch),
                _ => (&self.inputs_atlas.v.tex, slot.x / 2, slot.y / 2, cw, ch),
            };
            enc.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer: &self.arena.buffer,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: plane_base + c.offset,
                        bytes_per_row: Some(c.pitch),
                        rows_per_image: Some(h),
                    },
                },
                wgpu::TexelCopyTextureInfo {
                    texture: tex,
                    mip_level: 0,
                    origin: wgpu::Origin3d { x, y, z: 0 },
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::Extent3d {
                    width: w,
                    height: h,
                    depth_or_array_layers: 1,
                },
            );
        }
        let mut t_upload_done = Instant::now();
        if split {
            self.ctx.queue.submit(Some(enc.finish()));
            self.wait()?;
            t_upload_done = Instant::now();
            enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("draw"),
                });
        }
        self.bind();
        let blocks_x = (self.out_layout.y_pitch / 8).div_ceil(8);
        let blocks_y = (self.canvas.h / 2).div_ceil(8);
        match (&self.raster, self.draw_bind.as_ref()) {
            (None, Some(bind)) => {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("compose + to I420"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.ctx.pipelines.compose);
                pass.set_bind_group(0, bind, &[]);
                pass.dispatch_workgroups(blocks_x, blocks_y, 1);
            }
            (Some((canvas, canvas_bind)), Some(bind)) => {
                let bg = rgba_f(plan.background);
                {
                    let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                        label: Some("canvas"),
                        color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                            view: &canvas.view,
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
                    if n_items > 0 {
                        pass.set_pipeline(&self.ctx.pipelines.draw);
                        pass.set_bind_group(0, bind, &[]);
                        pass.draw(0..6, 0..n_items as u32);
                    }
                }
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("canvas to I420"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.ctx.pipelines.convert);
                pass.set_bind_group(0, bind, &[]);
                pass.set_bind_group(1, canvas_bind, &[]);
                pass.dispatch_workgroups(blocks_x, blocks_y, 1);
            }
            (_, None) => {}
        }
        let mut t_draw_done = t_upload_done;
        if split {
            self.ctx.queue.submit(Some(enc.finish()));
            self.wait()?;
            t_draw_done = Instant::now();
            enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("readback"),
                });
        }
        enc.copy_buffer_to_buffer(&self.out_buf, 0, &self.readback, 0, self.out_layout.total);
        self.ctx.queue.submit(Some(enc.finish()));
        self.arena.remap();
        let s = self.readback_slot.clone();
        self.readback.map_async(wgpu::MapMode::Read, .., move |r| {
            *s.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        });
        let res = if self.ctx.spin_wait() {
            // Hardware: poll without sleeping for up to 20 ms. A blocking fence wait costs
            // ~0.4 ms of wake-up latency per frame on the measured VM (docs/benchmarks/render.md).
            let deadline = Instant::now() + Duration::from_millis(20);
            loop {
                self.ctx
                    .device
                    .poll(wgpu::PollType::Poll)
                    .map_err(|e| GpuError::Poll(e.to_string()))?;
                if let Some(r) = take_map(&self.readback_slot) {
                    break r;
                }
                if Instant::now() > deadline {
                    self.wait()?;
                } else {
                    std::hint::spin_loop();
                }
            }
        } else {
            loop {
                self.wait()?;
                if let Some(r) = take_map(&self.readback_slot) {
                    break r;
                }
            }
        };
        res.map_err(|e| GpuError::Map(e.to_string()))?;
        let t_gpu_done = Instant::now();
        if out.width() != self.canvas.w || out.height() != self.canvas.h {
            *out = I420Frame::black(self.canvas.w, self.canvas.h)
                .map_err(|e| GpuError::Unsupported(e.to_string()))?;
        }
        {
            let view = self
                .readback
                .get_mapped_range(..)
                .map_err(|e| GpuError::Map(e.to_string()))?;
            let l = self.out_layout;
            let (oy, ou, ov) = out.planes_mut();
            let (w, h) = (self.canvas.w as usize, self.canvas.h as usize);
            for (dst, off, pitch, pw, ph) in [
                (oy, 0usize, l.y_pitch as usize, w, h),
                (ou, l.u_off as usize, l.c_pitch as usize, w / 2, h / 2),
                (ov, l.v_off as usize, l.c_pitch as usize, w / 2, h / 2),
            ] {
                if pitch == pw {
                    dst[..pw * ph].copy_from_slice(&view[off..off + pw * ph]);
                } else {
                    for r in 0..ph {
                        dst[r * pw..(r + 1) * pw]
                            .copy_from_slice(&view[off + r * pitch..off + r * pitch + pw]);
                    }
                }
            }
        }
        self.readback.unmap();
        if let Some(e) = self.ctx.take_error() {
            return Err(GpuError::Wgpu(e));
        }
        let end = Instant::now();
        self.scratch_items = items;
        self.scratch_copies = copies;
        self.scratch_inputs = uploads;
        Ok(RenderTimings {
            upload: t_upload_done - t0,
            draw: if split {
                t_draw_done - t_upload_done
            } else {
                Duration::ZERO
            },
            readback: end - t_draw_done,
            total: end - t0,
            stage: t_staged - t0,
            gpu: t_gpu_done - t_staged,
            copy_out: end - t_gpu_done,
            uploaded_inputs: n_up as u32,
        })
    }

    /// Forgets an image (e.g. unregistered); the atlas is rebuilt when next needed.
    pub fn drop_image(&mut self, id: &str) {
        self.images_atlas.generations.remove(id);
    }
}
