//! The output hub's isolation and WHIP egress against real peers on loopback:
//! - a slow-but-alive RTMP destination (nginx-rtmp behind a proxy that forwards a trickle)
//!   drops its own oldest packets (counted) while the session renders at full rate and an MP4
//!   recording of the same encode has no gap;
//! - WHIP egress with VP8 + Opus into webrtcbin (picture size, frames, the mixed tone);
//! - a PLI from the WHIP receiver brings a keyframe within a second although the encoder's
//!   keyframe interval is 10 s;
//! - an output joining a running encode with a 10 s keyframe interval starts at once (the
//!   encode makes a keyframe for it);
//! - RTMPS through nginx terminating TLS with a self-signed certificate: refused by default,
//!   accepted with `tls_verify: false` (which plain RTMP refuses).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use compositor_core::session::{CommandError, SessionEvent};
use compositor_devkit::stream::LiveSession;
use compositor_media::output::{
    EncoderSettings, OutputSpec, OutputState, OutputTarget, VideoCodec,
};
use layouts::Size;
use support::proxy::ThrottleProxy;
use support::whip_server::{self, WhipServer};
use support::*;

/// Client → nginx rate while throttled: 8 kB/s, a small fraction of the 4 Mbit/s stream.
const TRICKLE: u64 = 8_000;

#[test]
fn slow_rtmp_destination_drops_its_own_packets_and_stalls_nothing_else() {
    let _s = serial();
    let dir = temp_dir("out_slow");
    let nginx = Nginx::start(&dir, free_port());
    let proxy = ThrottleProxy::start(nginx.port);
    // 4 Mbit/s (the default profile's rate), so the backlog of a slow ingest builds fast.
    let mut opts = live_options(Size::new(640, 360));
    opts.encoder.video_kbps = 4000;
    let live = LiveSession::start(&opts).unwrap();
    let rec = dir.join("session.mp4");
    live.outputs.add(mp4("rec", &rec)).unwrap();
    live.outputs
        .add(OutputSpec {
            id: "cdn".into(),
            target: OutputTarget::Rtmp {
                url: format!("rtmp://127.0.0.1:{}/live", proxy.port),
                stream_key: "slow".into(),
                tls_verify: true,
            },
            encoder: None,
        })
        .unwrap();
    wait_event(&live.events, 0, Duration::from_secs(10), connected("cdn"))
        .unwrap_or_else(|| panic!("RTMP connects: {:?}", live.outputs.list()));
    std::thread::sleep(Duration::from_secs(1));
    let cdn = |live: &LiveSession| {
        live.outputs
            .list()
            .into_iter()
            .find(|o| o.id == "cdn")
            .unwrap()
    };
    assert_eq!(cdn(&live).counters.dropped, 0);

    // The ingest turns slow but stays connected.
    proxy.set_rate(Some(TRICKLE));
    let (before, t0, fwd0) = (live.handle.stats(), Instant::now(), proxy.forwarded());
    while cdn(&live).counters.dropped == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(40),
            "no drop after 40 s of a slow destination: {:?} {:?}",
            live.outputs.list(),
            live.events.since(0)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let first_drop = t0.elapsed();
    // Keep it slow a little longer: drops keep coming, nothing else notices.
    std::thread::sleep(Duration::from_secs(3));
    let (after, window) = (live.handle.stats(), t0.elapsed());
    let slow = cdn(&live);
    let fwd = proxy.forwarded() - fwd0;
    eprintln!(
        "first drop after {first_drop:?}; {window:?} slow: {slow:?}; {fwd} bytes reached nginx; \
         {} frames rendered, {} late ticks",
        after.frames - before.frames,
        after.late_ticks - before.late_ticks
    );
    assert!(slow.counters.dropped > 10, "{slow:?}");
    assert!(
        !matches!(slow.state, OutputState::Failed { .. }),
        "a slow destination is not a failed one: {slow:?}"
    );
    assert!(
        fwd as f64 <= TRICKLE as f64 * window.as_secs_f64() * 1.2 + 64_000.0,
        "the proxy forwarded {fwd} bytes in {window:?}: not throttled"
    );
    // The session kept its output clock: ~30 frames per second rendered and sent.
    let rendered = after.frames - before.frames;
    let expected = window.as_secs_f64() * 30.0;
    assert!(
        rendered as f64 >= expected * 0.9,
        "{rendered} frames rendered in {window:?} (expected ~{expected:.0})"
    );
    let rec_info = live
        .outputs
        .list()
        .into_iter()
        .find(|o| o.id == "rec")
        .unwrap();
    assert_eq!(rec_info.counters.dropped, 0, "{rec_info:?}");
    assert_eq!(rec_info.state, OutputState::Connected);

    // The ingest recovers: the output goes on from a keyframe.
    proxy.set_rate(None);
    let buffers = cdn(&live).counters.buffers;
    std::thread::sleep(Duration::from_secs(3));
    let healed = cdn(&live);
    assert!(
        healed.counters.buffers > buffers + 60,
        "no progress after the ingest recovered: {healed:?}"
    );
    live.stop();
    let report = live.join().unwrap();
    assert_eq!(
        report.sink.video_dropped, 0,
        "the encode never dropped a frame: {report:?}"
    );
    let path = rec.to_str().unwrap();
    assert_h264_aac(path, 640, 360);
    let pts = video_pts(path);
    let worst = largest_gap(&pts);
    let at = pts
        .windows(2)
        .position(|w| w[1] - w[0] >= worst)
        .unwrap_or(0);
    // A tick the session itself skipped (counted as late, e.g. while warming up on a loaded
    // box) is missing from every output alike; anything beyond that would be this output's.
    let allowed = 0.1 + report.late_ticks as f64 / 30.0;
    assert!(
        worst <= allowed,
        "largest gap in the recording {worst} s (allowed {allowed}) at {} s of {}; {report:?}",
        pts[at],
        pts[pts.len() - 1]
    );
    assert!(
        pts.len() as u64 + 5 >= report.frames.saturating_sub(report.late_ticks) * 9 / 10,
        "{} frames in the MP4 of {} rendered",
        pts.len(),
        report.frames
    );
}

fn whip_output(server: &WhipServer, codec: VideoCodec, keyframe_interval: u32) -> OutputSpec {
    OutputSpec {
        id: "sfu".into(),
        target: OutputTarget::Whip {
            url: server.url.clone(),
            token: None,
        },
        encoder: Some(EncoderSettings {
            video_kbps: 1200,
            preset: "ultrafast".into(),
            keyframe_interval,
            codec,
            ..EncoderSettings::default()
        }),
    }
}

/// Waits until `server` decoded `frames` video frames (or 15 s).
fn wait_frames(server: &WhipServer, frames: u64) -> u64 {
    let start = Instant::now();
    loop {
        let n = server.seen.frames.load(Ordering::Relaxed);
        if n >= frames || start.elapsed() > Duration::from_secs(15) {
            return n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn connect_whip(live: &LiveSession) {
    wait_event(&live.events, 0, Duration::from_secs(15), connected("sfu")).unwrap_or_else(|| {
        panic!(
            "WHIP egress did not connect: {:?} {:?}",
            live.outputs.list(),
            live.events.since(0)
        )
    });
}

#[test]
fn whip_egress_vp8_and_opus_into_webrtcbin() {
    let _s = serial();
    let server = whip_server::start();
    let live = LiveSession::start(&live_options(Size::new(640, 360))).unwrap();
    live.outputs
        .add(whip_output(&server, VideoCodec::Vp8, 30))
        .unwrap();
    connect_whip(&live);
    let frames = wait_frames(&server, 90);
    std::thread::sleep(Duration::from_millis(500));
    let seen = &server.seen;
    assert!(frames >= 90, "{frames} VP8 frames decoded by webrtcbin");
    assert_eq!(seen.video_codec.lock().unwrap().as_deref(), Some("VP8"));
    assert_eq!(seen.audio_codec.lock().unwrap().as_deref(), Some("OPUS"));
    assert_eq!(*seen.size.lock().unwrap(), Some((640, 360)));
    let audio = seen.audio.lock().unwrap().clone();
    let secs = audio.len() as f64 / 2.0 / 48_000.0;
    assert!(secs >= 2.0, "{secs:.2} s of Opus audio decoded");
    // The mix of the two synthetic hosts: 440 Hz and 660 Hz tones.
    let (tone, rms) = compositor_devkit::testkit::dominant_tone(&audio[audio.len() / 2..]);
    eprintln!("{frames} frames, {secs:.2} s audio, tone {tone} Hz, rms {rms:.3}");
    assert!(rms > 0.02, "audio is silent: rms {rms}");
    assert!(
        (tone - 440.0).abs() <= 3.0 || (tone - 660.0).abs() <= 3.0,
        "strongest tone {tone} Hz, expected 440 or 660"
    );
    let listed = live.outputs.list();
    assert_eq!(listed[0].state, OutputState::Connected, "{listed:?}");
    assert_eq!(listed[0].counters.dropped, 0, "{listed:?}");
    live.outputs.remove("sfu").unwrap();
    assert!(seen.deleted.load(Ordering::Relaxed), "no DELETE");
    live.stop();
    live.join().unwrap();
}

#[test]
fn whip_egress_pli_brings_a_keyframe_long_before_the_interval() {
    let _s = serial();
    let server = whip_server::start();
    let live = LiveSession::start(&live_options(Size::new(640, 360))).unwrap();
    // A 10 s keyframe interval (300 frames at 30 fps).
    live.outputs
        .add(whip_output(&server, VideoCodec::H264, 300))
        .unwrap();
    connect_whip(&live);
    let frames = wait_frames(&server, 30);
    assert!(frames >= 30, "{frames} frames decoded");
    let seen = &server.seen;
    assert!(
        seen.keyframe_count() >= 1,
        "the stream starts at a keyframe"
    );
    for round in 0..3 {
        // Quiet: no keyframe comes on its own for 1.5 s.
        let before = seen.keyframe_count();
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(
            seen.keyframe_count(),
            before,
            "round {round}: a keyframe came without a request"
        );
        let asked = Instant::now();
        assert!(server.request_keyframe(), "the PLI could not be sent");
        while seen.keyframe_count() == before {
            assert!(
                asked.elapsed() < Duration::from_secs(1),
                "round {round}: no keyframe within 1 s of the PLI: {:?}",
                live.outputs.list()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let took = seen.keyframes.lock().unwrap()[before].duration_since(asked);
        eprintln!("round {round}: keyframe {took:?} after the PLI");
    }
    let frames_end = server.seen.frames.load(Ordering::Relaxed);
    assert!(
        frames_end > frames + 100,
        "video kept flowing: {frames_end}"
    );
    live.outputs.remove("sfu").unwrap();
    live.stop();
    live.join().unwrap();
}

#[test]
fn rtmps_through_tls_terminating_nginx_checks_the_certificate_unless_told_not_to() {
    let _s = serial();
    let dir = temp_dir("out_rtmps");
    let (port, tls) = (free_port(), free_port());
    let nginx = Nginx::start_tls(&dir, port, tls);
    let live = LiveSession::start(&live_options(Size::new(640, 360))).unwrap();
    let rtmps = |id: &str, url: String, tls_verify: bool| OutputSpec {
        id: id.into(),
        target: OutputTarget::Rtmp {
            url,
            stream_key: "tls-key".into(),
            tls_verify,
        },
        encoder: None,
    };
    let url = format!("rtmps://127.0.0.1:{tls}/live");
    // Switching checks off is for TLS only: refused for plain RTMP, nothing added.
    let refused = live
        .outputs
        .add(rtmps("plain", nginx.url(), false))
        .unwrap_err();
    assert!(
        matches!(&refused, CommandError::Invalid(m) if m.contains("target.tls_verify")),
        "{refused:?}"
    );
    assert!(live.outputs.list().is_empty());
    // By default the self-signed certificate is refused: the output fails and retries.
    live.outputs
        .add(rtmps("strict", url.clone(), true))
        .unwrap();
    let (_, _) = wait_event(
        &live.events,
        0,
        Duration::from_secs(10),
        |e| matches!(e, SessionEvent::OutputFailed { id, retrying: true, .. } if id == "strict"),
    )
    .unwrap_or_else(|| panic!("no TLS failure: {:?}", live.events.since(0)));
    assert!(
        !live
            .events
            .since(0)
            .iter()
            .any(|(_, e)| connected("strict")(e)),
        "connected despite an untrusted certificate"
    );
    live.outputs.remove("strict").unwrap();
    assert!(nginx.recordings().is_empty(), "{:?}", nginx.recordings());
    // tls_verify: false — encrypted, any certificate.
    let seq = live.events.since(0).last().map_or(0, |(s, _)| *s);
    live.outputs.add(rtmps("cdn", url, false)).unwrap();
    wait_event(&live.events, seq, Duration::from_secs(10), connected("cdn")).unwrap_or_else(|| {
        panic!(
            "RTMPS did not connect: {:?} {:?}",
            live.outputs.list(),
            live.events.since(seq)
        )
    });
    let back = probe(
        &format!("{}/tls-key", nginx.url()),
        "stream=codec_name,width,height",
        &["-rw_timeout", "8000000"],
    );
    assert!(back.contains("codec_name=h264"), "{back}");
    assert!(back.contains("codec_name=aac"), "{back}");
    std::thread::sleep(Duration::from_secs(2));
    let cdn = live.outputs.list().into_iter().next().unwrap();
    assert_eq!(cdn.state, OutputState::Connected, "{cdn:?}");
    assert_eq!(cdn.counters.dropped, 0, "{cdn:?}");
    live.outputs.remove("cdn").unwrap();
    live.stop();
    live.join().unwrap();
    let frames = nginx.single_recording_frames(640, 360);
    assert!(frames >= 60, "{frames} frames recorded behind TLS");
}

#[test]
fn an_output_joining_gets_a_keyframe_at_once_despite_a_10_s_interval() {
    let _s = serial();
    let dir = temp_dir("out_join_key");
    let mut opts = live_options(Size::new(320, 180));
    opts.encoder.keyframe_interval = 300;
    let live = LiveSession::start(&opts).unwrap();
    let (a, b) = (dir.join("a.mp4"), dir.join("b.mp4"));
    live.outputs.add(mp4("a", &a)).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // "b" joins the running encode 2 s into a 10 s GOP: it must not wait for the next keyframe.
    live.outputs.add(mp4("b", &b)).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    live.outputs.remove("b").unwrap();
    live.stop();
    live.join().unwrap();
    let flags = |p: &std::path::Path| -> Vec<bool> {
        probe(
            p.to_str().unwrap(),
            "packet=flags",
            &["-select_streams", "v:0"],
        )
        .lines()
        .filter_map(|l| l.trim().strip_prefix("flags="))
        .map(|f| f.starts_with('K'))
        .collect()
    };
    let fb = flags(&b);
    assert!(fb.first() == Some(&true), "b does not start at a keyframe");
    // 2 s at 30 fps, less the join and a little scheduling slack.
    assert!(fb.len() >= 45, "{} frames in b.mp4 (2 s present)", fb.len());
    let nb = decoded_frames(b.to_str().unwrap());
    assert!(
        nb as usize + 2 >= fb.len(),
        "{nb} of {} frames decode",
        fb.len()
    );
    // The encode made keyframes only when asked (starts of a and b), not on its own.
    let fa = flags(&a);
    let keys = fa.iter().filter(|k| **k).count();
    eprintln!(
        "b: {} frames ({nb} decoded); a: {} frames, {keys} keyframes",
        fb.len(),
        fa.len()
    );
    assert!(fa.len() >= 90, "{} frames in a.mp4", fa.len());
    assert!((2..=3).contains(&keys), "{keys} keyframes in a.mp4");
}
