//! Smoke test of the contract.
#![allow(clippy::unwrap_used)]

use mixer::{InputFormat, MixError, Mixer, MixerConfig};

#[test]
fn contract_smoke() {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    assert_eq!(m.block_frames(), 480);
    m.add_input(
        "a",
        InputFormat {
            sample_rate: 48_000,
            channels: 1,
        },
    )
    .unwrap();
    assert_eq!(
        m.add_input(
            "a",
            InputFormat {
                sample_rate: 48_000,
                channels: 1
            }
        ),
        Err(MixError::DuplicateInput("a".into()))
    );
    m.push("a", &vec![0.25; 4800]).unwrap();
    let mut out = vec![0.0; 960];
    for _ in 0..5 {
        m.mix_block(&mut out);
    }
    assert!(out.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
    assert!(m.push("zz", &[0.0]).is_err());
    m.remove_input("a").unwrap();
}
