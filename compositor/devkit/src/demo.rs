//! `compositor demo`: a PK battle of two synthetic hosts, composed on the GPU, mixed, encoded
//! to MP4 (and FLV), switching to picture-in-picture halfway with an animated transition, with
//! PNG snapshots. Runs in offline clock mode: same timestamps as real time, as fast as the
//! machine allows, with progress on stderr.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use layouts::{
    Background, BarPosition, Corner, Easing, Layout, Overlay, Rect, Rgba, Scene, ScoreBar, Size,
    Style, Transition,
};

use crate::synthetic::SyntheticHost;
use compositor_core::frame::ColorMatrix;
use compositor_core::session::{ClockMode, Command, Fps, SessionConfig};
use compositor_media::output::{
    EncoderSettings, GstEncoder, OutputFiles, SnapshotTap, StreamFormat,
};
use compositor_render::Gpus;

/// Demo options (CLI flags).
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Output folder.
    pub out_dir: PathBuf,
    /// Length.
    pub duration: Duration,
    /// Canvas.
    pub size: Size,
    /// Frame rate.
    pub fps: Fps,
    /// Encoder settings.
    pub encoder: EncoderSettings,
    /// Where the compositor comes from (adapter choice, compose override).
    pub gpus: Gpus,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            out_dir: PathBuf::from("demo-out"),
            duration: Duration::from_secs(20),
            size: Size::new(1280, 720),
            fps: Fps::new(30, 1),
            encoder: EncoderSettings::default(),
            gpus: Gpus::default(),
        }
    }
}

/// Files the demo wrote.
#[derive(Debug, Clone)]
pub struct DemoResult {
    /// The MP4.
    pub mp4: PathBuf,
    /// The FLV.
    pub flv: PathBuf,
    /// Snapshots.
    pub snapshots: Vec<PathBuf>,
}

/// The PK scene: two hosts side by side, a score-bar band on top with a bar image in it.
pub fn pk_scene(size: Size) -> Scene {
    let bar_h = ((size.h as f32 * 0.08) as u32 / 2 * 2).max(2);
    Scene {
        layout: Layout::Pk {
            left: "host-a".into(),
            right: "host-b".into(),
            score_bar: ScoreBar {
                position: BarPosition::Top,
                height_frac: 0.08,
            },
            left_partner: None,
            right_partner: None,
            tile_aspect: None,
        },
        style: Style {
            gap: 8,
            corner_radius: 16,
            border: None,
            ..Style::default()
        },
        background: Background::Color {
            color: Rgba::new(18, 18, 28, 255),
        },
        overlays: vec![Overlay {
            image: "score-bar".into(),
            rect: Rect::new(0, 0, size.w, bar_h),
            opacity: 1.0,
            z: 100,
            fit: layouts::Fit::Stretch,
        }],
    }
}

/// The second half: host A full frame, host B inset bottom-right.
pub fn pip_scene() -> Scene {
    Scene {
        layout: Layout::Pip {
            main: "host-a".into(),
            insets: vec!["host-b".into()],
            corner: Corner::BottomRight,
            size_frac: 0.3,
            margin: 32,
        },
        style: Style {
            gap: 0,
            corner_radius: 20,
            border: Some(layouts::Border {
                width: 4,
                color: Rgba::new(255, 255, 255, 255),
            }),
            ..Style::default()
        },
        background: Background::Color {
            color: Rgba::new(18, 18, 28, 255),
        },
        overlays: vec![],
        name_tags: None,
    }
}

/// A red-vs-blue score bar with a soft alpha edge (stands in for the PK widget to come).
pub fn score_bar_image(w: u32, h: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w.max(2), h.max(2), |x, y| {
        let split = w * 55 / 100; // red leads 55:45
        let edge = (x as i64 - split as i64).unsigned_abs() as u32;
        let base = if x < split {
            [230, 40, 70]
        } else {
            [40, 110, 240]
        };
        let shade = 180 + (75 * y / h.max(1)) as u8 / 3;
        let a = if edge < 3 { 255 } else { 235 };
        let k = |c: u8| ((u32::from(c) * u32::from(shade)) / 255) as u8;
        if edge < 3 {
            image::Rgba([255, 255, 255, a])
        } else {
            image::Rgba([k(base[0]), k(base[1]), k(base[2]), a])
        }
    })
}

/// Runs the demo, printing progress to stderr.
pub fn run(opts: &DemoOptions) -> Result<DemoResult> {
    if opts.duration < Duration::from_secs(2) {
        bail!("demo duration must be at least 2 s");
    }
    // Check size and rate before anything is set up (GPU, encoder, files), so a bad option
    // gets its own message and leaves nothing behind.
    {
        let mut probe = SessionConfig::new(pip_scene());
        probe.canvas = opts.size;
        probe.fps = opts.fps;
        probe.clock = ClockMode::Offline;
        probe.duration = Some(opts.duration);
        probe.initial_inputs = vec!["host-a".into(), "host-b".into()];
        probe
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid demo options: {e}"))?;
    }
    std::fs::create_dir_all(&opts.out_dir)
        .with_context(|| format!("cannot create {}", opts.out_dir.display()))?;
    let out_dir = opts
        .out_dir
        .canonicalize()
        .unwrap_or_else(|_| opts.out_dir.clone());
    eprintln!("demo: writing into {}", out_dir.display());
    let gpu = opts.gpus.context().context("no graphics adapter")?;
    eprintln!(
        "demo: rendering on {} ({})",
        gpu.info.name,
        if gpu.is_software() {
            "software"
        } else {
            "hardware"
        }
    );

    let mp4 = out_dir.join("demo.mp4");
    let flv = out_dir.join("demo.flv");
    let half = opts.duration / 2;
    let transition = Duration::from_millis(1000);
    let snaps = vec![
        (half / 2, out_dir.join("snapshot-pk.png")),
        (
            half + transition / 2,
            out_dir.join("snapshot-transition.png"),
        ),
        (
            half + transition + (opts.duration - half - transition) / 2,
            out_dir.join("snapshot-pip.png"),
        ),
    ];
    let fmt = StreamFormat {
        width: opts.size.w,
        height: opts.size.h,
        fps_num: opts.fps.num,
        fps_den: opts.fps.den,
        matrix: ColorMatrix::for_height(opts.size.h),
        sample_rate: 48_000,
        channels: 2,
    };
    let mut enc_settings = opts.encoder.clone();
    enc_settings.keyframe_interval = (opts.fps.as_f64() * 2.0).round().max(1.0) as u32;
    let encoder = GstEncoder::new(
        fmt,
        &enc_settings,
        &OutputFiles {
            mp4: Some(mp4.clone()),
            flv: Some(flv.clone()),
        },
        false,
    )?;
    eprintln!("demo: encoding H.264 with {} + AAC", encoder.encoder_name());
    let sink = SnapshotTap::new(Box::new(encoder), snaps.clone(), fmt.matrix);

    let scene = pk_scene(opts.size);
    let bar = match &scene.overlays[..] {
        [o] => score_bar_image(o.rect.w, o.rect.h),
        _ => score_bar_image(opts.size.w, 40),
    };
    let mut config = SessionConfig::new(scene);
    config.canvas = opts.size;
    config.fps = opts.fps;
    config.clock = ClockMode::Offline;
    config.duration = Some(opts.duration);
    config.initial_inputs = vec!["host-a".into(), "host-b".into()];
    // The score bar image must exist before the first frame: register it at t = 0, then
    // switch the scene to PiP halfway with a 1 s ease-in-out transition.
    config.scene = Scene {
        overlays: vec![],
        ..config.scene.clone()
    };
    config.scheduled = vec![
        (
            Duration::ZERO,
            Command::RegisterImage {
                id: "score-bar".into(),
                image: Arc::new(bar),
            },
        ),
        (
            Duration::ZERO,
            Command::SetScene {
                scene: pk_scene(opts.size),
                transition: None,
            },
        ),
        (
            half,
            Command::SetScene {
                scene: pip_scene(),
                transition: Some(Transition {
                    duration_ms: 1000,
                    easing: Easing::EaseInOut,
                }),
            },
        ),
    ];

    let mut session = compositor_render::start_session(config, opts.gpus.clone(), Box::new(sink))?;
    let handle = session.handle();
    let hosts = [
        (
            "host-a",
            SyntheticHost {
                width: 1280,
                height: 720,
                ..SyntheticHost::new((230, 60, 80), 440.0)
            },
        ),
        (
            "host-b",
            SyntheticHost {
                width: 1280,
                height: 720,
                ..SyntheticHost::new((60, 120, 240), 660.0)
            },
        ),
    ];
    let mut feeders = Vec::new();
    for sender in session.take_inputs() {
        let Some((_, host)) = hosts.iter().find(|(id, _)| *id == sender.id()) else {
            continue;
        };
        let host = SyntheticHost {
            fps: opts.fps,
            ..host.clone()
        };
        let duration = opts.duration + Duration::from_millis(100);
        feeders.push(std::thread::spawn(move || {
            host.run(&sender, duration, false)
        }));
    }
    let started = Instant::now();
    let total = opts.duration.as_secs_f64();
    let mut last_print = Instant::now() - Duration::from_secs(10);
    while !handle.stats().ended {
        std::thread::sleep(Duration::from_millis(100));
        if last_print.elapsed() >= Duration::from_millis(1000) {
            last_print = Instant::now();
            let s = handle.stats();
            let done = s.media_time.as_secs_f64();
            let speed = done / started.elapsed().as_secs_f64().max(1e-6);
            eprintln!(
                "demo: {:5.1} / {:.1} s ({:3.0} %), {:.1}x real time, render {:.1} ms/frame",
                done,
                total,
                100.0 * done / total,
                speed,
                s.render_ms_mean
            );
        }
    }
    let report = session.join()?;
    for f in feeders {
        let _ = f.join();
    }
    let snapshots: Vec<PathBuf> = snaps
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p.exists())
        .collect();
    eprintln!(
        "demo: done in {:.1} s: {} frames, {} audio blocks",
        report.wall.as_secs_f64(),
        report.frames,
        report.audio_blocks
    );
    println!("{}", mp4.display());
    println!("{}", flv.display());
    for s in &snapshots {
        println!("{}", s.display());
    }
    Ok(DemoResult {
        mp4,
        flv,
        snapshots,
    })
}
