//! A PK match through a real session (offline clock, CPU compositor): phases land on their
//! scheduled output times, the score bar's split in the output frames matches the scores,
//! a retried gift counts once, name tags are drawn, text is rasterized only when it changes,
//! the layout goes back to co-hosting after the match, each frame carries its layout JSON,
//! and an OCR engine (tesseract) reads the countdown and a CJK name from the frames.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use compositor_core::frame::{ColorMatrix, I420Frame};
use compositor_core::render::ComposeChoice;
use compositor_core::session::{ClockMode, Command, SessionConfig, SessionEvent};
use compositor_core::sink::{OutputError, OutputSink, SinkStats};
use compositor_devkit::ocr::{bar_seam_x, ocr_line, white_ink};
use compositor_devkit::synthetic::SyntheticHost;
use compositor_render::gpu::{AdapterChoice, GpuContext};
use layouts::pk::{PkSpec, PkTeam, ScoreChange};
use layouts::{Layout, Scene, Size};

const W: u32 = 640;
const H: u32 = 360;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Keeps the frames at the times the test looks at (and every frame's metadata).
#[derive(Debug, Default)]
struct Keep {
    frames: Vec<(Duration, I420Frame)>,
    meta: Vec<(Duration, String)>,
}

#[derive(Debug)]
struct KeepSink {
    at: Vec<Duration>,
    out: Arc<Mutex<Keep>>,
    stats: SinkStats,
}

impl OutputSink for KeepSink {
    fn push_video(
        &mut self,
        f: &I420Frame,
        pts: Duration,
        _d: Duration,
    ) -> Result<(), OutputError> {
        let mut k = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if self.at.contains(&pts) {
            k.frames.push((pts, f.clone()));
        }
        k.meta
            .push((pts, String::from_utf8_lossy(f.meta()).into_owned()));
        self.stats.video_frames += 1;
        Ok(())
    }
    fn push_audio(&mut self, _s: &[f32], _pts: Duration) -> Result<(), OutputError> {
        Ok(())
    }
    fn finish(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn stats(&self) -> SinkStats {
        self.stats
    }
}

fn grid() -> Scene {
    Scene {
        layout: Layout::Grid {
            inputs: vec!["a".into(), "b".into()],
            tile_aspect: (16, 9),
        },
        style: Default::default(),
        background: Default::default(),
        overlays: vec![],
        name_tags: None,
    }
}

fn rgb(f: &I420Frame) -> image::RgbImage {
    image::RgbImage::from_raw(W, H, f.to_rgb(ColorMatrix::for_height(H))).unwrap()
}

#[test]
fn a_match_plays_on_the_output_clock_and_reads_back() {
    let team = |h: &str| PkTeam {
        hosts: vec![h.into()],
        color: None,
    };
    let mut cfg = SessionConfig::new(grid());
    cfg.canvas = Size::new(W, H);
    cfg.clock = ClockMode::Offline;
    cfg.compose = ComposeChoice::Cpu;
    cfg.duration = Some(ms(12_000));
    cfg.initial_inputs = vec!["a".into(), "b".into()];
    let gift = |at, host: &str, n, key: &str| {
        (
            ms(at),
            Command::UpdatePkScore {
                host: host.into(),
                change: ScoreChange::Add(n),
                key: Some(key.into()),
            },
        )
    };
    cfg.scheduled = vec![
        (
            ms(0),
            Command::SetLabel {
                id: "a".into(),
                label: "小美🌸".into(),
            },
        ),
        (
            ms(0),
            Command::SetLabel {
                id: "b".into(),
                label: "Anna ✨".into(),
            },
        ),
        (
            ms(1000),
            Command::StartPk {
                spec: PkSpec {
                    teams: [team("a"), team("b")],
                    intro_ms: 1000,
                    battle_ms: 5000,
                    result_ms: 2000,
                    punishment_ms: 2000,
                    punishment_text: None,
                    round: None,
                },
                theme: None,
            },
        ),
        gift(3000, "a", 300, "g1"),
        gift(3000, "b", 100, "g2"),
        // A retried gift: the same key counts once.
        gift(3500, "a", 300, "g1"),
    ];
    let look = [500, 1500, 5000, 6500, 8000, 10_000, 11_800]
        .map(ms)
        .to_vec();
    let out = Arc::new(Mutex::new(Keep::default()));
    let sink = KeepSink {
        at: look.clone(),
        out: out.clone(),
        stats: SinkStats::default(),
    };
    let gpu = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let mut session = compositor_render::start_session(cfg, gpu, Box::new(sink)).unwrap();
    let handle = session.handle();
    let mut feeders = Vec::new();
    for (i, sender) in session.take_inputs().into_iter().enumerate() {
        let tint = if i == 0 { (40, 160, 60) } else { (90, 90, 90) };
        let host = SyntheticHost {
            width: 320,
            height: 180,
            ..SyntheticHost::new(tint, 440.0)
        };
        feeders.push(std::thread::spawn(move || {
            host.run(&sender, ms(12_100), false)
        }));
    }
    let report = session.join().unwrap();
    for f in feeders {
        f.join().unwrap();
    }
    assert_eq!(report.frames, 360);

    // Phases at their exact output times; the winner; two gifts counted, not three.
    let events: Vec<SessionEvent> = handle.events_since(0).into_iter().map(|(_, e)| e).collect();
    let phases: Vec<(String, Duration, Option<String>)> = events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::PkPhaseChanged { phase, at, outcome } => {
                Some((phase.clone(), *at, outcome.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        phases,
        vec![
            ("intro".into(), ms(1000), None),
            ("battle".into(), ms(2000), None),
            ("result".into(), ms(7000), Some("left".into())),
            ("punishment".into(), ms(9000), None),
            ("idle".into(), ms(11_000), None),
        ]
    );
    let scores: Vec<[u64; 2]> = events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::PkScoreChanged { scores, .. } => Some(*scores),
            _ => None,
        })
        .collect();
    assert_eq!(scores, vec![[300, 0], [300, 100]]);

    // Text is rasterized when it changes, not per frame (360 frames).
    let stats = handle.stats();
    assert!(
        stats.text_rasters >= 8 && stats.text_rasters < 40,
        "text rasters: {}",
        stats.text_rasters
    );
    assert_eq!(stats.pk.phase, "idle");

    let kept = std::mem::take(&mut *out.lock().unwrap_or_else(|e| e.into_inner()));
    let frame = |t: u64| {
        rgb(&kept
            .frames
            .iter()
            .find(|(pts, _)| *pts == ms(t))
            .unwrap_or_else(|| panic!("no frame at {t} ms"))
            .1)
    };
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pk-session");
    std::fs::create_dir_all(&dir).unwrap();
    for (pts, f) in &kept.frames {
        rgb(f)
            .save(dir.join(format!("frame-{}.png", pts.as_millis())))
            .unwrap();
    }

    // Bar split = score share: 300 / 400 of the width (±1 %), on a row below the digits.
    let battle = frame(5000);
    let bar_h = 28; // round_even(0.08 × 360)
    let seam = bar_seam_x(&battle, bar_h - 3).expect("a seam in the bar");
    let expect = 0.75 * f64::from(W);
    assert!(
        (f64::from(seam) - expect).abs() <= 0.01 * f64::from(W),
        "seam at {seam}, expected {expect}"
    );
    let left = battle.get_pixel(40, bar_h - 3).0;
    let right = battle.get_pixel(W - 40, bar_h - 3).0;
    assert!(left[0] > 180 && left[2] < 140, "left team red: {left:?}");
    assert!(
        right[2] > 180 && right[0] < 100,
        "right team blue: {right:?}"
    );

    // Before and after the match: co-hosting grid, no bar.
    for t in [500, 11_800] {
        let img = frame(t);
        let p = img.get_pixel(40, 10).0;
        assert!(
            !(p[0] > 180 && p[2] < 140),
            "{t} ms: no PK bar expected: {p:?}"
        );
    }

    // Every frame carries its layout; in the battle with the scores.
    assert_eq!(kept.meta.len(), 360);
    let m = &kept.meta.iter().find(|(t, _)| *t == ms(5000)).unwrap().1;
    let v: serde_json::Value = serde_json::from_str(m).unwrap();
    assert_eq!(v["pk"]["phase"], "battle");
    assert_eq!(v["pk"]["scores"], serde_json::json!([300, 100]));
    assert_eq!(v["tiles"][0]["id"], "a");
    assert_eq!(v["tiles"][0]["label"], "小美🌸");
    assert!(m.len() < 1024);

    // OCR: the countdown at 5.0 s is 00:02 (2 s left); it sits centred under the bar.
    let pill = image::imageops::crop_imm(&battle, W / 2 - 60, bar_h, 120, 40).to_image();
    let read = ocr_line(&pill, "eng", &dir.join("countdown.png")).unwrap();
    assert!(read.contains("00:02"), "tesseract read {read:?}");
    // The CJK name on host a's tag (bottom left of its tile in the PK layout): white text,
    // binarized to black on white as OCR engines prefer.
    let mut tag = image::imageops::crop_imm(&battle, 16, H - 44, 150, 44).to_image();
    white_ink(&mut tag);
    let read = ocr_line(&tag, "chi_sim", &dir.join("name.png")).unwrap();
    assert!(read.contains("小美"), "tesseract read {read:?}");
}
