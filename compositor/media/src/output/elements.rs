//! GStreamer element builders shared by every pipeline of the output room (the file encoder
//! [`super::GstEncoder`], the hub's encodes and its per-output mux pipelines), so each piece
//! of pipeline is written once.
//!
//! Invariants: builders only create and configure elements; the caller adds them to its
//! pipeline and owns them. Missing elements come back as [`OutputError::Setup`] naming the
//! element and the fix, never as panics.

use gstreamer as gst;
use gstreamer::prelude::*;

use gstreamer_app as gst_app;

use super::{EncoderKind, EncoderSettings, OutputError, StreamFormat, VideoCodec};
use compositor_core::frame::ColorMatrix;

/// An active pool of `frame_bytes` buffers for the raw video pushed into `vsrc` (its caps),
/// so steady-state pushes reuse memory (see [`push_pooled_frame`]).
pub(crate) fn frame_pool(
    vsrc: &gst_app::AppSrc,
    frame_bytes: u32,
) -> Result<gst::BufferPool, OutputError> {
    let pool = gst::BufferPool::new();
    let mut config = pool.config();
    config.set_params(vsrc.caps().as_ref(), frame_bytes, 2, 0);
    pool.set_config(config)
        .and_then(|()| pool.set_active(true))
        .map_err(|e| OutputError::Setup(format!("video buffer pool: {e}")))?;
    Ok(pool)
}

/// The two raw inputs of an encode pipeline: `vsrc` (I420 of `fmt`) and `asrc` (interleaved
/// F32 of `fmt`), time format, holding at most `max_video_bytes` / `max_audio_bytes`.
/// `live`: never block the pushing thread (real time); otherwise pushes wait for room
/// (offline rendering, as fast as the encoder goes).
pub(crate) fn raw_sources(
    fmt: &StreamFormat,
    live: bool,
    max_video_bytes: u64,
    max_audio_bytes: u64,
) -> (gst_app::AppSrc, gst_app::AppSrc) {
    let colorimetry = match fmt.matrix {
        ColorMatrix::Bt709 => "bt709",
        ColorMatrix::Bt601 => "bt601",
    };
    let vcaps = gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", fmt.width as i32)
        .field("height", fmt.height as i32)
        .field(
            "framerate",
            gst::Fraction::new(fmt.fps_num as i32, fmt.fps_den as i32),
        )
        .field("colorimetry", colorimetry)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let acaps = gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("layout", "interleaved")
        .field("rate", fmt.sample_rate as i32)
        .field("channels", i32::from(fmt.channels))
        .build();
    let mk_src = |name: &str, caps: &gst::Caps, max: u64| {
        gst_app::AppSrc::builder()
            .name(name)
            .caps(caps)
            .format(gst::Format::Time)
            .is_live(live)
            .block(!live)
            .max_bytes(max)
            .build()
    };
    (
        mk_src("vsrc", &vcaps, max_video_bytes),
        mk_src("asrc", &acaps, max_audio_bytes),
    )
}

/// Creates an element of `factory`, optionally named.
pub(crate) fn make(factory: &str, name: Option<&str>) -> Result<gst::Element, OutputError> {
    let mut b = gst::ElementFactory::make(factory);
    if let Some(n) = name {
        b = b.name(n);
    }
    b.build().map_err(|_| {
        OutputError::Setup(format!(
            "GStreamer element {factory:?} is missing; run scripts/setup.sh (plugins base/good/bad/ugly/libav)"
        ))
    })
}

/// Links `a` to `b` or says which link failed.
pub(crate) fn link(a: &gst::Element, b: &gst::Element) -> Result<(), OutputError> {
    a.link(b)
        .map_err(|e| OutputError::Setup(format!("cannot link {} to {}: {e}", a.name(), b.name())))
}

/// Adds `elems` to `bin` and links them in order.
pub(crate) fn add_chain(bin: &gst::Pipeline, elems: &[gst::Element]) -> Result<(), OutputError> {
    bin.add_many(elems)
        .map_err(|e| OutputError::Setup(e.to_string()))?;
    for pair in elems.windows(2) {
        link(&pair[0], &pair[1])?;
    }
    Ok(())
}

/// A capsfilter with `caps`.
pub(crate) fn caps_filter(caps: gst::Caps) -> Result<gst::Element, OutputError> {
    let f = make("capsfilter", None)?;
    f.set_property("caps", caps);
    Ok(f)
}

/// The video encoder element named `venc`: `nvh264enc` when `settings.kind` allows and the
/// element exists, else `x264enc` (`tune=zerolatency`); `vp8enc` (realtime deadline) for VP8.
pub(crate) fn video_encoder(settings: &EncoderSettings) -> Result<gst::Element, OutputError> {
    if settings.codec == VideoCodec::Vp8 {
        let e = make("vp8enc", Some("venc"))?;
        e.set_property("deadline", 1i64);
        e.set_property(
            "target-bitrate",
            (settings.video_kbps.saturating_mul(1000)).min(i32::MAX as u32) as i32,
        );
        e.set_property(
            "keyframe-max-dist",
            settings.keyframe_interval.min(i32::MAX as u32) as i32,
        );
        e.set_property_from_str("end-usage", "cbr");
        e.set_property("cpu-used", 8i32);
        e.set_property("threads", 2i32);
        e.set_property_from_str("error-resilient", "default");
        return Ok(e);
    }
    let want_nv = match settings.kind {
        EncoderKind::X264 => false,
        EncoderKind::Nvh264 => true,
        EncoderKind::Auto => super::has_element("nvh264enc"),
    };
    if want_nv {
        match make("nvh264enc", Some("venc")) {
            Ok(e) => {
                e.set_property("bitrate", settings.video_kbps);
                e.set_property(
                    "gop-size",
                    settings.keyframe_interval.min(i32::MAX as u32) as i32,
                );
                if e.has_property("zerolatency") {
                    e.set_property("zerolatency", true);
                }
                if e.has_property("bframes") {
                    e.set_property("bframes", 0u32);
                }
                return Ok(e);
            }
            Err(err) if settings.kind == EncoderKind::Nvh264 => return Err(err),
            Err(_) => {}
        }
    }
    let e = make("x264enc", Some("venc"))?;
    e.set_property_from_str("tune", "zerolatency");
    e.set_property_from_str("speed-preset", &settings.preset);
    e.set_property("bitrate", settings.video_kbps);
    e.set_property("key-int-max", settings.keyframe_interval);
    Ok(e)
}

/// Encoder, profile capsfilter and parser for `settings`: raw I420 in, `video/x-h264` (or
/// `video/x-vp8`) out. With `byte_stream`, H.264 leaves as Annex B access units with SPS/PPS
/// before every keyframe, so any consumer can start at any keyframe.
pub(crate) fn video_encode_chain(
    settings: &EncoderSettings,
    byte_stream: bool,
) -> Result<Vec<gst::Element>, OutputError> {
    let enc = video_encoder(settings)?;
    if settings.codec == VideoCodec::Vp8 {
        return Ok(vec![enc]);
    }
    let profile = caps_filter(
        gst::Caps::builder("video/x-h264")
            .field("profile", settings.profile.caps_name())
            .build(),
    )?;
    let parse = make("h264parse", None)?;
    if !byte_stream {
        return Ok(vec![enc, profile, parse]);
    }
    parse.set_property("config-interval", -1i32);
    let fmt = caps_filter(
        gst::Caps::builder("video/x-h264")
            .field("stream-format", "byte-stream")
            .field("alignment", "au")
            .build(),
    )?;
    Ok(vec![enc, profile, parse, fmt])
}

/// Audio codec of an encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AudioCodec {
    /// AAC-LC (FLV, MPEG-TS, MP4, HLS).
    Aac,
    /// Opus (WHIP egress).
    Opus,
}

/// Convert, resample and encode raw F32 audio to AAC (`avenc_aac` + `aacparse`) or Opus.
pub(crate) fn audio_encode_chain(
    codec: AudioCodec,
    bitrate_bps: u32,
) -> Result<Vec<gst::Element>, OutputError> {
    let conv = make("audioconvert", None)?;
    let res = make("audioresample", None)?;
    match codec {
        AudioCodec::Aac => {
            let enc = make("avenc_aac", Some("aenc"))?;
            enc.set_property("bitrate", bitrate_bps.min(i32::MAX as u32) as i32);
            let parse = make("aacparse", None)?;
            Ok(vec![conv, res, enc, parse])
        }
        AudioCodec::Opus => {
            let enc = make("opusenc", Some("aenc"))?;
            enc.set_property("bitrate", bitrate_bps.clamp(6_000, 510_000) as i32);
            Ok(vec![conv, res, enc])
        }
    }
}

/// Session time as a GStreamer clock time (running time; 0 = the first tick).
pub(crate) fn clock_time(d: std::time::Duration) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Copies one composed frame into a buffer from `pool` (frame-sized buffers return to the
/// pool once encoded: no allocation per frame in steady state) and pushes it into `src`.
/// The session thread owns `frame`; only its bytes are copied.
pub(crate) fn push_pooled_frame(
    pool: &gst::BufferPool,
    src: &gstreamer_app::AppSrc,
    frame: &compositor_core::frame::I420Frame,
    expected_bytes: usize,
    pts: std::time::Duration,
    duration: std::time::Duration,
) -> Result<(), OutputError> {
    if frame.data().len() != expected_bytes {
        return Err(OutputError::Flow(format!(
            "frame of {} bytes, the encoder was set up for {expected_bytes}",
            frame.data().len()
        )));
    }
    let mut buf = pool
        .acquire_buffer(None)
        .map_err(|e| OutputError::Flow(format!("video buffer pool: {e:?}")))?;
    {
        let b = buf
            .get_mut()
            .ok_or_else(|| OutputError::Flow("buffer not writable".into()))?;
        b.set_pts(clock_time(pts));
        b.set_duration(clock_time(duration));
        let mut map = b
            .map_writable()
            .map_err(|e| OutputError::Flow(e.to_string()))?;
        map.copy_from_slice(frame.data());
    }
    src.push_buffer(buf)
        .map_err(|e| OutputError::Flow(format!("video: {e:?}")))?;
    Ok(())
}

/// An `hlssink2` writing `dir/segment%05d.ts` and `dir/playlist.m3u8`, added to `pipeline`,
/// with `video` and `audio` linked to its request pads. `playlist_len` 0 keeps every segment
/// (a VOD playlist); otherwise `max_files` segments stay on disk.
pub(crate) fn hls_sink(
    pipeline: &gst::Pipeline,
    dir: &std::path::Path,
    target_secs: u32,
    playlist_len: u32,
    max_files: u32,
    video: &gst::Element,
    audio: &gst::Element,
) -> Result<gst::Element, OutputError> {
    let sink = make("hlssink2", None)?;
    sink.set_property(
        "location",
        dir.join("segment%05d.ts").to_string_lossy().to_string(),
    );
    sink.set_property(
        "playlist-location",
        dir.join("playlist.m3u8").to_string_lossy().to_string(),
    );
    sink.set_property("target-duration", target_secs.max(1));
    sink.set_property("playlist-length", playlist_len);
    sink.set_property("max-files", max_files);
    pipeline
        .add(&sink)
        .map_err(|e| OutputError::Setup(e.to_string()))?;
    for (from, name) in [(video, "video"), (audio, "audio")] {
        let pad = sink
            .request_pad_simple(name)
            .ok_or_else(|| OutputError::Setup(format!("hlssink2: no {name} pad")))?;
        let src = from
            .static_pad("src")
            .ok_or_else(|| OutputError::Setup("no src pad".into()))?;
        src.link(&pad)
            .map_err(|e| OutputError::Setup(format!("hlssink2 link: {e:?}")))?;
    }
    Ok(sink)
}
