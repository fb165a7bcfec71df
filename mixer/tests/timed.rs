//! Timed inputs (fed on schedule by an audio placer) must come back on time after running
//! dry: the samples after a stall play exactly when they are due, while a plain input
//! re-buffers and plays them late by what was left in its queue.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::*;
use mixer::{InputFormat, Mixer, MixerConfig};

const RATE: u32 = 48_000;
/// The marker: a 1 kHz burst in the content due at blocks 300..305.
const BURST: std::ops::Range<usize> = 300..305;

/// Content due at mix block `k` (one block of mono samples): silence except the burst.
fn content(k: usize, block: usize) -> Vec<f32> {
    (0..block)
        .map(|i| {
            if BURST.contains(&k) {
                let n = (k * block + i) as f64;
                (0.5 * (2.0 * std::f64::consts::PI * 1000.0 * n / f64::from(RATE)).sin()) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// Runs 400 blocks with a producer that behaves like the session's audio placer: before
/// tick `b` it has released everything due before `b + target` (target = the mixer's target
/// depth in blocks). During `stall` it releases nothing; afterwards it restarts at the
/// current tick (the stalled content is lost). Returns the first output sample of the burst.
fn burst_onset(timed: bool, stall: Option<std::ops::Range<usize>>) -> usize {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let fmt = InputFormat {
        sample_rate: RATE,
        channels: 1,
    };
    if timed {
        m.add_timed_input("a", fmt).unwrap();
    } else {
        m.add_input("a", fmt).unwrap();
    }
    let block = m.block_frames();
    let target = (m.tuning().target_depth_ms as usize * RATE as usize / 1000) / block;
    assert!(target >= 2, "target depth of {target} blocks");
    let mut released = 0; // first due block not released yet
    let out = run(&mut m, 400, |b, m| {
        if stall.as_ref().is_some_and(|s| s.contains(&b)) {
            return;
        }
        released = released.max(b);
        while released < b + target {
            m.push("a", &content(released, block)).unwrap();
            released += 1;
        }
    });
    let x = channel(&out, usize::from(m.channels()), 0);
    x.iter()
        .position(|v| v.abs() > 0.05)
        .expect("the burst is heard")
}

#[test]
fn timed_input_is_on_time_after_running_dry_and_plain_input_is_late() {
    let ms = |frames: isize| frames as f64 * 1000.0 / f64::from(RATE);
    let reference = burst_onset(true, None) as isize;
    let plain_reference = burst_onset(false, None) as isize;
    // Without a stall both kinds play the burst at the same instant.
    assert_eq!(reference, plain_reference);

    let stall = Some(100..120);
    let timed = burst_onset(true, stall.clone()) as isize;
    let plain = burst_onset(false, stall) as isize;
    println!(
        "burst onset vs no stall: timed {:+.2} ms, plain {:+.2} ms",
        ms(timed - reference),
        ms(plain - reference)
    );
    assert!(
        ms(timed - reference).abs() <= 1.0,
        "timed input late by {:.2} ms after the stall",
        ms(timed - reference)
    );
    // The plain input keeps what was left in its queue and plays everything after it late
    // (the reason the session feeds its inputs as timed ones); this also shows the test can
    // tell the two apart.
    assert!(
        ms(plain - reference) > 5.0,
        "plain input only {:.2} ms late",
        ms(plain - reference)
    );
}
