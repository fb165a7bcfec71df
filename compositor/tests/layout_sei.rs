//! Every encoded frame with layout metadata carries it as an H.264 SEI
//! (`user_data_unregistered`, our UUID), read back by a parser that is not ours: ffmpeg
//! extracts the Annex B stream from the MP4, and this test scans its NAL units by hand.
//! Frames with no metadata carry no SEI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Command as Proc;
use std::time::Duration;

use compositor_core::frame::{ColorMatrix, I420Frame};
use compositor_core::sink::OutputSink;
use compositor_media::output::{
    EncoderKind, EncoderSettings, GstEncoder, LAYOUT_SEI_UUID, OutputFiles, StreamFormat,
};

const TAGGED: usize = 60;
/// Frames pushed with empty metadata, in the middle of the run.
const EMPTY: std::ops::Range<usize> = 20..25;

/// NAL units of an Annex B stream (start codes removed), in order.
fn nal_units(stream: &[u8]) -> Vec<&[u8]> {
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

fn unescape(nal: &[u8]) -> Vec<u8> {
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
fn our_payloads(rbsp: &[u8]) -> Vec<Vec<u8>> {
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
fn scan(stream: &[u8]) -> Vec<Vec<String>> {
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

#[test]
fn every_frame_carries_its_layout_sei() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("layout_sei");
    std::fs::create_dir_all(&dir).unwrap();
    let (mp4, h264) = (dir.join("out.mp4"), dir.join("out.h264"));
    let _ = std::fs::remove_file(&mp4);
    let _ = std::fs::remove_file(&h264);
    let fmt = StreamFormat {
        width: 320,
        height: 240,
        fps_num: 30,
        fps_den: 1,
        matrix: ColorMatrix::Bt601,
        sample_rate: 48_000,
        channels: 2,
    };
    // x264enc (tune=zerolatency: no B-frames, so decode order = presentation order).
    let settings = EncoderSettings {
        kind: EncoderKind::X264,
        video_kbps: 800,
        keyframe_interval: 30,
        ..EncoderSettings::default()
    };
    let files = OutputFiles {
        mp4: Some(mp4.clone()),
        flv: None,
        hls: None,
    };
    let mut enc = GstEncoder::new(fmt, &settings, &files, false).unwrap();
    let total = TAGGED + EMPTY.len();
    let frame_dur = Duration::from_nanos(1_000_000_000 / 30);
    let audio = vec![0.0f32; 1600 * 2];
    let mut expected: Vec<Option<String>> = Vec::new();
    let mut n = 0;
    for i in 0..total {
        let mut frame = I420Frame::filled(320, 240, (16 + i * 3) as u8, 128, 128).unwrap();
        if EMPTY.contains(&i) {
            expected.push(None);
        } else {
            let json = format!(r#"{{"frame":{n}}}"#);
            frame.set_meta(json.as_bytes());
            expected.push(Some(json));
            n += 1;
        }
        let pts = frame_dur * i as u32;
        enc.push_video(&frame, pts, frame_dur).unwrap();
        enc.push_audio(&audio, pts).unwrap();
    }
    enc.finish().unwrap();
    assert_eq!(
        enc.sei_counts(),
        (TAGGED as u64, EMPTY.len() as u64),
        "(tagged, untagged) counted by the encoder"
    );

    let out = Proc::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&mp4)
        .args(["-c:v", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264"])
        .arg(&h264)
        .output()
        .expect("ffmpeg must be installed to read the SEI back (run scripts/setup.sh)");
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stream = std::fs::read(&h264).unwrap();
    let aus = scan(&stream);
    assert_eq!(aus.len(), total, "pictures in the stream");

    // Every frame's JSON exactly once.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for json in aus.iter().flatten() {
        *seen.entry(json.clone()).or_default() += 1;
    }
    let want: BTreeMap<String, usize> = (0..TAGGED)
        .map(|n| (format!(r#"{{"frame":{n}}}"#), 1))
        .collect();
    assert_eq!(seen, want, "each frame's SEI exactly once");
    let empty_aus = aus.iter().filter(|a| a.is_empty()).count();
    assert_eq!(
        empty_aus,
        EMPTY.len(),
        "frames without metadata carry no SEI"
    );
    // In sync with the picture: no reordering here, so access unit i is frame i.
    for (i, (au, want)) in aus.iter().zip(&expected).enumerate() {
        assert!(au.len() <= 1, "access unit {i} has {} SEIs", au.len());
        assert_eq!(au.first(), want.as_ref(), "access unit {i}");
    }
}
