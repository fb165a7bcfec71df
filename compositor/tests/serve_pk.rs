//! A PK battle through the real binary: `compositor serve`, two hosts publishing over WHIP
//! (GStreamer's webrtcbin), `compositor ctl pk start|score|end` scheduling the match on the
//! output clock, an MP4 recording. Read back from the MP4 alone: each frame's layout SEI
//! (ffmpeg demuxes, our small parser reads the SEI) shows each phase from its scheduled output
//! time (±1 frame), the scores sent, and tesseract reads the countdown and a CJK name from
//! the decoded frames.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sei_support;
mod whip_support;

use std::process::Command;
use std::time::{Duration, Instant};

use compositor_devkit::ocr::{bar_seam_x, ocr_line, white_ink};
use whip_support::{PublishSpec, Publisher, VideoCodec, local_ip};

const BIN: &str = env!("CARGO_BIN_EXE_compositor");
const TOKEN: &str = "serve-pk-test-token";
const FPS: u64 = 15;

fn ctl(grpc: &str, args: &[&str]) -> serde_json::Value {
    compositor_devkit::process::ctl_json(BIN, grpc, TOKEN, args).unwrap()
}

fn media_ms(grpc: &str) -> u64 {
    ctl(grpc, &["get-stats", "show"])["media_time_ms"]
        .as_u64()
        .unwrap_or(0)
}

/// Frame `n` (presentation order) of `mp4` as RGB, decoded by ffmpeg.
fn decode_frame(mp4: &std::path::Path, n: usize, dir: &std::path::Path) -> image::RgbImage {
    let png = dir.join(format!("frame-{n}.png"));
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(mp4)
        .args(["-vf", &format!("select=eq(n\\,{n})"), "-frames:v", "1"])
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    image::open(&png).unwrap().to_rgb8()
}

#[test]
fn ctl_drives_a_battle_with_whip_hosts_into_the_recording() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-pk");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
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
    let grpc = server.grpc.clone();

    ctl(
        &grpc,
        &[
            "create-session",
            "--id",
            "show",
            "--size",
            "640x360",
            "--fps",
            "15",
        ],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut publishers = Vec::new();
    for (id, label, rgb) in [
        ("a", "小美🌸", [40u8, 150, 60]),
        ("b", "Anna ✨", [90, 90, 90]),
    ] {
        let input = ctl(&grpc, &["add-input", "show", id, "--label", label]);
        let url = input["whip_url"].as_str().unwrap().to_owned();
        let token = input["bearer_token"].as_str().unwrap().to_owned();
        let spec = PublishSpec::solid(VideoCodec::Vp8, (320, 240, 15), rgb, 440.0);
        publishers.push(Publisher::start(&rt, &url, &token, &spec).expect("publish"));
    }
    ctl(&grpc, &["set-layout", "show", "--grid", "a,b"]);
    let rec = dir.join("battle.mp4");
    ctl(
        &grpc,
        &["add-output", "show", "rec", "--mp4", rec.to_str().unwrap()],
    );
    // Both hosts' video flowing.
    let start = Instant::now();
    loop {
        let s = ctl(&grpc, &["get-stats", "show"]);
        let flowing = s["inputs"]
            .as_array()
            .is_some_and(|v| v.len() == 2 && v.iter().all(|i| i["video_in"].as_u64() > Some(15)));
        if flowing {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "hosts not flowing: {s}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The match on the output clock: intro at T, battle at T+1 s (6 s), result at T+7 s
    // (2 s), punishment at T+9 s (2 s), idle at T+11 s.
    let t0 = (media_ms(&grpc) / 1000 + 2) * 1000;
    let at = t0.to_string();
    ctl(
        &grpc,
        &[
            "pk",
            "start",
            "show",
            "--left",
            "a",
            "--right",
            "b",
            "--battle-s",
            "6",
            "--punish-s",
            "2",
            "--intro-ms",
            "1000",
            "--result-ms",
            "2000",
            "--at-ms",
            &at,
        ],
    );
    // Gifts in the battle (ctl applies each at the next frame).
    while media_ms(&grpc) < t0 + 1500 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = ctl(
        &grpc,
        &["pk", "score", "show", "a", "--add", "300", "--key", "g1"],
    );
    assert_eq!(r["applied"], true);
    let r = ctl(
        &grpc,
        &["pk", "score", "show", "a", "--add", "300", "--key", "g1"],
    );
    assert_eq!(r["applied"], false, "a retried gift counts once");
    ctl(
        &grpc,
        &["pk", "score", "show", "b", "--add", "100", "--key", "g2"],
    );
    while media_ms(&grpc) < t0 + 12_000 {
        std::thread::sleep(Duration::from_millis(100));
    }
    ctl(&grpc, &["remove-output", "show", "rec"]);
    ctl(&grpc, &["delete-session", "show"]);
    drop(publishers);
    server.guard.kill();

    // Per frame, its layout as the MP4 carries it.
    let frames: Vec<serde_json::Value> = sei_support::sei_of_mp4(&rec)
        .into_iter()
        .map(|v| {
            assert_eq!(v.len(), 1, "one layout SEI per frame");
            serde_json::from_str(&v[0]).unwrap()
        })
        .collect();
    assert!(frames.len() > 10 * FPS as usize, "{} frames", frames.len());
    let phase = |f: &serde_json::Value| f["pk"]["phase"].as_str().unwrap_or("idle").to_owned();
    let frame_ms = 1000 / FPS;
    for (name, at) in [
        ("intro", t0),
        ("battle", t0 + 1000),
        ("result", t0 + 7000),
        ("punishment", t0 + 9000),
    ] {
        let first = frames
            .iter()
            .find(|f| phase(f) == name)
            .unwrap_or_else(|| panic!("no {name} frame"));
        let t = first["t"].as_u64().unwrap();
        assert!(
            t >= at && t <= at + frame_ms + 1,
            "{name} first shown at {t} ms, scheduled at {at} ms"
        );
    }
    let last = frames.iter().rev().find(|f| phase(f) != "idle").unwrap();
    assert!(last["t"].as_u64().unwrap() < t0 + 11_000);
    let battle: Vec<(usize, &serde_json::Value)> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| phase(f) == "battle")
        .collect();
    let (_, end) = battle.last().unwrap();
    assert_eq!(end["pk"]["scores"], serde_json::json!([300, 100]));
    assert_eq!(frames[battle[0].0]["tiles"][0]["label"], "小美🌸");

    // OCR on decoded frames: the countdown 3 s before the result (00:03), and the CJK name.
    let (idx, f) = battle
        .iter()
        .find(|(_, f)| {
            let left = f["pk"]["left_ms"].as_u64().unwrap();
            (2100..2900).contains(&left)
        })
        .copied()
        .expect("a battle frame with 2.1..2.9 s left");
    let img = decode_frame(&rec, idx, &dir);
    let bar_h = 28;
    let pill = image::imageops::crop_imm(&img, 320 - 60, bar_h, 120, 40).to_image();
    let read = ocr_line(&pill, "eng", &dir.join("countdown.png")).unwrap();
    assert!(
        read.contains("00:03"),
        "frame {idx} ({f}): tesseract read {read:?}"
    );
    let mut tag = image::imageops::crop_imm(&img, 16, 360 - 44, 150, 44).to_image();
    white_ink(&mut tag);
    let read = ocr_line(&tag, "chi_sim", &dir.join("name.png")).unwrap();
    assert!(read.contains("小美"), "tesseract read {read:?}");
    // The bar's split matches 300 : 100 (±1 % of 640 px) on the recorded frame.
    let seam = bar_seam_x(&img, bar_h - 3).expect("a seam in the bar");
    assert!(
        (f64::from(seam) - 480.0).abs() <= 6.4,
        "seam at {seam}, expected 480"
    );
}
