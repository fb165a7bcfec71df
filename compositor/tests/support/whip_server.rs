//! A WHIP server for the egress tests, made of a tiny HTTP handler and GStreamer's webrtcbin:
//! answers one offer with 201 + Location, depayloads and decodes what it receives (H.264 or
//! VP8 video, Opus audio), notes when each video keyframe arrived and keeps the decoded audio,
//! can ask the sender for a keyframe (an upstream force-key-unit event, which webrtcbin's
//! rtpsession turns into RTCP PLI), and accepts the DELETE.
//!
//! Threads: GStreamer's streaming threads update [`Seen`]; the HTTP handler runs on its own
//! thread; the test thread reads [`Seen`] and calls [`WhipServer::request_keyframe`].
//! Audio is kept as interleaved 48 kHz stereo f32, at most [`MAX_AUDIO_SECS`] seconds.

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

/// Decoded audio kept, seconds.
pub const MAX_AUDIO_SECS: usize = 10;

/// What the server saw.
#[derive(Default)]
pub struct Seen {
    /// Decoded video frames.
    pub frames: AtomicU64,
    /// Decoded picture size.
    pub size: Mutex<Option<(u32, u32)>>,
    /// RTP encoding name of the video ("H264", "VP8").
    pub video_codec: Mutex<Option<String>>,
    /// RTP encoding name of the audio ("OPUS").
    pub audio_codec: Mutex<Option<String>>,
    /// When each video keyframe left the depayloader.
    pub keyframes: Mutex<Vec<Instant>>,
    /// Decoded audio, interleaved 48 kHz stereo.
    pub audio: Mutex<Vec<f32>>,
    /// The resource was deleted.
    pub deleted: AtomicBool,
    /// The Authorization header of the POST.
    pub auth: Mutex<Option<String>>,
}

impl Seen {
    /// Keyframes received so far.
    pub fn keyframe_count(&self) -> usize {
        self.keyframes.lock().unwrap().len()
    }
}

pub struct WhipServer {
    pub url: String,
    pub seen: Arc<Seen>,
    pipeline: gst::Pipeline,
    video_depay: Arc<Mutex<Option<gst::Element>>>,
}

impl Drop for WhipServer {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl WhipServer {
    /// Asks the sender for a keyframe the way a receiver does: an upstream force-key-unit
    /// event from the video depayloader into webrtcbin, whose RTP session sends a PLI.
    /// False when no video has arrived yet.
    pub fn request_keyframe(&self) -> bool {
        let Some(depay) = self.video_depay.lock().unwrap().clone() else {
            return false;
        };
        let ev = gstreamer_video::UpstreamForceKeyUnitEvent::builder()
            .all_headers(true)
            .build();
        depay.static_pad("sink").unwrap().push_event(ev)
    }
}

fn add_linked(pipeline: &gst::Pipeline, chain: &[gst::Element]) {
    pipeline.add_many(chain).unwrap();
    gst::Element::link_many(chain).unwrap();
    for e in chain {
        e.sync_state_with_parent().unwrap();
    }
}

fn make(factory: &str) -> gst::Element {
    gst::ElementFactory::make(factory)
        .build()
        .unwrap_or_else(|_| panic!("GStreamer element {factory} (scripts/setup.sh)"))
}

fn on_video(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    encoding: &str,
    seen: &Arc<Seen>,
    video_depay: &Arc<Mutex<Option<gst::Element>>>,
) {
    // The element whose output carries keyframe flags: H.264 through h264parse, VP8 straight
    // from the depayloader (which reads the key bit of the payload header).
    let (mut chain, flagged) = match encoding {
        "H264" => {
            let c = vec![make("rtph264depay"), make("h264parse"), make("avdec_h264")];
            (c, 1)
        }
        "VP8" => (vec![make("rtpvp8depay"), make("vp8dec")], 0),
        other => panic!("unexpected video encoding {other}"),
    };
    let sink = gst_app::AppSink::builder().sync(false).build();
    chain.push(make("videoconvert"));
    chain.push(sink.clone().upcast());
    add_linked(pipeline, &chain);
    let s = seen.clone();
    chain[flagged].static_pad("src").unwrap().add_probe(
        gst::PadProbeType::BUFFER,
        move |_, info| {
            if let Some(b) = info.buffer()
                && !b.flags().contains(gst::BufferFlags::DELTA_UNIT)
            {
                s.keyframes.lock().unwrap().push(Instant::now());
            }
            gst::PadProbeReturn::Ok
        },
    );
    let s = seen.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(info) = sample
                    .caps()
                    .and_then(|c| gstreamer_video::VideoInfo::from_caps(c).ok())
                {
                    *s.size.lock().unwrap() = Some((info.width(), info.height()));
                }
                s.frames.fetch_add(1, Ordering::Relaxed);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    *video_depay.lock().unwrap() = Some(chain[0].clone());
    pad.link(&chain[0].static_pad("sink").unwrap()).unwrap();
}

fn on_audio(pipeline: &gst::Pipeline, pad: &gst::Pad, seen: &Arc<Seen>) {
    let caps = gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("layout", "interleaved")
        .field("rate", 48_000i32)
        .field("channels", 2i32)
        .build();
    let sink = gst_app::AppSink::builder().caps(&caps).sync(false).build();
    let chain = vec![
        make("rtpopusdepay"),
        make("opusdec"),
        make("audioconvert"),
        make("audioresample"),
        sink.clone().upcast(),
    ];
    add_linked(pipeline, &chain);
    let s = seen.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(buf) = sample.buffer() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let map = buf.map_readable().map_err(|_| gst::FlowError::Error)?;
                let mut audio = s.audio.lock().unwrap();
                if audio.len() < MAX_AUDIO_SECS * 48_000 * 2 {
                    audio.extend(
                        map.as_slice()
                            .chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    );
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pad.link(&chain[0].static_pad("sink").unwrap()).unwrap();
}

fn on_pad(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    seen: &Arc<Seen>,
    video_depay: &Arc<Mutex<Option<gst::Element>>>,
) {
    let caps = pad.current_caps().unwrap();
    let st = caps.structure(0).unwrap();
    let media = st.get::<String>("media").unwrap();
    let encoding = st.get::<String>("encoding-name").unwrap().to_uppercase();
    if media == "video" {
        *seen.video_codec.lock().unwrap() = Some(encoding.clone());
        on_video(pipeline, pad, &encoding, seen, video_depay);
    } else {
        *seen.audio_codec.lock().unwrap() = Some(encoding.clone());
        assert_eq!(encoding, "OPUS", "audio must be Opus");
        on_audio(pipeline, pad, seen);
    }
}

fn answer(webrtc: &gst::Element, offer_sdp: &str, fp: &str) -> String {
    let sdp = gst_sdp::SDPMessage::parse_buffer(offer_sdp.as_bytes()).unwrap();
    let offer = gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Offer, sdp);
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
    let (pem, fp) = compositor_devkit::pem::ecdsa_pem("webrtcbin").unwrap();
    pipeline.connect_deep_element_added(move |_, _, el| {
        if el.factory().is_some_and(|f| f.name() == "dtlssrtpdec") {
            el.set_property("pem", &pem);
        }
    });
    let seen = Arc::new(Seen::default());
    let video_depay: Arc<Mutex<Option<gst::Element>>> = Arc::default();
    {
        let (p, seen, vd) = (pipeline.clone(), seen.clone(), video_depay.clone());
        webrtc.connect_pad_added(move |_, pad| on_pad(&p, pad, &seen, &vd));
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
                let ans = answer(&webrtc, &String::from_utf8_lossy(&body), &fp);
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
        video_depay,
    }
}
