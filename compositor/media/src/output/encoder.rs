//! One encode per session through GStreamer:
//!
//! ```text
//! appsrc(I420) ─ queue ─ x264enc tune=zerolatency | nvh264enc ─ h264parse ─ tee ─┬ queue ─ mp4mux(fragmented) ─ filesink
//! appsrc(F32)  ─ queue ─ audioconvert ─ audioresample ─ avenc_aac ─ aacparse ─ tee ─┴ queue ─ flvmux ─ filesink
//! ```
//!
//! Timestamps: buffers carry the session-clock pts as GStreamer running time (0 = first
//! tick). MP4 is written fragmented (`fragment-duration` 1 s, moov first), so a crash leaves a
//! file playable up to the last complete fragment. Pipeline errors come back as
//! [`OutputError`]s from the next push or from `finish`, never as panics.
//!
//! Each frame's metadata ([`I420Frame::meta`], the layout JSON) leaves inside its encoded
//! access unit as an SEI ([`super::sei`]): remembered by pts on push, inserted by a probe on
//! the encoder's src pad.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use tracing::{info, warn};

use super::elements::{
    AudioCodec, add_chain, audio_encode_chain, clock_time, frame_pool, hls_sink, link, make,
    push_pooled_frame, raw_sources, video_encode_chain,
};
use super::sei::SeiTagger;
use super::{
    EncoderSettings, OutputError, OutputFiles, OutputSink, SinkStats, StreamFormat, VideoCodec,
};
use compositor_core::frame::I420Frame;

/// The GStreamer encode + mux pipeline.
pub struct GstEncoder {
    pipeline: gst::Pipeline,
    video_pool: gst::BufferPool,
    video_frame_bytes: usize,
    vsrc: gst_app::AppSrc,
    asrc: gst_app::AppSrc,
    live: bool,
    max_video_bytes: u64,
    max_audio_bytes: u64,
    stats: SinkStats,
    finished: bool,
    last_drop_log: Option<Instant>,
    encoder_name: String,
    tagger: SeiTagger,
}

impl std::fmt::Debug for GstEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GstEncoder({})", self.encoder_name)
    }
}

/// Initialises GStreamer once (safe to call often).
pub fn init_gstreamer() -> Result<(), OutputError> {
    gst::init().map_err(|e| OutputError::Setup(e.to_string()))
}

/// True if `factory` exists in this GStreamer installation.
pub fn has_element(factory: &str) -> bool {
    init_gstreamer().is_ok() && gst::ElementFactory::find(factory).is_some()
}

impl GstEncoder {
    /// Builds and starts the pipeline. `live` = real-time mode (drop when full) vs offline
    /// (block when full).
    pub fn new(
        fmt: StreamFormat,
        settings: &EncoderSettings,
        files: &OutputFiles,
        live: bool,
    ) -> Result<Self, OutputError> {
        init_gstreamer()?;
        fmt.validate()
            .map_err(|e| OutputError::Setup(e.to_string()))?;
        if files.mp4.is_none() && files.flv.is_none() && files.hls.is_none() {
            return Err(OutputError::Setup("no output file given".into()));
        }
        if settings.preset.is_empty() || settings.video_kbps == 0 || settings.keyframe_interval == 0
        {
            return Err(OutputError::Setup(
                "encoder settings: preset, bitrate and keyframe interval must be set".into(),
            ));
        }
        let pipeline = gst::Pipeline::with_name("encode");
        let frame_bytes = I420Frame::byte_len(fmt.width, fmt.height) as u64;
        let max_video_bytes = frame_bytes * 8;
        let max_audio_bytes = u64::from(fmt.sample_rate) * u64::from(fmt.channels) * 4; // 1 s
        let (vsrc, asrc) = raw_sources(&fmt, live, max_video_bytes, max_audio_bytes);
        if settings.codec != VideoCodec::H264 {
            return Err(OutputError::Setup(
                "the file encoder writes H.264 only (VP8 is for WHIP egress)".into(),
            ));
        }
        let vq = make("queue", Some("vq"))?;
        let vchain = video_encode_chain(settings, false)?;
        let encoder_name = vchain
            .first()
            .and_then(|e| e.factory())
            .map(|f| f.name().to_string())
            .unwrap_or_default();
        let tagger = SeiTagger::new();
        if let Some(enc) = vchain.first() {
            tagger.attach(enc)?;
        }
        let vtee = make("tee", Some("vtee"))?;
        let aq = make("queue", Some("aq"))?;
        let achain = audio_encode_chain(AudioCodec::Aac, settings.audio_bps)?;
        let atee = make("tee", Some("atee"))?;
        let mut video: Vec<gst::Element> = vec![vsrc.clone().upcast(), vq];
        video.extend(vchain);
        video.push(vtee.clone());
        let mut audio: Vec<gst::Element> = vec![asrc.clone().upcast(), aq];
        audio.extend(achain);
        audio.push(atee.clone());
        add_chain(&pipeline, &video)?;
        add_chain(&pipeline, &audio)?;

        let add_file = |mux: gst::Element, path: &PathBuf| -> Result<(), OutputError> {
            let sink = make("filesink", None)?;
            sink.set_property("location", path.to_string_lossy().to_string());
            sink.set_property("async", false);
            let qv = make("queue", None)?;
            let qa = make("queue", None)?;
            pipeline
                .add_many([&mux, &sink, &qv, &qa])
                .map_err(|e| OutputError::Setup(e.to_string()))?;
            link(&vtee, &qv)?;
            link(&atee, &qa)?;
            link(&qv, &mux)?;
            link(&qa, &mux)?;
            link(&mux, &sink)?;
            Ok(())
        };
        if let Some(p) = &files.mp4 {
            let mux = make("mp4mux", None)?;
            // Fragmented: moov up front, one moof+mdat per second.
            mux.set_property("fragment-duration", 1000u32);
            mux.set_property("streamable", true);
            add_file(mux, p)?;
        }
        if let Some(p) = &files.flv {
            let mux = make("flvmux", None)?;
            mux.set_property("streamable", true);
            add_file(mux, p)?;
        }
        if let Some(dir) = &files.hls {
            std::fs::create_dir_all(dir)
                .map_err(|e| OutputError::Setup(format!("hls dir {}: {e}", dir.display())))?;
            let qv = make("queue", None)?;
            let parse = make("h264parse", None)?;
            let qa = make("queue", None)?;
            pipeline
                .add_many([&qv, &parse, &qa])
                .map_err(|e| OutputError::Setup(e.to_string()))?;
            link(&vtee, &qv)?;
            link(&qv, &parse)?;
            link(&atee, &qa)?;
            // A file job keeps every segment (a VOD playlist).
            hls_sink(&pipeline, dir, 2, 0, 0, &parse, &qa)?;
        }
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| OutputError::Setup(format!("pipeline would not start: {e}")))?;
        info!(encoder = %encoder_name, width = fmt.width, height = fmt.height, fps = fmt.fps_num / fmt.fps_den.max(1), ?files, "encoder started");
        let video_pool = frame_pool(&vsrc, frame_bytes as u32)?;
        let enc = GstEncoder {
            pipeline,
            video_pool,
            video_frame_bytes: frame_bytes as usize,
            vsrc,
            asrc,
            live,
            max_video_bytes,
            max_audio_bytes,
            stats: SinkStats::default(),
            finished: false,
            last_drop_log: None,
            encoder_name,
            tagger,
        };
        enc.check_bus()?;
        Ok(enc)
    }

    /// The H.264 encoder element in use.
    pub fn encoder_name(&self) -> &str {
        &self.encoder_name
    }

    /// Encoded frames that left the encoder with a layout SEI, and without one (no
    /// metadata, or it could not be inserted).
    pub fn sei_counts(&self) -> (u64, u64) {
        (self.tagger.tagged(), self.tagger.untagged())
    }

    /// Calls `f(pts)` (running time = session pts) on the encoder's streaming thread for every
    /// encoded video buffer as it leaves the encoder (latency measurement: the caller reads the clock). `false` when the
    /// encoder element cannot be probed.
    pub fn on_encoded_video(&self, f: impl Fn(Duration) + Send + Sync + 'static) -> bool {
        let Some(pad) = self
            .pipeline
            .by_name("venc")
            .and_then(|e| e.static_pad("src"))
        else {
            return false;
        };
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            // Encoders offset their output timestamps (x264enc: +1000 h) in a matching
            // segment: report running time, which is the session pts.
            if let Some(gst::PadProbeData::Buffer(b)) = &info.data
                && let Some(pts) = b.pts()
                && let Some(seg) = pad.sticky_event::<gst::event::Segment>(0)
                && let Some(seg) = seg.segment().downcast_ref::<gst::ClockTime>()
                && let Some(run) = seg.to_running_time(pts)
            {
                f(Duration::from_nanos(run.nseconds()));
            }
            gst::PadProbeReturn::Ok
        })
        .is_some()
    }

    fn check_bus(&self) -> Result<(), OutputError> {
        let Some(bus) = self.pipeline.bus() else {
            return Ok(());
        };
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            return Err(bus_error(&msg));
        }
        Ok(())
    }

    fn log_drop(&mut self, what: &str) {
        let now = Instant::now();
        if self
            .last_drop_log
            .is_none_or(|t| now - t > Duration::from_secs(5))
        {
            self.last_drop_log = Some(now);
            warn!(
                what,
                video_dropped = self.stats.video_dropped,
                audio_dropped = self.stats.audio_dropped,
                "encoder queue full: dropping"
            );
        }
    }
}

fn bus_error(msg: &gst::Message) -> OutputError {
    match msg.view() {
        gst::MessageView::Error(e) => OutputError::Pipeline {
            element: msg
                .src()
                .map(|s| s.path_string().to_string())
                .unwrap_or_default(),
            message: e.error().to_string(),
            debug: e.debug().map(|d| d.to_string()).unwrap_or_default(),
        },
        _ => OutputError::Flow("unexpected bus message".into()),
    }
}

impl OutputSink for GstEncoder {
    fn push_video(
        &mut self,
        frame: &I420Frame,
        pts: Duration,
        duration: Duration,
    ) -> Result<(), OutputError> {
        self.check_bus()?;
        if self.live && self.vsrc.current_level_bytes() >= self.max_video_bytes {
            self.stats.video_dropped += 1;
            self.log_drop("video");
            return Ok(());
        }
        if !frame.meta().is_empty() {
            self.tagger.remember(pts, frame.meta());
        }
        push_pooled_frame(
            &self.video_pool,
            &self.vsrc,
            frame,
            self.video_frame_bytes,
            pts,
            duration,
        )?;
        self.stats.video_frames += 1;
        Ok(())
    }

    fn push_audio(&mut self, samples: &[f32], pts: Duration) -> Result<(), OutputError> {
        if self.live && self.asrc.current_level_bytes() >= self.max_audio_bytes {
            self.stats.audio_dropped += 1;
            self.log_drop("audio");
            return Ok(());
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
        self.stats.audio_blocks += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), OutputError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let _ = self.vsrc.end_of_stream();
        let _ = self.asrc.end_of_stream();
        let timeout = Duration::from_secs(30);
        let result = match self.pipeline.bus() {
            Some(bus) => match bus.timed_pop_filtered(
                clock_time(timeout),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            ) {
                Some(msg) if msg.type_() == gst::MessageType::Eos => Ok(()),
                Some(msg) => Err(bus_error(&msg)),
                None => Err(OutputError::Timeout(timeout)),
            },
            None => Ok(()),
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        info!(
            frames = self.stats.video_frames,
            dropped = self.stats.video_dropped,
            "encoder finished"
        );
        result
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }
}

impl Drop for GstEncoder {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.pipeline.set_state(gst::State::Null);
        }
        let _ = self.video_pool.set_active(false);
    }
}
