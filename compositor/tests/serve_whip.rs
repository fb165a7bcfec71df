//! The product path through the real binary: `compositor serve` is driven by `compositor ctl`
//! (create a session, add a host slot, lay it out, add an MP4 recording), GStreamer's
//! `webrtcbin` publishes to the WHIP URL and bearer token that `add-input` handed out, the
//! host's picture shows in the composite (`get-frame`), `/metrics` counts its decoded frames,
//! and after SIGTERM the recording decodes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod whip_support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use whip_support::{PublishSpec, Publisher, VideoCodec, close_rgb, local_ip};

const BIN: &str = env!("CARGO_BIN_EXE_compositor");
const TOKEN: &str = "serve-whip-test-token";

fn ctl(grpc: &str, args: &[&str]) -> serde_json::Value {
    compositor_devkit::process::ctl_json(BIN, grpc, TOKEN, args).unwrap()
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// The value of one metric line (`name{labels} value`).
fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_host_published_over_whip_shows_in_the_served_composite_and_recording() {
    let ip = local_ip();
    let mut server = compositor_devkit::process::spawn_serve(
        BIN,
        &format!("{ip}:0"),
        TOKEN,
        &[
            ("COMPOSITOR_WHIP_UDP_BIND", format!("{ip}:0")),
            ("COMPOSITOR_ADAPTER", "auto".into()),
        ],
    )
    .unwrap();
    let (grpc, http) = (server.grpc.clone(), server.http.clone());

    ctl(
        &grpc,
        &[
            "create-session",
            "--id",
            "show",
            "--size",
            "320x180",
            "--fps",
            "15",
        ],
    );
    let input = ctl(&grpc, &["add-input", "show", "alice"]);
    let whip_url = input["whip_url"].as_str().unwrap().to_owned();
    let host_token = input["bearer_token"].as_str().unwrap().to_owned();
    assert_eq!(whip_url, format!("http://{http}/whip/show/alice"));
    ctl(&grpc, &["set-layout", "show", "--grid", "alice"]);
    let rec = std::env::temp_dir().join(format!("serve-whip-{}.mp4", std::process::id()));
    let _ = std::fs::remove_file(&rec);
    ctl(
        &grpc,
        &["add-output", "show", "rec", "--mp4", rec.to_str().unwrap()],
    );

    // A host publishes solid red VP8 + a 440 Hz tone with webrtcbin.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let red = [220u8, 30, 30];
    let spec = PublishSpec::solid(VideoCodec::Vp8, (320, 240, 30), red, 440.0);
    let publisher = Publisher::start(&rt, &whip_url, &host_token, &spec).expect("publish");

    // Decoded frames show up in /metrics.
    let start = Instant::now();
    let decoded = loop {
        let m = http_get(&http, "/metrics");
        let n = metric(
            &m,
            "compositor_whip_frames_decoded_total{session=\"show\",input=\"alice\"}",
        )
        .unwrap_or(0.0);
        if n >= 60.0 {
            break n;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no decoded frames from the host after 30 s: {n}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(decoded >= 60.0);

    // The composite shows the host's red in its slot (the grid of one fills the canvas
    // centre).
    let png = std::env::temp_dir().join(format!("serve-whip-{}.png", std::process::id()));
    ctl(
        &grpc,
        &["get-frame", "show", "--out", png.to_str().unwrap()],
    );
    let img = image::open(&png).unwrap().to_rgb8();
    let _ = std::fs::remove_file(&png);
    let c = img.get_pixel(160, 90).0;
    let rgb = [f64::from(c[0]), f64::from(c[1]), f64::from(c[2])];
    assert!(close_rgb(rgb, red, 30.0), "centre of the composite {rgb:?}");

    // The host's counters are in the session's stats too.
    let stats = ctl(&grpc, &["get-stats", "show"]);
    let text = stats.to_string();
    assert!(text.contains("alice"), "{text}");

    drop(publisher);
    // SIGTERM: the recording is finalised and decodes.
    let child = server.guard.0.as_mut().unwrap();
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    server.guard.0 = None;
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&rec)
        .output()
        .unwrap();
    let probe = String::from_utf8_lossy(&probe.stdout).to_string();
    let _ = std::fs::remove_file(&rec);
    let fields: Vec<&str> = probe.trim().split(',').collect();
    assert_eq!(
        fields.first().copied(),
        Some("h264"),
        "recording: {probe:?}"
    );
    assert_eq!(fields.get(1..3), Some(&["320", "180"][..]), "{probe:?}");
    let frames: u64 = fields.last().and_then(|f| f.parse().ok()).unwrap_or(0);
    assert!(frames >= 30, "decodable frames in the recording: {probe}");
}
