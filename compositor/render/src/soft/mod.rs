//! The CPU compositor: draws a [`FramePlan`] straight into I420, for machines whose only
//! wgpu adapter is a software one (lavapipe), where the GPU path costs 20–40 ms of CPU per
//! 720p frame (docs/benchmarks/render.md) and this one a few.
//!
//! It draws what the GPU renderer draws — inputs, images and colours with fit, crop, bilinear
//! sampling (n-tap averaging when shrinking by more than 2×), rounded corners, borders and
//! opacity, input placeholders — so the golden images of `render_golden` hold for both
//! (`tests/soft_render_golden.rs`). It works in Y'CbCr code values instead of R'G'B': blending
//! is affine, so the result matches the GPU's up to rounding (and out-of-gamut inputs, which
//! the GPU clips at the R'G'B' step).
//!
//! Per item: the live picture is scaled plane by plane into the renderer's scratch planes
//! ([`scale`]), re-expressed in the output matrix if its own differs ([`color`]), and blended
//! with the item's [`BlendMap`] ([`coverage`]); plain opaque spans are copied. Blend maps and
//! filter taps depend only on geometry and are cached per geometry; image and colour items
//! are cached whole as constant layers. Entries not used by the last frame are dropped, so a
//! transition rebuilds its moving items each frame (uniform items cheaply).
//!
//! Threading and ownership: one renderer per session, called on the session thread; it owns
//! its caches and scratch planes (grown once, reused: no frame-sized allocation in steady
//! state) and borrows the input frames and images for the call.

mod color;
mod coverage;
mod filter;
mod scale;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::Instant;

use layouts::{Content, DrawItem, FramePlan, Rgba, Size};

use self::color::{CONVERT_SHIFT, MatrixConvert, rgb_to_codes};
use self::coverage::{BlendMap, Contribution, Target, blend, geometry};
use self::filter::{Taps, taps_for};
use compositor_core::frame::{ColorMatrix, I420Frame, VideoFrame};
use compositor_core::render::{FrameSource, ImageAsset, PLACEHOLDER, RenderTimings};

/// Why a frame could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum SoftError {
    /// The plan was made for another canvas.
    #[error("plan is for {0}x{1} but the renderer draws {2}x{3}")]
    CanvasMismatch(u32, u32, u32, u32),
    /// The canvas cannot be an I420 frame.
    #[error("canvas: {0}")]
    Frame(#[from] compositor_core::frame::FrameError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct GeomKey {
    dest: (i32, i32, u32, u32),
    crop: [u32; 4],
    src: (u32, u32),
    opacity: u32,
    radius: u32,
    border: Option<(u32, [u8; 4])>,
    /// 0 for live pictures; a hash of the image (id, generation) or the colour otherwise.
    content: u64,
}

#[derive(Debug)]
struct VideoTaps {
    yh: Taps,
    yv: Taps,
    ch: Taps,
    cv: Taps,
}

#[derive(Debug)]
struct Entry {
    map: BlendMap,
    taps: Option<VideoTaps>,
    last_used: u64,
}

/// Constant content of an image or colour item.
enum Still<'a> {
    Image(&'a image::RgbaImage, u64),
    Colour(Rgba),
}

/// Draws frame plans for one canvas size on the CPU (see the module doc).
#[derive(Debug)]
pub struct SoftRenderer {
    canvas: Size,
    out_matrix: ColorMatrix,
    cache: HashMap<GeomKey, Entry>,
    frame_no: u64,
    scratch: [Vec<u8>; 3],
    tmp: Vec<u16>,
    missing_images_logged: HashSet<String>,
}

fn rgba_f(c: Rgba) -> [f32; 4] {
    [c.r, c.g, c.b, c.a].map(|v| f32::from(v) / 255.0)
}

fn hash_of(v: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    // 0 is reserved for live pictures.
    h.finish() | 1
}

impl SoftRenderer {
    /// A renderer for `canvas`; the output uses BT.709 from 720 lines up, else BT.601 (as
    /// the GPU renderer).
    pub fn new(canvas: Size) -> Self {
        SoftRenderer {
            canvas,
            out_matrix: ColorMatrix::for_height(canvas.h),
            cache: HashMap::new(),
            frame_no: 0,
            scratch: [Vec::new(), Vec::new(), Vec::new()],
            tmp: Vec::new(),
            missing_images_logged: HashSet::new(),
        }
    }

    /// The canvas size.
    pub fn canvas(&self) -> Size {
        self.canvas
    }

    /// The matrix the output I420 uses.
    pub fn output_matrix(&self) -> ColorMatrix {
        self.out_matrix
    }

    /// Renders `plan` into `out` (resized to the canvas if needed).
    pub fn render(
        &mut self,
        plan: &FramePlan,
        frames: &dyn FrameSource,
        images: &HashMap<String, ImageAsset>,
        out: &mut I420Frame,
    ) -> Result<RenderTimings, SoftError> {
        let t0 = Instant::now();
        if plan.canvas != self.canvas {
            return Err(SoftError::CanvasMismatch(
                plan.canvas.w,
                plan.canvas.h,
                self.canvas.w,
                self.canvas.h,
            ));
        }
        if out.width() != self.canvas.w || out.height() != self.canvas.h {
            *out = I420Frame::black(self.canvas.w, self.canvas.h)?;
        }
        self.frame_no += 1;
        let bg = rgba_f(plan.background);
        let bg = rgb_to_codes([bg[0], bg[1], bg[2]], self.out_matrix);
        {
            let (y, u, v) = out.planes_mut();
            for (p, c) in [(y, bg[0]), (u, bg[1]), (v, bg[2])] {
                p.fill(c.round().clamp(0.0, 255.0) as u8);
            }
        }
        let mut uploaded = 0u32;
        for item in &plan.items {
            match &item.content {
                Content::Input(id) => match frames.frame(id) {
                    Some((frame, _)) => {
                        uploaded += 1;
                        self.draw_video(item, frame, out);
                    }
                    None => {
                        let ph = frames
                            .placeholder_image(id)
                            .and_then(|pid| images.get(pid).map(|a| (pid, a)));
                        match ph {
                            Some((pid, a)) => self.draw_still(
                                item,
                                Still::Image(&a.rgba, hash_of((pid, a.generation))),
                                out,
                            ),
                            None => self.draw_still(item, Still::Colour(PLACEHOLDER), out),
                        }
                    }
                },
                Content::Image(id) => match images.get(id) {
                    Some(a) => self.draw_still(
                        item,
                        Still::Image(&a.rgba, hash_of((id, a.generation))),
                        out,
                    ),
                    None => {
                        if !self.missing_images_logged.contains(id) {
                            self.missing_images_logged.insert(id.clone());
                            tracing::warn!(image = %id, "image not registered; item skipped");
                        }
                    }
                },
                Content::Solid(c) => self.draw_still(item, Still::Colour(*c), out),
            }
        }
        let now = self.frame_no;
        self.cache.retain(|_, e| e.last_used == now);
        let total = t0.elapsed();
        Ok(RenderTimings {
            draw: total,
            total,
            uploaded_inputs: uploaded,
            ..RenderTimings::default()
        })
    }

    /// The item's key and placement for a source of `src` size; None when nothing of it
    /// would be visible.
    fn key(
        &self,
        item: &DrawItem,
        src: Size,
        content: u64,
    ) -> Option<(GeomKey, layouts::Placement)> {
        let place = compositor_core::render::visible_placement(item, src, self.canvas)?;
        let d = place.dest;
        let c = place.crop;
        let key = GeomKey {
            dest: (d.x, d.y, d.w, d.h),
            crop: [c.u, c.v, c.w, c.h].map(f32::to_bits),
            src: (src.w, src.h),
            opacity: item.opacity.clamp(0.0, 1.0).to_bits(),
            radius: item.corner_radius,
            border: item
                .border
                .filter(|b| b.width > 0)
                .map(|b| (b.width, [b.color.r, b.color.g, b.color.b, b.color.a])),
            content,
        };
        Some((key, place))
    }

    fn draw_video(&mut self, item: &DrawItem, frame: &VideoFrame, out: &mut I420Frame) {
        let img = &frame.image;
        let src = Size::new(img.width(), img.height());
        let Some((key, place)) = self.key(item, src, 0) else {
            return;
        };
        let (w, h) = (place.dest.w as usize, place.dest.h as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let out_matrix = self.out_matrix;
        let entry = self.cache.entry(key).or_insert_with(|| {
            let c = place.crop;
            let (sw, sh) = (img.width() as usize, img.height() as usize);
            let (scw, sch) = img.chroma_size();
            let nx = taps_for(c.w * sw as f32 / w as f32);
            let ny = taps_for(c.h * sh as f32 / h as f32);
            let taps = VideoTaps {
                yh: Taps::build(w, sw, c.u, c.w, nx),
                yv: Taps::build(h, sh, c.v, c.h, ny),
                ch: Taps::build(cw, scw as usize, c.u, c.w, nx),
                cv: Taps::build(ch, sch as usize, c.v, c.h, ny),
            };
            let map = item_map(item, w, h, out_matrix, None);
            Entry {
                map,
                taps: Some(taps),
                last_used: 0,
            }
        });
        entry.last_used = self.frame_no;
        let Some(taps) = entry.taps.as_ref() else {
            return;
        };
        let (sy, su, sv) = img.planes();
        let (scw, _) = img.chroma_size();
        let [py, pu, pv] = &mut self.scratch;
        for (p, n) in [(&mut *py, w * h), (&mut *pu, cw * ch), (&mut *pv, cw * ch)] {
            if p.len() < n {
                p.resize(n, 0);
            }
        }
        scale::scale_plane(
            sy,
            img.width() as usize,
            &taps.yh,
            &taps.yv,
            &mut self.tmp,
            &mut py[..w * h],
        );
        scale::scale_plane(
            su,
            scw as usize,
            &taps.ch,
            &taps.cv,
            &mut self.tmp,
            &mut pu[..cw * ch],
        );
        scale::scale_plane(
            sv,
            scw as usize,
            &taps.ch,
            &taps.cv,
            &mut self.tmp,
            &mut pv[..cw * ch],
        );
        if let Some(cv) = MatrixConvert::between(frame.matrix, out_matrix) {
            convert_planes(
                &cv,
                &mut py[..w * h],
                &mut pu[..cw * ch],
                &mut pv[..cw * ch],
                w,
                cw,
            );
        }
        let live = [&py[..w * h], &pu[..cw * ch], &pv[..cw * ch]];
        blend_item(out, self.canvas, place.dest, &entry.map, Some(live));
    }

    fn draw_still(&mut self, item: &DrawItem, still: Still<'_>, out: &mut I420Frame) {
        let (src, content) = match &still {
            Still::Image(img, id) => (Size::new(img.width(), img.height()), *id),
            Still::Colour(c) => (Size::new(0, 0), hash_of((c.r, c.g, c.b, c.a))),
        };
        if src.w == 0 && matches!(still, Still::Image(..)) {
            return;
        }
        let Some((key, place)) = self.key(item, src, content) else {
            return;
        };
        let (w, h) = (place.dest.w as usize, place.dest.h as usize);
        let out_matrix = self.out_matrix;
        let entry = self.cache.entry(key).or_insert_with(|| {
            let sampler = match &still {
                Still::Image(img, _) => {
                    let c = place.crop;
                    let nx = taps_for(c.w * img.width() as f32 / w as f32);
                    let ny = taps_for(c.h * img.height() as f32 / h as f32);
                    Some((
                        *img,
                        Taps::build(w, img.width() as usize, c.u, c.w, nx),
                        Taps::build(h, img.height() as usize, c.v, c.h, ny),
                    ))
                }
                Still::Colour(_) => None,
            };
            let colour = match &still {
                Still::Colour(c) => rgba_f(*c),
                Still::Image(..) => [0.0; 4],
            };
            let content = |x: usize, y: usize| match &sampler {
                Some((img, tx, ty)) => sample_rgba(img, tx, ty, x, y),
                None => colour,
            };
            Entry {
                map: item_map(item, w, h, out_matrix, Some(&content)),
                taps: None,
                last_used: 0,
            }
        });
        entry.last_used = self.frame_no;
        blend_item(out, self.canvas, place.dest, &entry.map, None);
    }
}

/// Blends an item's maps (and its live picture's Y, U, V planes, when it has one) onto the
/// canvas at `dest`.
fn blend_item(
    out: &mut I420Frame,
    canvas: Size,
    dest: layouts::Rect,
    map: &BlendMap,
    live: Option<[&[u8]; 3]>,
) {
    let (x, y) = (i64::from(dest.x), i64::from(dest.y));
    let (ow, oh) = (canvas.w as usize, canvas.h as usize);
    let (ocw, och) = (ow.div_ceil(2), oh.div_ceil(2));
    let (cx, cy) = (x.div_euclid(2), y.div_euclid(2));
    let (oy, ou, ov) = out.planes_mut();
    let targets = [
        (oy, ow, oh, x, y, &map.y),
        (ou, ocw, och, cx, cy, &map.u),
        (ov, ocw, och, cx, cy, &map.v),
    ];
    for (i, (plane, w, h, x, y, m)) in targets.into_iter().enumerate() {
        blend(Target { plane, w, h, x, y }, m, live.map(|l| l[i]));
    }
}

/// Straight RGBA (0..=1) of an image at output pixel (x, y) through its taps.
fn sample_rgba(img: &image::RgbaImage, tx: &Taps, ty: &Taps, x: usize, y: usize) -> [f32; 4] {
    let (xi, xw) = tx.at(x);
    let (yi, yw) = ty.at(y);
    let mut acc = [0f32; 4];
    for (&iy, &wy) in yi.iter().zip(yw) {
        if wy == 0 {
            continue;
        }
        for (&ix, &wx) in xi.iter().zip(xw) {
            if wx == 0 {
                continue;
            }
            let w = f32::from(wy) * f32::from(wx);
            let p = img.get_pixel(ix, iy).0;
            for c in 0..4 {
                acc[c] += w * f32::from(p[c]);
            }
        }
    }
    acc.map(|v| v / (256.0 * 256.0 * 255.0))
}

/// The blend maps of an item of `w × h` pixels: a live picture when `content` is None, else
/// the constant straight-RGBA `content(x, y)`. Mirrors the GPU's `shade`: the border mixes
/// over the content by `t`, then alpha = mixed alpha × coverage × opacity.
fn item_map(
    item: &DrawItem,
    w: usize,
    h: usize,
    m: ColorMatrix,
    content: Option<&dyn Fn(usize, usize) -> [f32; 4]>,
) -> BlendMap {
    let opacity = item.opacity.clamp(0.0, 1.0);
    let radius = item.corner_radius as f32;
    let (bw, bc) = match item.border {
        Some(b) if b.width > 0 => (b.width as f32, rgba_f(b.color)),
        _ => (0.0, [0.0; 4]),
    };
    let border_codes = rgb_to_codes([bc[0], bc[1], bc[2]], m);
    let at = |x: usize, y: usize| -> Contribution {
        let (cov, t) = geometry(
            (x as f32 + 0.5, y as f32 + 0.5),
            (w as f32, h as f32),
            radius,
            bw,
        );
        match content {
            None => {
                let a = (t + (1.0 - t) * bc[3]) * cov * opacity;
                Contribution {
                    a,
                    ws: a * t,
                    k: border_codes.map(|c| a * (1.0 - t) * c),
                }
            }
            Some(f) => {
                let s = f(x, y);
                let rgb = [0, 1, 2].map(|i| t * s[i] + (1.0 - t) * bc[i]);
                let a = (t * s[3] + (1.0 - t) * bc[3]) * cov * opacity;
                Contribution {
                    a,
                    ws: 0.0,
                    k: rgb_to_codes(rgb, m).map(|c| a * c),
                }
            }
        }
    };
    let plain_shape = (radius <= 0.0 || w == 0 || h == 0) && bw <= 0.0;
    match content {
        None if plain_shape => BlendMap::uniform(w, h, at(0, 0)),
        _ => BlendMap::build(w, h, at),
    }
}

/// Re-expresses scaled planes in another matrix (see [`MatrixConvert`]).
fn convert_planes(
    c: &MatrixConvert,
    y: &mut [u8],
    u: &mut [u8],
    v: &mut [u8],
    w: usize,
    cw: usize,
) {
    let round = 1i32 << (CONVERT_SHIFT - 1);
    for (row, line) in y.chunks_exact_mut(w).enumerate() {
        let crow = (row / 2) * cw;
        for (x, p) in line.iter_mut().enumerate() {
            let (du, dv) = (
                i32::from(u[crow + x / 2]) - 128,
                i32::from(v[crow + x / 2]) - 128,
            );
            let val = i32::from(*p) + ((c.ly * du + c.lz * dv + round) >> CONVERT_SHIFT);
            *p = val.clamp(0, 255) as u8;
        }
    }
    for (pu, pv) in u.iter_mut().zip(v.iter_mut()) {
        let (du, dv) = (i32::from(*pu) - 128, i32::from(*pv) - 128);
        *pu = (128 + ((c.uu * du + c.uv * dv + round) >> CONVERT_SHIFT)).clamp(0, 255) as u8;
        *pv = (128 + ((c.vu * du + c.vv * dv + round) >> CONVERT_SHIFT)).clamp(0, 255) as u8;
    }
}
