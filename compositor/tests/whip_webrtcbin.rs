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

use compositor_core::session::SessionEvent;
use compositor_devkit::netem::{Impairment, UdpRelay};
use compositor_webrtc::ingest::WhipConfig;
use whip_support::{
    Harness, PublishSpec, Publisher, TOKEN, VideoCodec, close_rgb, local_ip, tone_of,
};

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
    let mut h = Harness::start(WhipConfig::default());
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
    let relay = UdpRelay::start(local_ip(), server_udp, Impairment::default()).unwrap();
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

/// No media for the stall timeout: `HostStalled`; media again: `HostResumed`. The host stays
/// past str0m's ICE-lite consent timer (~15 s) although libnice sends no consent checks, as
/// long as its media flows.
#[test]
fn stall_resume_and_long_lived_peer() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let probe = std::net::UdpSocket::bind((whip_support::local_ip(), 0)).unwrap();
    let server_udp = probe.local_addr().unwrap();
    drop(probe);
    let relay = UdpRelay::start(local_ip(), server_udp, Impairment::default()).unwrap();
    let mut h = Harness::start(WhipConfig {
        udp_bind: server_udp,
        public_addr: Some(relay.addr),
        stall_timeout: Duration::from_millis(800),
        ..WhipConfig::default()
    });
    let spec = PublishSpec::solid(VideoCodec::Vp8, (320, 180, 30), [90, 90, 200], 440.0);
    let _publisher = Publisher::start(&h.rt, &h.whip_url(), TOKEN, &spec).expect("publish");
    h.wait_for(Duration::from_secs(15), "30 decoded frames", |h| {
        frames(h) >= 30
    });
    let joined = Instant::now();
    let stalled = SessionEvent::HostStalled { id: "host".into() };
    let resumed = SessionEvent::HostResumed { id: "host".into() };
    assert!(!h.events().contains(&stalled));

    relay.loss_percent.store(100, Ordering::Relaxed);
    h.wait_for(Duration::from_secs(3), "HostStalled", |h| {
        h.events().contains(&stalled)
    });
    assert!(!h.events().contains(&resumed));
    relay.loss_percent.store(0, Ordering::Relaxed);
    h.wait_for(Duration::from_secs(3), "HostResumed", |h| {
        h.events().contains(&resumed)
    });

    // Past the ICE-lite consent timer, still there and still decoding.
    while joined.elapsed() < Duration::from_secs(18) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(h.server.peer_count(), 1, "events {:?}", h.events());
    let rate = measure_rate(&h, Duration::from_secs(2));
    assert!(rate > 26.0, "rate after 18 s {rate:.1} fps");
    assert!(
        !h.events()
            .iter()
            .any(|e| matches!(e, SessionEvent::HostLeft { .. })),
        "{:?}",
        h.events()
    );
    h.shutdown();
}

/// The host changes its picture size mid-stream: decoding goes on at the new size, the peer
/// stays, the composite still shows the host.
#[test]
fn resolution_change_mid_stream() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = Harness::start(WhipConfig::default());
    let rgb = [230, 120, 30];
    let spec = PublishSpec::solid(VideoCodec::Vp8, (320, 180, 30), rgb, 440.0);
    let publisher = Publisher::start(&h.rt, &h.whip_url(), TOKEN, &spec).expect("publish");
    h.wait_for(Duration::from_secs(15), "30 decoded frames", |h| {
        frames(h) >= 30
    });
    assert_eq!(h.stats().map(|s| (s.width, s.height)), Some((320, 180)));
    publisher.set_video_size(640, 360, 30);
    h.wait_for(Duration::from_secs(5), "frames at 640x360", |h| {
        h.stats().is_some_and(|s| (s.width, s.height) == (640, 360))
    });
    let rate = measure_rate(&h, Duration::from_secs(2));
    assert!(rate > 26.0, "rate after the change {rate:.1} fps");
    h.wait_for(Duration::from_secs(2), "the host in the composite", |h| {
        h.centre_rgb().is_some_and(|c| close_rgb(c, rgb, 24.0))
    });
    assert_eq!(h.server.peer_count(), 1);
    drop(publisher);
    h.shutdown();
}

/// The session removes the slot a host publishes to: the host's peer is torn down
/// (`HostLeft` "input removed") and nothing is left behind.
#[test]
fn removing_the_slot_tears_the_peer_down() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let h = Harness::start(WhipConfig::default());
    let sender = h.handle.add_input("guest").unwrap();
    h.directory.slots.lock().unwrap().insert(
        ("s1".into(), "guest".into()),
        compositor_webrtc::ingest::IngestSlot {
            token: TOKEN.into(),
            sender,
            session: h.handle.clone(),
        },
    );
    let spec = PublishSpec::solid(VideoCodec::Vp8, (320, 180, 30), [10, 200, 10], 440.0);
    let url = format!("{}/whip/s1/guest", h.base);
    let _publisher = Publisher::start(&h.rt, &url, TOKEN, &spec).expect("publish");
    h.wait_for(Duration::from_secs(15), "guest frames", |h| {
        h.server
            .stats()
            .iter()
            .any(|s| s.input_id == "guest" && s.frames_decoded >= 10)
    });
    h.handle
        .command(compositor_core::session::Command::RemoveInput { id: "guest".into() })
        .unwrap();
    h.wait_for(Duration::from_secs(3), "the guest's peer torn down", |h| {
        h.server.peer_count() == 0
    });
    assert!(h.events().contains(&SessionEvent::HostLeft {
        id: "guest".into(),
        reason: "input removed".into()
    }));
}
