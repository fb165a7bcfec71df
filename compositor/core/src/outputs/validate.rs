//! Checks of an [`OutputSpec`] before anything starts (pure: only the file checks look at the
//! file system), and the secret-free description of a destination used in listings and logs.
//!
//! Invariant: an error names the field and never echoes a secret (stream key, passphrase,
//! token).

use super::{EncoderSettings, OutputSpec, OutputTarget, SrtMode, VideoCodec};
use crate::Invalid;

/// Outputs one session may hold.
pub const MAX_OUTPUTS: usize = 16;

fn printable(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic())
}

/// Validates `spec` whole; the encoder settings it will use are `settings`.
pub fn validate(spec: &OutputSpec, settings: &EncoderSettings) -> Result<(), Invalid> {
    check(spec, settings).map_err(Invalid)
}

fn check(spec: &OutputSpec, settings: &EncoderSettings) -> Result<(), String> {
    if spec.id.is_empty() || spec.id.len() > 128 || !printable(&spec.id) {
        return Err("id: 1..=128 printable ASCII bytes without spaces".into());
    }
    settings.validate().map_err(|e| e.0)?;
    let h264_only = |what: &str| -> Result<(), String> {
        if settings.codec != VideoCodec::H264 {
            return Err(format!("encoder.codec: {what} outputs carry H.264 only"));
        }
        Ok(())
    };
    match &spec.target {
        OutputTarget::Rtmp {
            url,
            stream_key,
            tls_verify,
        } => {
            super::check::url("target.url", url, &["rtmp", "rtmps"]).map_err(|e| e.0)?;
            if !tls_verify && !url.starts_with("rtmps://") {
                return Err(
                    "target.tls_verify: false applies to rtmps:// URLs only (plain RTMP has no TLS)"
                        .into(),
                );
            }
            if stream_key.is_empty() || stream_key.len() > 512 || !printable(stream_key) {
                return Err(
                    "target.stream_key: 1..=512 printable ASCII bytes without spaces".into(),
                );
            }
            h264_only("RTMP")
        }
        OutputTarget::Srt {
            address,
            mode,
            latency_ms,
            passphrase,
        } => {
            super::check::srt_address("target.address", address, *mode).map_err(|e| e.0)?;
            if !(20..=8000).contains(latency_ms) {
                return Err(format!("target.latency_ms {latency_ms}: must be 20..=8000"));
            }
            if let Some(p) = passphrase
                && (!(10..=79).contains(&p.len()) || !printable(p))
            {
                return Err(
                    "target.passphrase: 10..=79 printable ASCII bytes without spaces".into(),
                );
            }
            h264_only("SRT")
        }
        OutputTarget::Hls {
            dir,
            segment_secs,
            playlist_len,
        } => {
            if !dir.is_dir() {
                return Err(format!(
                    "target.dir {}: not an existing folder",
                    dir.display()
                ));
            }
            if !segment_secs.is_finite() || !(0.5..=30.0).contains(segment_secs) {
                return Err(format!(
                    "target.segment_secs {segment_secs}: must be 0.5..=30"
                ));
            }
            if !(1..=100).contains(playlist_len) {
                return Err(format!(
                    "target.playlist_len {playlist_len}: must be 1..=100"
                ));
            }
            h264_only("HLS")
        }
        OutputTarget::Mp4 { path } => {
            if path.as_os_str().is_empty() || path.is_dir() {
                return Err(format!(
                    "target.path {:?}: must name a file",
                    path.display()
                ));
            }
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            if !parent.is_dir() {
                return Err(format!(
                    "target.path {}: folder {} does not exist",
                    path.display(),
                    parent.display()
                ));
            }
            h264_only("MP4")
        }
        OutputTarget::Whip { url, token } => {
            super::check::url("target.url", url, &["http"]).map_err(|e| e.0)?;
            if let Some(t) = token
                && (t.is_empty() || t.len() > 4096 || !printable(t))
            {
                return Err("target.token: 1..=4096 printable ASCII bytes".into());
            }
            Ok(())
        }
    }
}

/// Strips `user:password@` from a URL.
fn without_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (auth, tail) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
            let tail = tail.split('?').next().unwrap_or_default();
            format!("{scheme}://{host}{tail}")
        }
        None => String::from("(invalid url)"),
    }
}

/// Kind name and secret-free destination of a target.
pub fn describe(target: &OutputTarget) -> (&'static str, String) {
    match target {
        OutputTarget::Rtmp { url, .. } => ("rtmp", format!("{}/***", without_userinfo(url))),
        OutputTarget::Srt {
            address,
            mode,
            latency_ms,
            passphrase,
        } => (
            "srt",
            format!(
                "srt://{address} ({}, latency {latency_ms} ms{})",
                match mode {
                    SrtMode::Caller => "caller",
                    SrtMode::Listener => "listener",
                },
                if passphrase.is_some() {
                    ", encrypted"
                } else {
                    ""
                }
            ),
        ),
        OutputTarget::Hls { dir, .. } => ("hls", dir.join("playlist.m3u8").display().to_string()),
        OutputTarget::Mp4 { path } => ("mp4", path.display().to_string()),
        OutputTarget::Whip { url, .. } => ("whip", without_userinfo(url)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(target: OutputTarget) -> OutputSpec {
        OutputSpec {
            id: "o".into(),
            target,
            encoder: None,
        }
    }

    #[test]
    fn rtmp_checks_and_redacts() {
        let ok = spec(OutputTarget::Rtmp {
            url: "rtmp://u:pw@cdn.example/live".into(),
            stream_key: "sk_secret".into(),
            tls_verify: true,
        });
        assert_eq!(validate(&ok, &EncoderSettings::default()), Ok(()));
        let (kind, dest) = describe(&ok.target);
        assert_eq!(kind, "rtmp");
        assert_eq!(dest, "rtmp://cdn.example/live/***");
        assert!(!dest.contains("secret") && !dest.contains("pw"));
        let bad = spec(OutputTarget::Rtmp {
            url: "http://x/live".into(),
            stream_key: "k".into(),
            tls_verify: true,
        });
        assert!(
            validate(&bad, &EncoderSettings::default())
                .unwrap_err()
                .0
                .contains("target.url")
        );
        // Turning certificate checks off only means something over TLS.
        let insecure = |url: &str| {
            spec(OutputTarget::Rtmp {
                url: url.into(),
                stream_key: "k".into(),
                tls_verify: false,
            })
        };
        let plain = validate(&insecure("rtmp://x/live"), &EncoderSettings::default());
        assert!(plain.unwrap_err().0.contains("target.tls_verify"));
        assert_eq!(
            validate(&insecure("rtmps://x/live"), &EncoderSettings::default()),
            Ok(())
        );
        // Old JSON specs without the field keep checking certificates.
        let parsed: OutputSpec = serde_json::from_str(
            r#"{"id":"o","target":{"kind":"rtmp","url":"rtmps://x/live","stream_key":"k"},"encoder":null}"#,
        )
        .unwrap();
        assert!(matches!(
            parsed.target,
            OutputTarget::Rtmp {
                tls_verify: true,
                ..
            }
        ));
        let vp8 = EncoderSettings {
            codec: VideoCodec::Vp8,
            ..EncoderSettings::default()
        };
        assert!(validate(&ok, &vp8).unwrap_err().0.contains("encoder.codec"));
    }

    #[test]
    fn srt_checks_never_echo_the_passphrase() {
        let mk = |addr: &str, pass: Option<&str>| {
            spec(OutputTarget::Srt {
                address: addr.into(),
                mode: SrtMode::Caller,
                latency_ms: 120,
                passphrase: pass.map(String::from),
            })
        };
        let d = EncoderSettings::default();
        assert_eq!(
            validate(&mk("127.0.0.1:9000", Some("0123456789")), &d),
            Ok(())
        );
        assert!(
            validate(&mk("127.0.0.1", None), &d)
                .unwrap_err()
                .0
                .contains("host:port")
        );
        assert!(
            validate(&mk(":9000", None), &d)
                .unwrap_err()
                .0
                .contains("caller")
        );
        let e = validate(&mk("h:1", Some("short")), &d).unwrap_err().0;
        assert!(e.contains("passphrase") && !e.contains("short"));
    }

    #[test]
    fn files_must_have_an_existing_folder() {
        let d = EncoderSettings::default();
        let m = spec(OutputTarget::Mp4 {
            path: "/no/such/folder/x.mp4".into(),
        });
        assert!(validate(&m, &d).unwrap_err().0.contains("does not exist"));
        let h = spec(OutputTarget::Hls {
            dir: std::env::temp_dir(),
            segment_secs: 0.1,
            playlist_len: 5,
        });
        assert!(validate(&h, &d).unwrap_err().0.contains("segment_secs"));
        let bad_id = OutputSpec {
            id: "has space".into(),
            ..m
        };
        assert!(validate(&bad_id, &d).unwrap_err().0.starts_with("id"));
    }
}
