//! Validation of `AddOutputRequest`: destination URLs (scheme, host), SRT address and
//! ranges, HLS/MP4 paths and encoder settings, all checked before the backend sees the
//! request. Pure, no IO (paths are not touched here; the output opens them).

use std::path::PathBuf;

use proto::v1 as pb;
use tonic::Status;

use crate::backend::{
    EncoderKind, EncoderSettings, H264Profile, NewOutput, OutputTarget, SrtMode, VideoCodec,
};
use crate::check::{self, invalid};
use compositor_core::outputs::check as spec_check;

/// x264 speed presets (one list with the engine's).
pub use compositor_core::outputs::X264_PRESETS as PRESETS;
/// H.264 profiles.
pub const PROFILES: [&str; 3] = ["baseline", "main", "high"];

/// `url` with one of `schemes` (the engine's rule, `compositor_core::outputs::check`).
fn url(field: &str, value: &str, schemes: &[&str]) -> Result<(), Status> {
    spec_check::url(field, value, schemes).map_err(|e| Status::invalid_argument(e.0))
}

fn path(field: &str, value: &str) -> Result<PathBuf, Status> {
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    check::text(field, value, 4096)?;
    let p = PathBuf::from(value);
    if !p.is_absolute() {
        return Err(invalid(field, "must be an absolute path on the server"));
    }
    if p.components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(invalid(field, "must not contain '..'"));
    }
    Ok(p)
}

fn srt_address(field: &str, value: &str, mode: SrtMode) -> Result<(), Status> {
    spec_check::srt_address(field, value, mode).map_err(|e| Status::invalid_argument(e.0))
}

fn target(t: Option<&pb::add_output_request::Target>) -> Result<OutputTarget, Status> {
    use pb::add_output_request::Target;
    match t {
        None => Err(invalid(
            "target",
            "is required: one of rtmp, srt, hls, mp4, whip",
        )),
        Some(Target::Rtmp(r)) => {
            url("rtmp.url", &r.url, &["rtmp", "rtmps"])?;
            check::text("rtmp.stream_key", &r.stream_key, 1024)?;
            if r.tls_skip_verify && !r.url.starts_with("rtmps://") {
                return Err(invalid(
                    "rtmp.tls_skip_verify",
                    "applies to rtmps:// URLs only (plain RTMP has no TLS)",
                ));
            }
            Ok(OutputTarget::Rtmp {
                url: r.url.clone(),
                stream_key: r.stream_key.clone(),
                tls_verify: !r.tls_skip_verify,
            })
        }
        Some(Target::Srt(s)) => {
            let mode = match pb::SrtMode::try_from(s.mode) {
                Ok(pb::SrtMode::Unspecified | pb::SrtMode::Caller) => SrtMode::Caller,
                Ok(pb::SrtMode::Listener) => SrtMode::Listener,
                Err(_) => return Err(invalid("srt.mode", format!("unknown value {}", s.mode))),
            };
            srt_address("srt.address", &s.address, mode)?;
            let latency_ms =
                check::range_u32("srt.latency_ms", check::or(s.latency_ms, 120), 20, 8000)?;
            let passphrase = if s.passphrase.is_empty() {
                None
            } else {
                if !(10..=79).contains(&s.passphrase.len()) {
                    return Err(invalid(
                        "srt.passphrase",
                        format!("is {} bytes; must be 10..=79", s.passphrase.len()),
                    ));
                }
                check::text("srt.passphrase", &s.passphrase, 79)?;
                Some(s.passphrase.clone())
            };
            Ok(OutputTarget::Srt {
                address: s.address.clone(),
                mode,
                latency_ms,
                passphrase,
            })
        }
        Some(Target::Hls(h)) => {
            let seg = if h.segment_secs == 0.0 {
                2.0
            } else {
                h.segment_secs
            };
            Ok(OutputTarget::Hls {
                dir: path("hls.dir", &h.dir)?,
                segment_secs: check::range_f32("hls.segment_secs", seg, 0.5, 30.0)?,
                playlist_len: check::range_u32(
                    "hls.playlist_size",
                    check::or(h.playlist_size, 6),
                    1,
                    100,
                )?,
            })
        }
        Some(Target::Mp4(m)) => Ok(OutputTarget::Mp4 {
            path: path("mp4.path", &m.path)?,
        }),
        Some(Target::Whip(w)) => {
            // http only: WHIP egress has no TLS yet (docs/known-limitations.md).
            url("whip.url", &w.url, &["http"])?;
            check::text("whip.token", &w.token, 4096)?;
            Ok(OutputTarget::Whip {
                url: w.url.clone(),
                token: (!w.token.is_empty()).then(|| w.token.clone()),
            })
        }
    }
}

/// Validates encoder settings and fills in defaults.
pub fn encoder(e: &pb::EncoderSettings, target: &OutputTarget) -> Result<EncoderSettings, Status> {
    let codec = match pb::VideoCodec::try_from(e.codec) {
        Ok(pb::VideoCodec::Unspecified | pb::VideoCodec::H264) => VideoCodec::H264,
        Ok(pb::VideoCodec::Vp8) => VideoCodec::Vp8,
        Err(_) => {
            return Err(invalid(
                "encoder.codec",
                format!("unknown value {}", e.codec),
            ));
        }
    };
    if codec == VideoCodec::Vp8 && !matches!(target, OutputTarget::Whip { .. }) {
        return Err(invalid(
            "encoder.codec",
            "VP8 is only for WHIP outputs (RTMP, SRT, HLS and MP4 carry H.264)",
        ));
    }
    let hardware = match pb::Hardware::try_from(e.hardware) {
        Ok(pb::Hardware::Unspecified | pb::Hardware::Auto) => EncoderKind::Auto,
        Ok(pb::Hardware::Force) => EncoderKind::Nvh264,
        Ok(pb::Hardware::Forbid) => EncoderKind::X264,
        Err(_) => {
            return Err(invalid(
                "encoder.hardware",
                format!("unknown value {}", e.hardware),
            ));
        }
    };
    let profile = match (codec, e.profile.as_str()) {
        (VideoCodec::Vp8, "") => H264Profile::High,
        (VideoCodec::Vp8, _) => return Err(invalid("encoder.profile", "must be empty for VP8")),
        (VideoCodec::H264, "" | "high") => H264Profile::High,
        (VideoCodec::H264, "main") => H264Profile::Main,
        (VideoCodec::H264, "baseline") => H264Profile::Baseline,
        (VideoCodec::H264, p) => {
            return Err(invalid(
                "encoder.profile",
                format!("{p:?} is not one of {}", PROFILES.join(", ")),
            ));
        }
    };
    let preset = if e.preset.is_empty() {
        "veryfast"
    } else {
        e.preset.as_str()
    };
    if !PRESETS.contains(&preset) {
        return Err(invalid(
            "encoder.preset",
            format!("{preset:?} is not one of {}", PRESETS.join(", ")),
        ));
    }
    Ok(EncoderSettings {
        codec,
        kind: hardware,
        video_kbps: check::range_u32(
            "encoder.video_kbps",
            check::or(e.video_kbps, 4000),
            100,
            50_000,
        )?,
        keyframe_interval: check::range_u32(
            "encoder.keyframe_interval",
            check::or(e.keyframe_interval, 60),
            1,
            600,
        )?,
        profile,
        preset: preset.to_owned(),
        audio_bps: check::range_u32("encoder.audio_kbps", check::or(e.audio_kbps, 128), 32, 320)?
            * 1000,
    })
}

/// Validates a whole `AddOutputRequest` (ids included).
pub fn new_output(r: &pb::AddOutputRequest) -> Result<NewOutput, Status> {
    check::id("session_id", &r.session_id)?;
    check::id("output_id", &r.output_id)?;
    let target = target(r.target.as_ref())?;
    let encoder = r
        .encoder
        .as_ref()
        .map(|e| encoder(e, &target))
        .transpose()?;
    Ok(NewOutput {
        id: r.output_id.clone(),
        target,
        encoder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::add_output_request::Target;

    fn req(t: Target) -> pb::AddOutputRequest {
        pb::AddOutputRequest {
            session_id: "s".into(),
            output_id: "o".into(),
            target: Some(t),
            encoder: None,
        }
    }

    #[test]
    fn urls_and_ranges() {
        let ok = new_output(&req(Target::Rtmp(pb::RtmpTarget {
            url: "rtmp://cdn.example/live".into(),
            stream_key: "k".into(),
            ..Default::default()
        })));
        assert!(ok.is_ok());
        let skip = |url: &str| {
            new_output(&req(Target::Rtmp(pb::RtmpTarget {
                url: url.into(),
                stream_key: "k".into(),
                tls_skip_verify: true,
            })))
        };
        let e = skip("rtmp://cdn.example/live").unwrap_err();
        assert!(
            e.message().starts_with("rtmp.tls_skip_verify:"),
            "{}",
            e.message()
        );
        assert!(matches!(
            skip("rtmps://cdn.example/live").unwrap().target,
            OutputTarget::Rtmp {
                tls_verify: false,
                ..
            }
        ));
        let e = new_output(&req(Target::Rtmp(pb::RtmpTarget {
            url: "http://cdn.example/live".into(),
            stream_key: "k".into(),
            ..Default::default()
        })))
        .unwrap_err();
        assert!(
            e.message().starts_with("rtmp.url: scheme"),
            "{}",
            e.message()
        );
        let e = new_output(&req(Target::Srt(pb::SrtTarget {
            address: "host:70000".into(),
            ..Default::default()
        })))
        .unwrap_err();
        assert!(e.message().contains("1..=65535"), "{}", e.message());
        let e = new_output(&req(Target::Hls(pb::HlsTarget {
            dir: "/tmp/x".into(),
            segment_secs: f32::NAN,
            playlist_size: 0,
        })))
        .unwrap_err();
        assert_eq!(e.message(), "hls.segment_secs: must be a finite number");
        let e = new_output(&req(Target::Mp4(pb::Mp4Target {
            path: "rel.mp4".into(),
        })))
        .unwrap_err();
        assert!(e.message().starts_with("mp4.path"), "{}", e.message());
        let mut r = req(Target::Mp4(pb::Mp4Target {
            path: "/tmp/a.mp4".into(),
        }));
        r.encoder = Some(pb::EncoderSettings {
            video_kbps: 60_000,
            ..Default::default()
        });
        let e = new_output(&r).unwrap_err();
        assert_eq!(
            e.message(),
            "encoder.video_kbps: 60000 is out of range 100..=50000"
        );
    }
}
