//! Gains, mute, solo, ducking, limiter, errors.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::*;
use mixer::{Ducking, InputFormat, MixError, Mixer, MixerConfig, db_to_lin};

fn two_tones() -> (Mixer, [Source; 2]) {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let src = [
        Source::new("a", 48_000, 1, 1000.0, 0.25),
        Source::new("b", 48_000, 1, 3000.0, 0.25),
    ];
    for s in &src {
        m.add_input(&s.id, s.format()).unwrap();
    }
    (m, src)
}

#[test]
fn gains_hold_to_a_tenth_of_a_db_mute_and_solo() {
    let (mut m, mut src) = two_tones();
    m.set_gain_db("a", -6.0).unwrap();
    m.set_gain_db("b", 9.0).unwrap();
    let mut buf = Vec::new();
    let out = run(&mut m, 250, |b, m| feed_all(b, m, &mut src, &mut buf));
    let x = &channel(&out, 2, 0)[48_000..96_000];
    let a = db(tone_amplitude(x, 48_000.0, 1000.0));
    let b = db(tone_amplitude(x, 48_000.0, 3000.0));
    println!(
        "gain -6: {:.3} dB, gain +9: {:.3} dB (limiter GR {:.2})",
        a - db(0.25),
        b - db(0.25),
        m.limiter_gain_reduction_db()
    );
    assert!((a - db(0.25) + 6.0).abs() < 0.1);
    assert!((b - db(0.25) - 9.0).abs() < 0.1);

    m.set_gain_db("b", 0.0).unwrap();
    m.set_mute("a", true).unwrap();
    let out = run(&mut m, 250, |b, m| feed_all(b, m, &mut src, &mut buf));
    let x = &channel(&out, 2, 1)[48_000..96_000];
    let a = db(tone_amplitude(x, 48_000.0, 1000.0));
    println!("muted: {a:.1} dBFS");
    assert!(a < -90.0);
    assert!((db(tone_amplitude(x, 48_000.0, 3000.0)) - db(0.25)).abs() < 0.1);

    m.set_mute("a", false).unwrap();
    m.set_solo("a", true).unwrap();
    let out = run(&mut m, 250, |b, m| feed_all(b, m, &mut src, &mut buf));
    let x = &channel(&out, 2, 0)[48_000..96_000];
    println!(
        "solo: a {:.3} dB, b {:.1} dBFS",
        db(tone_amplitude(x, 48_000.0, 1000.0)) - db(0.25),
        db(tone_amplitude(x, 48_000.0, 3000.0))
    );
    assert!((db(tone_amplitude(x, 48_000.0, 1000.0)) - db(0.25) + 6.0).abs() < 0.1);
    assert!(db(tone_amplitude(x, 48_000.0, 3000.0)) < -90.0);
    let st = m.input_stats("b").unwrap();
    assert_eq!((st.underruns, st.overruns), (0, 0));
    assert!(
        st.levels.rms_dbfs > -20.0,
        "pre-fader level still measured while not soloed"
    );
}

#[test]
fn invalid_values_are_errors() {
    let (mut m, _) = two_tones();
    let e = m.set_gain_db("a", 13.0).unwrap_err();
    assert!(
        matches!(&e, MixError::Invalid(s) if s.contains("12")),
        "{e}"
    );
    let e = m.set_gain_db("a", -61.0).unwrap_err();
    assert!(
        matches!(&e, MixError::Invalid(s) if s.contains("-60")),
        "{e}"
    );
    assert!(matches!(
        m.set_gain_db("a", f32::NAN),
        Err(MixError::Invalid(_))
    ));
    assert_eq!(
        m.set_mute("zz", true),
        Err(MixError::UnknownInput("zz".into()))
    );
    assert!(matches!(m.push("a", &[]), Ok(())));
    let stereo = InputFormat {
        sample_rate: 44_100,
        channels: 2,
    };
    m.add_input("s", stereo).unwrap();
    assert!(matches!(
        m.push("s", &[0.1, 0.2, 0.3]),
        Err(MixError::Invalid(_))
    ));
    m.push("s", &[f32::NAN, f32::INFINITY, 0.5, -0.5]).unwrap();
    assert!(
        m.add_input(
            "x",
            InputFormat {
                sample_rate: 44_100,
                channels: 3
            }
        )
        .is_err()
    );
    assert!(
        m.add_input(
            "x",
            InputFormat {
                sample_rate: 0,
                channels: 1
            }
        )
        .is_err()
    );
    assert!(
        Mixer::new(MixerConfig {
            sample_rate: 44_123,
            channels: 2
        })
        .is_err()
    );
    let d = Ducking {
        trigger: "nope".into(),
        depth_db: 10.0,
        attack_ms: 10.0,
        release_ms: 10.0,
    };
    assert!(m.set_ducking(Some(d)).is_err());
    let mut out = vec![0.0; 7]; // short output: no panic
    m.mix_block(&mut out);
    let mut out = vec![0.0; 960];
    m.mix_block(&mut out);
    assert!(out.iter().all(|s| s.is_finite()));
}

#[test]
fn ducking_lowers_others_within_attack_and_restores_after_release() {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let mut music = Source::new("music", 48_000, 1, 3000.0, 0.25);
    let mut host = Source::new("host", 48_000, 1, 300.0, 0.25);
    m.add_input("music", music.format()).unwrap();
    m.add_input("host", host.format()).unwrap();
    let (depth, attack_ms, release_ms) = (12.0f32, 50.0f32, 300.0f32);
    m.set_ducking(Some(Ducking {
        trigger: "host".into(),
        depth_db: depth,
        attack_ms,
        release_ms,
    }))
    .unwrap();
    let mut buf = Vec::new();
    // Host talks during packets [100, 200) (blocks 200..400), silent otherwise.
    let talk = |b: usize| (200..400).contains(&b);
    let out = run(&mut m, 700, |b, m| {
        if b.is_multiple_of(2) {
            music.packet(&mut buf);
            m.push("music", &buf).unwrap();
            host.packet(&mut buf);
            if !talk(b) {
                buf.iter_mut().for_each(|s| *s = 0.0);
            }
            m.push("host", &buf).unwrap();
        }
    });
    // Per-block amplitude of the 3 kHz music (30 whole cycles per block; 300 Hz is orthogonal).
    let x = channel(&out, 2, 0);
    let amp = |blk: usize| {
        let seg = &x[blk * 480..(blk + 1) * 480];
        let w = 2.0 * std::f64::consts::PI * 3000.0 / 48_000.0;
        let (mut re, mut im) = (0.0, 0.0);
        for (i, s) in seg.iter().enumerate() {
            re += s * (w * i as f64).cos();
            im += s * (w * i as f64).sin();
        }
        db(2.0 * (re * re + im * im).sqrt() / 480.0)
    };
    let base = db(0.25);
    // Output lags the pushes by the queue depth; find the first block where the host is heard.
    let onset = (150..400).find(|&b| m_is_loud(&x, b, 300.0)).unwrap();
    let attack_blocks = (attack_ms / 10.0) as usize;
    println!(
        "onset block {onset}; music {:.2} dB before, {:.2} dB at onset+attack+1",
        amp(onset - 5) - base,
        amp(onset + attack_blocks + 1) - base
    );
    assert!((amp(onset - 5) - base).abs() < 0.1);
    // Full depth within the attack time (+1 block for the VAD decision / block ramp).
    let ducked = amp(onset + attack_blocks + 1) - base;
    assert!(
        (ducked + f64::from(depth)).abs() < 0.2,
        "ducked by {ducked} dB"
    );
    let offset = (onset + 50..600)
        .find(|&b| !m_is_loud(&x, b, 300.0))
        .unwrap();
    // Still ducked during the VAD hang-over; restored after hang-over + release (+1 block).
    assert!(amp(offset + 5) - base < -f64::from(depth) + 0.5);
    let restored_at = offset + 30 + (release_ms / 10.0) as usize + 2;
    let mid = amp(offset + 30 + (release_ms / 20.0) as usize) - base;
    println!(
        "offset block {offset}; mid-release {mid:.2} dB, restored {:.2} dB",
        amp(restored_at) - base
    );
    assert!(
        mid < -1.0 && mid > -f64::from(depth) + 1.0,
        "release is gradual: {mid}"
    );
    assert!((amp(restored_at) - base).abs() < 0.1);
}

/// True when the block holds the tone at `freq` above −40 dBFS.
fn m_is_loud(x: &[f64], blk: usize, freq: f64) -> bool {
    let seg = &x[blk * 480..(blk + 1) * 480];
    let w = 2.0 * std::f64::consts::PI * freq / 48_000.0;
    let (mut re, mut im) = (0.0, 0.0);
    for (i, s) in seg.iter().enumerate() {
        re += s * (w * i as f64).cos();
        im += s * (w * i as f64).sin();
    }
    db(2.0 * (re * re + im * im).sqrt() / 480.0) > -40.0
}

#[test]
fn limiter_keeps_four_full_scale_inputs_below_minus_1_dbfs() {
    // Default tuning (`Auto`: the 48 kHz inputs go through the cubic interpolator, which
    // passes full-scale white noise up to 24 kHz almost unfiltered, the worst case for
    // inter-sample peaks). The limiter's detector is true-peak (4x polyphase); the check
    // below measures independently with ideal 8x (FFT) interpolation, with no tolerance.
    let tuning = mixer::MixerTuning::default();
    assert_eq!(tuning.resample_quality, mixer::ResampleQuality::Auto);
    let mut m = Mixer::with_tuning(MixerConfig::default(), tuning).unwrap();
    let mut src = [
        Source::new("s1", 48_000, 2, 440.0, 1.0),
        Source::new("s2", 44_100, 2, 440.0, 1.0),
    ];
    for s in &src {
        m.add_input(&s.id, s.format()).unwrap();
    }
    m.add_input(
        "n1",
        InputFormat {
            sample_rate: 48_000,
            channels: 2,
        },
    )
    .unwrap();
    m.add_input(
        "n2",
        InputFormat {
            sample_rate: 48_000,
            channels: 1,
        },
    )
    .unwrap();
    let mut seed = 0x1234_5678u32;
    let mut noise = move |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    };
    let mut buf = Vec::new();
    let out = run(&mut m, 500, |b, m| {
        feed_all(b, m, &mut src, &mut buf);
        if b.is_multiple_of(2) {
            m.push("n1", &noise(1920)).unwrap();
            m.push("n2", &noise(960)).unwrap();
        }
    });
    let ceiling = f64::from(db_to_lin(-1.0));
    let peak = out.iter().fold(0.0f64, |p, s| p.max(f64::from(s.abs())));
    let (l, r) = (channel(&out, 2, 0), channel(&out, 2, 1));
    let tp4 = true_peak_4x(&l[4800..]).max(true_peak_4x(&r[4800..]));
    let tp8 = true_peak_os(&l[4800..], 8).max(true_peak_os(&r[4800..], 8));
    println!(
        "sample peak {:.3} dBFS, true peak {:.3} dBTP (8x), {:.3} dBTP (4x), GR {:.1} dB",
        db(peak),
        db(tp8),
        db(tp4),
        m.limiter_gain_reduction_db()
    );
    assert!(peak <= ceiling, "sample peak {} dBFS", db(peak));
    assert!(peak > 0.8, "limiter should not over-attenuate: {peak}");
    assert!(db(tp8) <= -1.0, "true peak {} dBTP (8x)", db(tp8));
}
