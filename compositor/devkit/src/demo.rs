//! `compositor demo`: a whole PK battle of two synthetic hosts ("小美🌸" vs "Anna ✨"):
//! co-hosting, the 3-2-1, gifts swinging the score bar, the last ten seconds, WIN / LOSE, the
//! punishment, co-hosting again — composed (GPU or CPU), mixed, encoded to MP4, FLV and HLS,
//! with a PNG snapshot per phase. Runs in offline clock mode: same timestamps as real time, as fast as the
//! machine allows, with progress on stderr.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use layouts::{Background, BarPosition, Layout, Rgba, Scene, ScoreBar, Size, Style};

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
            duration: Duration::from_secs(40),
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

/// The PK scene: two hosts side by side under a score-bar band (the PK overlay draws the
/// bar, scores and countdown into it while a match runs).
pub fn pk_scene(_size: Size) -> Scene {
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
        overlays: vec![],
        name_tags: None,
    }
}

/// Co-hosting before and after the match: the two hosts side by side in a grid with their
/// name tags.
pub fn cohost_scene() -> Scene {
    Scene {
        layout: Layout::Grid {
            inputs: vec!["host-a".into(), "host-b".into()],
            tile_aspect: (16, 9),
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
        overlays: vec![],
        name_tags: None,
    }
}

/// The demo's match on the output clock, scaled to the run's length `d` (≥ 20 s): co-hosting
/// until 5 %, a 3 s intro, the battle to 62.5 %, the result for 10 %, the punishment for
/// 20 %, then co-hosting again.
pub struct DemoTimeline {
    /// StartPk is applied here.
    pub start: Duration,
    /// The 3-2-1.
    pub intro: Duration,
    /// Battle length.
    pub battle: Duration,
    /// WIN / LOSE.
    pub result: Duration,
    /// Punishment.
    pub punishment: Duration,
}

impl DemoTimeline {
    /// The timeline for a run of `d`.
    pub fn new(d: Duration) -> Self {
        let f = |x: f64| Duration::from_millis((d.as_secs_f64() * x * 1000.0) as u64);
        let start = f(0.05);
        let intro = Duration::from_secs(3);
        let battle = f(0.625).saturating_sub(start + intro);
        Self {
            start,
            intro,
            battle,
            result: f(0.1),
            punishment: f(0.2),
        }
    }
    /// When the battle starts.
    pub fn battle_at(&self) -> Duration {
        self.start + self.intro
    }
    /// When the result shows.
    pub fn result_at(&self) -> Duration {
        self.battle_at() + self.battle
    }
    /// When the punishment starts.
    pub fn punishment_at(&self) -> Duration {
        self.result_at() + self.result
    }
    /// When the match is over.
    pub fn idle_at(&self) -> Duration {
        self.punishment_at() + self.punishment
    }
}

/// The scheduled commands of the demo's battle (labels, start, gifts, supporters).
pub fn battle_commands(t: &DemoTimeline) -> Vec<(Duration, Command)> {
    use layouts::pk::{PkSpec, PkTeam, ScoreChange, Supporter};
    let team = |h: &str| PkTeam {
        hosts: vec![h.to_owned()],
        color: None,
    };
    let mut cmds = vec![
        (
            Duration::ZERO,
            Command::SetLabel {
                id: "host-a".into(),
                label: "小美🌸".into(),
            },
        ),
        (
            Duration::ZERO,
            Command::SetLabel {
                id: "host-b".into(),
                label: "Anna ✨".into(),
            },
        ),
        (
            t.start,
            Command::StartPk {
                spec: PkSpec {
                    teams: [team("host-a"), team("host-b")],
                    intro_ms: t.intro.as_millis() as u32,
                    battle_ms: t.battle.as_millis() as u32,
                    result_ms: t.result.as_millis() as u32,
                    punishment_ms: t.punishment.as_millis() as u32,
                    punishment_text: Some("惩罚: 学猫叫".into()),
                    round: None,
                },
                theme: None,
            },
        ),
        (
            t.battle_at() + Duration::from_millis(500),
            Command::SetPkSupporters {
                team: 0,
                supporters: vec![
                    Supporter {
                        name: "小王".into(),
                        avatar: None,
                    },
                    Supporter {
                        name: "阿杰".into(),
                        avatar: None,
                    },
                ],
            },
        ),
        (
            t.battle_at() + Duration::from_millis(500),
            Command::SetPkSupporters {
                team: 1,
                supporters: vec![Supporter {
                    name: "Leo".into(),
                    avatar: None,
                }],
            },
        ),
    ];
    // Gifts through the battle: B leads early, A wins at the end.
    let gifts: [(f64, &str, i64); 7] = [
        (0.1, "host-b", 520),
        (0.25, "host-a", 300),
        (0.4, "host-a", 1314),
        (0.55, "host-b", 999),
        (0.7, "host-b", 666),
        (0.85, "host-a", 1888),
        (0.95, "host-b", 188),
    ];
    for (i, (f, host, points)) in gifts.into_iter().enumerate() {
        cmds.push((
            t.battle_at() + Duration::from_secs_f64(t.battle.as_secs_f64() * f),
            Command::UpdatePkScore {
                host: host.into(),
                change: ScoreChange::Add(points),
                key: Some(format!("gift-{i}")),
            },
        ));
    }
    cmds
}

/// Runs the demo, printing progress to stderr.
pub fn run(opts: &DemoOptions) -> Result<DemoResult> {
    if opts.duration < Duration::from_secs(20) {
        bail!("demo duration must be at least 20 s (a whole PK battle is shown)");
    }
    // Check size and rate before anything is set up (GPU, encoder, files), so a bad option
    // gets its own message and leaves nothing behind.
    {
        let mut probe = SessionConfig::new(cohost_scene());
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
    let timeline = DemoTimeline::new(opts.duration);
    let mid = |a: Duration, b: Duration| a + (b - a) / 2;
    let snaps = vec![
        (timeline.start / 2, out_dir.join("snapshot-cohost.png")),
        (
            timeline.start + Duration::from_millis(1200),
            out_dir.join("snapshot-intro.png"),
        ),
        (
            timeline.battle_at() + timeline.battle * 9 / 20,
            out_dir.join("snapshot-battle.png"),
        ),
        (
            timeline
                .result_at()
                .saturating_sub(Duration::from_millis(4200)),
            out_dir.join("snapshot-last-seconds.png"),
        ),
        (
            timeline.result_at() + Duration::from_millis(1000),
            out_dir.join("snapshot-result.png"),
        ),
        (
            mid(timeline.punishment_at(), timeline.idle_at()),
            out_dir.join("snapshot-punishment.png"),
        ),
        (
            mid(timeline.idle_at(), opts.duration),
            out_dir.join("snapshot-after.png"),
        ),
    ];
    let hls = out_dir.join("hls");
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
            hls: Some(hls.clone()),
        },
        false,
    )?;
    eprintln!("demo: encoding H.264 with {} + AAC", encoder.encoder_name());
    let sink = SnapshotTap::new(Box::new(encoder), snaps.clone(), fmt.matrix);

    let mut config = SessionConfig::new(cohost_scene());
    config.canvas = opts.size;
    config.fps = opts.fps;
    config.clock = ClockMode::Offline;
    config.duration = Some(opts.duration);
    config.initial_inputs = vec!["host-a".into(), "host-b".into()];
    // Labels at t = 0, then the match: StartPk switches to the PK layout and back.
    config.scheduled = battle_commands(&timeline);

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
    println!("{}", hls.join("playlist.m3u8").display());
    for s in &snapshots {
        println!("{}", s.display());
    }
    Ok(DemoResult {
        mp4,
        flv,
        snapshots,
    })
}
