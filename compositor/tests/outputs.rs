//! The output hub against real servers on loopback: nginx-rtmp (read back with ffprobe),
//! RTMP fault and reconnect with an MP4 recording of the same session checked for gaps,
//! SRT caller and listener into GStreamer `srtsrc`, HLS playlist and segments, an MP4 that
//! survives a SIGKILL of the real binary, and control errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compositor_core::session::{CommandError, SessionEvent};
use compositor_devkit::stream::LiveSession;
use compositor_media::output::{OutputSpec, OutputState, OutputTarget, SrtMode};
use layouts::Size;
use support::whip_server;
use support::*;

fn rtmp(id: &str, nginx: &Nginx, key: &str) -> OutputSpec {
    OutputSpec {
        id: id.into(),
        target: OutputTarget::Rtmp {
            url: nginx.url(),
            stream_key: key.into(),
            tls_verify: true,
        },
        encoder: None,
    }
}

#[test]
fn rtmp_to_nginx_reads_back_h264_aac_at_size_and_rate() {
    let _s = serial();
    let dir = temp_dir("out_rtmp");
    let nginx = Nginx::start(&dir, free_port());
    let live = LiveSession::start(&live_options(Size::new(640, 360))).unwrap();
    let info = live
        .outputs
        .add(rtmp("cdn", &nginx, "sk_live_secret"))
        .unwrap();
    assert_eq!(info.kind, "rtmp");
    assert!(!info.destination.contains("sk_live_secret"), "{info:?}");
    let (_, took) = wait_event(&live.events, 0, Duration::from_secs(10), connected("cdn"))
        .expect("RTMP output connects");
    eprintln!("connected after {took:?}");
    // Read the live stream back from the server while it runs.
    let url = format!("{}/sk_live_secret", nginx.url());
    let live_probe = probe(
        &url,
        "stream=codec_name,width,height",
        &["-rw_timeout", "8000000"],
    );
    assert!(live_probe.contains("codec_name=h264"), "{live_probe}");
    assert!(live_probe.contains("codec_name=aac"), "{live_probe}");
    std::thread::sleep(Duration::from_secs(2));
    let listed = live.outputs.list();
    assert_eq!(listed[0].state, OutputState::Connected);
    assert!(listed[0].counters.buffers > 60, "{listed:?}");
    assert_eq!(listed[0].counters.dropped, 0, "{listed:?}");
    live.outputs.remove("cdn").unwrap();
    assert!(live.outputs.list().is_empty());
    live.stop();
    live.join().unwrap();
    let frames = nginx.single_recording_frames(640, 360);
    assert!(frames >= 90, "{frames} frames recorded by nginx");
}

#[test]
fn rtmp_server_killed_and_restarted_reconnects_and_mp4_has_no_gap() {
    let _s = serial();
    let dir = temp_dir("out_fault");
    let port = free_port();
    let mut nginx = Nginx::start(&dir, port);
    let live = LiveSession::start(&live_options(Size::new(640, 360))).unwrap();
    let rec = dir.join("session.mp4");
    live.outputs.add(mp4("rec", &rec)).unwrap();
    live.outputs.add(rtmp("cdn", &nginx, "key")).unwrap();
    let (seq, _) = wait_event(&live.events, 0, Duration::from_secs(10), connected("cdn"))
        .expect("RTMP connects");
    std::thread::sleep(Duration::from_secs(2));
    nginx.kill();
    let (seq, _) = wait_event(
        &live.events,
        seq,
        Duration::from_secs(5),
        |e| matches!(e, SessionEvent::OutputFailed { id, retrying: true, .. } if id == "cdn"),
    )
    .expect("the failure is reported");
    std::thread::sleep(Duration::from_secs(1));
    let nginx = Nginx::start(&dir, port);
    let restarted = Instant::now();
    let (_, took) = wait_event(&live.events, seq, Duration::from_secs(5), connected("cdn"))
        .unwrap_or_else(|| panic!("no reconnect within 5 s: {:?}", live.outputs.list()));
    eprintln!("reconnected {took:?} after the restart");
    assert!(restarted.elapsed() < Duration::from_secs(5));
    let listed = live.outputs.list();
    let cdn = listed.iter().find(|o| o.id == "cdn").unwrap();
    assert_eq!(cdn.state, OutputState::Connected);
    assert!(cdn.counters.reconnects >= 1, "{cdn:?}");
    assert!(
        live.events
            .since(0)
            .iter()
            .any(|(_, e)| matches!(e, SessionEvent::OutputReconnecting { id, .. } if id == "cdn"))
    );
    let mp4_state = &listed.iter().find(|o| o.id == "rec").unwrap().state;
    assert_eq!(*mp4_state, OutputState::Connected);
    std::thread::sleep(Duration::from_secs(2));
    live.stop();
    let report = live.join().unwrap();
    // The recording of the same session: continuous timestamps, no stall, whole length.
    let path = rec.to_str().unwrap();
    assert_h264_aac(path, 640, 360);
    let pts = video_pts(path);
    let worst = pts.windows(2).map(|w| w[1] - w[0]).fold(0.0f64, f64::max);
    assert!(worst <= 0.1, "largest gap between frames {worst} s");
    assert!(pts.windows(2).all(|w| w[1] > w[0]), "pts not increasing");
    let span = pts.last().unwrap() - pts.first().unwrap();
    assert!(
        pts.len() as u64 + 5 >= report.frames.saturating_sub(report.late_ticks) * 9 / 10,
        "{} frames in the MP4 of {} rendered",
        pts.len(),
        report.frames
    );
    assert!(span > 5.0, "recording spans {span} s");
    // The restarted server got a second, decodable stream.
    let recs = nginx.recordings();
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert!(decoded_frames(recs[1].to_str().unwrap()) >= 30);
}

fn srt_receiver(uri: &str, out: &std::path::Path) -> ChildGuard {
    ChildGuard(Some(
        Command::new("gst-launch-1.0")
            .args(["-q", "-e", "srtsrc"])
            .arg(format!("uri={uri}"))
            .args(["!", "filesink"])
            .arg(format!("location={}", out.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gst-launch-1.0 runs"),
    ))
}

#[test]
fn srt_caller_with_passphrase_and_listener_reach_srtsrc() {
    let _s = serial();
    let dir = temp_dir("out_srt");
    let (p1, p2) = (free_port(), free_port());
    let pass = "correct-horse-battery";
    let ts1 = dir.join("caller.ts");
    let ts2 = dir.join("listener.ts");
    // Receiver 1 listens for our caller (encrypted); receiver 2 calls our listener.
    let mut r1 = srt_receiver(
        &format!("srt://127.0.0.1:{p1}?mode=listener&latency=120&pbkeylen=16&passphrase={pass}"),
        &ts1,
    );
    let live = LiveSession::start(&live_options(Size::new(640, 360))).unwrap();
    let caller = live
        .outputs
        .add(OutputSpec {
            id: "srt-caller".into(),
            target: OutputTarget::Srt {
                address: format!("127.0.0.1:{p1}"),
                mode: SrtMode::Caller,
                latency_ms: 120,
                passphrase: Some(pass.into()),
            },
            encoder: None,
        })
        .unwrap();
    assert!(!caller.destination.contains(pass), "{caller:?}");
    live.outputs
        .add(OutputSpec {
            id: "srt-listener".into(),
            target: OutputTarget::Srt {
                address: format!("127.0.0.1:{p2}"),
                mode: SrtMode::Listener,
                latency_ms: 120,
                passphrase: None,
            },
            encoder: None,
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut r2 = srt_receiver(
        &format!("srt://127.0.0.1:{p2}?mode=caller&latency=120"),
        &ts2,
    );
    std::thread::sleep(Duration::from_secs(4));
    for o in live.outputs.list() {
        assert_eq!(o.state, OutputState::Connected, "{o:?}");
        assert_eq!(o.counters.dropped, 0, "{o:?}");
    }
    live.outputs.remove("srt-caller").unwrap();
    live.outputs.remove("srt-listener").unwrap();
    live.stop();
    live.join().unwrap();
    r1.interrupt(Duration::from_secs(3));
    r2.interrupt(Duration::from_secs(3));
    for ts in [&ts1, &ts2] {
        let p = ts.to_str().unwrap();
        assert_h264_aac(p, 640, 360);
        let n = decoded_frames(p);
        assert!(n >= 60, "{p}: {n} frames");
    }
}

#[test]
fn hls_playlist_lists_decodable_segments() {
    let _s = serial();
    let dir = temp_dir("out_hls");
    let live = LiveSession::start(&live_options(Size::new(640, 360))).unwrap();
    live.outputs
        .add(OutputSpec {
            id: "hls".into(),
            target: OutputTarget::Hls {
                dir: dir.clone(),
                segment_secs: 1.0,
                playlist_len: 3,
            },
            encoder: None,
        })
        .unwrap();
    std::thread::sleep(Duration::from_secs(6));
    live.outputs.remove("hls").unwrap();
    live.stop();
    live.join().unwrap();
    let playlist = std::fs::read_to_string(dir.join("playlist.m3u8")).unwrap();
    assert!(playlist.starts_with("#EXTM3U"), "{playlist}");
    assert!(playlist.contains("#EXT-X-TARGETDURATION:1"), "{playlist}");
    let segments: Vec<&str> = playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(segments.len(), 3, "{playlist}");
    for s in segments {
        let path = dir.join(s);
        let p = path.to_str().unwrap();
        assert_h264_aac(p, 640, 360);
        let n = decoded_frames(p);
        assert!((20..=70).contains(&n), "{s}: {n} frames");
    }
}

#[test]
fn mp4_recording_survives_sigkill_of_the_server() {
    let _s = serial();
    let dir = temp_dir("out_crash");
    let rec = dir.join("crash.mp4");
    let spec = serde_json::json!({
        "id": "rec",
        "target": {"kind": "mp4", "path": rec},
        "encoder": {"preset": "ultrafast", "video_kbps": 800, "keyframe_interval": 30}
    });
    let mut server = ChildGuard(Some(
        Command::new(env!("CARGO_BIN_EXE_compositor"))
            .args(["stream", "--size", "320x180", "--output"])
            .arg(spec.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    // Let it record a few fragments, then crash it.
    let start = Instant::now();
    while std::fs::metadata(&rec).map(|m| m.len()).unwrap_or(0) < 100_000 {
        assert!(start.elapsed() < Duration::from_secs(30), "no recording");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    server.kill();
    let p = rec.to_str().unwrap();
    let s = probe(p, "stream=codec_name,width,height", &[]);
    assert!(
        s.contains("codec_name=h264") && s.contains("width=320"),
        "{s}"
    );
    let n = decoded_frames(p);
    assert!(n >= 60, "{n} frames decodable after the crash");
}

#[test]
fn control_errors_change_nothing_and_outputs_come_and_go_without_a_gap() {
    let _s = serial();
    let dir = temp_dir("out_control");
    let live = LiveSession::start(&live_options(Size::new(320, 180))).unwrap();
    let a = dir.join("a.mp4");
    live.outputs.add(mp4("a", &a)).unwrap();
    assert!(matches!(
        live.outputs.add(mp4("a", &dir.join("b.mp4"))),
        Err(CommandError::AlreadyExists(_))
    ));
    assert!(matches!(
        live.outputs.add(mp4("b", std::path::Path::new("/no/such/dir/b.mp4"))),
        Err(CommandError::Invalid(m)) if m.contains("target.path")
    ));
    assert!(matches!(
        live.outputs.remove("zzz"),
        Err(CommandError::NotFound(_))
    ));
    assert_eq!(live.outputs.list().len(), 1);
    assert!(!dir.join("b.mp4").exists());
    // Outputs come and go while "a" records: "a" sees no gap.
    std::thread::sleep(Duration::from_secs(1));
    let b = dir.join("b.mp4");
    live.outputs.add(mp4("b", &b)).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    live.outputs.remove("b").unwrap();
    assert_eq!(live.outputs.list().len(), 1);
    std::thread::sleep(Duration::from_secs(1));
    live.outputs.remove("a").unwrap();
    let events = live.events.clone();
    live.stop();
    live.join().unwrap();
    let pts = video_pts(a.to_str().unwrap());
    let worst = pts.windows(2).map(|w| w[1] - w[0]).fold(0.0f64, f64::max);
    assert!(worst <= 0.1, "largest gap in a.mp4: {worst} s");
    assert!(pts.len() >= 80, "{} frames in a.mp4", pts.len());
    let nb = decoded_frames(b.to_str().unwrap());
    assert!((15..=45).contains(&nb), "{nb} frames in b.mp4 (1 s)");
    let removed: Vec<String> = events
        .since(0)
        .into_iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::OutputRemoved { id } => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(removed, vec!["b".to_string(), "a".to_string()]);
}

#[test]
fn whip_egress_publishes_into_webrtcbin() {
    use std::sync::atomic::Ordering;
    let _s = serial();
    let server = whip_server::start();
    let live = LiveSession::start(&live_options(Size::new(640, 360))).unwrap();
    let info = live
        .outputs
        .add(OutputSpec {
            id: "sfu".into(),
            target: OutputTarget::Whip {
                url: server.url.clone(),
                token: Some("whip-secret-token".into()),
            },
            encoder: None,
        })
        .unwrap();
    assert_eq!(info.kind, "whip");
    assert!(!format!("{info:?}").contains("whip-secret-token"));
    wait_event(&live.events, 0, Duration::from_secs(15), connected("sfu")).unwrap_or_else(|| {
        panic!(
            "WHIP egress did not connect: {:?} {:?}",
            live.outputs.list(),
            live.events.since(0)
        )
    });
    let start = Instant::now();
    while server.seen.frames.load(Ordering::Relaxed) < 60
        && start.elapsed() < Duration::from_secs(15)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let frames = server.seen.frames.load(Ordering::Relaxed);
    assert!(frames >= 60, "{frames} frames decoded by webrtcbin");
    assert_eq!(*server.seen.size.lock().unwrap(), Some((640, 360)));
    assert_eq!(
        server.seen.auth.lock().unwrap().as_deref(),
        Some("Bearer whip-secret-token")
    );
    live.outputs.remove("sfu").unwrap();
    assert!(server.seen.deleted.load(Ordering::Relaxed), "no DELETE");
    live.stop();
    live.join().unwrap();
}
