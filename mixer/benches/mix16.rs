//! Mixes 16 stereo inputs (8 at 44.1 kHz, 8 at 48 kHz, drift compensation on, ±50..200 ppm
//! clocks, 20 ms packets) for 60 simulated seconds and prints the cost per 10 ms block and
//! the share of one core in real time, for each resampler quality.
//!
//! Run: `cargo bench -p mixer --bench mix16`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use mixer::{InputFormat, Mixer, MixerConfig, MixerTuning, ResampleQuality};

fn bench(quality: ResampleQuality) {
    let tuning = MixerTuning {
        resample_quality: quality,
        ..MixerTuning::default()
    };
    let mut m = Mixer::with_tuning(MixerConfig::default(), tuning).unwrap();
    let rates: Vec<u32> = (0..16)
        .map(|i| if i < 8 { 44_100 } else { 48_000 })
        .collect();
    let mut owed = [0.0f64; 16];
    let mut phase = [0u64; 16];
    for (i, &r) in rates.iter().enumerate() {
        m.add_input(
            &format!("in{i}"),
            InputFormat {
                sample_rate: r,
                channels: 2,
            },
        )
        .unwrap();
    }
    let ids: Vec<String> = (0..16).map(|i| format!("in{i}")).collect();
    // Pre-generate one second of stereo tone per rate; packets are slices of it.
    let tone = |rate: u32| -> Vec<f32> {
        (0..rate as usize * 2 * 2)
            .map(|i| {
                (0.1 * (2.0 * std::f64::consts::PI * 440.0 * (i / 2) as f64 / f64::from(rate))
                    .sin()) as f32
            })
            .collect()
    };
    let (t441, t48) = (tone(44_100), tone(48_000));
    let blocks: usize = 6000; // 60 s
    let mut out = vec![0.0f32; m.block_frames() * 2];
    let mut mix_time = Duration::ZERO;
    let mut worst = Duration::ZERO;
    let total = Instant::now();
    for b in 0..blocks {
        if b.is_multiple_of(2) {
            for i in 0..16 {
                let rate = rates[i];
                let ppm = 50.0 + 10.0 * i as f64 * if i % 2 == 0 { 1.0 } else { -1.0 };
                owed[i] += f64::from(rate) * 0.02 * (1.0 + ppm * 1e-6);
                let frames = owed[i].floor() as usize;
                owed[i] -= frames as f64;
                let src = if rate == 44_100 { &t441 } else { &t48 };
                let start = (phase[i] as usize % rate as usize) * 2;
                phase[i] += frames as u64;
                m.push(&ids[i], &src[start..start + frames * 2]).unwrap();
            }
        }
        let t = Instant::now();
        m.mix_block(&mut out);
        let dt = t.elapsed();
        mix_time += dt;
        worst = worst.max(dt);
    }
    let wall = total.elapsed();
    let per_block = mix_time.as_secs_f64() / blocks as f64;
    let stats = m.stats();
    let underruns: u64 = stats.iter().map(|s| s.underruns).sum();
    println!(
        "{quality:?}: 16 stereo inputs, {blocks} blocks: mix_block {:.1} us/block avg, worst {:.1} us, \
         {:.2} % of one core (push+mix incl. {:.2} %), underruns {underruns}",
        per_block * 1e6,
        worst.as_secs_f64() * 1e6,
        per_block / 0.01 * 100.0,
        wall.as_secs_f64() / (blocks as f64 * 0.01) * 100.0,
    );
}

fn main() {
    let only = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    for q in [
        ResampleQuality::Auto,
        ResampleQuality::Balanced,
        ResampleQuality::Fast,
        ResampleQuality::High,
        ResampleQuality::Polyphase,
    ] {
        if only.as_deref().is_some_and(|o| o != format!("{q:?}")) {
            continue;
        }
        bench(q);
    }
}
