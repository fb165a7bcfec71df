//! Pieces of the WHIP alignment test: a `webrtcbin` publisher fed stamped pictures and beeps
//! through `appsrc` (capture times on a clock shared by all hosts), and a UDP relay that
//! delays the publisher→server direction with jitter (order-preserving, like a queueing
//! network path).
//!
//! Capture clock: every host stamps `capture = t - t0` for one shared `t0: Instant`, and its
//! buffers carry the pipeline running time of `t0 + capture` (GStreamer's system clock and
//! `Instant` are both CLOCK_MONOTONIC), so the RTP timestamps, the sender reports and the
//! stamps agree to the microsecond.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, missing_docs)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use compositor_devkit::measure::StampedHost;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// Where a [`StampPublisher`]'s media comes from.
pub enum VideoFeed {
    /// Encoded live (VP8 and Opus in the publisher's pipeline), a keyframe at most every
    /// `keyframes` frames.
    Live { keyframes: u32 },
    /// Video encoded ahead ([`preencode`]) and sent on the capture schedule: a sender whose
    /// video encoder takes none of this machine's time while it runs (a separate machine, a
    /// hardware encoder), so the only send-time jitter left is the pacing thread's.
    Preencoded(Arc<Preencoded>),
}

/// Video encoded ahead: buffers with the encoder's flags (delta units) and output caps.
pub struct Preencoded {
    pub video: Vec<gst::Buffer>,
    pub video_caps: gst::Caps,
}

/// The first `seconds` of `host`'s pictures (from capture time 0) encoded as the live feed
/// encodes them: VP8 1.5 Mbit/s `cpu-used=8` with one keyframe, the first (a loop restarts
/// on it). Audio stays live: Opus on 10 ms blocks costs ~0.1 ms each.
pub fn preencode(host: &StampedHost, seconds: u32) -> Result<Preencoded, String> {
    gst::init().map_err(|e| e.to_string())?;
    let (w, h) = (host.width, host.height);
    let frames = seconds * 30;
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=I420,width={w},height={h},framerate=30/1 ! \
         vp8enc deadline=1 keyframe-max-dist=100000 error-resilient=partitions \
           target-bitrate=1500000 cpu-used=8 ! appsink name=sink sync=false"
    ))
    .map_err(|e| e.to_string())?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline".to_string())?;
    let src = appsrc(&pipeline, "src")?;
    src.set_block(true);
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or("no sink")?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    let pictures = host.clone();
    let pusher = std::thread::spawn(move || {
        for k in 0..frames {
            let t = frame_time(k);
            let Ok(f) = pictures.frame(t) else { break };
            let mut buf = gst::Buffer::from_slice(f.image.data().to_vec());
            if let Some(b) = buf.get_mut() {
                b.set_pts(gst::ClockTime::from_nseconds(t.as_nanos() as u64));
                b.set_duration(gst::ClockTime::from_nseconds(FRAME.as_nanos() as u64));
            }
            if src.push_buffer(buf).is_err() {
                break;
            }
        }
        let _ = src.end_of_stream();
    });
    let (mut video, mut caps) = (Vec::new(), None);
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
        if caps.is_none() {
            caps = sample.caps().map(|c| c.to_owned());
        }
        if let Some(b) = sample.buffer_owned() {
            video.push(b);
        }
    }
    let _ = pusher.join();
    let _ = pipeline.set_state(gst::State::Null);
    if video.len() != frames as usize {
        return Err(format!(
            "pre-encoding gave {} of {frames} frames",
            video.len()
        ));
    }
    Ok(Preencoded {
        video,
        video_caps: caps.ok_or("the encoder gave no caps")?,
    })
}

/// A WHIP publisher (GStreamer `webrtcbin`, VP8 + Opus) sending a [`StampedHost`].
pub struct StampPublisher {
    pipeline: gst::Pipeline,
    stop: Arc<AtomicBool>,
    /// Media passes the valves (the peer connection is up).
    flowing: Arc<AtomicBool>,
    pusher: Option<std::thread::JoinHandle<()>>,
}

impl StampPublisher {
    /// Publishes `host` (capture times from `t0`) to `url`, with a keyframe every 60 frames.
    pub fn start(
        rt: &tokio::runtime::Runtime,
        url: &str,
        token: &str,
        host: StampedHost,
        t0: Instant,
    ) -> Result<Self, String> {
        Self::start_with_keyframes(rt, url, token, host, t0, 60)
    }

    /// Like [`StampPublisher::start`] with a keyframe at most every `kf` frames (browsers
    /// send keyframes on request only: a large `kf` behaves like them).
    pub fn start_with_keyframes(
        rt: &tokio::runtime::Runtime,
        url: &str,
        token: &str,
        host: StampedHost,
        t0: Instant,
        kf: u32,
    ) -> Result<Self, String> {
        Self::start_with(rt, url, token, host, t0, VideoFeed::Live { keyframes: kf })
    }

    /// Like [`StampPublisher::start`] with the video from `feed`.
    pub fn start_with(
        rt: &tokio::runtime::Runtime,
        url: &str,
        token: &str,
        host: StampedHost,
        t0: Instant,
        feed: VideoFeed,
    ) -> Result<Self, String> {
        gst::init().map_err(|e| e.to_string())?;
        let (w, h) = (host.width, host.height);
        let video = match &feed {
            VideoFeed::Live { keyframes: kf } => format!(
                "appsrc name=vsrc format=time is-live=true do-timestamp=false \
                   caps=video/x-raw,format=I420,width={w},height={h},framerate=30/1 ! \
                 queue ! vp8enc deadline=1 keyframe-max-dist={kf} error-resilient=partitions \
                   target-bitrate=1500000 cpu-used=8"
            ),
            // Caps set on the appsrc below (Opus caps carry stream headers).
            VideoFeed::Preencoded(_) => {
                "appsrc name=vsrc format=time is-live=true do-timestamp=false".to_string()
            }
        };
        let audio = "appsrc name=asrc format=time is-live=true do-timestamp=false \
               caps=audio/x-raw,format=F32LE,layout=interleaved,rate=48000,channels=2 ! \
             queue ! audioconvert ! audioresample ! opusenc frame-size=10";
        let encoded = match feed {
            VideoFeed::Preencoded(v) => Some(v),
            VideoFeed::Live { .. } => None,
        };
        let desc = format!(
            "webrtcbin name=wb bundle-policy=max-bundle \
             {video} ! rtpvp8pay mtu=1200 ! \
             valve name=vvalve drop=true drop-mode=forward-sticky-events ! \
             application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000 ! wb. \
             {audio} ! rtpopuspay ! \
             valve name=avalve drop=true drop-mode=forward-sticky-events ! \
             application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! wb."
        );
        let pipeline = gst::parse::launch(&desc)
            .map_err(|e| e.to_string())?
            .downcast::<gst::Pipeline>()
            .map_err(|_| "not a pipeline".to_string())?;
        let (pem, fingerprint) =
            compositor_devkit::pem::ecdsa_pem("whip-test").map_err(|e| e.to_string())?;
        pipeline.connect_deep_element_added(move |_, _, element| {
            if element.factory().is_some_and(|f| f.name() == "dtlssrtpdec") {
                element.set_property("pem", pem.as_str());
            }
        });
        let wb = pipeline.by_name("wb").ok_or("no webrtcbin")?;
        // Sender reports map RTP time to the capture instant (as browsers do), not to the
        // send time (GStreamer's default), and come every second (browsers: about 1 s for
        // video); NTP is the system realtime clock (rtpbin's default `ntp-time-source`).
        if let Some(bin) = wb.downcast_ref::<gst::Bin>() {
            for e in bin.iterate_recurse().into_iter().flatten() {
                if e.factory().is_some_and(|f| f.name() == "rtpbin") {
                    e.set_property("rtcp-sync-send-time", false);
                }
            }
        }
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let tx = Mutex::new(Some(tx));
        wb.connect("on-negotiation-needed", false, move |_| {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
            None
        });
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| e.to_string())?;
        // appsrc sends its caps with the first buffer: media flows before negotiation.
        let vsrc = appsrc(&pipeline, "vsrc")?;
        let asrc = appsrc(&pipeline, "asrc")?;
        if let Some(p) = &encoded {
            vsrc.set_caps(Some(&p.video_caps));
        }
        let clock = pipeline.clock().ok_or("no clock")?;
        let base = pipeline.base_time().ok_or("no base time")?;
        // Running time (ns) of t0.
        let now_ct = clock.time();
        let now_i = Instant::now();
        let run_t0 = now_ct.nseconds() as i128
            - base.nseconds() as i128
            - now_i.saturating_duration_since(t0).as_nanos() as i128
            + t0.saturating_duration_since(now_i).as_nanos() as i128;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let flowing = Arc::new(AtomicBool::new(false));
        let flowing2 = flowing.clone();
        let pusher = std::thread::spawn(move || {
            let flags = Flags {
                stop: stop2,
                flowing: flowing2,
            };
            push_loop(host, encoded, t0, run_t0, vsrc, asrc, flags)
        });
        let publisher = Self {
            pipeline,
            stop,
            flowing,
            pusher: Some(pusher),
        };
        rx.recv_timeout(Duration::from_secs(10))
            .map_err(|_| "no negotiation-needed".to_string())?;
        for i in 0..2i32 {
            if let Some(t) = wb.emit_by_name::<Option<gstreamer_webrtc::WebRTCRTPTransceiver>>(
                "get-transceiver",
                &[&i],
            ) {
                t.set_property("do-nack", true);
            }
        }
        let (otx, orx) = std::sync::mpsc::channel();
        let promise = gst::Promise::with_change_func(move |reply| {
            let _ = otx.send(reply.ok().flatten().map(|s| s.to_owned()));
        });
        wb.emit_by_name::<()>("create-offer", &[&None::<gst::Structure>, &promise]);
        let reply = orx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "no offer".to_string())?
            .ok_or("empty offer reply")?;
        let offer = reply
            .get::<gstreamer_webrtc::WebRTCSessionDescription>("offer")
            .map_err(|e| e.to_string())?;
        wb.emit_by_name::<()>("set-local-description", &[&offer, &None::<gst::Promise>]);
        let t_ice = Instant::now();
        while wb.property::<gstreamer_webrtc::WebRTCICEGatheringState>("ice-gathering-state")
            != gstreamer_webrtc::WebRTCICEGatheringState::Complete
            && t_ice.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let local = wb
            .property::<Option<gstreamer_webrtc::WebRTCSessionDescription>>("local-description")
            .ok_or("no local description")?;
        let sdp: String = local
            .sdp()
            .as_text()
            .map_err(|e| e.to_string())?
            .lines()
            .map(|l| {
                if l.starts_with("a=fingerprint:") {
                    format!("a=fingerprint:sha-256 {fingerprint}\r\n")
                } else {
                    format!("{l}\r\n")
                }
            })
            .collect();
        let (url, token) = (url.to_string(), token.to_string());
        let (status, answer) = rt.block_on(async move {
            let res = reqwest::Client::new()
                .post(&url)
                .header("Content-Type", "application/sdp")
                .header("Authorization", format!("Bearer {token}"))
                .body(sdp)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = res.status().as_u16();
            Ok::<_, String>((status, res.text().await.map_err(|e| e.to_string())?))
        })?;
        if status != 201 {
            return Err(format!("POST answered {status}: {answer}"));
        }
        let sdp = gstreamer_sdp::SDPMessage::parse_buffer(answer.as_bytes())
            .map_err(|e| e.to_string())?;
        let answer = gstreamer_webrtc::WebRTCSessionDescription::new(
            gstreamer_webrtc::WebRTCSDPType::Answer,
            sdp,
        );
        wb.emit_by_name::<()>("set-remote-description", &[&answer, &None::<gst::Promise>]);
        if let Some(rtpbin) = wb.downcast_ref::<gst::Bin>().and_then(|b| {
            b.iterate_recurse()
                .into_iter()
                .flatten()
                .find(|e| e.factory().is_some_and(|f| f.name() == "rtpbin"))
        }) {
            for id in 0..2u32 {
                if let Some(s) =
                    rtpbin.emit_by_name::<Option<gst::glib::Object>>("get-internal-session", &[&id])
                {
                    s.set_property("rtcp-min-interval", 1_000_000_000u64);
                }
            }
        }

        // Media flows into the connection only once it is up (a browser starts sending when
        // connected; queued frames sent in a burst would look like 1 s of network delay).
        let t_conn = Instant::now();
        while wb.property::<gstreamer_webrtc::WebRTCPeerConnectionState>("connection-state")
            != gstreamer_webrtc::WebRTCPeerConnectionState::Connected
        {
            if t_conn.elapsed() > Duration::from_secs(10) {
                return Err("webrtcbin did not connect".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for v in ["vvalve", "avalve"] {
            if let Some(v) = publisher.pipeline.by_name(v) {
                v.set_property("drop", false);
            }
        }
        publisher.flowing.store(true, Ordering::Release);
        Ok(publisher)
    }
}

fn appsrc(p: &gst::Pipeline, name: &str) -> Result<gst_app::AppSrc, String> {
    let s = p
        .by_name(name)
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or(format!("no {name}"))?;
    s.set_max_bytes(32 * 1024 * 1024);
    Ok(s)
}

const AUDIO_BLOCK: Duration = Duration::from_millis(10);
const FRAME: Duration = Duration::from_nanos(1_000_000_000 / 30);

/// Capture time of frame `k` at 30 fps, exact to the nanosecond (stamps on whole seconds stay
/// whole, which the analyzer needs to match beeps).
fn frame_time(k: u32) -> Duration {
    Duration::from_nanos(u64::from(k) * 1_000_000_000 / 30)
}

/// The pusher's signals: stop, and media passes the valves.
struct Flags {
    stop: Arc<AtomicBool>,
    flowing: Arc<AtomicBool>,
}

fn push_loop(
    host: StampedHost,
    encoded: Option<Arc<Preencoded>>,
    t0: Instant,
    run_t0: i128,
    vsrc: gst_app::AppSrc,
    asrc: gst_app::AppSrc,
    flags: Flags,
) {
    let Flags { stop, flowing } = flags;
    let (mut kv, mut ka) = (0u32, 0u32);
    // Start at the first capture time the pipeline can express (running time >= 0).
    let first = Duration::from_nanos((-run_t0).max(0) as u64);
    while frame_time(kv) < first {
        kv += 1;
    }
    while AUDIO_BLOCK * ka < first {
        ka += 1;
    }
    let frames_per_block = (48_000 * AUDIO_BLOCK.as_millis() / 1000) as usize;
    // Video encoded ahead: until media flows, the first (key)frame again and again (dropped
    // by the valve, it carries the caps); then the sequence from it, starting at the next
    // 100 ms multiple S. Frame `i` then holds the picture of capture time `i / 30`, sent at
    // S + i / 30: its stamp is `S` early, so the audio (live) is generated `S` early too.
    let mut from: Option<(u32, Duration)> = None;
    while !stop.load(Ordering::Relaxed) {
        let (tv, ta) = (frame_time(kv), AUDIO_BLOCK * ka);
        let next = tv.min(ta);
        if from.is_none() && encoded.is_some() && flowing.load(Ordering::Acquire) {
            let s_ms = (next.as_millis() / 100 + 1) * 100;
            from = Some(((s_ms * 3 / 100) as u32, Duration::from_millis(s_ms as u64)));
        }
        let due = t0 + next;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let pts = gst::ClockTime::from_nseconds((run_t0 + next.as_nanos() as i128) as u64);
        if tv <= ta {
            let mut buf = match &encoded {
                Some(p) if !p.video.is_empty() => {
                    let i = from
                        .filter(|f| kv >= f.0)
                        .map_or(0, |f| (kv - f.0) as usize);
                    p.video[i % p.video.len()].copy()
                }
                _ => {
                    let Ok(f) = host.frame(tv) else { return };
                    gst::Buffer::from_slice(f.image.data().to_vec())
                }
            };
            if let Some(b) = buf.get_mut() {
                b.set_pts(pts);
                // Encoded ahead: the encoder's DTS and offsets (frame counts) would repeat
                // with the loop, and the payloader takes RTP time from them when set.
                b.set_dts(gst::ClockTime::NONE);
                b.set_offset(u64::MAX);
                b.set_offset_end(u64::MAX);
                b.set_duration(gst::ClockTime::from_nseconds(FRAME.as_nanos() as u64));
            }
            if vsrc.push_buffer(buf).is_err() {
                return;
            }
            kv += 1;
        } else {
            // Content time of the audio: capture time, less S once the video is pre-encoded;
            // silence before S.
            let samples = match (encoded.is_some(), from) {
                (false, _) => host.audio(ta, frames_per_block),
                (true, Some((_, s))) if ta >= s => host.audio(ta - s, frames_per_block),
                (true, _) => vec![0.0; frames_per_block * 2],
            };
            let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
            let mut buf = gst::Buffer::from_slice(bytes);
            if let Some(b) = buf.get_mut() {
                b.set_pts(pts);
                b.set_duration(gst::ClockTime::from_nseconds(AUDIO_BLOCK.as_nanos() as u64));
            }
            if asrc.push_buffer(buf).is_err() {
                return;
            }
            ka += 1;
        }
    }
}

impl Drop for StampPublisher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.pusher.take() {
            let _ = t.join();
        }
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
