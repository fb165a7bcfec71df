//! One encode of the hub: raw I420 + F32 in, encoded packets out, fanned out to the queues of
//! every output that uses this encoder profile.
//!
//! ```text
//! appsrc(I420) ─ queue ─ x264enc|nvh264enc|vp8enc ─ [profile caps ─ h264parse(config-interval=-1) ─ byte-stream/au] ─ appsink ┐
//! appsrc(F32)  ─ queue ─ audioconvert ─ audioresample ─ avenc_aac ─ aacparse | opusenc ───────────────────────────── appsink ┴→ SharedQueue per output
//! ```
//!
//! Threads: the session thread pushes (never blocked: a full appsrc drops, counted); the
//! appsinks' streaming threads fan out (a `gst::Buffer` is refcounted, so every output shares
//! the same bytes). Timestamps: session clock (ns) as GStreamer pts in; packets leave with
//! running time (= session clock; encoder segment offsets removed); outputs rebase them. H.264 leaves as Annex B with SPS/PPS before each keyframe,
//! so an output can start at any keyframe ([`Encode::request_keyframe`]). H.264 access units
//! carry each frame's layout metadata as an SEI ([`super::sei`]); VP8 carries none.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use tracing::{info, warn};

use super::elements::{
    AudioCodec, add_chain, audio_encode_chain, clock_time, frame_pool, make, push_pooled_frame,
    raw_sources, video_encode_chain,
};
use super::queue::{SharedQueue, Weighed};
use super::sei::SeiTagger;
use super::{EncoderSettings, OutputError, StreamFormat, VideoCodec};
use compositor_core::frame::I420Frame;

/// Video or audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// Video.
    Video,
    /// Audio.
    Audio,
}

/// One encoded access unit (or audio frame) with the caps it was produced under.
#[derive(Debug, Clone)]
pub(crate) struct Packet {
    /// Which stream.
    pub kind: MediaKind,
    /// The data; pts on the session clock.
    pub buffer: gst::Buffer,
    /// Caps of the stream.
    pub caps: gst::Caps,
    /// A keyframe (always true for audio).
    pub keyframe: bool,
}

impl Weighed for Packet {
    fn bytes(&self) -> usize {
        self.buffer.size()
    }
}

/// An output's queue as the encode sees it.
pub(crate) type OutputQueue = Arc<SharedQueue<Packet>>;

type Subscribers = Arc<Mutex<Vec<(String, OutputQueue)>>>;

/// One running encode.
pub(crate) struct Encode {
    /// Its profile.
    pub settings: EncoderSettings,
    /// Its audio codec.
    pub audio: AudioCodec,
    pipeline: gst::Pipeline,
    vsrc: gst_app::AppSrc,
    asrc: gst_app::AppSrc,
    vsink: gst_app::AppSink,
    pool: gst::BufferPool,
    frame_bytes: usize,
    max_video_bytes: u64,
    max_audio_bytes: u64,
    subscribers: Subscribers,
    last_key_request: Mutex<Option<Instant>>,
    /// Raw frames dropped because the encoder was behind.
    pub video_dropped: AtomicU64,
    /// Raw audio blocks dropped because the encoder was behind.
    pub audio_dropped: AtomicU64,
    encoder_name: String,
    tagger: SeiTagger,
}

impl std::fmt::Debug for Encode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Encode({}, {:?})", self.encoder_name, self.audio)
    }
}

fn fan_out(sink: &gst_app::AppSink, kind: MediaKind, subs: &Subscribers) {
    let Ok(sample) = sink.pull_sample() else {
        return;
    };
    let (Some(mut buffer), Some(caps)) = (sample.buffer_owned(), sample.caps_owned()) else {
        return;
    };
    // Encoders may shift timestamps inside their segment (x264enc adds 1000 h so DTS can
    // precede PTS): hand on running time, which is the session clock we pushed.
    if let Some(seg) = sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>())
    {
        let (pts, dts) = (buffer.pts(), buffer.dts());
        let b = buffer.make_mut();
        b.set_pts(pts.and_then(|t| seg.to_running_time(t)));
        b.set_dts(dts.and_then(|t| seg.to_running_time(t)));
    }
    let keyframe =
        kind == MediaKind::Audio || !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
    let packet = Packet {
        kind,
        buffer,
        caps,
        keyframe,
    };
    let subs = subs.lock().unwrap_or_else(|e| e.into_inner());
    for (id, q) in subs.iter() {
        let dropped = q.push(packet.clone());
        if dropped > 0 {
            let total = q.dropped();
            if total == dropped || total % 100 < dropped {
                warn!(output = %id, dropped = total, "output queue full: dropping its oldest packets");
            }
        }
    }
}

impl Encode {
    /// Builds and starts an encode for `settings` + `audio`.
    pub(crate) fn start(
        fmt: &StreamFormat,
        settings: &EncoderSettings,
        audio: AudioCodec,
    ) -> Result<Self, OutputError> {
        super::init_gstreamer()?;
        let pipeline = gst::Pipeline::with_name("hub-encode");
        let frame_bytes = I420Frame::byte_len(fmt.width, fmt.height);
        let max_video_bytes = frame_bytes as u64 * 4;
        let max_audio_bytes = u64::from(fmt.sample_rate) * u64::from(fmt.channels) * 4 / 2;
        let (vsrc, asrc) = raw_sources(fmt, true, max_video_bytes, max_audio_bytes);
        let mk_sink = |name: &str| {
            gst_app::AppSink::builder()
                .name(name)
                .sync(false)
                .max_buffers(64)
                .drop(false)
                .build()
        };
        let vsink = mk_sink("vsink");
        let asink = mk_sink("asink");
        vsink.set_property("async", false);
        asink.set_property("async", false);
        let vchain = video_encode_chain(settings, true)?;
        let encoder_name = vchain
            .first()
            .and_then(|e| e.factory())
            .map(|f| f.name().to_string())
            .unwrap_or_default();
        let tagger = SeiTagger::new();
        if settings.codec == VideoCodec::H264
            && let Some(enc) = vchain.first()
        {
            tagger.attach(enc)?;
        }
        let mut video: Vec<gst::Element> = vec![vsrc.clone().upcast(), make("queue", None)?];
        video.extend(vchain);
        video.push(vsink.clone().upcast());
        let mut audio_chain: Vec<gst::Element> = vec![asrc.clone().upcast(), make("queue", None)?];
        audio_chain.extend(audio_encode_chain(audio, settings.audio_bps)?);
        audio_chain.push(asink.clone().upcast());
        add_chain(&pipeline, &video)?;
        add_chain(&pipeline, &audio_chain)?;

        let subscribers: Subscribers = Arc::default();
        for (sink, kind) in [(&vsink, MediaKind::Video), (&asink, MediaKind::Audio)] {
            let subs = subscribers.clone();
            sink.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |s| {
                        fan_out(s, kind, &subs);
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
        }
        let pool = frame_pool(&vsrc, frame_bytes as u32)?;
        if let Err(e) = pipeline.set_state(gst::State::Playing) {
            let _ = pipeline.set_state(gst::State::Null);
            return Err(OutputError::Setup(format!("encode would not start: {e}")));
        }
        info!(encoder = %encoder_name, ?audio, kbps = settings.video_kbps, "hub encode started");
        Ok(Self {
            settings: settings.clone(),
            audio,
            pipeline,
            vsrc,
            asrc,
            vsink,
            pool,
            frame_bytes,
            max_video_bytes,
            max_audio_bytes,
            subscribers,
            last_key_request: Mutex::new(None),
            video_dropped: AtomicU64::new(0),
            audio_dropped: AtomicU64::new(0),
            encoder_name,
            tagger,
        })
    }

    /// The video encoder element in use.
    pub(crate) fn encoder_name(&self) -> &str {
        &self.encoder_name
    }

    /// Encoded frames that left with a layout SEI, and without one.
    pub(crate) fn sei_counts(&self) -> (u64, u64) {
        (self.tagger.tagged(), self.tagger.untagged())
    }

    /// Starts fanning packets out to `queue` (and asks for a keyframe so it can start).
    pub(crate) fn subscribe(&self, id: &str, queue: OutputQueue) {
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id.to_string(), queue));
        self.request_keyframe();
    }

    /// Stops fanning out to output `id`; returns how many outputs remain.
    pub(crate) fn unsubscribe(&self, id: &str) -> usize {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|(s, _)| s != id);
        subs.len()
    }

    /// Asks the encoder for a keyframe with headers (throttled to one per 200 ms).
    pub(crate) fn request_keyframe(&self) {
        {
            let mut last = self
                .last_key_request
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if last.is_some_and(|t| now - t < Duration::from_millis(200)) {
                return;
            }
            *last = Some(now);
        }
        let ev = gstreamer_video::UpstreamForceKeyUnitEvent::builder()
            .all_headers(true)
            .build();
        if !self.vsink.send_event(ev) {
            warn!(encoder = %self.encoder_name, "keyframe request was not handled");
        }
    }

    /// First pipeline error, if any (non-blocking).
    pub(crate) fn error(&self) -> Option<String> {
        let bus = self.pipeline.bus()?;
        let msg = bus.pop_filtered(&[gst::MessageType::Error])?;
        match msg.view() {
            gst::MessageView::Error(e) => Some(format!(
                "{}: {}",
                msg.src()
                    .map(|s| s.path_string().to_string())
                    .unwrap_or_default(),
                e.error()
            )),
            _ => None,
        }
    }

    /// Pushes one raw frame; drops it (counted, `Ok(false)`) when the encoder is behind.
    pub(crate) fn push_video(
        &self,
        frame: &I420Frame,
        pts: Duration,
        duration: Duration,
    ) -> Result<bool, OutputError> {
        if self.vsrc.current_level_bytes() >= self.max_video_bytes {
            self.video_dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(false);
        }
        if !frame.meta().is_empty() && self.settings.codec == VideoCodec::H264 {
            self.tagger.remember(pts, frame.meta());
        }
        push_pooled_frame(
            &self.pool,
            &self.vsrc,
            frame,
            self.frame_bytes,
            pts,
            duration,
        )?;
        Ok(true)
    }

    /// Pushes one mixed block; drops it (counted, `Ok(false)`) when the encoder is behind.
    pub(crate) fn push_audio(&self, samples: &[f32], pts: Duration) -> Result<bool, OutputError> {
        if self.asrc.current_level_bytes() >= self.max_audio_bytes {
            self.audio_dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(false);
        }
        let bytes: &[u8] = bytemuck::cast_slice(samples);
        let mut buf =
            gst::Buffer::with_size(bytes.len()).map_err(|e| OutputError::Flow(e.to_string()))?;
        {
            let b = buf
                .get_mut()
                .ok_or_else(|| OutputError::Flow("buffer not writable".into()))?;
            b.set_pts(clock_time(pts));
            let mut map = b
                .map_writable()
                .map_err(|e| OutputError::Flow(e.to_string()))?;
            map.copy_from_slice(bytes);
        }
        self.asrc
            .push_buffer(buf)
            .map_err(|e| OutputError::Flow(format!("audio: {e:?}")))?;
        Ok(true)
    }
}

impl Drop for Encode {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        let _ = self.pool.set_active(false);
    }
}

#[cfg(test)]
#[path = "encode_sei_tests.rs"]
mod sei_tests;
