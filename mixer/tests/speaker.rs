//! Active-speaker decisions with a hold time.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::*;
use mixer::{Mixer, MixerConfig, MixerEvent};

#[test]
fn switches_only_after_hold_and_ignores_short_interjections() {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let mut a = Source::new("a", 48_000, 1, 300.0, 0.25);
    let mut b = Source::new("b", 16_000, 1, 500.0, 0.25);
    m.add_input("a", a.format()).unwrap();
    m.add_input("b", b.format()).unwrap();
    // Script in blocks (10 ms): A talks 0..300, B talks 300..600, A interjects 600..680
    // (0.8 s < 1.5 s hold), B talks 680..900, A talks 900..1300.
    let a_talks = |k: usize| k < 300 || (600..680).contains(&k) || (900..1300).contains(&k);
    let b_talks = |k: usize| (300..600).contains(&k) || (680..900).contains(&k);
    let mut buf = Vec::new();
    run(&mut m, 1300, |k, m| {
        if k.is_multiple_of(2) {
            a.packet(&mut buf);
            if !a_talks(k) {
                buf.iter_mut().for_each(|s| *s = 0.0);
            }
            m.push("a", &buf).unwrap();
            b.packet(&mut buf);
            if !b_talks(k) {
                buf.iter_mut().for_each(|s| *s = 0.0);
            }
            m.push("b", &buf).unwrap();
        }
    });
    let ev: Vec<(Option<String>, Option<String>, u64)> = m
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            MixerEvent::ActiveSpeakerChanged { from, to, at_block } => Some((from, to, at_block)),
            _ => None,
        })
        .collect();
    println!("{ev:?}");
    let hold = 150u64;
    assert_eq!(ev.len(), 3, "{ev:?}");
    let s = |x: &str| Some(x.to_string());
    // First talker: after the hold (+ a few blocks of queueing latency).
    assert_eq!((ev[0].0.clone(), ev[0].1.clone()), (None, s("a")));
    assert!(ev[0].2 >= hold && ev[0].2 <= hold + 10);
    // B: dominant from ~300 (A's VAD hang-over and level decay take a few blocks).
    assert_eq!((ev[1].0.clone(), ev[1].1.clone()), (s("a"), s("b")));
    assert!(
        ev[1].2 >= 300 + hold && ev[1].2 <= 300 + hold + 40,
        "{}",
        ev[1].2
    );
    // The interjection at 600..680 did not switch; A's return at 900 did, after the hold.
    assert_eq!((ev[2].0.clone(), ev[2].1.clone()), (s("b"), s("a")));
    assert!(
        ev[2].2 >= 900 + hold && ev[2].2 <= 900 + hold + 40,
        "{}",
        ev[2].2
    );
    assert_eq!(m.active_speaker(), Some("a"));
}
