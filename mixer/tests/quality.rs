//! Resampling quality and summing levels, measured with FFTs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::*;
use mixer::{Mixer, MixerConfig};

#[test]
fn tone_44k1_to_48k_thd_n_below_minus_60_db() {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let mut src = [Source::new("a", 44_100, 1, 1000.0, 0.5)];
    m.add_input("a", src[0].format()).unwrap();
    let mut buf = Vec::new();
    let out = run(&mut m, 300, |b, m| feed_all(b, m, &mut src, &mut buf));
    // Skip 1 s of settling, analyse 1 s (48000 samples: 1 Hz bins, 1 kHz bin-exact).
    for c in 0..2 {
        let x = &channel(&out, 2, c)[96_000..144_000];
        let thd = thd_n_db(x, 48_000.0, 1000.0);
        let amp = tone_amplitude(x, 48_000.0, 1000.0);
        println!("ch{c}: THD+N {thd:.1} dB, amplitude {:.3} dBFS", db(amp));
        assert!(thd < -60.0, "THD+N {thd} dB");
        assert!((db(amp) - db(0.5)).abs() < 0.1, "amplitude {amp}");
        // Still at 1 kHz: the strongest bin is 1000.
        let (p, _) = spectrum(x);
        let kmax = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert_eq!(kmax, 1000);
    }
}

#[test]
fn two_rates_sum_to_expected_levels() {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let mut src = [
        Source::new("a", 44_100, 2, 1000.0, 0.3),
        Source::new("b", 16_000, 1, 2500.0, 0.2),
    ];
    for s in &src {
        m.add_input(&s.id, s.format()).unwrap();
    }
    let mut buf = Vec::new();
    let out = run(&mut m, 300, |b, m| feed_all(b, m, &mut src, &mut buf));
    for c in 0..2 {
        let x = &channel(&out, 2, c)[96_000..144_000];
        let a = db(tone_amplitude(x, 48_000.0, 1000.0));
        let b = db(tone_amplitude(x, 48_000.0, 2500.0));
        println!(
            "ch{c}: 1 kHz {a:.3} dBFS (exp {:.3}), 2.5 kHz {b:.3} dBFS (exp {:.3})",
            db(0.3),
            db(0.2)
        );
        assert!((a - db(0.3)).abs() < 0.1);
        assert!((b - db(0.2)).abs() < 0.1);
    }
}

#[test]
fn output_converter_48k_to_44k1() {
    let mut conv = mixer::OutputConverter::new(48_000, 44_100, 2, 480).unwrap();
    let mut out = Vec::new();
    let w = 2.0 * std::f64::consts::PI * 1000.0 / 48_000.0;
    let mut block = vec![0.0f32; 960];
    for b in 0..200u64 {
        for i in 0..480u64 {
            let s = (0.5 * (w * (b * 480 + i) as f64).sin()) as f32;
            block[2 * i as usize] = s;
            block[2 * i as usize + 1] = s;
        }
        conv.process(&block, &mut out).unwrap();
    }
    assert!(conv.process(&[0.0; 3], &mut out).is_err());
    let x = &channel(&out, 2, 0)[44_100..88_200];
    let thd = thd_n_db(x, 44_100.0, 1000.0);
    let amp = tone_amplitude(x, 44_100.0, 1000.0);
    println!("converter: THD+N {thd:.1} dB, amp {:.3} dBFS", db(amp));
    assert!(thd < -60.0);
    assert!((db(amp) - db(0.5)).abs() < 0.1);
}

#[test]
fn fast_quality_tone_thd_n() {
    let tuning = mixer::MixerTuning {
        resample_quality: mixer::ResampleQuality::Fast,
        ..mixer::MixerTuning::default()
    };
    let mut m = Mixer::with_tuning(MixerConfig::default(), tuning).unwrap();
    let mut src = [Source::new("a", 44_100, 1, 1000.0, 0.5)];
    m.add_input("a", src[0].format()).unwrap();
    let mut buf = Vec::new();
    let out = run(&mut m, 300, |b, m| feed_all(b, m, &mut src, &mut buf));
    let x = &channel(&out, 2, 0)[96_000..144_000];
    let thd = thd_n_db(x, 48_000.0, 1000.0);
    println!("Fast: THD+N {thd:.1} dB");
    assert!(thd < -60.0, "THD+N {thd} dB");
}
