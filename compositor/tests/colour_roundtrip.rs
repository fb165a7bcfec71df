//! Known I420 colours survive upload → RGB (GPU) → I420 within ±2 code values, for BT.709
//! (720p canvas) and BT.601 (SD canvas), including a downscaled and an upscaled input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use compositor_core::frame::{ColorMatrix, I420Frame, VideoFrame, rgb_to_yuv};
use compositor_render::gpu::{AdapterChoice, GpuContext, Renderer};
use layouts::{Background, Fit, Layout, Rgba, Scene, Size, Style};

fn full_canvas_scene(input: &str, canvas: Size) -> Scene {
    Scene {
        layout: Layout::Grid {
            inputs: vec![input.to_string()],
            tile_aspect: (canvas.w, canvas.h),
        },
        style: Style {
            fit: Fit::Stretch,
            ..Style::default()
        },
        background: Background::Color {
            color: Rgba::new(255, 0, 255, 255),
        },
        overlays: vec![],
        name_tags: None,
    }
}

fn check(canvas: Size, input: (u32, u32), matrix: ColorMatrix) {
    let ctx = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let mut r = Renderer::new(ctx, canvas).unwrap();
    assert_eq!(r.output_matrix(), matrix);
    let plan = layouts::plan(&full_canvas_scene("a", canvas), canvas).unwrap();
    let colours: &[(u8, u8, u8)] = &[
        (16, 128, 128),
        (235, 128, 128),
        (126, 128, 128),
        (81, 90, 240),
        (145, 54, 34),
        (41, 240, 110),
        (170, 166, 16),
        (106, 202, 222),
        (200, 100, 150),
    ];
    let mut out = I420Frame::black(canvas.w, canvas.h).unwrap();
    for (seq, &(y, u, v)) in colours.iter().enumerate() {
        let mut frames = HashMap::new();
        let image = I420Frame::filled(input.0, input.1, y, u, v).unwrap();
        frames.insert(
            "a".to_string(),
            (
                VideoFrame {
                    pts: Duration::ZERO,
                    matrix,
                    image,
                },
                seq as u64,
            ),
        );
        r.render(&plan, &frames, &HashMap::new(), &mut out).unwrap();
        let (py, pu, pv) = out.planes();
        for (name, plane, want) in [("Y", py, y), ("U", pu, u), ("V", pv, v)] {
            let worst = plane
                .iter()
                .map(|&p| (i32::from(p) - i32::from(want)).abs())
                .max()
                .unwrap();
            assert!(
                worst <= 2,
                "{name} of ({y},{u},{v}) off by {worst} on {canvas:?} from {input:?}"
            );
        }
    }
}

#[test]
fn bt709_same_size() {
    check(Size::new(1280, 720), (1280, 720), ColorMatrix::Bt709);
}

#[test]
fn bt709_scaled() {
    check(Size::new(1280, 720), (640, 360), ColorMatrix::Bt709);
    check(Size::new(1280, 720), (1920, 1080), ColorMatrix::Bt709);
}

#[test]
fn bt601_sd() {
    check(Size::new(640, 480), (640, 480), ColorMatrix::Bt601);
}

#[test]
fn rgb_reference_colours() {
    // BT.709 limited-range red, as published (EBU/ITU colour bar values).
    assert_eq!(rgb_to_yuv(255, 0, 0, ColorMatrix::Bt709), (63, 102, 240));
    assert_eq!(
        rgb_to_yuv(255, 255, 255, ColorMatrix::Bt709),
        (235, 128, 128)
    );
}
