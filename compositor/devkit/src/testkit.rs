//! Deterministic scenes, inputs and image comparison shared by the render snapshot tests, the
//! `golden_check` example (run on real GPUs) and benchmarks. Not used on the serving path.
//!
//! Goldens are 640×360 RGB PNGs in `fixtures/golden/` (made on lavapipe, raster path),
//! compared by PSNR over R'G'B'. The threshold ([`GOLDEN_MIN_PSNR_DB`] = 40 dB) leaves room
//! for filtering and rounding differences between adapters (measured worst case: 49.8 dB on an
//! NVIDIA H100 with the compute path, 61.4 dB for the compute path on lavapipe) while catching
//! any misplaced item (the grid shifted by two pixels scores below it; a test checks that).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use layouts::{
    Background, Border, Corner, CustomItem, Easing, Fit, Layout, LayoutEngine, Overlay, Rect, Rgba,
    Scene, ScoreBar, Size, StripSide, Style, Transition,
};

use crate::synthetic::{PatternGen, SyntheticHost};
use compositor_core::frame::{I420Frame, VideoFrame};
use compositor_core::session::Fps;
use compositor_render::gpu::{GpuContext, GpuError, ImageAsset, Renderer};

/// Canvas of the golden images.
pub const GOLDEN_CANVAS: Size = Size::new(640, 360);

/// Minimum PSNR (dB) between a render and its golden.
pub const GOLDEN_MIN_PSNR_DB: f64 = 40.0;

/// The deterministic inputs: four 1280×720 BT.709 hosts with distinct tints and one 640×480
/// BT.601 (4:3) host, each frozen at a fixed time.
pub fn golden_inputs()
-> Result<HashMap<String, (VideoFrame, u64)>, compositor_core::frame::FrameError> {
    type Spec = (&'static str, (u8, u8, u8), u32, u32, u64);
    let specs: [Spec; 5] = [
        ("a", (230, 60, 80), 1280, 720, 250),
        ("b", (60, 120, 240), 1280, 720, 500),
        ("c", (60, 200, 90), 1280, 720, 750),
        ("d", (240, 200, 40), 1280, 720, 125),
        ("sd", (180, 80, 220), 640, 480, 375),
    ];
    let mut out = HashMap::new();
    for (i, (id, tint, w, h, ms)) in specs.into_iter().enumerate() {
        let host = SyntheticHost {
            width: w,
            height: h,
            fps: Fps::new(30, 1),
            ..SyntheticHost::new(tint, 440.0)
        };
        let frame = PatternGen::new(&host).frame(Duration::from_millis(ms))?;
        out.insert(id.to_string(), (frame, i as u64 + 1));
    }
    Ok(out)
}

/// A small RGBA badge with an alpha gradient, registered as image `logo`.
pub fn golden_images() -> HashMap<String, ImageAsset> {
    let img = image::RgbaImage::from_fn(96, 48, |x, y| {
        let a = (255 * x / 95) as u8;
        if (x / 12 + y / 12) % 2 == 0 {
            image::Rgba([255, 255, 255, a])
        } else {
            image::Rgba([20, 20, 20, a])
        }
    });
    HashMap::from([(
        "logo".to_string(),
        ImageAsset {
            generation: 1,
            rgba: Arc::new(img),
        },
    )])
}

fn style() -> Style {
    Style {
        gap: 8,
        corner_radius: 12,
        border: Some(Border {
            width: 2,
            color: Rgba::new(255, 255, 255, 255),
        }),
        fit: Fit::Cover,
    }
}

fn scene(layout: Layout) -> Scene {
    Scene {
        layout,
        style: style(),
        background: Background::Color {
            color: Rgba::new(24, 24, 40, 255),
        },
        overlays: vec![],
        name_tags: None,
    }
}

/// The named golden cases: (name, scene, optional (from scene, transition progress)).
pub fn golden_cases() -> Vec<(&'static str, Scene)> {
    let pk = Scene {
        overlays: vec![Overlay {
            image: "logo".into(),
            rect: Rect::new(272, 0, 96, 28),
            opacity: 1.0,
            z: 100,
            fit: Fit::Contain,
        }],
        ..scene(Layout::Pk {
            left: "a".into(),
            right: "b".into(),
            score_bar: ScoreBar::default(),
            left_partner: None,
            right_partner: None,
            tile_aspect: None,
        })
    };
    vec![
        ("pk", pk),
        (
            "grid4",
            scene(Layout::Grid {
                inputs: vec!["a".into(), "b".into(), "c".into(), "sd".into()],
                tile_aspect: (16, 9),
            }),
        ),
        (
            "grid9",
            scene(Layout::Grid {
                inputs: ["a", "b", "c", "d", "sd", "a2", "b2", "c2", "d2"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                tile_aspect: (16, 9),
            }),
        ),
        (
            "spotlight",
            scene(Layout::Spotlight {
                main: "a".into(),
                others: vec!["b".into(), "c".into(), "sd".into()],
                strip: StripSide::Right,
                strip_frac: 0.25,
            }),
        ),
        (
            "pip",
            scene(Layout::Pip {
                main: "b".into(),
                insets: vec!["a".into(), "sd".into()],
                corner: Corner::BottomRight,
                size_frac: 0.25,
                margin: 16,
            }),
        ),
        (
            "custom",
            scene(Layout::Custom {
                items: vec![
                    CustomItem {
                        input: "a".into(),
                        rect: Rect::new(-40, 20, 400, 300),
                        fit: Fit::Contain,
                        z: 0,
                        opacity: 1.0,
                        corner_radius: 0,
                        border: None,
                    },
                    CustomItem {
                        input: "sd".into(),
                        rect: Rect::new(300, 60, 300, 260),
                        fit: Fit::Stretch,
                        z: 1,
                        opacity: 0.6,
                        corner_radius: 40,
                        border: Some(Border {
                            width: 6,
                            color: Rgba::new(255, 200, 0, 255),
                        }),
                    },
                ],
            }),
        ),
    ]
}

/// The transition case: PK → grid4 with ease-in-out, sampled at its midpoint.
pub fn transition_midpoint_plan(canvas: Size) -> Result<layouts::FramePlan, layouts::LayoutError> {
    let cases = golden_cases();
    let pk = cases[0].1.clone();
    let grid = cases[1].1.clone();
    let mut engine = LayoutEngine::new(canvas, pk)?;
    engine.set_scene(
        grid,
        Some(Transition {
            duration_ms: 1000,
            easing: Easing::EaseInOut,
        }),
        Duration::from_secs(1),
    )?;
    Ok(engine.plan_at(Duration::from_millis(1500)))
}

/// Inputs for the golden cases (the grid9 case reuses frames under other ids).
pub fn golden_frames()
-> Result<HashMap<String, (VideoFrame, u64)>, compositor_core::frame::FrameError> {
    let mut f = golden_inputs()?;
    for (src, dst, seq) in [
        ("a", "a2", 11),
        ("b", "b2", 12),
        ("c", "c2", 13),
        ("d", "d2", 14),
    ] {
        if let Some((frame, _)) = f.get(src).cloned() {
            f.insert(dst.to_string(), (frame, seq));
        }
    }
    Ok(f)
}

/// Number of golden cases: six presets, the transition midpoint, five PK phases and name
/// tags on a grid.
pub const GOLDEN_CASES: usize = 13;

/// Every golden case's plan with the text images its decor needs (none for the presets),
/// `transition_mid`, then the decorated cases ([`crate::pk_goldens`]).
fn golden_plans(canvas: Size) -> Result<Vec<crate::pk_goldens::DecoratedCase>, String> {
    let mut plans = Vec::new();
    for (name, scene) in golden_cases() {
        let plan = layouts::plan(&scene, canvas).map_err(|e| e.to_string())?;
        plans.push((name.to_string(), plan, HashMap::new()));
    }
    plans.push((
        "transition_mid".into(),
        transition_midpoint_plan(canvas).map_err(|e| e.to_string())?,
        HashMap::new(),
    ));
    plans.extend(crate::pk_goldens::decorated_cases(canvas)?);
    Ok(plans)
}

/// What draws a golden case: `(plan, frames, images, out)` → the output's colour matrix.
type GoldenDraw<'a> = dyn FnMut(
        &layouts::FramePlan,
        &HashMap<String, (VideoFrame, u64)>,
        &HashMap<String, ImageAsset>,
        &mut I420Frame,
    ) -> Result<compositor_core::frame::ColorMatrix, String>
    + 'a;

fn render_goldens_with(
    draw: &mut GoldenDraw<'_>,
) -> Result<Vec<(String, image::RgbImage)>, String> {
    let canvas = GOLDEN_CANVAS;
    let frames = golden_frames().map_err(|e| e.to_string())?;
    let base = golden_images();
    let mut out = I420Frame::black(canvas.w, canvas.h).map_err(|e| e.to_string())?;
    let mut result = Vec::new();
    for (name, plan, texts) in golden_plans(canvas)? {
        let mut images = base.clone();
        images.extend(texts);
        let matrix = draw(&plan, &frames, &images, &mut out)?;
        let rgb = out.to_rgb(matrix);
        let img = image::RgbImage::from_raw(canvas.w, canvas.h, rgb)
            .ok_or_else(|| "bad image size".to_string())?;
        result.push((name, img));
    }
    Ok(result)
}

/// Renders every golden case (and `transition_mid`) to RGB images on the GPU.
pub fn render_goldens(ctx: Arc<GpuContext>) -> Result<Vec<(String, image::RgbImage)>, GpuError> {
    let mut renderer = Renderer::new(ctx, GOLDEN_CANVAS)?;
    render_goldens_with(&mut |plan, frames, images, out| {
        renderer
            .render(plan, frames, images, out)
            .map_err(|e| e.to_string())?;
        Ok(renderer.output_matrix())
    })
    .map_err(GpuError::Unsupported)
}

/// Renders every golden case (and `transition_mid`) with the CPU compositor.
pub fn render_goldens_soft() -> Result<Vec<(String, image::RgbImage)>, String> {
    let mut renderer = compositor_render::soft::SoftRenderer::new(GOLDEN_CANVAS);
    render_goldens_with(&mut |plan, frames, images, out| {
        renderer
            .render(plan, frames, images, out)
            .map_err(|e| e.to_string())?;
        Ok(renderer.output_matrix())
    })
}

/// Compares rendered cases with the goldens in `dir`: prints each PSNR and, for each case
/// under [`GOLDEN_MIN_PSNR_DB`], writes actual, expected and diff PNGs into `out` and returns
/// a line naming them (empty = all match).
pub fn compare_with_goldens(
    rendered: &[(String, image::RgbImage)],
    dir: &Path,
    out: &Path,
) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let mut failures = Vec::new();
    for (name, actual) in rendered {
        let expected = load_golden(dir, name).map_err(|e| e.to_string())?;
        let db = psnr(actual, &expected);
        eprintln!("{name}: PSNR {db:.1} dB");
        if db < GOLDEN_MIN_PSNR_DB {
            let a = out.join(format!("{name}-actual.png"));
            let e = out.join(format!("{name}-expected.png"));
            let d = out.join(format!("{name}-diff.png"));
            for (img, path) in [
                (actual.clone(), &a),
                (expected.clone(), &e),
                (diff_image(actual, &expected), &d),
            ] {
                img.save(path).map_err(|e| e.to_string())?;
            }
            failures.push(format!(
                "{name}: {db:.1} dB < {GOLDEN_MIN_PSNR_DB} dB; see {} {} {}",
                a.display(),
                e.display(),
                d.display()
            ));
        }
    }
    Ok(failures)
}

/// Dominant frequency (Hz) of channel 0 of interleaved 48 kHz stereo, 50..4000 Hz, and its
/// RMS: a Goertzel scan in 10 Hz steps, then 1 Hz steps around the best. (0, 0) for less
/// than two frames.
pub fn dominant_tone(stereo: &[f32]) -> (f64, f64) {
    let left: Vec<f64> = stereo.iter().step_by(2).map(|s| f64::from(*s)).collect();
    if left.len() < 2 {
        return (0.0, 0.0);
    }
    let rms = (left.iter().map(|s| s * s).sum::<f64>() / left.len() as f64).sqrt();
    let power = |f: f64| {
        let coeff = 2.0 * (std::f64::consts::TAU * f / 48_000.0).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for x in &left {
            let s0 = x + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - coeff * s1 * s2
    };
    let best_in = |lo: f64, hi: f64, step: f64| {
        let mut best = (lo, f64::MIN);
        let mut f = lo;
        while f <= hi {
            let p = power(f);
            if p > best.1 {
                best = (f, p);
            }
            f += step;
        }
        best.0
    };
    let coarse = best_in(50.0, 4000.0, 10.0);
    (best_in(coarse - 10.0, coarse + 10.0, 1.0), rms)
}

/// PSNR in dB between two equally sized RGB images (infinite when identical).
pub fn psnr(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    if a.dimensions() != b.dimensions() {
        return 0.0;
    }
    let mse: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.as_raw().len().max(1) as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// |a − b| × 4 per channel, for eyeballing a failure.
pub fn diff_image(a: &image::RgbImage, b: &image::RgbImage) -> image::RgbImage {
    image::RgbImage::from_fn(a.width(), a.height(), |x, y| {
        let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
        image::Rgb([0, 1, 2].map(|i| {
            (i32::from(p[i]) - i32::from(q[i]))
                .unsigned_abs()
                .saturating_mul(4)
                .min(255) as u8
        }))
    })
}

/// The `fixtures/golden` folder of this repository.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join("fixtures")
        .join("golden")
}

/// Loads a golden PNG.
pub fn load_golden(dir: &Path, name: &str) -> anyhow::Result<image::RgbImage> {
    let p = dir.join(format!("{name}.png"));
    image::open(&p)
        .map(|i| i.to_rgb8())
        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
}

/// Writes a golden PNG with maximum lossless compression (fixtures stay small).
pub fn save_golden(img: &image::RgbImage, path: &Path) -> anyhow::Result<()> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let file =
        std::fs::File::create(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    PngEncoder::new_with_quality(
        std::io::BufWriter::new(file),
        CompressionType::Best,
        FilterType::Adaptive,
    )
    .write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
