//! Added latency of the server for one WHIP host, with no network jitter: from the moment a
//! host frame is complete on the server's UDP socket (its last packet handled) to the encoder
//! output buffer of the first output frame showing it; p50 / p99 of the total and of its
//! parts: `budget` (waiting for the playout time: the aligner's latency budget, 20 ms minimum
//! by default, minus the capture-to-arrival time already spent beyond the minimum), `grid`
//! (waiting for the output tick), `render_encode` (tick → encoded buffer: compose, x264).
//!
//! `cargo run --release -p compositor --example latency_bench -- [seconds] [WxH] [min_budget_ms] [keyframe_interval] [pre|live] [lock|nolock] [nolead|lead]`
//!
//! Defaults: 20 s measured after a 32 s warm-up (longer than the aligner's 30 s jitter
//! window: the start's transit rises no longer count; first sender report, the budget settling
//! at 1 %/s, the output phase lock), 1280x720, the aligner's default minimum budget (`-` keeps
//! it), and:
//! - `pre`: the publisher sends VP8 encoded ahead (the whole run, one keyframe at the start,
//!   as browsers send keyframes on request only), on the capture schedule: a sender whose
//!   video encoder does not share this machine's cores (a separate machine, as in
//!   production); Opus stays live (cheap). Its webrtcbin sends a keyframe's ~60 packets in one burst, which delays the
//!   bundled audio packets behind it by 10–27 ms on this VM (browsers pace video and send
//!   audio first). `live` encodes in the publisher's pipeline, on the same 2 cores as the
//!   server: its encode time swings with the load, and the aligner's budget grows to cover
//!   that (a keyframe every `keyframe_interval` frames, 60 by default; browsers send them on
//!   request only, which 100000 imitates).
//! - `nolead`: the session's default `audio_lead` (0): the MP4's sound reads late by the AAC
//!   priming (1024 samples) the file does not record, and the figure is printed less it too;
//!   `lead` sets `audio_lead` to the priming so the file itself plays in sync, which makes
//!   audio due 21.3 ms earlier: the budget, and the added latency, grow by that much.
//! - `lock`: the session's output phase lock ([`compositor_core::session::phase`]) on; `nolock`
//!   keeps the exact frame grid (the grid wait is then a random phase per run, 0–33 ms).
//!
//! The publisher is GStreamer `webrtcbin` in this process (the stamped test host of
//! `tests/align_whip_support`: VP8 1.5 Mbit/s at 30 fps + Opus, sender reports on capture
//! time, media only once connected, as browsers do) on the default-route address; the
//! session composes the host full-frame at the same size, 30 fps, real time, encoding with
//! x264 (zerolatency) into an MP4 in a temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/align_whip_support/mod.rs"]
mod align_whip_support;
#[path = "../tests/whip_support/mod.rs"]
mod whip_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use align_whip_support::{StampPublisher, VideoFeed, preencode};
use compositor_core::session::SessionConfig;
use compositor_devkit::measure::latency::added_latency;
use compositor_devkit::measure::{HostRegion, StampedHost, analyze_decoded, decode_file};
use compositor_media::output::{
    EncoderKind, EncoderSettings, GstEncoder, OutputFiles, StreamFormat,
};
use compositor_render::gpu::{AdapterChoice, GpuContext};
use compositor_webrtc::ingest::WhipConfig;
use layouts::{Layout, Scene, Size};
use whip_support::{TOKEN, TestDirectory, local_ip, serve_whip};

/// Left out of the figures: longer than the aligner's 30 s jitter window, so the transit
/// rises of the start (DTLS handshake, pipelines starting, the first keyframe's burst) no
/// longer hold the budget up.
const WARMUP: Duration = Duration::from_secs(32);
/// The AAC encoder's priming (1024 samples at 48 kHz), which the MP4 does not record.
const PRIMING: Duration = Duration::from_micros(21_333);

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
    let live = match args.get(5).map(String::as_str) {
        None | Some("pre") => false,
        Some("live") => true,
        Some(other) => panic!("feed {other:?}: pre or live"),
    };
    let phase_lock = match args.get(6).map(String::as_str) {
        None | Some("lock") => true,
        Some("nolock") => false,
        Some(other) => panic!("phase {other:?}: lock or nolock"),
    };
    let lead = match args.get(7).map(String::as_str) {
        None | Some("nolead") => false,
        Some("lead") => true,
        Some(other) => panic!("audio lead {other:?}: lead or nolead"),
    };
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
        name_tags: None,
    });
    cfg.canvas = Size::new(w, h);
    cfg.initial_inputs = vec!["host".into()];
    cfg.duration = Some(Duration::from_secs(seconds + 4) + WARMUP);
    cfg.phase_lock = phase_lock;
    // The MP4 writer records no edit list for the AAC encoder's priming (1024 samples).
    // `lead` hands audio that much ahead, as `tests/align_whip.rs` does, so the file plays
    // in sync; audio must then be in hand that much earlier, and the budget grows by it.
    // `nolead` (default) is the product's default (`audio_lead` 0): lip sync is read from the
    // file and also shown less the priming.
    if lead {
        cfg.audio_lead = PRIMING;
    }
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
            matrix: compositor_core::frame::ColorMatrix::for_height(h),
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
            hls: None,
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
    let gpu = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let mut session = compositor_render::start_session(cfg, gpu, Box::new(enc)).unwrap();
    let handle = session.handle();
    let log = Arc::new(compositor_devkit::measure::latency::LatencyLog::default());
    handle.set_arrival_probe(log.clone());
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
    let feed = if live {
        VideoFeed::Live { keyframes }
    } else {
        let t = Instant::now();
        // Long enough never to loop: the only keyframe is the first (as a browser, which
        // sends keyframes on request only).
        let media = preencode(&host, (WARMUP.as_secs() + seconds + 8) as u32).unwrap();
        eprintln!(
            "pre-encoded {} frames ({} kB) in {:.1} s",
            media.video.len(),
            media.video.iter().map(|b| b.size()).sum::<usize>() / 1000,
            t.elapsed().as_secs_f64()
        );
        VideoFeed::Preencoded(Arc::new(media))
    };
    let publisher = StampPublisher::start_with(
        &rt,
        &format!("{base}/whip/s1/host"),
        TOKEN,
        host,
        Instant::now(),
        feed,
    )
    .unwrap();
    // Progress every 5 s: the aligner's budget and the worst transit rise it covers.
    let until = Instant::now() + Duration::from_secs(seconds + 2) + WARMUP;
    while Instant::now() < until {
        std::thread::sleep(Duration::from_secs(5).min(until - Instant::now()));
        let st = handle.stats();
        if let Some((_, a)) = st.align.first() {
            let au = st.inputs.first().map(|(_, s)| *s).unwrap_or_default();
            eprintln!(
                "t={:5.1} s budget {:.1} ms (video needs {:.1}, audio {:.1}) excess {:.1} ms jitter {:.1} ms grid offset {:.1} ms ({} steps) late ticks {}; audio frames gap {} trim {} stretched {}, late blocks {}",
                st.media_time.as_secs_f64(),
                a.budget_ms,
                a.video_need_ms,
                a.audio_need_ms,
                a.excess_ms,
                a.jitter_ms,
                st.grid_offset_ms,
                st.grid_steps,
                st.late_ticks,
                au.audio_gap_frames,
                au.audio_trimmed_frames,
                au.audio_stretched_frames,
                au.audio_late
            );
        }
    }
    let stats = handle.stats();
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
    let report = added_latency(&delivered, &enc);
    let align = stats.align.first().map(|(_, a)| *a).unwrap_or_default();
    eprintln!("align: {align:?}\ninputs: {:?}", stats.inputs);
    println!(
        "{w}x{h}@30, {seconds} s, {} feed, phase {}, audio lead {:.1} ms: {} frames measured; frames rendered {}, late ticks {}, render mean {:.1} ms (max {:.1}); aligner budget {:.1} ms (excess {:.1} ms), host delay {:.1} ms, grid offset {:.1} ms",
        if live { "live-encoded" } else { "pre-encoded" },
        if phase_lock { "locked" } else { "not locked" },
        if lead {
            PRIMING.as_secs_f64() * 1e3
        } else {
            0.0
        },
        report.frames,
        stats.frames,
        stats.late_ticks,
        stats.render_ms_mean,
        stats.render_ms_max,
        align.budget_ms,
        align.excess_ms,
        align.delay_ms,
        stats.grid_offset_ms
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
    // Lip sync of the same recording after the warm-up (stamps and beeps of the host).
    let region = HostRegion {
        name: "host".into(),
        rect: (0, 0, w, h),
        beep_hz: 1000.0,
    };
    match decode_file(
        &dir.join("out.mp4"),
        std::slice::from_ref(&region),
        Duration::from_secs(120),
    ) {
        Ok(mut d) => {
            let skip = WARMUP.as_secs_f64();
            d.frames.retain(|(pts, _)| *pts >= skip);
            let cut = (((skip - d.audio_t0) * f64::from(d.audio_rate)).max(0.0) as usize)
                .min(d.audio.len());
            d.audio.drain(..cut);
            d.audio_t0 += cut as f64 / f64::from(d.audio_rate.max(1));
            let r = analyze_decoded(&d, &[region]);
            if let Some(hs) = r.hosts.first().filter(|h| h.beeps > 0) {
                println!(
                    "lip sync (sound minus picture) over {} beeps: mean {:+.1} ms, min {:+.1} ms, max {:+.1} ms",
                    hs.beeps, hs.av_mean_ms, hs.av_min_ms, hs.av_max_ms
                );
                if !lead {
                    let p = PRIMING.as_secs_f64() * 1e3;
                    println!(
                        "  less the AAC priming the MP4 does not record ({p:.1} ms): mean {:+.1} ms, min {:+.1} ms, max {:+.1} ms",
                        hs.av_mean_ms - p,
                        hs.av_min_ms - p,
                        hs.av_max_ms - p
                    );
                }
            }
        }
        Err(e) => eprintln!("lip sync not measured: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
