//! A host clocked +300 ppm (44.1 kHz) and one clocked -200 ppm (48 kHz) for a simulated
//! hour (360 000 blocks) in 20 ms packets, on the default `ResampleQuality::Auto` (both go
//! through the cubic: 44.1k upsampled, 48k drift-only correction).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::*;
use mixer::{Mixer, MixerConfig};

#[test]
fn plus_300_ppm_for_an_hour_no_underruns_and_estimate_within_20_ppm() {
    let start = std::time::Instant::now();
    let cfg = MixerConfig {
        sample_rate: 48_000,
        channels: 1,
    };
    let mut m = Mixer::new(cfg).unwrap();
    let mut src = Source::new("fast", 44_100, 1, 0.0, 0.0);
    src.drift_ppm = 300.0;
    m.add_input("fast", src.format()).unwrap();
    let mut src48 = Source::new("slow48", 48_000, 1, 0.0, 0.0);
    src48.drift_ppm = -200.0;
    m.add_input("slow48", src48.format()).unwrap();
    let blocks = 360_000usize;
    let mut buf = Vec::new();
    let mut out = vec![0.0f32; m.block_frames()];
    // A cheap 220 Hz tone by rotation (sin per sample would dominate the debug run time).
    let (c, s) = (
        (2.0 * std::f64::consts::PI * 220.0 / 44_100.0).cos(),
        (2.0 * std::f64::consts::PI * 220.0 / 44_100.0).sin(),
    );
    let (mut re, mut im) = (0.3f64, 0.0f64);
    let (mut min_q, mut max_q) = (usize::MAX, 0usize);
    for b in 0..blocks {
        if b.is_multiple_of(2) {
            src.packet(&mut buf);
            for v in buf.iter_mut() {
                (re, im) = (re * c - im * s, re * s + im * c);
                *v = im as f32;
            }
            m.push("fast", &buf).unwrap();
            // Silence is enough here: only the queue dynamics are under test.
            src48.packet(&mut buf);
            m.push("slow48", &buf).unwrap();
        }
        m.mix_block(&mut out);
        if b > 1000 && b % 50 == 1 {
            let st = m.input_stats("fast").unwrap();
            min_q = min_q.min(st.queued_frames);
            max_q = max_q.max(st.queued_frames);
        }
    }
    let st = m.input_stats("fast").unwrap();
    println!(
        "hour: drift {:.2} ppm (correction {:.2}), queue {}..{} frames (target {}), underruns {}, overruns {}, {:.1} s",
        st.drift_ppm,
        st.correction_ppm,
        min_q,
        max_q,
        st.target_frames,
        st.underruns,
        st.overruns,
        start.elapsed().as_secs_f64()
    );
    assert_eq!(st.underruns, 0);
    assert_eq!(st.overruns, 0);
    assert!(
        (st.drift_ppm - 300.0).abs() <= 20.0,
        "drift {}",
        st.drift_ppm
    );
    // After consumption the queue stays within target ± one packet.
    assert!(min_q > 0 && min_q + 882 >= st.target_frames && max_q <= st.target_frames + 882);
    let s48 = m.input_stats("slow48").unwrap();
    println!(
        "48k: drift {:.2} ppm, queue {} frames (target {}), underruns {}, overruns {}",
        s48.drift_ppm, s48.queued_frames, s48.target_frames, s48.underruns, s48.overruns
    );
    assert_eq!(s48.underruns, 0);
    assert_eq!(s48.overruns, 0);
    assert!(
        (s48.drift_ppm + 200.0).abs() <= 20.0,
        "48k drift {}",
        s48.drift_ppm
    );
}
