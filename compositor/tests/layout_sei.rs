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
    EncoderKind, EncoderSettings, GstEncoder, OutputFiles, StreamFormat,
};

mod sei_support;
use sei_support::scan;

const TAGGED: usize = 60;
/// Frames pushed with empty metadata, in the middle of the run.
const EMPTY: std::ops::Range<usize> = 20..25;

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
