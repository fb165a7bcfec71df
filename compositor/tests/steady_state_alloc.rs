//! In steady state the renderer (and the CPU compositor) allocates no frame-sized memory: textures, atlases, the upload
//! arena, the output buffers and the output frame are all reused. A counting global allocator
//! records every allocation of 64 KiB or more while frames with fresh input pictures are
//! rendered; after warm-up there must be none (wgpu's own small bookkeeping allocations, such as
//! command encoders, are below that size and not counted).

#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use compositor_core::frame::{I420Frame, VideoFrame};
use compositor_core::session::Fps;
use compositor_devkit::synthetic::{PatternGen, SyntheticHost};
use compositor_render::gpu::{AdapterChoice, GpuContext, Renderer};
use compositor_render::soft::SoftRenderer;
use layouts::{Layout as SceneLayout, Scene, Size};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static BIG: AtomicUsize = AtomicUsize::new(0);
const BIG_BYTES: usize = 64 * 1024;

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= BIG_BYTES && COUNTING.load(Ordering::Relaxed) {
            BIG.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= BIG_BYTES && COUNTING.load(Ordering::Relaxed) {
            BIG.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn no_frame_sized_allocations_after_warm_up() {
    let ctx = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let canvas = Size::new(640, 360);
    let mut renderer = Renderer::new(ctx, canvas).unwrap();
    let scene = Scene {
        layout: SceneLayout::Pk {
            left: "a".into(),
            right: "b".into(),
            score_bar: Default::default(),
            left_partner: None,
            right_partner: None,
            tile_aspect: None,
        },
        style: Default::default(),
        background: Default::default(),
        overlays: vec![],
        name_tags: None,
    };
    let plan = layouts::plan(&scene, canvas).unwrap();
    let host = SyntheticHost {
        width: 640,
        height: 360,
        fps: Fps::new(30, 1),
        ..SyntheticHost::new((200, 60, 60), 440.0)
    };
    let mut pattern = PatternGen::new(&host);
    // Pictures are made before counting: a source owns its allocations, the renderer must not.
    let mut pictures: Vec<VideoFrame> = (0..4)
        .map(|i| pattern.frame(Duration::from_millis(40 * i)).unwrap())
        .collect();
    let mut frames: HashMap<String, (VideoFrame, u64)> = HashMap::new();
    frames.insert("a".into(), (pictures[0].clone(), 0));
    frames.insert("b".into(), (pictures[1].clone(), 0));
    let images = HashMap::new();
    let mut out = I420Frame::black(canvas.w, canvas.h).unwrap();
    let mut seq = 1u64;
    for k in 0..40 {
        if k == 10 {
            COUNTING.store(true, Ordering::Relaxed);
        }
        next_pictures(&mut frames, &mut pictures, k, &mut seq);
        let t = renderer.render(&plan, &frames, &images, &mut out).unwrap();
        assert_eq!(t.uploaded_inputs, 2, "both inputs changed, both uploaded");
    }
    // A held frame (same sequence number) is not uploaded again.
    let t = renderer.render(&plan, &frames, &images, &mut out).unwrap();
    assert_eq!(t.uploaded_inputs, 0);
    COUNTING.store(false, Ordering::Relaxed);
    assert_eq!(
        BIG.load(Ordering::Relaxed),
        0,
        "frame-sized allocations during steady-state rendering"
    );

    // The CPU compositor: same scene, same fresh pictures every frame (its blend maps and
    // scratch planes are built in the first frames and reused).
    let mut soft = SoftRenderer::new(canvas);
    for k in 0..40 {
        if k == 10 {
            COUNTING.store(true, Ordering::Relaxed);
        }
        next_pictures(&mut frames, &mut pictures, k, &mut seq);
        soft.render(&plan, &frames, &images, &mut out).unwrap();
    }
    COUNTING.store(false, Ordering::Relaxed);
    assert_eq!(
        BIG.load(Ordering::Relaxed),
        0,
        "frame-sized allocations during steady-state CPU composing"
    );
}

/// Swaps a different picture with a new sequence number into both inputs (a moved-in frame,
/// no allocation here), so every frame draws (and on the GPU uploads) both inputs afresh.
fn next_pictures(
    frames: &mut HashMap<String, (VideoFrame, u64)>,
    pictures: &mut [VideoFrame],
    k: usize,
    seq: &mut u64,
) {
    for (i, id) in ["a", "b"].into_iter().enumerate() {
        let slot = frames.get_mut(id).unwrap();
        std::mem::swap(&mut slot.0, &mut pictures[(k + i) % pictures.len()]);
        *seq += 1;
        slot.1 = *seq;
    }
}
