//! The real binary: `compositor serve` on ephemeral ports, driven by `compositor ctl`,
//! scraped on `/metrics`, stopped by SIGTERM (exit status 0 after stopping its sessions).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_compositor");
const TOKEN: &str = "serve-test-token";

use compositor_devkit::process::ChildGuard as Guard;

fn ctl(grpc: &str, token: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(["ctl", "--addr", &format!("http://{grpc}"), "--token", token])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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

#[test]
fn serve_ctl_metrics_and_sigterm() {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--grpc-bind",
            "127.0.0.1:0",
            "--http-bind",
            "127.0.0.1:0",
            "--token",
            TOKEN,
        ])
        .env("COMPOSITOR_HTTP_PUBLIC_URL", "https://live.example.com")
        .env("COMPOSITOR_WHIP_UDP_BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut guard = Guard(Some(child));
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addrs: serde_json::Value = serde_json::from_str(&line).expect("address line");
    let grpc = addrs["grpc"].as_str().unwrap().to_owned();
    let http = addrs["http"].as_str().unwrap().to_owned();

    let (ok, out, err) = ctl(
        &grpc,
        TOKEN,
        &[
            "create-session",
            "--id",
            "show",
            "--size",
            "320x180",
            "--fps",
            "10",
        ],
    );
    assert!(ok, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["session_id"], "show");
    assert_eq!(s["width"], 320);
    let (ok, out, err) = ctl(
        &grpc,
        TOKEN,
        &["add-input", "show", "host-a", "--label", "Alice"],
    );
    assert!(ok, "{err}");
    let a: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(a["whip_url"], "https://live.example.com/whip/show/host-a");
    let (ok, _, err) = ctl(
        &grpc,
        TOKEN,
        &[
            "set-layout",
            "show",
            "--grid",
            "host-a",
            "--transition-ms",
            "200",
        ],
    );
    assert!(ok, "{err}");
    // Refusals come back as errors with the status, and a wrong token is refused.
    let (ok, _, err) = ctl(&grpc, TOKEN, &["remove-input", "show", "host-a"]);
    assert!(!ok && err.contains("in the current layout"), "{err}");
    let (ok, _, err) = ctl(&grpc, "wrong-token-xyz", &["list-sessions"]);
    assert!(!ok && err.contains("invalid bearer token"), "{err}");
    let png = std::env::temp_dir().join(format!("serve-ctl-{}.png", std::process::id()));
    let (ok, _, err) = ctl(
        &grpc,
        TOKEN,
        &["get-frame", "show", "--out", png.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (320, 180));
    let _ = std::fs::remove_file(&png);

    let metrics = http_get(&http, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("compositor_sessions 1"), "{metrics}");
    assert!(
        metrics.contains("compositor_frames_total{session=\"show\"}"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("compositor_input_video_frames_total{session=\"show\",input=\"host-a\"} 0"),
        "{metrics}"
    );

    // SIGTERM: listeners drain, sessions stop, exit 0.
    let child = guard.0.as_mut().unwrap();
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
            start.elapsed() < Duration::from_secs(20),
            "server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    guard.0 = None;
}
