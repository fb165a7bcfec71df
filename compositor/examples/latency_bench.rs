//! Added latency of the server for one WHIP host, with no network jitter: from the moment a
//! host frame is complete on the server's UDP socket (its last packet handled) to the encoder
//! output buffer of the first output frame showing it; p50 / p99 of the total and of its
//! parts: `budget` (waiting for the playout time: the aligner's latency budget, ≥ 40 ms by
//! config, minus the capture-to-arrival time already spent), `grid` (waiting for the output
//! tick), `render_encode` (tick → encoded buffer: compose, readback, x264).
//!
//! `cargo run --release -p compositor --example latency_bench -- [seconds] [WxH] [min_budget_ms] [keyframe_interval]`
//! (defaults: 20 s measured after the warm-up, 1280x720, the aligner's default minimum budget of 40 ms — a lower minimum
//! suits hosts on low-jitter paths —, and a publisher keyframe every 60 frames; browsers send
//! keyframes on request only, which a large interval such as 100000 imitates. A periodic
//! keyframe takes the sender longer to encode, and the budget covers that jitter too). The publisher is GStreamer `webrtcbin` in this process (the
//! stamped test host of `tests/align_whip_support`: VP8 1.5 Mbit/s at 30 fps + Opus, sender
//! reports on capture time, media only once connected, as browsers do) on the default-route
//! address; the session
//! composes the host full-frame at the same size, 30 fps, real time, encoding with x264
//! (zerolatency) into an MP4 in a temporary directory. The first 10 s are left out (warm-up,
//! first sender report, and the budget settling from its initial value at 1 %/s).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/align_whip_support/mod.rs"]
mod align_whip_support;
#[path = "../tests/whip_support/mod.rs"]
mod whip_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use align_whip_support::StampPublisher;
use compositor::gpu::{AdapterChoice, GpuContext};
use compositor::ingest::WhipConfig;
use compositor::measure::StampedHost;
use compositor::measure::latency::added_latency;
use compositor::output::{EncoderKind, EncoderSettings, GstEncoder, OutputFiles, StreamFormat};
use compositor::session::{Session, SessionConfig};
use layouts::{Layout, Scene, Size};
use whip_support::{TOKEN, TestDirectory, local_ip, serve_whip};

const WARMUP: Duration = Duration::from_secs(10);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let (w, h) = args
        .get(2)
        .and_then(|s| s.split_once('x'))
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .unwrap_or((1280u32, 720u32));
    let min_budget = args.get(3).and_then(|s| s.parse::<u64>().ok());
    let keyframes = args
        .get(4)
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(60);
    let dir = std::env::temp_dir().join(format!("latency-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg = SessionConfig::new(Scene {
        layout: Layout::Grid {
            inputs: vec!["host".into()],
            tile_aspect: (16, 9),
        },
        style: Default::default(),
        background: Default::default(),
        overlays: vec![],
    });
    cfg.canvas = Size::new(w, h);
    cfg.initial_inputs = vec!["host".into()];
    cfg.duration = Some(Duration::from_secs(seconds + 4) + WARMUP);
    if let Some(ms) = min_budget {
        cfg.align.min_budget = Duration::from_millis(ms);
        // Start at the minimum: the figures are for the steady state, not the slew down.
        cfg.align.initial_budget = cfg.align.min_budget;
    }
    let enc = GstEncoder::new(
        StreamFormat {
            width: w,
            height: h,
            fps_num: 30,
            fps_den: 1,
            matrix: compositor::frame::ColorMatrix::for_height(h),
            sample_rate: 48_000,
            channels: 2,
        },
        &EncoderSettings {
            kind: EncoderKind::X264,
            video_kbps: 4000,
            keyframe_interval: 60,
            ..EncoderSettings::default()
        },
        &OutputFiles {
            mp4: Some(dir.join("out.mp4")),
            flv: None,
        },
        true,
    )
    .unwrap();
    let encoded: Arc<std::sync::Mutex<Vec<(Duration, Instant)>>> = Arc::default();
    {
        let encoded = encoded.clone();
        assert!(enc.on_encoded_video(move |pts| {
            encoded.lock().unwrap().push((pts, Instant::now()));
        }));
    }
    let gpu = GpuContext::shared(AdapterChoice::from_env().unwrap()).unwrap();
    let mut session = Session::start(cfg, gpu, Box::new(enc)).unwrap();
    let handle = session.handle();
    let log = handle.enable_latency_log();
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
            udp_bind: std::net::SocketAddr::new(local_ip(), 0),
            ..WhipConfig::default()
        },
        directory,
    );
    let mut host = StampedHost::new((60, 120, 200), 1000.0);
    (host.width, host.height) = (w, h);
    let publisher = StampPublisher::start_with_keyframes(
        &rt,
        &format!("{base}/whip/s1/host"),
        TOKEN,
        host,
        Instant::now(),
        keyframes,
    )
    .unwrap();
    let stats = {
        std::thread::sleep(Duration::from_secs(seconds + 2) + WARMUP);
        handle.stats()
    };
    session.join().unwrap();
    drop(publisher);
    rt.block_on(async { server.shutdown().await });

    let (arrivals, _) = log.snapshot();
    let delivered_owned: Vec<(String, Duration, Duration)> = arrivals
        .iter()
        .map(|a| (a.input.clone(), a.pts, handle.session_time(a.arrival)))
        .filter(|(_, pts, _)| *pts >= WARMUP)
        .collect();
    let delivered: Vec<(&str, Duration, Duration)> = delivered_owned
        .iter()
        .map(|(i, p, a)| (i.as_str(), *p, *a))
        .collect();
    let enc: Vec<(Duration, Duration)> = encoded
        .lock()
        .unwrap()
        .iter()
        .map(|(pts, at)| (*pts, handle.session_time(*at)))
        .collect();
    eprintln!(
        "records: {} delivered (after warm-up), {} encoded; first delivered {:?}, first encoded {:?}",
        delivered.len(),
        enc.len(),
        delivered.first(),
        enc.first()
    );
    let report = added_latency(&delivered, &enc, 30, 1);
    let align = stats.align.first().map(|(_, a)| *a).unwrap_or_default();
    eprintln!("align: {align:?}\ninputs: {:?}", stats.inputs);
    println!(
        "{w}x{h}@30, {seconds} s: {} frames measured; frames rendered {}, late ticks {}, render mean {:.1} ms (max {:.1}); aligner budget {:.1} ms, host delay {:.1} ms",
        report.frames,
        stats.frames,
        stats.late_ticks,
        stats.render_ms_mean,
        stats.render_ms_max,
        align.budget_ms,
        align.delay_ms
    );
    for (name, p) in [
        ("total (arrival -> encoded)", report.total),
        ("  budget (arrival -> pts)", report.budget),
        ("  grid (pts -> tick)", report.grid),
        ("  render+encode (tick -> encoded)", report.render_encode),
    ] {
        println!(
            "{name:34} p50 {:6.1} ms  p99 {:6.1} ms  max {:6.1} ms",
            p.p50, p.p99, p.max
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
