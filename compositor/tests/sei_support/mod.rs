//! Reading our layout SEI back from an H.264 Annex B stream (made by ffmpeg from an MP4:
//! `-c:v copy -bsf:v h264_mp4toannexb -f h264`): a small parser of our own, independent of the
//! encoder side's code.

#![allow(dead_code)]

use compositor_media::output::LAYOUT_SEI_UUID;

/// NAL units of an Annex B stream (start codes removed), in order.
pub fn nal_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(stream.len(), |&n| n - 3);
        while end > s && stream[end - 1] == 0 {
            end -= 1; // zero_byte of a 4-byte start code, trailing zeros
        }
        nals.push(&stream[s..end]);
    }
    nals
}

pub fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// The payloads (after the UUID) of our `user_data_unregistered` messages in one SEI RBSP.
pub fn our_payloads(rbsp: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 1; // nal header
    let read_varint = |i: &mut usize| -> Option<usize> {
        let mut v = 0;
        loop {
            let b = *rbsp.get(*i)?;
            *i += 1;
            v += usize::from(b);
            if b != 0xFF {
                return Some(v);
            }
        }
    };
    // Messages until the rbsp trailing bits.
    while i < rbsp.len() && rbsp[i] != 0x80 {
        let (Some(ty), Some(size)) = (read_varint(&mut i), read_varint(&mut i)) else {
            panic!("truncated SEI message header");
        };
        let body = rbsp.get(i..i + size).expect("SEI message fits its NAL");
        if ty == 5 && body.len() >= 16 && body[..16] == LAYOUT_SEI_UUID {
            out.push(body[16..].to_vec());
        }
        i += size;
    }
    out
}

/// For each access unit in decode order, our SEI payloads in it.
pub fn scan(stream: &[u8]) -> Vec<Vec<String>> {
    let mut aus: Vec<Vec<String>> = Vec::new();
    let mut pending = Vec::new();
    for nal in nal_units(stream) {
        let Some(&header) = nal.first() else { continue };
        match header & 0x1F {
            6 => {
                for p in our_payloads(&unescape(nal)) {
                    pending.push(String::from_utf8(p).expect("utf-8 JSON"));
                }
            }
            // A slice with first_mb_in_slice = 0 (ue(v) "1") starts a picture.
            1 | 5 if nal.get(1).is_some_and(|b| b & 0x80 != 0) => {
                aus.push(std::mem::take(&mut pending));
            }
            _ => {}
        }
    }
    assert!(pending.is_empty(), "SEI after the last picture");
    aus
}

/// Converts an MP4's video to Annex B with ffmpeg and returns, per picture in decode order,
/// our SEI JSON strings.
pub fn sei_of_mp4(mp4: &std::path::Path) -> Vec<Vec<String>> {
    let h264 = mp4.with_extension("h264");
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(mp4)
        .args([
            "-c:v",
            "copy",
            "-bsf:v",
            "h264_mp4toannexb",
            "-an",
            "-f",
            "h264",
        ])
        .arg(&h264)
        .output()
        .expect("ffmpeg (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stream = std::fs::read(&h264).expect("annex b stream");
    scan(&stream)
}
