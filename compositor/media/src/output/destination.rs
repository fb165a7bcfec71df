//! The per-output mux pipeline: encoded packets in through two `appsrc`s, one destination out.
//!
//! ```text
//! (audio: appsrc(aac) ─ aacparse)
//! RTMP: appsrc(h264) ─ h264parse ─ flvmux(streamable) ─ rtmp2sink      appsrc(aac) ─┘
//! SRT:  appsrc(h264) ─ h264parse ─ mpegtsmux ─ srtsink(caller|listener)  appsrc(aac) ─┘
//! HLS:  appsrc(h264) ─ h264parse ─ hlssink2.video                       appsrc(aac) ─ hlssink2.audio
//! MP4:  appsrc(h264) ─ h264parse ─ mp4mux(fragment 1 s) ─ filesink      appsrc(aac) ─┘
//! ```
//!
//! Each output owns its pipeline (built and run by its worker thread), so a failing
//! destination errors only itself. Caps are set on the `appsrc`s by the worker from the first
//! packet of each stream. Sinks never sync to the clock: packets are already paced by the
//! real-time encode. URLs handed to GStreamer hold secrets (stream key, passphrase) and are
//! never logged. `rtmps://` runs over GIO TLS with the certificate checked unless the spec
//! says `tls_verify: false`; `rtmp2sink` waits up to 30 s on a congested socket, so a slow
//! ingest backs up into this output's queue (which drops, counted) instead of reconnecting.

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::elements::{add_chain, hls_sink, link, make};
use super::{OutputError, OutputTarget, SrtMode};

/// A built (not yet playing) destination pipeline.
pub(crate) struct DestPipeline {
    /// The pipeline.
    pub pipeline: gst::Pipeline,
    /// Encoded video in.
    pub vsrc: gst_app::AppSrc,
    /// Encoded audio in.
    pub asrc: gst_app::AppSrc,
}

/// Bytes an output's appsrc holds before its worker blocks (then its own queue drops):
/// about 2 s at 4 Mbit/s, so a slow destination does not build up latency.
const APPSRC_MAX_BYTES: u64 = 1 << 20;

/// Seconds `rtmp2sink` may wait on its socket (connect, or a write the peer does not take)
/// before it fails and the output reconnects. Its default (5 s) turned a slow-but-alive ingest
/// into a reconnect loop: a congested TCP connection often stays unwritable for longer than
/// that, and each reconnect threw away the queue and found the old stream still publishing.
/// A slow ingest must instead fill this output's queue, which then drops its oldest packets
/// (counted); only a destination that takes nothing for this long is treated as dead.
const RTMP_SOCKET_TIMEOUT_S: u32 = 30;

fn app_src(name: &str) -> gst_app::AppSrc {
    gst_app::AppSrc::builder()
        .name(name)
        .format(gst::Format::Time)
        .is_live(true)
        .block(true)
        .max_bytes(APPSRC_MAX_BYTES)
        .build()
}

/// The SRT URI for `srtsink` (holds the passphrase: never log it).
pub(crate) fn srt_uri(
    address: &str,
    mode: SrtMode,
    latency_ms: u32,
    passphrase: Option<&str>,
) -> String {
    let mode = match mode {
        SrtMode::Caller => "caller",
        SrtMode::Listener => "listener",
    };
    let mut uri = format!("srt://{address}?mode={mode}&latency={latency_ms}");
    if let Some(p) = passphrase {
        uri.push_str("&pbkeylen=16&passphrase=");
        for b in p.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                uri.push(b as char);
            } else {
                uri.push_str(&format!("%{b:02X}"));
            }
        }
    }
    uri
}

/// Clears `rtmp2sink`'s TLS validation flags (`tls_verify: false`, rtmps:// only): the
/// connection is still encrypted but any certificate is accepted.
fn accept_any_certificate(sink: &gst::Element) -> Result<(), OutputError> {
    let no_flags = sink
        .find_property("tls-validation-flags")
        .and_then(|p| gst::glib::FlagsClass::with_type(p.value_type()))
        .and_then(|c| c.to_value(0))
        .ok_or_else(|| OutputError::Setup("rtmp2sink has no tls-validation-flags".into()))?;
    sink.set_property_from_value("tls-validation-flags", &no_flags);
    Ok(())
}

/// Builds the pipeline for `target` (validated beforehand by the hub).
pub(crate) fn build(target: &OutputTarget, name: &str) -> Result<DestPipeline, OutputError> {
    let pipeline = gst::Pipeline::with_name(name);
    let vsrc = app_src("vsrc");
    let asrc = app_src("asrc");
    let vparse = make("h264parse", None)?;
    let vq = make("queue", None)?;
    let aq = make("queue", None)?;
    // Parsers give each branch definite caps, so muxer pads are picked by media type.
    let aparse = make("aacparse", None)?;
    let v: Vec<gst::Element> = vec![vsrc.clone().upcast(), vq, vparse];
    let a: Vec<gst::Element> = vec![asrc.clone().upcast(), aq, aparse];
    add_chain(&pipeline, &v)?;
    add_chain(&pipeline, &a)?;
    let (vlast, alast) = (&v[v.len() - 1], &a[a.len() - 1]);
    let mux_to = |mux: gst::Element, sink: gst::Element| -> Result<(), OutputError> {
        if sink.has_property("sync") {
            sink.set_property("sync", false);
        }
        pipeline
            .add_many([&mux, &sink])
            .map_err(|e| OutputError::Setup(e.to_string()))?;
        link(vlast, &mux)?;
        link(alast, &mux)?;
        link(&mux, &sink)
    };
    match target {
        OutputTarget::Rtmp {
            url,
            stream_key,
            tls_verify,
        } => {
            let mux = make("flvmux", None)?;
            mux.set_property("streamable", true);
            let sink = make("rtmp2sink", None)?;
            let location = format!("{}/{}", url.trim_end_matches('/'), stream_key);
            sink.set_property("location", location);
            sink.set_property("async", false);
            sink.set_property("timeout", RTMP_SOCKET_TIMEOUT_S);
            if !tls_verify {
                accept_any_certificate(&sink)?;
            }
            mux_to(mux, sink)?;
        }
        OutputTarget::Srt {
            address,
            mode,
            latency_ms,
            passphrase,
        } => {
            let mux = make("mpegtsmux", None)?;
            mux.set_property("alignment", 7i32);
            let sink = make("srtsink", None)?;
            sink.set_property(
                "uri",
                srt_uri(address, *mode, *latency_ms, passphrase.as_deref()),
            );
            sink.set_property("wait-for-connection", false);
            sink.set_property("async", false);
            mux_to(mux, sink)?;
        }
        OutputTarget::Hls {
            dir,
            segment_secs,
            playlist_len,
        } => {
            hls_sink(
                &pipeline,
                dir,
                segment_secs.ceil().max(1.0) as u32,
                *playlist_len,
                playlist_len.saturating_add(2),
                vlast,
                alast,
            )?;
        }
        OutputTarget::Mp4 { path } => {
            let mux = make("mp4mux", None)?;
            mux.set_property("fragment-duration", 1000u32);
            mux.set_property("streamable", true);
            let sink = make("filesink", None)?;
            sink.set_property("location", path.to_string_lossy().to_string());
            sink.set_property("async", false);
            mux_to(mux, sink)?;
        }
        OutputTarget::Whip { .. } => {
            return Err(OutputError::Setup(
                "WHIP egress is not muxed by a GStreamer pipeline".into(),
            ));
        }
    }
    Ok(DestPipeline {
        pipeline,
        vsrc,
        asrc,
    })
}
