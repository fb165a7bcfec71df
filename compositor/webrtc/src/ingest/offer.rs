//! Pure checks of a WHIP offer before any peer is built: is there at least one track in a
//! codec we decode? (Bad offers get a 400 with the reason and allocate nothing.)

/// Codecs the decoders handle (`decode.rs`), as SDP `rtpmap` encoding names (upper case).
/// AV1 is not among them: no AV1 decoder is wired, so an AV1-only offer is refused.
pub const DECODABLE: [&str; 4] = ["VP8", "VP9", "H264", "OPUS"];

/// What a usable offer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferSummary {
    /// Media sections (`m=` lines) with at least one decodable codec.
    pub usable_sections: usize,
    /// Decodable codecs offered, in order of first appearance.
    pub codecs: Vec<String>,
}

/// Why an offer is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// Not an SDP offer at all.
    #[error("not an SDP offer: {0}")]
    Malformed(String),
    /// No track in a codec we decode.
    #[error("no codec we decode (we take VP8, VP9, H264 packetization-mode=1, opus); offered: {0}")]
    NoCodec(String),
}

/// Checks an offer's text: `v=0` first, at least one `m=audio`/`m=video` section offering a
/// decodable codec (H.264 only with `packetization-mode=1`).
pub fn check_offer(sdp: &str) -> Result<OfferSummary, OfferError> {
    let mut lines = sdp.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("v=0") {
        return Err(OfferError::Malformed("must start with v=0".into()));
    }
    // Per section: payload type -> (codec, fmtp).
    struct Section {
        media: bool,
        codecs: Vec<(String, String)>,
        fmtp: Vec<(String, String)>,
    }
    let mut sections: Vec<Section> = Vec::new();
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            let kind = m.split(' ').next().unwrap_or("");
            sections.push(Section {
                media: kind == "audio" || kind == "video",
                codecs: Vec::new(),
                fmtp: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("a=rtpmap:") {
            if let (Some(s), Some((pt, enc))) = (sections.last_mut(), rest.split_once(' ')) {
                let name = enc.split('/').next().unwrap_or("").to_ascii_uppercase();
                s.codecs.push((pt.to_string(), name));
            }
        } else if let Some(rest) = line.strip_prefix("a=fmtp:")
            && let (Some(s), Some((pt, params))) = (sections.last_mut(), rest.split_once(' '))
        {
            s.fmtp.push((pt.to_string(), params.to_string()));
        }
    }
    if !sections.iter().any(|s| s.media) {
        return Err(OfferError::Malformed("no audio or video section".into()));
    }
    let mut usable_sections = 0;
    let mut codecs: Vec<String> = Vec::new();
    let mut offered: Vec<String> = Vec::new();
    for s in sections.iter().filter(|s| s.media) {
        let mut usable = false;
        for (pt, name) in &s.codecs {
            if !offered.contains(name) {
                offered.push(name.clone());
            }
            let ok = match name.as_str() {
                "H264" => s.fmtp.iter().any(|(p, f)| {
                    p == pt
                        && f.split(';')
                            .any(|kv| kv.trim().eq_ignore_ascii_case("packetization-mode=1"))
                }),
                n => DECODABLE.contains(&n),
            };
            if ok {
                usable = true;
                if !codecs.contains(name) {
                    codecs.push(name.clone());
                }
            }
        }
        if usable {
            usable_sections += 1;
        }
    }
    if usable_sections == 0 {
        let list = if offered.is_empty() {
            "nothing".to_string()
        } else {
            offered.join(", ")
        };
        return Err(OfferError::NoCodec(list));
    }
    Ok(OfferSummary {
        usable_sections,
        codecs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VP8_OPUS: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";

    #[test]
    fn accepts_vp8_and_opus() {
        let s = check_offer(VP8_OPUS).unwrap();
        assert_eq!(s.usable_sections, 2);
        assert_eq!(s.codecs, vec!["OPUS".to_string(), "VP8".to_string()]);
    }

    #[test]
    fn h264_needs_packetization_mode_1() {
        let base = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n";
        let e = check_offer(&format!("{base}a=fmtp:102 profile-level-id=42e01f\r\n"));
        assert_eq!(e, Err(OfferError::NoCodec("H264".into())));
        let ok = check_offer(&format!(
            "{base}a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1\r\n"
        ));
        assert_eq!(ok.unwrap().codecs, vec!["H264".to_string()]);
    }

    #[test]
    fn refuses_an_av1_only_offer_nothing_decodes() {
        let e = check_offer("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 45\r\na=rtpmap:45 AV1/90000\r\n");
        assert_eq!(e, Err(OfferError::NoCodec("AV1".into())));
    }

    #[test]
    fn refuses_foreign_codecs_and_garbage() {
        let e = check_offer("v=0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n");
        assert_eq!(e, Err(OfferError::NoCodec("PCMU".into())));
        assert!(e.unwrap_err().to_string().contains("offered: PCMU"));
        assert!(matches!(
            check_offer("hello"),
            Err(OfferError::Malformed(_))
        ));
        assert!(matches!(
            check_offer("v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"),
            Err(OfferError::Malformed(_))
        ));
    }
}
