//! The hub encode (Annex B out of `h264parse`) carries each frame's layout SEI, and none for
//! frames without metadata. Needs GStreamer with x264enc (scripts/setup.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::output::sei::LAYOUT_SEI_UUID;
use crate::output::{EncoderKind, EncoderSettings};
use compositor_core::frame::ColorMatrix;

/// Our SEI payloads in one Annex B access unit (found by the UUID right after type/size;
/// the test payloads need no emulation prevention).
fn payloads(au: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..au.len().saturating_sub(4) {
        if au[i..i + 3] == [0, 0, 1] && au[i + 3] & 0x1F == 6 && au.get(i + 4) == Some(&5) {
            let size = usize::from(au[i + 5]);
            if au.get(i + 6..i + 22) == Some(&LAYOUT_SEI_UUID[..]) {
                let body = &au[i + 22..i + 6 + size];
                out.push(String::from_utf8(body.to_vec()).unwrap());
            }
        }
    }
    out
}

#[test]
fn hub_encode_tags_h264_access_units() {
    let fmt = StreamFormat {
        width: 320,
        height: 240,
        fps_num: 30,
        fps_den: 1,
        matrix: ColorMatrix::Bt601,
        sample_rate: 48_000,
        channels: 2,
    };
    let settings = EncoderSettings {
        kind: EncoderKind::X264,
        video_kbps: 500,
        keyframe_interval: 30,
        ..EncoderSettings::default()
    };
    let enc = Encode::start(&fmt, &settings, AudioCodec::Aac).unwrap();
    let queue: OutputQueue = Arc::new(SharedQueue::new(1000, 64 << 20));
    enc.subscribe("test", queue.clone());
    let dur = Duration::from_nanos(1_000_000_000 / 30);
    let mut want = Vec::new();
    let mut pushed = 0;
    for i in 0..20u32 {
        let mut frame = I420Frame::filled(320, 240, 16 + i as u8 * 5, 128, 128).unwrap();
        let json = format!(r#"{{"frame":{i}}}"#);
        if i % 5 != 3 {
            frame.set_meta(json.as_bytes());
        }
        if enc.push_video(&frame, dur * i, dur).unwrap() {
            pushed += 1;
            if i % 5 != 3 {
                want.push(json);
            }
        }
        std::thread::sleep(dur);
    }
    let mut got = Vec::new();
    let mut video = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while video < pushed && Instant::now() < deadline {
        let Some((p, _)) = queue.pop_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if p.kind == MediaKind::Video {
            video += 1;
            let map = p.buffer.map_readable().unwrap();
            got.extend(payloads(&map));
        }
    }
    assert_eq!(video, pushed, "encoded frames");
    assert_eq!(got, want, "SEIs in decode order (no B-frames)");
    assert_eq!(
        enc.sei_counts(),
        (want.len() as u64, (pushed - want.len()) as u64)
    );
}
