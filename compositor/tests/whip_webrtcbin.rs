//! GStreamer's `webrtcbin` (a WebRTC stack we did not write) publishes over WHIP: decoded
//! frames arrive at the size and rate sent, the host shows in its slot of a real session's
//! composite, the mixed audio carries the sent tone; VP8 + Opus, H.264 + Opus, VP9 + Opus;
//! and through a relay dropping 10 % of the media packets, frames keep coming, PLIs are
//! sent and the picture is right again within 1 s after the loss stops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod whip_support;

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use compositor::ingest::WhipConfig;
use compositor::session::SessionEvent;
use whip_support::{Harness, PublishSpec, Publisher, Relay, TOKEN, VideoCodec, close_rgb, tone_of};

/// The machine has few cores: one publisher at a time keeps the rates honest.
static SERIAL: Mutex<()> = Mutex::new(());

fn frames(h: &Harness) -> u64 {
    h.stats().map(|s| s.frames_decoded).unwrap_or(0)
}

/// Decoded frames per second over `window`.
fn measure_rate(h: &Harness, window: Duration) -> f64 {
    let (f0, t0) = (frames(h), Instant::now());
    std::thread::sleep(window);
    (frames(h) - f0) as f64 / t0.elapsed().as_secs_f64()
}

fn publish_and_check(codec: VideoCodec, (w, hgt): (u32, u32), rgb: [u8; 3], freq: f64, name: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = Harness::start(WhipConfig {
        decoder_queue: std::env::var("DQ")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(32),
        ..WhipConfig::default()
    });
    let publisher = Publisher::start(
        &h.rt,
        &h.whip_url(),
        TOKEN,
        &PublishSpec::solid(codec, (w, hgt, 30), rgb, freq),
    )
    .expect("publish");
    h.wait_for(Duration::from_secs(15), "30 decoded frames", |h| {
        frames(h) >= 30
    });
    let st = h.stats().unwrap();
    assert!(st.connected);
    assert_eq!((st.width, st.height), (w, hgt), "decoded size");
    assert!(st.codecs.contains(&name.to_string()), "{:?}", st.codecs);
    assert_eq!(st.decode_errors, 0, "{st:?}");
    let rate = measure_rate(&h, Duration::from_secs(3));
    assert!(
        (26.0..=34.0).contains(&rate),
        "decoded rate {rate:.1} fps, sent 30"
    );

    // The host fills the grid's one tile: the composite's centre is the sent colour.
    let mut seen = None;
    let t0 = Instant::now();
    while !seen.is_some_and(|c| close_rgb(c, rgb, 24.0)) {
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "composite centre {seen:?}, sent {rgb:?}; slot {:?}",
            h.handle.stats().inputs
        );
        std::thread::sleep(Duration::from_millis(50));
        seen = h.centre_rgb();
    }
    // The mix carries the tone.
    h.wait_for(Duration::from_secs(5), "audio blocks", |h| {
        h.stats().is_some_and(|s| s.audio_blocks > 100)
    });
    std::thread::sleep(Duration::from_millis(500));
    let (f, rms) = tone_of(&h.recent_audio(1.0));
    assert!(rms > 0.05, "no energy in the mix: rms {rms}");
    assert!(
        (f - freq).abs() < freq * 0.03,
        "tone {f:.1} Hz, sent {freq} Hz"
    );

    let events = h.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SessionEvent::HostJoined { id, .. } if id == "host")),
        "{events:?}"
    );
    assert!(
        events.contains(&SessionEvent::MediaStarted {
            id: "host".into(),
            kind: "video".into(),
            codec: name.into()
        }),
        "{events:?}"
    );
    assert!(
        events.contains(&SessionEvent::MediaStarted {
            id: "host".into(),
            kind: "audio".into(),
            codec: "opus".into()
        }),
        "{events:?}"
    );

    // DELETE ends it cleanly.
    let url = format!("{}{}", h.base, publisher.location.clone().unwrap());
    let status = h.rt.block_on(async move {
        reqwest::Client::new()
            .delete(url)
            .header("Authorization", format!("Bearer {TOKEN}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 200);
    assert_eq!(h.server.peer_count(), 0);
    assert!(h.events().contains(&SessionEvent::HostLeft {
        id: "host".into(),
        reason: "deleted".into()
    }));
    drop(publisher);
    h.shutdown();
}

#[test]
fn vp8_and_opus_from_webrtcbin() {
    publish_and_check(VideoCodec::Vp8, (640, 360), [30, 160, 220], 440.0, "VP8");
}

#[test]
fn h264_and_opus_from_webrtcbin() {
    publish_and_check(VideoCodec::H264, (320, 240), [220, 180, 40], 660.0, "H264");
}

#[test]
fn vp9_and_opus_from_webrtcbin() {
    publish_and_check(VideoCodec::Vp9, (320, 180), [60, 200, 90], 880.0, "VP9");
}

/// A publisher without retransmissions: lost packets stay lost, the server must ask for
/// keyframes (PLI).
#[test]
fn ten_percent_loss_without_nack_sends_plis_and_recovers() {
    loss_through_relay(false);
}

/// A publisher answering NACKs: the server's NACKs repair the loss.
#[test]
fn ten_percent_loss_with_nack_is_repaired() {
    loss_through_relay(true);
}

fn loss_through_relay(nack: bool) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Bind first so the relay knows where to forward, then advertise the relay.
    let probe = std::net::UdpSocket::bind((whip_support::local_ip(), 0)).unwrap();
    let server_udp = probe.local_addr().unwrap();
    drop(probe);
    let relay = Relay::start(server_udp);
    let mut h = Harness::start(WhipConfig {
        udp_bind: server_udp,
        public_addr: Some(relay.addr),
        ..WhipConfig::default()
    });
    let rgb = [200, 60, 120];
    let _publisher = Publisher::start(
        &h.rt,
        &h.whip_url(),
        TOKEN,
        &PublishSpec {
            nack,
            ..PublishSpec::solid(VideoCodec::Vp8, (640, 360, 30), rgb, 440.0)
        },
    )
    .expect("publish");
    h.wait_for(Duration::from_secs(15), "30 decoded frames", |h| {
        frames(h) >= 30
    });
    let before = h.stats().unwrap();

    relay.loss_percent.store(10, Ordering::Relaxed);
    let lossy_rate = measure_rate(&h, Duration::from_secs(4));
    relay.loss_percent.store(0, Ordering::Relaxed);
    let stop = Instant::now();
    let during = h.stats().unwrap();
    assert!(
        relay.dropped.load(Ordering::Relaxed) > 20,
        "the relay dropped too little"
    );
    assert!(
        lossy_rate > 5.0,
        "frames must keep arriving under loss: {lossy_rate:.1} fps"
    );
    if nack {
        assert!(
            during.nacks > before.nacks,
            "no NACK under loss: {before:?} -> {during:?}"
        );
    } else {
        assert!(
            during.lost > before.lost,
            "loss unseen: {before:?} -> {during:?}"
        );
        assert!(
            during.plis > before.plis,
            "no PLI under loss: {before:?} -> {during:?}"
        );
    }

    // Recovery: within 1 s the decoder is past the damage and the picture is the sent one.
    let f0 = frames(&h);
    let mut recovered = None;
    while stop.elapsed() < Duration::from_millis(1000) {
        if frames(&h) >= f0 + 10 && h.centre_rgb().is_some_and(|c| close_rgb(c, rgb, 24.0)) {
            recovered = Some(stop.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        recovered.is_some(),
        "no recovery within 1 s: {:?}",
        h.stats()
    );
    let rate = measure_rate(&h, Duration::from_secs(2));
    assert!(rate > 26.0, "rate after recovery {rate:.1} fps");
    eprintln!(
        "loss test (nack {nack}): relay dropped {}, lossy rate {lossy_rate:.1} fps, PLIs {} -> {}, NACKs {}, lost {}, recovered after {:?}, rate after {rate:.1} fps",
        relay.dropped.load(Ordering::Relaxed),
        before.plis,
        during.plis,
        during.nacks,
        during.lost,
        recovered.unwrap()
    );
    h.shutdown();
}
