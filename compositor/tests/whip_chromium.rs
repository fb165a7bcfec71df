//! Headless Chromium publishes over WHIP from a page (fixtures/whip_publish.html: getUserMedia
//! with RTCPeerConnection and a fetch POST with the bearer token, cross-origin, so CORS must
//! work).
//! Its fake camera and microphone play files this test writes (a solid-colour 320×240 Y4M and
//! a 523 Hz WAV): decoded frames arrive at that size and near 30 fps, the host shows in the
//! composite in its colour, the mix carries 523 Hz.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod whip_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compositor_core::frame::{ColorMatrix, rgb_to_yuv};
use compositor_core::session::SessionEvent;
use compositor_webrtc::ingest::WhipConfig;
use whip_support::{Harness, TOKEN, close_rgb, tone_of};

const CHROMIUM: &str = "/usr/bin/chromium";

use compositor_devkit::process::ChildGuard;

fn write_y4m(path: &Path, w: u32, h: u32, rgb: [u8; 3], frames: u32) {
    let (y, u, v) = rgb_to_yuv(rgb[0], rgb[1], rgb[2], ColorMatrix::Bt601);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg").unwrap();
    let luma = vec![y; (w * h) as usize];
    let cu = vec![u; (w * h / 4) as usize];
    let cv = vec![v; (w * h / 4) as usize];
    for _ in 0..frames {
        f.write_all(b"FRAME\n").unwrap();
        f.write_all(&luma).unwrap();
        f.write_all(&cu).unwrap();
        f.write_all(&cv).unwrap();
    }
}

fn write_wav(path: &Path, freq: f64, secs: u32) {
    let rate = 48_000u32;
    let n = rate * secs;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(b"RIFF").unwrap();
    f.write_all(&(36 + n * 2).to_le_bytes()).unwrap();
    f.write_all(b"WAVEfmt ").unwrap();
    f.write_all(&16u32.to_le_bytes()).unwrap();
    f.write_all(&1u16.to_le_bytes()).unwrap(); // PCM
    f.write_all(&1u16.to_le_bytes()).unwrap(); // mono
    f.write_all(&rate.to_le_bytes()).unwrap();
    f.write_all(&(rate * 2).to_le_bytes()).unwrap();
    f.write_all(&2u16.to_le_bytes()).unwrap();
    f.write_all(&16u16.to_le_bytes()).unwrap();
    f.write_all(b"data").unwrap();
    f.write_all(&(n * 2).to_le_bytes()).unwrap();
    for i in 0..n {
        let s = (2.0 * std::f64::consts::PI * freq * f64::from(i) / f64::from(rate)).sin() * 0.5;
        f.write_all(&((s * 32767.0) as i16).to_le_bytes()).unwrap();
    }
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("whip-chromium-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn headless_chromium_publishes_over_whip() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} missing: run scripts/setup.sh"
    );
    let mut h = Harness::start(WhipConfig::default());
    let dir = temp_dir();
    let rgb = [40, 90, 210];
    let freq = 523.0;
    let y4m = dir.join("camera.y4m");
    let wav = dir.join("mic.wav");
    write_y4m(&y4m, 320, 240, rgb, 30);
    write_wav(&wav, freq, 5);
    let page = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/whip_publish.html")
        .canonicalize()
        .unwrap();
    let url = format!(
        "file://{}?whip={}&token={TOKEN}",
        page.display(),
        h.whip_url()
    );
    let profile = dir.join("profile");
    let child = Command::new(CHROMIUM)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!(
            "--use-file-for-fake-video-capture={}",
            y4m.display()
        ))
        .arg(format!(
            "--use-file-for-fake-audio-capture={}",
            wav.display()
        ))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let _guard = ChildGuard::new(child);

    let frames = |h: &Harness| h.stats().map(|s| s.frames_decoded).unwrap_or(0);
    h.wait_for(Duration::from_secs(30), "frames from Chromium", |h| {
        frames(h) >= 30
    });
    let st = h.stats().unwrap();
    assert_eq!((st.width, st.height), (320, 240), "{st:?}");
    let (f0, t0) = (frames(&h), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let rate = (frames(&h) - f0) as f64 / t0.elapsed().as_secs_f64();
    assert!(
        (20.0..=34.0).contains(&rate),
        "decoded rate {rate:.1} fps from a 30 fps camera"
    );
    h.wait_for(
        Duration::from_secs(3),
        "Chromium's colour in the composite",
        |h| h.centre_rgb().is_some_and(|c| close_rgb(c, rgb, 28.0)),
    );
    h.wait_for(Duration::from_secs(5), "audio", |h| {
        h.stats().is_some_and(|s| s.audio_blocks > 100)
    });
    std::thread::sleep(Duration::from_millis(500));
    let (f, rms) = tone_of(&h.recent_audio(1.0));
    assert!(rms > 0.02, "no energy in the mix: rms {rms}");
    assert!(
        (f - freq).abs() < freq * 0.03,
        "tone {f:.1} Hz, sent {freq} Hz"
    );
    let events = h.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SessionEvent::HostJoined { .. })),
        "{events:?}"
    );
    eprintln!(
        "chromium: {:?}, rate {rate:.1} fps, tone {f:.1} Hz rms {rms:.3}",
        h.stats()
    );
    drop(_guard);
    h.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
