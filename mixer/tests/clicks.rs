//! Joins, leaves and gaps must not click: no sample-to-sample step above the clean tone's
//! maximum step plus a small margin.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::*;
use mixer::{Mixer, MixerConfig};

#[test]
fn join_gap_and_leave_are_click_free() {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let amp = 10f64.powf(-6.0 / 20.0);
    let mut src = Source::new("a", 44_100, 1, 440.0, amp);
    m.add_input("a", src.format()).unwrap(); // join
    let mut buf = Vec::new();
    // Packets 0..100 (2 s), gap of 10 packets (200 ms), packets until block 400, then leave.
    let out = run(&mut m, 500, |b, m| {
        if b == 400 {
            m.remove_input("a").unwrap();
        }
        if b.is_multiple_of(2) && b < 400 {
            src.packet(&mut buf);
            let p = b / 2;
            if !(100..110).contains(&p) {
                m.push("a", &buf).unwrap();
            }
        }
    });
    let x = channel(&out, 2, 0);
    let clean_step = amp * 2.0 * std::f64::consts::PI * 440.0 / 48_000.0;
    let threshold = clean_step * 1.1;
    let step = max_step(&x);
    println!("max step {step:.5}, clean sine step {clean_step:.5}, threshold {threshold:.5}");
    assert!(step <= threshold, "click: step {step}");
    assert!(m.input_ids().is_empty(), "dropped after its leave fade");
    // The gap was noticed and re-joined.
    let ev = m.take_events();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, mixer::MixerEvent::Underrun { .. }))
            .count(),
        1
    );
    // Silence in the gap, tone before and after.
    let rms = |a: usize, b: usize| {
        (x[a * 480..b * 480].iter().map(|v| v * v).sum::<f64>() / ((b - a) * 480) as f64).sqrt()
    };
    assert!(db(rms(100, 190)) > -10.0);
    assert!(rms(205, 215) < 1e-6, "gap is silent");
    assert!(db(rms(250, 390)) > -10.0);
    assert!(rms(420, 500) < 1e-9, "gone after leave");
}

#[test]
fn overrun_drops_oldest_without_click() {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let amp = 0.5;
    let mut src = Source::new("a", 48_000, 1, 440.0, amp);
    m.add_input("a", src.format()).unwrap();
    let mut buf = Vec::new();
    let out = run(&mut m, 300, |b, m| {
        if b.is_multiple_of(2) {
            src.packet(&mut buf);
            m.push("a", &buf).unwrap();
            if b == 100 {
                // A burst: 300 ms arriving at once overflows the 200 ms bound.
                for _ in 0..15 {
                    src.packet(&mut buf);
                    m.push("a", &buf).unwrap();
                }
            }
        }
    });
    let st = m.input_stats("a").unwrap();
    assert!(st.overruns >= 1 && st.dropped_frames > 0);
    let x = channel(&out, 2, 0);
    let clean_step = amp * 2.0 * std::f64::consts::PI * 440.0 / 48_000.0;
    let step = max_step(&x[20 * 480..]);
    println!(
        "overrun: max step {step:.5} (clean {clean_step:.5}), dropped {}",
        st.dropped_frames
    );
    assert!(step <= clean_step * 1.5);
}
