//! Shared pieces of the WHIP tests: a real session with a capture sink, the WHIP server on an
//! ephemeral HTTP port, a GStreamer `webrtcbin` publisher, a lossy UDP relay and audio checks.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, missing_docs)]

use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use compositor_core::frame::{ColorMatrix, I420Frame};
use compositor_core::session::{InputSender, Session, SessionConfig, SessionEvent, SessionHandle};
use compositor_media::output::{OutputError, OutputSink, SinkStats};
use compositor_render::gpu::{AdapterChoice, GpuContext};
use compositor_webrtc::ingest::{
    IngestDirectory, IngestLookupError, IngestSlot, IngestStats, WhipConfig, WhipServer,
};
use gstreamer as gst;
use gstreamer::prelude::*;
use layouts::{Layout, Scene, Size};

pub const TOKEN: &str = "s3cret-token";

/// Resolves `("s1", "host")` (and any other registered slot).
#[derive(Default)]
pub struct TestDirectory {
    pub slots: Mutex<HashMap<(String, String), IngestSlot>>,
}

impl IngestDirectory for TestDirectory {
    fn resolve(&self, session_id: &str, input_id: &str) -> Result<IngestSlot, IngestLookupError> {
        let g = self.slots.lock().unwrap();
        if !g.keys().any(|(s, _)| s == session_id) {
            return Err(IngestLookupError::UnknownSession(session_id.into()));
        }
        g.get(&(session_id.to_string(), input_id.to_string()))
            .cloned()
            .ok_or_else(|| IngestLookupError::UnknownInput(input_id.into()))
    }
}

/// What the session rendered and mixed.
#[derive(Default)]
pub struct Captured {
    pub last_frame: Option<I420Frame>,
    pub frames: u64,
    pub audio: Vec<f32>,
}

pub struct CaptureSink {
    pub captured: Arc<Mutex<Captured>>,
    stats: SinkStats,
}

impl OutputSink for CaptureSink {
    fn push_video(
        &mut self,
        frame: &I420Frame,
        _: Duration,
        _: Duration,
    ) -> Result<(), OutputError> {
        let mut c = self.captured.lock().unwrap();
        c.last_frame = Some(frame.clone());
        c.frames += 1;
        self.stats.video_frames += 1;
        Ok(())
    }
    fn push_audio(&mut self, samples: &[f32], _: Duration) -> Result<(), OutputError> {
        let mut c = self.captured.lock().unwrap();
        c.audio.extend_from_slice(samples);
        let len = c.audio.len();
        if len > 48_000 * 2 * 20 {
            c.audio.drain(..len - 48_000 * 2 * 10);
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn stats(&self) -> SinkStats {
        self.stats
    }
}

pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub server: Arc<WhipServer>,
    pub base: String,
    pub session: Option<Session>,
    pub handle: SessionHandle,
    pub captured: Arc<Mutex<Captured>>,
    pub directory: Arc<TestDirectory>,
}

impl TestDirectory {
    /// Registers `sender` as input `input` of session `session`, with the test [`TOKEN`].
    pub fn add(&self, session: &str, input: &str, sender: InputSender, handle: SessionHandle) {
        self.slots.lock().unwrap().insert(
            (session.into(), input.into()),
            IngestSlot {
                token: TOKEN.into(),
                sender,
                session: handle,
            },
        );
    }
}

/// Starts a WHIP server for `dir` on `rt` and serves its routes on an ephemeral loopback
/// HTTP port; returns the server and its base URL (`http://127.0.0.1:PORT`).
pub fn serve_whip(
    rt: &tokio::runtime::Runtime,
    cfg: WhipConfig,
    dir: Arc<dyn IngestDirectory>,
) -> (Arc<WhipServer>, String) {
    rt.block_on(async move {
        let server = Arc::new(WhipServer::start(cfg, dir).await.unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = server.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (server, format!("http://{addr}"))
    })
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,compositor_webrtc::ingest=info".into()),
        )
        .with_test_writer()
        .try_init();
}

/// This machine's address on its default route: libnice (webrtcbin, Chromium) gathers no
/// loopback candidates when another interface exists, so the server must listen there.
pub fn local_ip() -> std::net::IpAddr {
    let probe = || -> std::io::Result<std::net::IpAddr> {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.connect("203.0.113.1:9")?;
        Ok(s.local_addr()?.ip())
    };
    match probe() {
        Ok(ip) if !ip.is_unspecified() => ip,
        _ => std::net::IpAddr::from([127, 0, 0, 1]),
    }
}

impl Harness {
    /// A real-time 320×180 session whose grid shows input "host" full-frame, and the WHIP
    /// server for it on ephemeral ports.
    pub fn start(mut cfg: WhipConfig) -> Harness {
        init_tracing();
        if cfg.udp_bind.ip().is_loopback() {
            cfg.udp_bind.set_ip(local_ip());
        }
        let gpu = GpuContext::shared(AdapterChoice::Auto).unwrap();
        let mut scfg = SessionConfig::new(Scene {
            layout: Layout::Grid {
                inputs: vec!["host".into()],
                tile_aspect: (16, 9),
            },
            style: Default::default(),
            background: Default::default(),
            overlays: vec![],
            name_tags: None,
        });
        scfg.canvas = Size::new(320, 180);
        scfg.initial_inputs = vec!["host".into()];
        let captured = Arc::new(Mutex::new(Captured::default()));
        let sink = CaptureSink {
            captured: captured.clone(),
            stats: SinkStats::default(),
        };
        let mut session = compositor_render::start_session(scfg, gpu, Box::new(sink)).unwrap();
        let handle = session.handle();
        let sender = session.take_inputs().pop().unwrap();
        let directory = Arc::new(TestDirectory::default());
        directory.add("s1", "host", sender, handle.clone());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (server, base) = serve_whip(&rt, cfg, directory.clone());
        Harness {
            rt,
            server,
            base,
            session: Some(session),
            handle,
            captured,
            directory,
        }
    }

    pub fn whip_url(&self) -> String {
        format!("{}/whip/s1/host", self.base)
    }

    pub fn stats(&self) -> Option<IngestStats> {
        self.server
            .stats()
            .into_iter()
            .find(|s| s.input_id == "host")
    }

    pub fn events(&self) -> Vec<SessionEvent> {
        self.handle
            .events_since(0)
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    /// Waits until `f` holds (polling every 50 ms) or panics after `timeout` with `what`.
    pub fn wait_for(&self, timeout: Duration, what: &str, mut f: impl FnMut(&Harness) -> bool) {
        let t0 = Instant::now();
        while !f(self) {
            if t0.elapsed() > timeout {
                panic!(
                    "timed out waiting for {what}; stats {:?}; events {:?}",
                    self.stats(),
                    self.events()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Mean RGB of the composite's centre 20×20 block.
    pub fn centre_rgb(&self) -> Option<[f64; 3]> {
        let frame = self.captured.lock().unwrap().last_frame.clone()?;
        Some(mean_rgb(&frame, frame.width() / 2, frame.height() / 2, 10))
    }

    /// Mixed output audio of the last `secs` seconds (stereo interleaved, 48 kHz).
    pub fn recent_audio(&self, secs: f64) -> Vec<f32> {
        let c = self.captured.lock().unwrap();
        let n = ((secs * 48_000.0) as usize * 2).min(c.audio.len());
        c.audio[c.audio.len() - n..].to_vec()
    }

    pub fn shutdown(&mut self) {
        let server = self.server.clone();
        self.rt.block_on(async move { server.shutdown().await });
        if let Some(s) = self.session.take() {
            self.handle.stop();
            let _ = s.join();
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.session.is_some() {
            self.shutdown();
        }
    }
}

pub fn mean_rgb(frame: &I420Frame, cx: u32, cy: u32, r: u32) -> [f64; 3] {
    let rgb = frame.to_rgb(ColorMatrix::Bt709);
    let w = frame.width() as usize;
    let mut sum = [0f64; 3];
    let mut n = 0f64;
    for y in (cy - r)..(cy + r) {
        for x in (cx - r)..(cx + r) {
            let i = (y as usize * w + x as usize) * 3;
            for c in 0..3 {
                sum[c] += f64::from(rgb[i + c]);
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

pub fn close_rgb(a: [f64; 3], b: [u8; 3], tol: f64) -> bool {
    (0..3).all(|i| (a[i] - f64::from(b[i])).abs() <= tol)
}

/// Dominant frequency of channel 0 of interleaved 48 kHz stereo (the strongest 1 Hz bin
/// between 50 Hz and 4 kHz, by Goertzel over the whole window; a click or a short gap in the
/// mix does not move it, unlike counting zero crossings), and its RMS.
pub fn tone_of(stereo: &[f32]) -> (f64, f64) {
    compositor_devkit::testkit::dominant_tone(stereo)
}

/// Video the publisher sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    H264,
    Vp9,
}

/// What a [`Publisher`] sends.
#[derive(Debug, Clone, Copy)]
pub struct PublishSpec {
    /// Video codec.
    pub codec: VideoCodec,
    /// Width, height, frame rate.
    pub size: (u32, u32, u32),
    /// Picture colour (solid, or the moving pattern's tint is ignored when `moving`).
    pub rgb: [u8; 3],
    /// Sine frequency, Hz.
    pub freq: f64,
    /// Offer NACK and answer retransmission requests.
    pub nack: bool,
    /// A moving SMPTE pattern (realistic encode/decode load) instead of a solid colour.
    pub moving: bool,
    /// Video bitrate, kbit/s.
    pub bitrate_kbps: u32,
}

impl PublishSpec {
    /// A solid picture and a sine, NACK on, 1 Mbit/s.
    pub fn solid(codec: VideoCodec, size: (u32, u32, u32), rgb: [u8; 3], freq: f64) -> Self {
        Self {
            codec,
            size,
            rgb,
            freq,
            nack: true,
            moving: false,
            bitrate_kbps: 1000,
        }
    }
}

/// A GStreamer `webrtcbin` WHIP publisher (the WebRTC stack is GStreamer's, not ours).
pub struct Publisher {
    pipeline: gst::Pipeline,
    pub location: Option<String>,
}

impl Publisher {
    /// Publishes `spec` to `url` with the bearer `token`.
    pub fn start(
        rt: &tokio::runtime::Runtime,
        url: &str,
        token: &str,
        spec: &PublishSpec,
    ) -> Result<Publisher, String> {
        let PublishSpec {
            codec,
            size: (w, h, fps),
            rgb,
            freq,
            nack,
            moving,
            bitrate_kbps,
        } = *spec;
        gst::init().unwrap();
        let color = 0xff00_0000u32
            | (u32::from(rgb[0]) << 16)
            | (u32::from(rgb[1]) << 8)
            | u32::from(rgb[2]);
        let (bps, kbps) = (bitrate_kbps * 1000, bitrate_kbps);
        let enc = match codec {
            VideoCodec::Vp8 => format!(
                "vp8enc deadline=1 keyframe-max-dist=60 error-resilient=partitions target-bitrate={bps} cpu-used=8 ! rtpvp8pay mtu=1200 ! application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
            ),
            VideoCodec::Vp9 => format!(
                "vp9enc deadline=1 keyframe-max-dist=60 target-bitrate={bps} cpu-used=8 ! rtpvp9pay mtu=1200 ! application/x-rtp,media=video,encoding-name=VP9,payload=98,clock-rate=90000"
            ),
            VideoCodec::H264 => format!(
                "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=60 sliced-threads=false threads=1 bitrate={kbps} ! video/x-h264,profile=constrained-baseline ! rtph264pay config-interval=-1 aggregate-mode=zero-latency mtu=1200 ! application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,packetization-mode=(string)1"
            ),
        };
        let source = if moving {
            "pattern=smpte horizontal-speed=4".to_string()
        } else {
            format!("pattern=solid-color foreground-color={color}")
        };
        let desc = format!(
            "webrtcbin name=wb bundle-policy=max-bundle \
             videotestsrc is-live=true {source} ! \
             capsfilter name=vcaps caps=video/x-raw,width={w},height={h},framerate={fps}/1 ! videoconvert ! {enc} ! wb. \
             audiotestsrc is-live=true wave=sine freq={freq} volume=0.5 ! audioconvert ! audioresample ! \
             audio/x-raw,rate=48000,channels=1 ! opusenc ! rtpopuspay ! \
             application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! wb."
        );
        let pipeline = gst::parse::launch(&desc)
            .map_err(|e| e.to_string())?
            .downcast::<gst::Pipeline>()
            .map_err(|_| "not a pipeline".to_string())?;
        // str0m's DTLS (dimpl) takes ECDSA certificates only; webrtcbin makes RSA ones by
        // default, so give its DTLS elements an ECDSA certificate before they start.
        // webrtcbin computes the offer's fingerprint before its DTLS elements exist, so the
        // certificate is set as they are added and the offer's fingerprint rewritten to match.
        let (pem, fingerprint) =
            compositor_devkit::pem::ecdsa_pem("whip-test").map_err(|e| e.to_string())?;
        pipeline.connect_deep_element_added(move |_, _, element| {
            if element.factory().is_some_and(|f| f.name() == "dtlssrtpdec") {
                element.set_property("pem", pem.as_str());
            }
        });
        let wb = pipeline.by_name("wb").ok_or("no webrtcbin")?;
        // Sender reports map RTP time to the capture instant, as browsers do. GStreamer's
        // default (`rtcp-sync-send-time=true`) maps it to the send time, and with media queued
        // during ICE/DTLS its audio and video reports disagree by hundreds of ms: the server
        // then flips those tracks between sender-clock and arrival placement, which glitches
        // the sound (a known limitation, see docs/known-limitations.md).
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
        rx.recv_timeout(Duration::from_secs(10))
            .map_err(|_| "no negotiation-needed".to_string())?;
        // NACK (and RTX) on every transceiver, as browsers do, when asked.
        for i in 0..2i32 {
            if !nack {
                break;
            }
            if let Some(t) = wb.emit_by_name::<Option<gstreamer_webrtc::WebRTCRTPTransceiver>>(
                "get-transceiver",
                &[&i],
            ) {
                t.set_property("do-nack", true);
            }
        }
        // Offer.
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
        // Wait for ICE gathering (non-trickle WHIP).
        let t0 = Instant::now();
        loop {
            let state =
                wb.property::<gstreamer_webrtc::WebRTCICEGatheringState>("ice-gathering-state");
            if state == gstreamer_webrtc::WebRTCICEGatheringState::Complete
                || t0.elapsed() > Duration::from_secs(5)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let local = wb
            .property::<Option<gstreamer_webrtc::WebRTCSessionDescription>>("local-description")
            .ok_or("no local description")?;
        let sdp = local.sdp().as_text().map_err(|e| e.to_string())?;
        let sdp: String = sdp
            .lines()
            .map(|l| {
                if l.starts_with("a=fingerprint:") {
                    format!("a=fingerprint:sha-256 {fingerprint}\r\n")
                } else {
                    format!("{l}\r\n")
                }
            })
            .collect();
        let url = url.to_string();
        let token = token.to_string();
        let (status, location, answer) = rt.block_on(async move {
            let res = reqwest::Client::new()
                .post(&url)
                .header("Content-Type", "application/sdp")
                .header("Authorization", format!("Bearer {token}"))
                .body(sdp)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = res.status().as_u16();
            let location = res
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = res.text().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, location, body))
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
        Ok(Publisher { pipeline, location })
    }
}

impl Publisher {
    /// Changes the sent picture size mid-stream (the encoder restarts with a keyframe).
    pub fn set_video_size(&self, w: u32, h: u32, fps: i32) {
        let caps = gst::Caps::builder("video/x-raw")
            .field("width", w as i32)
            .field("height", h as i32)
            .field("framerate", gst::Fraction::new(fps, 1))
            .build();
        if let Some(f) = self.pipeline.by_name("vcaps") {
            f.set_property("caps", &caps);
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
