//! The output hub against real servers on loopback: nginx-rtmp (read back with ffprobe),
//! RTMP fault and reconnect with an MP4 recording of the same session checked for gaps,
//! SRT caller and listener into GStreamer `srtsrc`, HLS playlist and segments, an MP4 that
//! survives a SIGKILL of the real binary, and control errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compositor::output::{OutputSpec, OutputState, OutputTarget, SrtMode};
use compositor::session::{CommandError, SessionEvent};
use compositor::stream::LiveSession;
use layouts::Size;
use support::*;

fn mp4(id: &str, path: &std::path::Path) -> OutputSpec {
    OutputSpec {
        id: id.into(),
        target: OutputTarget::Mp4 {
            path: path.to_path_buf(),
        },
        encoder: None,
    }
}

fn rtmp(id: &str, nginx: &Nginx, key: &str) -> OutputSpec {
    OutputSpec {
        id: id.into(),
        target: OutputTarget::Rtmp {
            url: nginx.url(),
            stream_key: key.into(),
        },
        encoder: None,
    }
}

fn connected(id: &str) -> impl Fn(&SessionEvent) -> bool + '_ {
    move |e| matches!(e, SessionEvent::OutputConnected { id: i } if i == id)
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
    let recs = nginx.recordings();
    assert_eq!(recs.len(), 1, "{recs:?}");
    let rec = recs[0].to_str().unwrap();
    assert_h264_aac(rec, 640, 360);
    let frames = decoded_frames(rec);
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

/// A WHIP server made of a tiny HTTP handler and GStreamer's webrtcbin: answers one offer with
/// 201 + Location, decodes the video it receives into an appsink, accepts the DELETE.
mod whip_server {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use gstreamer as gst;
    use gstreamer::prelude::*;
    use gstreamer_app as gst_app;
    use gstreamer_sdp as gst_sdp;
    use gstreamer_webrtc as gst_webrtc;

    /// What the server saw.
    #[derive(Default)]
    pub struct Seen {
        pub frames: AtomicU64,
        pub size: Mutex<Option<(u32, u32)>>,
        pub deleted: AtomicBool,
        pub auth: Mutex<Option<String>>,
    }

    pub struct WhipServer {
        pub url: String,
        pub seen: Arc<Seen>,
        pipeline: gst::Pipeline,
    }

    impl Drop for WhipServer {
        fn drop(&mut self) {
            let _ = self.pipeline.set_state(gst::State::Null);
        }
    }

    fn on_pad(pipeline: &gst::Pipeline, pad: &gst::Pad, seen: &Arc<Seen>) {
        let decode = gst::ElementFactory::make("decodebin").build().unwrap();
        pipeline.add(&decode).unwrap();
        decode.sync_state_with_parent().unwrap();
        pad.link(&decode.static_pad("sink").unwrap()).unwrap();
        let (p, seen) = (pipeline.clone(), seen.clone());
        decode.connect_pad_added(move |_, dpad| {
            let caps = dpad.current_caps().unwrap();
            let name = caps.structure(0).unwrap().name().to_string();
            if name.starts_with("video/") {
                let conv = gst::ElementFactory::make("videoconvert").build().unwrap();
                let sink = gst_app::AppSink::builder().sync(false).build();
                p.add_many([&conv, sink.upcast_ref()]).unwrap();
                conv.link(&sink).unwrap();
                conv.sync_state_with_parent().unwrap();
                sink.sync_state_with_parent().unwrap();
                let seen = seen.clone();
                sink.set_callbacks(
                    gst_app::AppSinkCallbacks::builder()
                        .new_sample(move |s| {
                            let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                            if let Some(info) = sample
                                .caps()
                                .and_then(|c| gstreamer_video::VideoInfo::from_caps(c).ok())
                            {
                                *seen.size.lock().unwrap() = Some((info.width(), info.height()));
                            }
                            seen.frames.fetch_add(1, Ordering::Relaxed);
                            Ok(gst::FlowSuccess::Ok)
                        })
                        .build(),
                );
                dpad.link(&conv.static_pad("sink").unwrap()).unwrap();
            } else {
                let sink = gst::ElementFactory::make("fakesink").build().unwrap();
                p.add(&sink).unwrap();
                sink.sync_state_with_parent().unwrap();
                dpad.link(&sink.static_pad("sink").unwrap()).unwrap();
            }
        });
    }

    fn answer(webrtc: &gst::Element, offer_sdp: &str, pem: &str) -> String {
        let sdp = gst_sdp::SDPMessage::parse_buffer(offer_sdp.as_bytes()).unwrap();
        let offer =
            gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Offer, sdp);
        let (dtx, drx) = std::sync::mpsc::channel();
        let done = gst::Promise::with_change_func(move |_| {
            let _ = dtx.send(());
        });
        webrtc.emit_by_name::<()>("set-remote-description", &[&offer, &done]);
        drx.recv_timeout(Duration::from_secs(10)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let promise = gst::Promise::with_change_func(move |reply| {
            let _ = tx.send(reply.ok().flatten().map(|s| s.to_owned()));
        });
        webrtc.emit_by_name::<()>("create-answer", &[&None::<gst::Structure>, &promise]);
        let reply = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        let ans = reply
            .get::<gst_webrtc::WebRTCSessionDescription>("answer")
            .unwrap();
        webrtc.emit_by_name::<()>("set-local-description", &[&ans, &None::<gst::Promise>]);
        // No trickle in WHIP here: wait until every candidate is in the local description.
        let end = Instant::now() + Duration::from_secs(10);
        while webrtc.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state")
            != gst_webrtc::WebRTCICEGatheringState::Complete
            && Instant::now() < end
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let local = webrtc
            .property::<Option<gst_webrtc::WebRTCSessionDescription>>("local-description")
            .unwrap();
        // webrtcbin writes the fingerprint of its default certificate into the SDP even when
        // its DTLS elements were given another one: state the one the handshake will use.
        let fp = fingerprint(pem);
        local
            .sdp()
            .as_text()
            .unwrap()
            .lines()
            .map(|l| {
                if l.starts_with("a=fingerprint:") {
                    format!("a=fingerprint:sha-256 {fp}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n")
            + "\r\n"
    }

    fn ecdsa_pem() -> String {
        let dir = super::temp_dir("whip_cert");
        let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
        let st = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=webrtcbin", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(st.success());
        std::fs::read_to_string(&cert).unwrap() + &std::fs::read_to_string(&key).unwrap()
    }

    /// SHA-256 fingerprint (AA:BB:…) of the certificate in `pem`.
    fn fingerprint(pem: &str) -> String {
        let dir = super::temp_dir("whip_fp");
        let path = dir.join("cert.pem");
        std::fs::write(&path, pem).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        s.trim().rsplit('=').next().unwrap().to_string()
    }

    pub fn start() -> WhipServer {
        gst::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let webrtc = gst::ElementFactory::make("webrtcbin")
            .property_from_str("bundle-policy", "max-bundle")
            .build()
            .unwrap();
        pipeline.add(&webrtc).unwrap();
        // GStreamer's DTLS makes an RSA certificate by default; str0m's DTLS (like many SFU
        // stacks) speaks ECDHE-ECDSA only, so give webrtcbin an ECDSA certificate.
        let pem = ecdsa_pem();
        let pem2 = pem.clone();
        pipeline.connect_deep_element_added(move |_, _, el| {
            if el.factory().is_some_and(|f| f.name() == "dtlssrtpdec") {
                el.set_property("pem", &pem);
            }
        });
        let seen = Arc::new(Seen::default());
        {
            let (p, seen) = (pipeline.clone(), seen.clone());
            webrtc.connect_pad_added(move |_, pad| on_pad(&p, pad, &seen));
        }
        pipeline.set_state(gst::State::Playing).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/whip/endpoint", listener.local_addr().unwrap());
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { break };
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let method = line
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    let h = h.trim_end().to_string();
                    if h.is_empty() {
                        break;
                    }
                    let lower = h.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if lower.starts_with("authorization:") {
                        *seen2.auth.lock().unwrap() = Some(h[14..].trim().to_string());
                    }
                }
                let mut body = vec![0u8; len];
                r.read_exact(&mut body).unwrap();
                let resp = if method == "POST" {
                    let ans = answer(&webrtc, &String::from_utf8_lossy(&body), &pem2);
                    format!(
                        "HTTP/1.1 201 Created\r\nContent-Type: application/sdp\r\nLocation: /whip/resource/1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{ans}",
                        ans.len()
                    )
                } else if method == "DELETE" {
                    seen2.deleted.store(true, Ordering::Relaxed);
                    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
                } else {
                    "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n".into()
                };
                let _ = s.write_all(resp.as_bytes());
            }
        });
        WhipServer {
            url,
            seen,
            pipeline,
        }
    }
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
