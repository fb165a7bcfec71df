//! Per-unit cost of the hand-off from ingest to the session: what a WHIP decoder thread
//! spends to give one decoded picture with its RTP timing to its session slot, and how many
//! heap allocations that makes. The session thread then places the unit with its own
//! aligner (`compositor_core::session::TimedUnit`); that cost is on the session thread.
//!
//! A real-time session (CPU compositor, no encoder) with two inputs runs while one thread
//! hands it `units` small pictures (pre-made: a decoder owns its frame allocation), two per
//! millisecond alternating between the inputs, RTP times advancing with the send pace.
//! Prints mean, p50, p99 and max ns per hand-off and allocations per hand-off.
//!
//! `cargo run --release -p compositor --example handoff_bench -- [units]`
//! Figures: docs/benchmarks/handoff.md.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use compositor_core::align::MediaUnit;
use compositor_core::frame::{I420Frame, VideoFrame};
use compositor_core::render::ComposeChoice;
use compositor_core::session::{ClockMode, SessionConfig, TimedMedia, TimedUnit};
use compositor_core::sink::NullSink;
use compositor_render::soft::SoftRenderer;
use layouts::{Layout as SceneLayout, Scene, Size};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCS: AtomicU64 = AtomicU64::new(0);

fn note() {
    if COUNTING.with(Cell::get) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts the calling thread's
// allocations while its flag is set.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() -> anyhow::Result<()> {
    let units: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(6000);
    let canvas = Size::new(320, 180);
    let mut cfg = SessionConfig::new(Scene {
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
    });
    cfg.canvas = canvas;
    cfg.clock = ClockMode::RealTime;
    cfg.compose = ComposeChoice::Cpu;
    cfg.duration = Some(Duration::from_secs(3600));
    cfg.initial_inputs = vec!["a".into(), "b".into()];
    cfg.input_queue = 256;
    let mut session = compositor_core::session::Session::start(
        cfg,
        Box::new(SoftRenderer::new(canvas)),
        Box::new(NullSink::default()),
    )?;
    let handle = session.handle();
    let senders = session.take_inputs();
    let black = VideoFrame {
        pts: Duration::ZERO,
        image: I420Frame::black(64, 64)?,
        matrix: compositor_core::frame::ColorMatrix::Bt709,
    };
    let mut frames: Vec<VideoFrame> = (0..units).map(|_| black.clone()).collect();
    let mut ns: Vec<u64> = Vec::with_capacity(units);
    let start = Instant::now();
    let mut allocs = 0u64;
    for i in 0..units {
        let Some(frame) = frames.pop() else { break };
        let host = i % 2;
        let k = (i / 2) as u32;
        let due = start + Duration::from_micros(500 * i as u64);
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        let now = Instant::now();
        let arrival = handle.session_time(now);
        let unit = MediaUnit {
            ssrc: 2 + 2 * host as u32,
            rtp_ts: k.wrapping_mul(90),
            clock_rate: 90_000,
            arrival,
            sender_report: None,
            abs_capture_time: None,
            ready: Some(arrival),
        };
        let before = ALLOCS.load(Ordering::Relaxed);
        COUNTING.with(|c| c.set(true));
        let t0 = Instant::now();
        let sent = senders[host].send_timed(TimedUnit {
            unit,
            completed: Some(now),
            media: TimedMedia::Video(frame),
        });
        let dt = t0.elapsed();
        COUNTING.with(|c| c.set(false));
        allocs += ALLOCS.load(Ordering::Relaxed) - before;
        sent?;
        ns.push(dt.as_nanos() as u64);
    }
    let stats = handle.stats();
    handle.stop();
    drop(senders);
    let _ = session.join();
    ns.sort_unstable();
    let n = ns.len().max(1);
    let mean = ns.iter().sum::<u64>() as f64 / n as f64;
    let at = |q: f64| ns[((n - 1) as f64 * q).round() as usize];
    println!(
        "hand-off: {n} units, mean {mean:.0} ns, p50 {} ns, p99 {} ns, max {} ns, {:.2} allocations per unit",
        at(0.5),
        at(0.99),
        at(1.0),
        allocs as f64 / n as f64
    );
    for (id, s) in &stats.inputs {
        println!(
            "input {id}: {} in, {} dropped, {} late, {} skipped",
            s.video_in, s.dropped, s.late, s.skipped
        );
    }
    println!(
        "session: {} frames rendered, aligned hosts {}",
        stats.frames,
        stats.align.len()
    );
    Ok(())
}
