//! One GStreamer decoder per received track: appsrc → (parser →) decoder → convert → appsink,
//! producing I420 [`VideoFrame`]s and F32 interleaved [`AudioBlock`]s.
//!
//! Threads and ownership: the UDP loop owns the [`TrackDecoder`] and calls [`TrackDecoder::push`]
//! with a frame-level payload (str0m's depacketized `MediaData`); the payload's `Arc<[u8]>` is
//! wrapped, not copied. Push never blocks: appsrc has its own streaming thread, and when more
//! than `queue_limit` buffers wait the frame is dropped and counted (the caller then asks for a
//! keyframe). Decoding and conversion run on GStreamer's threads; the appsink callback copies
//! the picture into a tight [`I420Frame`] and hands it with its [`MediaTiming`] to
//! [`Delivery`], which sends it with its timing into the slot (the session places it).
//!
//! Time: buffer PTS = (RTP time − first RTP time of the track) in ns; a bounded map from PTS to
//! [`MediaTiming`] (256 entries) finds each decoded unit's timing again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use super::deliver::{DecodedAudio, DecodedVideo, Delivery};
use super::timing::MediaTiming;
use compositor_core::frame::{AudioBlock, ColorMatrix, I420Frame, VideoFrame};

const TIMING_MAP_LEN: usize = 256;

/// Codecs a track can be decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackCodec {
    /// VP8 (RFC 7741 payload, frames as str0m assembles them).
    Vp8,
    /// VP9.
    Vp9,
    /// H.264 Annex B access units (packetization-mode 1).
    H264,
    /// Opus at 48 kHz.
    Opus,
}

impl TrackCodec {
    /// Maps str0m's codec; `None` for codecs we do not decode.
    pub fn from_str0m(c: str0m::format::Codec) -> Option<Self> {
        use str0m::format::Codec;
        match c {
            Codec::Vp8 => Some(Self::Vp8),
            Codec::Vp9 => Some(Self::Vp9),
            Codec::H264 => Some(Self::H264),
            Codec::Opus => Some(Self::Opus),
            _ => None,
        }
    }

    /// Display name ("VP8", "opus"…), as in events.
    pub fn name(self) -> &'static str {
        match self {
            Self::Vp8 => "VP8",
            Self::Vp9 => "VP9",
            Self::H264 => "H264",
            Self::Opus => "opus",
        }
    }

    /// True for video codecs.
    pub fn is_video(self) -> bool {
        !matches!(self, Self::Opus)
    }

    fn caps(self) -> gst::Caps {
        match self {
            Self::Vp8 => gst::Caps::builder("video/x-vp8").build(),
            Self::Vp9 => gst::Caps::builder("video/x-vp9").build(),
            Self::H264 => gst::Caps::builder("video/x-h264")
                .field("stream-format", "byte-stream")
                .field("alignment", "au")
                .build(),
            Self::Opus => gst::Caps::builder("audio/x-opus")
                .field("channel-mapping-family", 0i32)
                .field("channels", 2i32)
                .field("rate", 48_000i32)
                .build(),
        }
    }

    fn chain(self) -> &'static str {
        match self {
            Self::Vp8 => "vp8dec name=dec max-errors=-1 ! videoconvert ! video/x-raw,format=I420",
            Self::Vp9 => "vp9dec name=dec max-errors=-1 ! videoconvert ! video/x-raw,format=I420",
            Self::H264 => {
                "h264parse ! avdec_h264 name=dec max-errors=-1 thread-type=slice ! videoconvert ! video/x-raw,format=I420"
            }
            Self::Opus => {
                "opusdec name=dec plc=true ! audioconvert ! audioresample ! \
                 audio/x-raw,format=F32LE,layout=interleaved,rate=48000,channels=2"
            }
        }
    }
}

/// Why a decoder could not be built.
#[derive(Debug, thiserror::Error)]
#[error("decoder for {codec}: {message}")]
pub struct DecoderError {
    codec: &'static str,
    message: String,
}

/// What [`TrackDecoder::push`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued for decoding.
    Queued,
    /// Dropped: the decoder's queue was full (or it is restarting).
    Dropped,
}

/// What [`TrackDecoder::poll_bus`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusReport {
    /// Corrupt-data warnings from the decoder (decoding continued).
    pub warnings: u64,
    /// The pipeline failed and was rebuilt.
    pub restarted: bool,
}

/// One track's decoding pipeline (see the module doc).
pub struct TrackDecoder {
    codec: TrackCodec,
    clock_rate: u32,
    queue_limit: u64,
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    timings: Arc<Mutex<VecDeque<(u64, MediaTiming)>>>,
    first_rtp: Option<u64>,
    delivery: Arc<Delivery>,
    closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for TrackDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrackDecoder({})", self.codec.name())
    }
}

impl TrackDecoder {
    /// Builds and starts the pipeline. `closed` is set when the slot refuses media.
    pub fn new(
        codec: TrackCodec,
        clock_rate: u32,
        queue_limit: u32,
        delivery: Arc<Delivery>,
        closed: Arc<AtomicBool>,
    ) -> Result<Self, DecoderError> {
        let err = |message: String| DecoderError {
            codec: codec.name(),
            message,
        };
        let desc = format!("appsrc name=src ! {} ! appsink name=sink", codec.chain());
        let pipeline = gst::parse::launch(&desc)
            .map_err(|e| err(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| err("not a pipeline".into()))?;
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| err("no appsrc".into()))?;
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| err("no appsink".into()))?;
        src.set_caps(Some(&codec.caps()));
        src.set_format(gst::Format::Time);
        src.set_is_live(true);
        src.set_do_timestamp(false);
        src.set_max_bytes(64 * 1024 * 1024);
        sink.set_sync(false);
        sink.set_max_buffers(8);
        sink.set_drop(false);
        let timings: Arc<Mutex<VecDeque<(u64, MediaTiming)>>> = Arc::default();
        let cb_timings = timings.clone();
        let cb_delivery = delivery.clone();
        let cb_closed = closed.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let delivered = if codec.is_video() {
                        video_from_sample(&sample, &cb_timings).map(|v| cb_delivery.video(v))
                    } else {
                        audio_from_sample(&sample, &cb_timings).map(|a| cb_delivery.audio(a))
                    };
                    match delivered {
                        Some(Err(_closed)) => {
                            cb_closed.store(true, Ordering::Relaxed);
                            Err(gst::FlowError::Eos)
                        }
                        _ => Ok(gst::FlowSuccess::Ok),
                    }
                })
                .build(),
        );
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| err(e.to_string()))?;
        Ok(Self {
            codec,
            clock_rate: clock_rate.max(1),
            queue_limit: u64::from(queue_limit.max(1)),
            pipeline,
            src,
            timings,
            first_rtp: None,
            delivery,
            closed,
        })
    }

    /// The track's codec.
    pub fn codec(&self) -> TrackCodec {
        self.codec
    }

    /// Queues one encoded frame (never blocks).
    pub fn push(&mut self, data: Arc<[u8]>, timing: MediaTiming) -> Pushed {
        let level: u64 = self.src.property("current-level-buffers");
        if level >= self.queue_limit {
            return Pushed::Dropped;
        }
        let first = *self.first_rtp.get_or_insert(timing.rtp_time);
        let ticks = timing.rtp_time.saturating_sub(first);
        let pts_ns = (u128::from(ticks) * 1_000_000_000 / u128::from(self.clock_rate)) as u64;
        {
            let mut t = self.timings.lock().unwrap_or_else(|e| e.into_inner());
            if t.len() >= TIMING_MAP_LEN {
                t.pop_front();
            }
            t.push_back((pts_ns, timing));
        }
        if self.codec == TrackCodec::H264 && tracing::enabled!(tracing::Level::TRACE) {
            let nals: Vec<u8> = data
                .windows(4)
                .filter(|w| w[..3] == [0, 0, 1])
                .map(|w| w[3] & 0x1f)
                .collect();
            tracing::trace!(
                len = data.len(),
                ?nals,
                rtp = timing.rtp_time,
                "h264 access unit"
            );
        }
        let mut buf = gst::Buffer::from_slice(data);
        if let Some(b) = buf.get_mut() {
            b.set_pts(gst::ClockTime::from_nseconds(pts_ns));
        }
        match self.src.push_buffer(buf) {
            Ok(_) => Pushed::Queued,
            Err(_) => Pushed::Dropped,
        }
    }

    /// Reads the pipeline's bus: counts decoder warnings, and rebuilds the pipeline after an
    /// error (a decoder error never ends the host's stream).
    pub fn poll_bus(&mut self) -> BusReport {
        let mut report = BusReport::default();
        let Some(bus) = self.pipeline.bus() else {
            return report;
        };
        let mut failed = None;
        while let Some(msg) = bus.pop() {
            match msg.view() {
                gst::MessageView::Warning(w) => {
                    report.warnings += 1;
                    tracing::debug!(codec = self.codec.name(), "decoder warning: {}", w.error());
                }
                gst::MessageView::Error(e) => failed = Some(e.error().to_string()),
                _ => {}
            }
        }
        if let Some(error) = failed {
            tracing::warn!(codec = self.codec.name(), %error, "decoder failed: restarting it");
            match Self::new(
                self.codec,
                self.clock_rate,
                self.queue_limit as u32,
                self.delivery.clone(),
                self.closed.clone(),
            ) {
                Ok(fresh) => {
                    let old = std::mem::replace(self, fresh);
                    drop(old);
                }
                Err(e) => tracing::error!("cannot rebuild the decoder: {e}"),
            }
            report.restarted = true;
        }
        report
    }
}

impl Drop for TrackDecoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Takes the timing of the newest pushed unit with PTS ≤ `pts` (dropping older ones), and
/// the offset of `pts` past it.
fn timing_for(
    timings: &Mutex<VecDeque<(u64, MediaTiming)>>,
    pts: u64,
) -> Option<(MediaTiming, u64)> {
    let mut t = timings.lock().unwrap_or_else(|e| e.into_inner());
    while t.len() > 1 && t.get(1).is_some_and(|(p, _)| *p <= pts) {
        t.pop_front();
    }
    let (p, timing) = t.front()?;
    Some((*timing, pts.saturating_sub(*p)))
}

fn video_from_sample(
    sample: &gst::Sample,
    timings: &Mutex<VecDeque<(u64, MediaTiming)>>,
) -> Option<DecodedVideo> {
    let caps = sample.caps()?;
    let info = gst_video::VideoInfo::from_caps(caps).ok()?;
    let buffer = sample.buffer()?;
    let pts = buffer.pts().map(|p| p.nseconds()).unwrap_or(0);
    let (timing, _) = timing_for(timings, pts)?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).ok()?;
    let (w, h) = (info.width(), info.height());
    let mut data = Vec::with_capacity(I420Frame::byte_len(w, h));
    let (cw, ch) = compositor_core::frame::chroma_size(w, h);
    for (plane, pw, ph) in [(0u32, w, h), (1, cw, ch), (2, cw, ch)] {
        let src = frame.plane_data(plane).ok()?;
        let stride = usize::try_from(*frame.plane_stride().get(plane as usize)?).ok()?;
        for row in 0..ph as usize {
            let start = row * stride;
            data.extend_from_slice(src.get(start..start + pw as usize)?);
        }
    }
    let image = I420Frame::from_vec(w, h, data).ok()?;
    let matrix = match info.colorimetry().matrix() {
        gst_video::VideoColorMatrix::Bt601 => ColorMatrix::Bt601,
        gst_video::VideoColorMatrix::Bt709 => ColorMatrix::Bt709,
        _ => ColorMatrix::for_height(h),
    };
    Some(DecodedVideo {
        frame: VideoFrame {
            pts: Duration::ZERO,
            matrix,
            image,
        },
        timing,
    })
}

fn audio_from_sample(
    sample: &gst::Sample,
    timings: &Mutex<VecDeque<(u64, MediaTiming)>>,
) -> Option<DecodedAudio> {
    let buffer = sample.buffer()?;
    let pts = buffer.pts().map(|p| p.nseconds()).unwrap_or(0);
    let (timing, offset_ns) = timing_for(timings, pts)?;
    let map = buffer.map_readable().ok()?;
    let samples: Vec<f32> = map
        .as_slice()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some(DecodedAudio {
        block: AudioBlock {
            pts: Duration::ZERO,
            sample_rate: 48_000,
            channels: 2,
            samples,
        },
        timing,
        offset: Duration::from_nanos(offset_ns),
    })
}
