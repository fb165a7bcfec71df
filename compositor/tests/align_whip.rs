//! End-to-end alignment over real WHIP ingest: two hosts publish stamped pictures and beeps
//! with GStreamer `webrtcbin` (VP8 + Opus, a WebRTC stack we did not write), host B through a
//! relay adding 80 ms ± 20 ms; the server (str0m ICE-lite, GStreamer decoders) places every
//! decoded unit through the session's aligner; a real-time session composes both and records
//! an MP4 through the real encoder, which the analyzer then measures: per-host lip sync,
//! same-instant frames sharing an output frame, same-instant beeps together.
//!
//! Each host is served by its own WHIP endpoint (same session, same directory) because the
//! endpoint's advertised address is what steers a publisher through the relay.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod align_whip_support;
mod whip_support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use align_whip_support::StampPublisher;
use compositor_core::align::AlignConfig;
use compositor_core::session::SessionConfig;
use compositor_devkit::measure::{HostRegion, StampedHost, analyze_decoded, decode_file};
use compositor_devkit::netem::{Impairment, UdpRelay};
use compositor_media::output::{
    EncoderKind, EncoderSettings, GstEncoder, OutputFiles, StreamFormat,
};
use compositor_render::gpu::{AdapterChoice, GpuContext};
use compositor_webrtc::ingest::WhipConfig;
use layouts::{Background, Content, Layout, Scene, Size, Style};
use whip_support::{TOKEN, TestDirectory, init_tracing, local_ip, serve_whip};

const CANVAS: Size = Size::new(640, 360);
/// Media time of the recording.
const SECONDS: u64 = 21;
/// Beeps before this capture time (ms) are the settling period: the first sender reports
/// come about 1 s after the start; until then B is placed by arrival (zero network delay
/// assumed), and its 70 ms correction slews out at the default 1 % in about 7 s.
const SETTLED_MS: u32 = 10_000;

fn scene() -> Scene {
    Scene {
        layout: Layout::Grid {
            inputs: vec!["a".into(), "b".into()],
            tile_aspect: (16, 9),
        },
        style: Style::default(),
        background: Background::default(),
        overlays: vec![],
        name_tags: None,
    }
}

fn hosts() -> [StampedHost; 2] {
    let mut a = StampedHost::new((200, 40, 40), 1000.0);
    let mut b = StampedHost::new((40, 40, 200), 1500.0);
    for h in [&mut a, &mut b] {
        (h.width, h.height) = (320, 180);
    }
    [a, b]
}

fn regions(hosts: &[StampedHost]) -> Vec<HostRegion> {
    let plan = layouts::plan(&scene(), CANVAS).unwrap();
    ["a", "b"]
        .iter()
        .zip(hosts)
        .map(|(id, h)| {
            let item = plan
                .items
                .iter()
                .find(|i| i.content == Content::Input(id.to_string()))
                .unwrap();
            let d = item.place(Size::new(h.width, h.height)).dest;
            HostRegion {
                name: id.to_string(),
                rect: (d.x as u32, d.y as u32, d.w, d.h),
                beep_hz: h.beep_hz,
            }
        })
        .collect()
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        // ALIGN_WHIP_KEEP=1 keeps the recording for `compositor analyze`.
        if std::env::var_os("ALIGN_WHIP_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// One retry, for a known rare miss on the loaded 2-core VM (2026-11-23: first runs missed in
/// 3 of about 12 runs): one beep of one or both hosts measures ~30 ms early, i.e. the picture
/// at that instant reached the output one frame late while its sound did not.
/// docs/known-limitations.md. The test still fails when both runs miss.
#[test]
fn whip_hosts_are_in_lip_sync_and_in_step_on_the_output() {
    if std::panic::catch_unwind(run_once).is_err() {
        eprintln!("align_whip: first run missed the figures; running once more");
        run_once();
    }
}

fn run_once() {
    init_tracing();
    let dir = TempDir(std::env::temp_dir().join(format!("align-whip-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let mp4 = dir.0.join("whip.mp4");

    let cfg = SessionConfig {
        canvas: CANVAS,
        initial_inputs: vec!["a".into(), "b".into()],
        duration: Some(Duration::from_secs(SECONDS)),
        audio_lead: Duration::from_secs_f64(1024.0 / 48_000.0),
        align: AlignConfig {
            // The default margin: the aligner measures each unit's decode (ingest passes the
            // hand-over time) and its budget covers it; an 80 ms margin stood in for that
            // until 2026-11-23.
            // Start with a budget that covers B's path, so B's first second is not dropped
            // as late while the budget grows.
            initial_budget: Duration::from_millis(150),
            ..AlignConfig::default()
        },
        ..SessionConfig::new(scene())
    };
    let fmt = StreamFormat {
        width: CANVAS.w,
        height: CANVAS.h,
        fps_num: 30,
        fps_den: 1,
        matrix: compositor_core::frame::ColorMatrix::for_height(CANVAS.h),
        sample_rate: 48_000,
        channels: 2,
    };
    let enc = GstEncoder::new(
        fmt,
        &EncoderSettings {
            kind: EncoderKind::X264,
            video_kbps: 2500,
            keyframe_interval: 30,
            ..EncoderSettings::default()
        },
        &OutputFiles {
            mp4: Some(mp4.clone()),
            flv: None,
            hls: None,
        },
        true,
    )
    .unwrap();
    let gpu = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let mut session = compositor_render::start_session(cfg, gpu, Box::new(enc)).unwrap();
    let handle = session.handle();
    let directory = Arc::new(TestDirectory::default());
    for (name, sender) in ["a", "b"].into_iter().zip(session.take_inputs()) {
        directory.add("s1", name, sender, handle.clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ip = local_ip();
    // B's endpoint: bind first so the relay knows where to forward, then advertise the relay.
    let probe = std::net::UdpSocket::bind((ip, 0)).unwrap();
    let b_udp = probe.local_addr().unwrap();
    drop(probe);
    let relay = UdpRelay::start(
        ip,
        b_udp,
        Impairment {
            delay: Duration::from_millis(80),
            jitter: Duration::from_millis(20),
        },
    )
    .unwrap();
    let start_server = |udp: std::net::SocketAddr, public: Option<std::net::SocketAddr>| {
        let cfg = WhipConfig {
            udp_bind: udp,
            public_addr: public,
            ..WhipConfig::default()
        };
        serve_whip(&rt, cfg, directory.clone())
    };
    let (server_a, base_a) = start_server(std::net::SocketAddr::new(ip, 0), None);
    let (server_b, base_b) = start_server(b_udp, Some(relay.addr));

    // Both hosts capture on one clock: same-instant pictures carry the same stamp.
    let t0 = Instant::now();
    let [ha, hb] = hosts();
    let pub_a = StampPublisher::start(&rt, &format!("{base_a}/whip/s1/a"), TOKEN, ha, t0).unwrap();
    let pub_b = StampPublisher::start(&rt, &format!("{base_b}/whip/s1/b"), TOKEN, hb, t0).unwrap();

    // Halfway: both hosts are aligned on their sender clocks.
    std::thread::sleep(Duration::from_secs(SECONDS / 2 + 2));
    let mid = handle.stats();
    session.join().unwrap();
    let ingest: Vec<_> = server_a
        .stats()
        .into_iter()
        .chain(server_b.stats())
        .collect();
    drop((pub_a, pub_b));
    rt.block_on(async {
        server_a.shutdown().await;
        server_b.shutdown().await;
    });
    eprintln!("ingest: {ingest:?}");
    eprintln!("align: {:?}", mid.align);
    eprintln!("inputs: {:?}", mid.inputs);
    eprintln!("audio: {:?}", mid.audio);
    eprintln!(
        "relay forwarded {}",
        relay.forwarded.load(std::sync::atomic::Ordering::Relaxed)
    );

    // The settled part: output frames from the first one showing A's capture SETTLED_MS on.
    let regions = regions(&hosts());
    let mut decoded = decode_file(&mp4, &regions, Duration::from_secs(120)).unwrap();
    let whole = analyze_decoded(&decoded, &regions);
    eprintln!("whole recording: {}", whole.human());
    let from = decoded
        .frames
        .iter()
        .position(|(_, s)| s[0].is_some_and(|ms| ms >= SETTLED_MS))
        .expect("A's settled pictures on the output");
    decoded.frames.drain(..from);
    let report = analyze_decoded(&decoded, &regions);
    eprintln!("{}", report.human());
    for h in &report.hosts {
        eprintln!(
            "{}: {:?}",
            h.name,
            h.beep_capture_ms
                .iter()
                .zip(&h.av_offsets_ms)
                .collect::<Vec<_>>()
        );
    }
    eprintln!("skews: {:?}", report.beep_skews_ms);

    // The stats API shows both hosts on their (trusted) sender clocks, B about 80 ms away.
    for (id, a) in &mid.align {
        assert!(
            a.video_on_sender_clock && a.audio_on_sender_clock,
            "{id}: {a:?}"
        );
        assert!(a.trusted_clock, "{id}: {a:?}");
    }
    let b = mid.align.iter().find(|(id, _)| id == "b").unwrap().1;
    assert!((55.0..=110.0).contains(&b.delay_ms), "{b:?}");
    // The budget covers B's delay and stays within the configured maximum; how far above
    // the delay it sits follows the measured jitter, which on a loaded 2-core CI machine
    // includes decode scheduling (seen 110–240 ms).
    assert!((b.delay_ms..=400.0).contains(&b.budget_ms), "{b:?}");

    for h in &report.hosts {
        let settled: Vec<f64> = h
            .beep_capture_ms
            .iter()
            .zip(&h.av_offsets_ms)
            .filter(|(ms, _)| **ms >= SETTLED_MS)
            .map(|(_, o)| *o)
            .collect();
        assert!(settled.len() >= 6, "{h:?}");
        for o in settled {
            // EBU R37: sound at most 5 ms early, 15 ms late.
            assert!(
                (-5.0..=15.0).contains(&o),
                "host {}: A/V {o} ms ({h:?})",
                h.name
            );
        }
    }
    // Same-instant pictures share an output frame once settled.
    assert!(report.frames_all_read >= 200, "{report:?}");
    assert!(report.same_instant_share >= 0.99, "{report:?}");
    let skews: Vec<f64> = report
        .beep_skews_ms
        .iter()
        .filter(|(ms, _)| *ms >= SETTLED_MS)
        .map(|(_, d)| *d)
        .collect();
    assert!(skews.len() >= 6, "{report:?}");
    assert!(skews.iter().all(|d| d.abs() <= 5.0), "{report:?}");
}
