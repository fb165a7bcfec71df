//! CPU of WHIP receive + decode for one host, measured on the server side.
//!
//! `cargo run --release -p compositor --example whip_ingest_bench -- [seconds] [WxH] [codec]`
//! (defaults: 20 s, 1280x720, vp8). The publisher (GStreamer `webrtcbin`, moving SMPTE
//! pattern at 30 fps, 2.5 Mbit/s, plus Opus) runs in a child process (this binary with
//! `--publish`), so the process measured holds only the WHIP server: str0m, SRTP, depacketizing,
//! the GStreamer decoders and I420/F32 conversion, and a minimal session (16×16 canvas at 1 fps
//! with a null sink) draining the slot. CPU = user + system time of this process from
//! /proc/self/stat over the window, after a 3 s warm-up.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/whip_support/mod.rs"]
mod whip_support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use compositor_core::session::{Fps, SessionConfig};
use compositor_media::output::NullSink;
use compositor_render::gpu::{AdapterChoice, GpuContext};
use compositor_webrtc::ingest::WhipConfig;
use layouts::{Layout, Scene, Size};
use whip_support::{
    PublishSpec, Publisher, TOKEN, TestDirectory, VideoCodec, local_ip, serve_whip,
};

use compositor_devkit::process::ChildGuard;

/// utime + stime of this process, seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ is 100 on Linux
}

fn parse_codec(s: &str) -> VideoCodec {
    match s {
        "h264" => VideoCodec::H264,
        "vp9" => VideoCodec::Vp9,
        _ => VideoCodec::Vp8,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--publish") {
        let (url, size, codec) = (&args[2], &args[3], parse_codec(&args[4]));
        let (w, h) = size.split_once('x').unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let spec = PublishSpec {
            moving: true,
            bitrate_kbps: 2500,
            ..PublishSpec::solid(
                codec,
                (w.parse().unwrap(), h.parse().unwrap(), 30),
                [0, 0, 0],
                440.0,
            )
        };
        let _p = Publisher::start(&rt, url, TOKEN, &spec).expect("publish");
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let size = args.get(2).cloned().unwrap_or_else(|| "1280x720".into());
    let codec = args.get(3).cloned().unwrap_or_else(|| "vp8".into());

    whip_support::init_tracing();
    gstreamer::init().unwrap();
    let gpu = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let mut cfg = SessionConfig::new(Scene {
        layout: Layout::Grid {
            inputs: vec!["host".into()],
            tile_aspect: (16, 9),
        },
        style: Default::default(),
        background: Default::default(),
        overlays: vec![],
        name_tags: None,
    });
    cfg.canvas = Size::new(16, 16);
    cfg.fps = Fps::new(1, 1);
    cfg.initial_inputs = vec!["host".into()];
    let mut session =
        compositor_render::start_session(cfg, gpu, Box::new(NullSink::default())).unwrap();
    let handle = session.handle();
    let directory = Arc::new(TestDirectory::default());
    directory.add(
        "s1",
        "host",
        session.take_inputs().pop().unwrap(),
        handle.clone(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (server, base) = serve_whip(
        &rt,
        WhipConfig {
            udp_bind: (local_ip(), 0).into(),
            ..WhipConfig::default()
        },
        directory,
    );
    let url = format!("{base}/whip/s1/host");
    let _child = ChildGuard::new(
        Command::new(std::env::current_exe().unwrap())
            .args(["--publish", &url, &size, &codec])
            .spawn()
            .unwrap(),
    );
    let stats = || server.stats().into_iter().next();
    let t0 = Instant::now();
    while stats().is_none_or(|s| s.frames_decoded < 30) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no frames: {:?}",
            stats()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    let (c0, s0, w0) = (cpu_seconds(), stats().unwrap(), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let Some(s1) = stats() else {
        panic!("the host left: {:?}", handle.events_since(0));
    };
    let (c1, wall) = (cpu_seconds(), w0.elapsed().as_secs_f64());
    let cpu = (c1 - c0) / wall;
    println!(
        "WHIP receive+decode, {size} {codec} @30 + opus, {secs} s: CPU {:.1} % of one core ({:.1} ms CPU per second), decoded {:.1} fps, {:.0} kbit/s, {} lost, {} PLIs, {} decode errors, size {}x{}",
        cpu * 100.0,
        cpu * 1000.0,
        (s1.frames_decoded - s0.frames_decoded) as f64 / wall,
        (s1.bytes - s0.bytes) as f64 * 8.0 / 1000.0 / wall,
        s1.lost - s0.lost,
        s1.plis - s0.plis,
        s1.decode_errors,
        s1.width,
        s1.height,
    );
    rt.block_on(async move { server.shutdown().await });
    handle.stop();
    let _ = session.join();
}
