//! Offline end-to-end sync: two stamped hosts, host B 80 ms late with ±20 ms jitter,
//! timestamps mapped through the aligner (RTP + sender reports, simulated network), a real
//! session (offline clock, GPU render, mixer) into an MP4 through the real encoder; the
//! analyzer then measures the file. A negative control stamps by arrival time instead and
//! the analyzer must see the 80 ms skew.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use compositor_core::align::{AlignConfig, Aligner, MediaUnit, SenderReport, TrackKind};
use compositor_core::frame::AudioBlock;
use compositor_core::session::{ClockMode, InputSender, SessionConfig};
use compositor_devkit::measure::{HostRegion, StampedHost, SyncReport, analyze_file};
use compositor_media::output::{
    EncoderKind, EncoderSettings, GstEncoder, OutputFiles, StreamFormat,
};
use compositor_render::gpu::{AdapterChoice, GpuContext};
use layouts::{Background, Content, Layout, Scene, Size, Style};

const CANVAS: Size = Size::new(640, 360);
const SECONDS: f64 = 10.0;
/// Unix time of session time 0 (the hosts' NTP clocks agree with the server's).
const EPOCH: f64 = 1_750_000_000.0;
const AUDIO_BLOCK: Duration = Duration::from_millis(20);

/// Deterministic uniform noise in [-1, 1).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

struct Net {
    delay: f64,
    jitter: f64,
}

#[derive(Clone, Copy)]
struct Unit {
    host: usize,
    kind: TrackKind,
    capture: Duration,
    arrival: f64,
    pts: Duration,
}

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

/// Where each host's picture lands in the output.
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

/// Every unit both hosts send, with its simulated arrival; `pts` from the aligner (or from
/// the arrival when `aligned` is false: the naive compositor of the negative control).
fn schedule(nets: &[Net; 2], aligned: bool) -> (Vec<Unit>, Aligner) {
    let mut noise = Noise(0x5eed);
    let mut units = Vec::new();
    let mut al = Aligner::new(AlignConfig {
        epoch_unix: Some(Duration::from_secs_f64(EPOCH)),
        ..AlignConfig::default()
    })
    .unwrap();
    let mut meta = Vec::new();
    for (host, net) in nets.iter().enumerate() {
        let frames = (SECONDS * 30.0) as u64;
        for k in 0..frames {
            let capture = Duration::from_nanos(k * 1_000_000_000 / 30);
            meta.push((host, TrackKind::Video, capture));
        }
        let blocks = (SECONDS / AUDIO_BLOCK.as_secs_f64()) as u32;
        for k in 0..blocks {
            meta.push((host, TrackKind::Audio, AUDIO_BLOCK * k));
        }
        let _ = net;
    }
    for (host, kind, capture) in meta {
        let net = &nets[host];
        let arrival = capture.as_secs_f64() + net.delay + net.jitter * noise.next();
        units.push(Unit {
            host,
            kind,
            capture,
            arrival: arrival.max(0.0),
            pts: Duration::ZERO,
        });
    }
    units.sort_by(|a, b| a.arrival.total_cmp(&b.arrival));
    for u in &mut units {
        let c = u.capture.as_secs_f64();
        let (rate, base, ssrc, sr_first, sr_every) = match u.kind {
            TrackKind::Video => (
                90_000u32,
                1_000u32 + u.host as u32,
                10 + u.host as u32,
                0.0,
                1.0,
            ),
            // Browsers send the first audio report late.
            TrackKind::Audio => (48_000, 4_000_000_000, 20 + u.host as u32, 3.0, 5.0),
        };
        let rtp = |t: f64| base.wrapping_add((t * f64::from(rate)).round() as u32);
        let sr = (c >= sr_first).then(|| {
            let ts = sr_first + ((c - sr_first) / sr_every).floor() * sr_every;
            SenderReport {
                ntp: Duration::from_secs_f64(EPOCH + ts),
                rtp_ts: rtp(ts),
            }
        });
        let mu = MediaUnit {
            ssrc,
            rtp_ts: rtp(c),
            clock_rate: rate,
            arrival: Duration::from_secs_f64(u.arrival),
            sender_report: sr,
            abs_capture_time: None,
            ready: None,
        };
        let name = ["a", "b"][u.host];
        let p = al.push(name, u.kind, &mu).unwrap();
        u.pts = if aligned {
            p.pts
        } else {
            Duration::from_secs_f64(u.arrival + 0.1)
        };
    }
    (units, al)
}

/// Sends one host's units in pts order (what a real-time receiver would have in time),
/// dropping those that arrived after their playout time.
fn feed(host: StampedHost, mut units: Vec<Unit>, input: InputSender) {
    units.retain(|u| u.pts.as_secs_f64() >= u.arrival);
    units.sort_by_key(|u| u.pts);
    let frames = (host.sample_rate as f64 * AUDIO_BLOCK.as_secs_f64()) as usize;
    for u in units {
        let res = match u.kind {
            TrackKind::Video => {
                let mut f = host.frame(u.capture).unwrap();
                f.pts = u.pts;
                input.send_video(f)
            }
            TrackKind::Audio => input.send_audio(AudioBlock {
                pts: u.pts,
                sample_rate: host.sample_rate,
                channels: host.channels,
                samples: host.audio(u.capture, frames),
            }),
        };
        if res.is_err() {
            return;
        }
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        // ALIGN_SYNC_KEEP=1 keeps the recordings for `compositor analyze`.
        if std::env::var_os("ALIGN_SYNC_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn run_session(
    nets: &[Net; 2],
    aligned: bool,
    mp4: &Path,
) -> (SyncReport, Aligner, compositor_core::session::StatsSnapshot) {
    let hosts = [
        StampedHost::new((200, 40, 40), 1000.0),
        StampedHost::new((40, 40, 200), 1500.0),
    ];
    let (units, al) = schedule(nets, aligned);
    let cfg = SessionConfig {
        canvas: CANVAS,
        clock: ClockMode::Offline,
        initial_inputs: vec!["a".into(), "b".into()],
        duration: Some(Duration::from_secs_f64(SECONDS)),
        // The MP4 carries no edit list for the AAC encoder's 1024 priming samples.
        audio_lead: Duration::from_secs_f64(1024.0 / 48_000.0),
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
            mp4: Some(mp4.to_path_buf()),
            flv: None,
            hls: None,
        },
        false,
    )
    .unwrap();
    let gpu: Arc<GpuContext> = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let mut session = compositor_render::start_session(cfg, gpu, Box::new(enc)).unwrap();
    let handle = session.handle();
    for name in ["a", "b"] {
        if let Some(st) = al.stats(name) {
            handle.publish_align_stats(name, st);
        }
    }
    let inputs = session.take_inputs();
    let mut threads = Vec::new();
    for (i, (host, input)) in hosts.iter().cloned().zip(inputs).enumerate() {
        let mine: Vec<Unit> = units.iter().copied().filter(|u| u.host == i).collect();
        threads.push(std::thread::spawn(move || feed(host, mine, input)));
    }
    let stats_before_end = handle.stats();
    session.join().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    let regions = regions(&hosts);
    eprintln!("regions: {regions:?}");
    let report = analyze_file(mp4, &regions, Duration::from_secs(120)).unwrap();
    eprintln!("{}", report.human());
    (report, al, stats_before_end)
}

#[test]
fn aligned_hosts_are_in_lip_sync_and_in_step_on_the_output() {
    let dir = TempDir(std::env::temp_dir().join(format!("align-sync-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let nets = [
        Net {
            delay: 0.003,
            jitter: 0.001,
        },
        Net {
            delay: 0.080,
            jitter: 0.020,
        },
    ];
    let mp4 = dir.0.join("aligned.mp4");
    let (rep, al, stats) = run_session(&nets, true, &mp4);
    // The command gives the same figures.
    let hosts: Vec<String> = regions(&[
        StampedHost::new((200, 40, 40), 1000.0),
        StampedHost::new((40, 40, 200), 1500.0),
    ])
    .iter()
    .map(|r| {
        let (x, y, w, h) = r.rect;
        format!("{}:{x},{y},{w},{h}:{}", r.name, r.beep_hz)
    })
    .collect();
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_compositor"))
        .arg("analyze")
        .arg(&mp4)
        .args(["--host", &hosts[0], "--host", &hosts[1], "--json"])
        .output()
        .unwrap();
    assert!(cli.status.success(), "{cli:?}");
    let v: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    // Through JSON: equal up to float parsing (serde_json may be 1 ulp off).
    let share = v["same_instant_share"].as_f64().unwrap();
    assert!(
        (share - rep.same_instant_share).abs() < 1e-12,
        "{share} vs {}",
        rep.same_instant_share
    );
    assert_eq!(
        v["hosts"][1]["beeps"].as_u64(),
        Some(rep.hosts[1].beeps as u64)
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_compositor"))
        .arg("analyze")
        .arg(&mp4)
        .args(["--host", "a:0,0,0,360:1000"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("non-empty rectangle"));
    assert!(rep.frames >= 295, "{rep:?}");
    for h in &rep.hosts {
        eprintln!("{}: {:?}", h.name, h.av_offsets_ms);
    }
    for h in &rep.hosts {
        assert!(h.frames_read >= 280, "{h:?}");
        assert!(h.beeps >= 8, "{h:?}");
        // The beep at capture 0 is B's very first audio unit: it arrives before any sender
        // information of its host, so it is placed by arrival with an unknown network delay
        // (about 100 ms late). Every later beep must be in sync, including those before the
        // first audio sender report (3 s), which are placed through the host's video clock.
        let settled = h
            .beep_capture_ms
            .iter()
            .zip(&h.av_offsets_ms)
            .filter(|(ms, _)| **ms >= 1000)
            .map(|(_, o)| *o);
        assert!(settled.clone().count() >= 8, "{h:?}");
        for o in settled {
            // EBU R37 production: sound at most 5 ms early, 15 ms late.
            assert!(
                (-5.0..=15.0).contains(&o),
                "host {}: A/V {o} ms ({h:?})",
                h.name
            );
        }
    }
    assert!(rep.frames_all_read >= 280, "{rep:?}");
    assert!(rep.same_instant_share >= 0.99, "{rep:?}");
    assert!(rep.beep_pairs >= 8, "{rep:?}");
    let settled: Vec<f64> = rep
        .beep_skews_ms
        .iter()
        .filter(|(ms, _)| *ms >= 1000)
        .map(|(_, d)| *d)
        .collect();
    assert!(settled.len() >= 8, "{rep:?}");
    assert!(settled.iter().all(|d| d.abs() <= 5.0), "{rep:?}");
    // The figures the stats API shows for B: its delay and jitter, the budget covering them.
    let b = al.stats("b").unwrap();
    assert!((55.0..70.0).contains(&b.delay_ms), "{b:?}");
    assert!(b.excess_ms > 30.0 && b.trusted_clock, "{b:?}");
    assert!((95.0..=160.0).contains(&b.budget_ms), "{b:?}");
    let shown = stats.align.iter().find(|(id, _)| id == "b").unwrap();
    assert!((55.0..70.0).contains(&shown.1.delay_ms), "{shown:?}");
}

#[test]
fn without_alignment_the_analyzer_sees_the_80_ms_skew() {
    let dir = TempDir(std::env::temp_dir().join(format!("align-naive-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let nets = [
        Net {
            delay: 0.003,
            jitter: 0.0,
        },
        Net {
            delay: 0.080,
            jitter: 0.0,
        },
    ];
    let (rep, _, _) = run_session(&nets, false, &dir.0.join("naive.mp4"));
    assert!(rep.frames_all_read >= 280, "{rep:?}");
    assert!(rep.same_instant_share < 0.1, "{rep:?}");
    // 77 ms of extra delay for B, seen through the 33 ms output frame grid (the sound of
    // each host follows its picture): 2 to 3 frames.
    assert!((60.0..=100.0).contains(&rep.picture_skew_ms), "{rep:?}");
    assert!(rep.beep_pairs >= 8, "{rep:?}");
    assert!((60.0..=100.0).contains(&rep.beep_skew_mean_ms), "{rep:?}");
}

#[derive(Debug, Default)]
struct Placed(std::sync::Mutex<Vec<(String, Duration)>>);

impl compositor_core::probe::ArrivalProbe for Placed {
    fn note_arrival(&self, input: &str, pts: Duration, _completed: std::time::Instant) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((input.to_string(), pts));
    }
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn timed_units_are_placed_on_the_session_thread_by_the_wall_clock_and_publish_figures() {
    use compositor_core::session::{FALLBACK_BUDGET, TimedMedia, TimedUnit};
    let cfg = SessionConfig {
        canvas: CANVAS,
        initial_inputs: vec!["a".into(), "b".into()],
        duration: Some(Duration::from_secs(4)),
        ..SessionConfig::new(scene())
    };
    let gpu = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let mut session = compositor_render::start_session(
        cfg,
        gpu,
        Box::new(compositor_media::output::NullSink::default()),
    )
    .unwrap();
    let handle = session.handle();
    let placed = std::sync::Arc::new(Placed::default());
    assert!(handle.set_arrival_probe(placed.clone()));
    let inputs = session.take_inputs();
    let picture = compositor_core::frame::VideoFrame {
        pts: Duration::ZERO,
        matrix: compositor_core::frame::ColorMatrix::Bt709,
        image: compositor_core::frame::I420Frame::black(64, 64).unwrap(),
    };
    // A frame captured 5 ms ago by a sender whose NTP clock is the wall clock.
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let arrival = handle.session_time(std::time::Instant::now());
    let unit = MediaUnit {
        ssrc: 7,
        rtp_ts: 90_000,
        clock_rate: 90_000,
        arrival,
        sender_report: Some(SenderReport {
            ntp: now_unix - Duration::from_millis(5),
            rtp_ts: 90_000,
        }),
        abs_capture_time: None,
        ready: None,
    };
    inputs[0]
        .send_timed(TimedUnit {
            unit,
            completed: Some(std::time::Instant::now()),
            media: TimedMedia::Video(picture.clone()),
        })
        .unwrap();
    let (id, pts) = wait_for("the placed frame", || {
        placed
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .first()
            .cloned()
    });
    assert_eq!(id, "a");
    // Capture (5 ms before arrival) + the initial 100 ms budget.
    let ahead = pts.as_secs_f64() - arrival.as_secs_f64();
    assert!((0.092..=0.098).contains(&ahead), "{ahead}");
    let a = wait_for("alignment figures", || {
        handle
            .stats()
            .align
            .into_iter()
            .find(|(id, _)| id == "a")
            .map(|(_, a)| a)
    });
    assert!(
        a.trusted_clock && a.video_on_sender_clock && a.units == 1,
        "{a:?}"
    );
    assert!((a.transit_offset_ms - 5.0).abs() < 3.0, "{a:?}");
    // A unit the aligner refuses is placed by arrival + the fallback budget and counts
    // nothing in the aligner.
    let bad = MediaUnit {
        clock_rate: 0,
        ..unit
    };
    inputs[0]
        .send_timed(TimedUnit {
            unit: bad,
            completed: Some(std::time::Instant::now()),
            media: TimedMedia::Video(picture),
        })
        .unwrap();
    let (_, pts) = wait_for("the refused frame", || {
        placed
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(1)
            .cloned()
    });
    assert_eq!(pts, arrival + FALLBACK_BUDGET);
    std::thread::sleep(Duration::from_millis(150));
    let st = handle.stats();
    assert_eq!(
        st.align.iter().find(|(id, _)| id == "a").unwrap().1.units,
        1
    );
    assert_eq!(
        st.inputs
            .iter()
            .find(|(id, _)| id == "a")
            .unwrap()
            .1
            .video_in,
        2
    );
    drop(inputs);
    handle.stop();
    session.join().unwrap();
}
