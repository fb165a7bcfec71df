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

/// Mono content frame `n` (due at `n / RATE` s): silence except the burst.
fn content(n: usize, block: usize) -> f32 {
    if BURST.contains(&(n / block)) {
        (0.5 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / f64::from(RATE)).sin()) as f32
    } else {
        0.0
    }
}

/// Runs 400 blocks with a producer that behaves like the session's audio placer: before
/// mixing block `b` it has released everything due before `b` plus the input's queue depth
/// (`timed_depth_ms` for a timed input, `target_depth_ms` for a plain one), frame-exact.
/// During `stall` it releases nothing; afterwards it restarts at the current block (the
/// stalled content is lost). Returns the first output sample of the burst.
fn burst_onset(timed: bool, stall: Option<std::ops::Range<usize>>) -> usize {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let fmt = InputFormat {
        sample_rate: RATE,
        channels: 1,
    };
    let depth_ms = if timed {
        m.add_timed_input("a", fmt).unwrap();
        m.tuning().timed_depth_ms
    } else {
        m.add_input("a", fmt).unwrap();
        m.tuning().target_depth_ms
    };
    let block = m.block_frames();
    let depth = (f64::from(depth_ms) * f64::from(RATE) / 1000.0).round() as usize;
    assert!(depth > block, "depth of {depth} frames");
    let mut released = 0; // first due frame not released yet
    let mut buf = Vec::new();
    let out = run(&mut m, 400, |b, m| {
        if stall.as_ref().is_some_and(|s| s.contains(&b)) {
            return;
        }
        released = released.max(b * block);
        buf.clear();
        buf.extend((released..b * block + depth).map(|n| content(n, block)));
        released = b * block + depth;
        m.push("a", &buf).unwrap();
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

/// A timed input fed exactly on schedule (what the session's placer does) plays without a
/// single underrun at its small queue depth, for every resampler quality and the input
/// rates peers send: the depth covers the block plus the resampler's look-ahead.
#[test]
fn timed_input_on_schedule_never_underruns_at_its_depth() {
    use mixer::{MixerTuning, ResampleQuality};
    for quality in [
        ResampleQuality::Auto,
        ResampleQuality::Fast,
        ResampleQuality::Polyphase,
        ResampleQuality::Balanced,
        ResampleQuality::High,
    ] {
        for rate in [48_000u32, 44_100, 16_000, 96_000] {
            let tuning = MixerTuning {
                resample_quality: quality,
                ..MixerTuning::default()
            };
            let mut m = Mixer::with_tuning(MixerConfig::default(), tuning).unwrap();
            let fmt = InputFormat {
                sample_rate: rate,
                channels: 2,
            };
            m.add_timed_input("a", fmt).unwrap();
            let depth_s = f64::from(m.tuning().timed_depth_ms) / 1000.0;
            let mut released = 0usize;
            let mut buf = Vec::new();
            let blocks = 300;
            let out = run(&mut m, blocks, |b, m| {
                let upto = ((b as f64 * 0.01 + depth_s) * f64::from(rate)).floor() as usize;
                buf.clear();
                let w = 2.0 * std::f64::consts::PI * 440.0 / f64::from(rate);
                for n in released..upto {
                    let v = (0.5 * (w * n as f64).sin()) as f32;
                    buf.extend([v, v]);
                }
                released = upto.max(released);
                m.push("a", &buf).unwrap();
            });
            let st = m.input_stats("a").unwrap();
            assert_eq!(
                st.underruns,
                0,
                "{quality:?} at {rate} Hz: {} underruns at {} ms depth",
                st.underruns,
                m.tuning().timed_depth_ms
            );
            // Heard throughout once started (the first blocks fade in).
            let x = channel(&out, usize::from(m.channels()), 0);
            let bf = m.block_frames();
            for b in 5..blocks {
                let peak = x[b * bf..(b + 1) * bf]
                    .iter()
                    .fold(0.0f64, |a, v| a.max(v.abs()));
                assert!(
                    peak > 0.4,
                    "{quality:?} at {rate} Hz: block {b} peak {peak:.3}"
                );
            }
        }
    }
}
