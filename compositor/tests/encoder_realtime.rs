//! A real-time session (wall clock, paced source) through the GStreamer encoder writes an MP4
//! and an FLV that read back with the right codecs, size, constant frame timing (but for the
//! phase lock's one step) and duration; a bad output path is a clear error, not a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command as Proc;
use std::time::Duration;

use compositor_core::frame::ColorMatrix;
use compositor_core::session::{ClockMode, SessionConfig};
use compositor_devkit::synthetic::SyntheticHost;
use compositor_media::output::{
    EncoderSettings, GstEncoder, OutputError, OutputFiles, StreamFormat,
};
use compositor_render::gpu::{AdapterChoice, GpuContext};
use layouts::{Layout, Scene, Size};

fn format() -> StreamFormat {
    StreamFormat {
        width: 640,
        height: 360,
        fps_num: 30,
        fps_den: 1,
        matrix: ColorMatrix::Bt601,
        sample_rate: 48_000,
        channels: 2,
    }
}

fn probe(path: &std::path::Path, entries: &str) -> String {
    let out = Proc::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            entries,
            "-of",
            "default=nw=1",
            path.to_str().unwrap(),
        ])
        .output()
        .expect("ffprobe runs (scripts/setup.sh installs ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Presentation times (s) of the video packets, in order.
fn probe_video_packets(path: &std::path::Path) -> Vec<f64> {
    let out = Proc::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ])
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success());
    let mut pts: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    pts.sort_by(f64::total_cmp);
    pts
}

#[test]
fn realtime_session_writes_mp4_and_flv() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("encoder_realtime");
    std::fs::create_dir_all(&dir).unwrap();
    let (mp4, flv) = (dir.join("live.mp4"), dir.join("live.flv"));
    let settings = EncoderSettings {
        video_kbps: 1500,
        keyframe_interval: 30,
        ..EncoderSettings::default()
    };
    let enc = GstEncoder::new(
        format(),
        &settings,
        &OutputFiles {
            mp4: Some(mp4.clone()),
            flv: Some(flv.clone()),
            hls: None,
        },
        true,
    )
    .unwrap();
    let scene = Scene {
        layout: Layout::Grid {
            inputs: vec!["a".into()],
            tile_aspect: (16, 9),
        },
        style: Default::default(),
        background: Default::default(),
        overlays: vec![],
        name_tags: None,
    };
    let mut cfg = SessionConfig::new(scene);
    cfg.canvas = Size::new(640, 360);
    cfg.clock = ClockMode::RealTime;
    cfg.duration = Some(Duration::from_secs(2));
    cfg.initial_inputs = vec!["a".into()];
    let gpu = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let mut session = compositor_render::start_session(cfg, gpu, Box::new(enc)).unwrap();
    let sender = session.take_inputs().pop().unwrap();
    let host = SyntheticHost {
        width: 640,
        height: 360,
        ..SyntheticHost::new((60, 120, 240), 440.0)
    };
    let feeder = std::thread::spawn(move || host.run(&sender, Duration::from_millis(2300), true));
    let report = session.join().unwrap();
    feeder.join().unwrap();
    assert!(report.frames >= 50, "{report:?}");
    assert_eq!(
        report.sink.video_frames + report.sink.video_dropped,
        report.frames
    );
    for path in [&mp4, &flv] {
        let streams = probe(path, "stream=codec_name,width,height");
        assert!(streams.contains("codec_name=h264"), "{streams}");
        assert!(streams.contains("codec_name=aac"), "{streams}");
        assert!(
            streams.contains("width=640") && streams.contains("height=360"),
            "{streams}"
        );
        // Constant frame timing: every frame lasts 1/30 s (to the container's 1 ms), except
        // one per step of the output phase lock (the host's frames are locked onto once,
        // when it joins) and two-frame gaps for ticks skipped under load. (ffprobe's
        // `r_frame_rate` is a guess from the first frames' durations: one irregular frame
        // among them makes it read 240/1, and ffmpeg then uses `avg_frame_rate`.)
        let pts: Vec<f64> = probe_video_packets(path);
        assert!(pts.len() >= 50, "{}: {} packets", path.display(), pts.len());
        let odd: Vec<f64> = pts
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| (d - 1.0 / 30.0).abs() > 0.0015)
            .collect();
        let allowed = report.grid_steps + report.late_ticks;
        assert!(
            odd.len() as u64 <= allowed && report.grid_steps <= 1,
            "{}: irregular frame durations {odd:?}, {report:?}",
            path.display()
        );
        let rate = probe(path, "stream=avg_frame_rate");
        let avg = rate
            .lines()
            .filter_map(|l| l.strip_prefix("avg_frame_rate="))
            .filter_map(|r| r.split_once('/'))
            .filter_map(|(n, d)| Some(n.parse::<f64>().ok()? / d.parse::<f64>().ok()?))
            .find(|r| r.is_finite() && *r > 0.0)
            .unwrap_or(0.0);
        assert!((avg - 30.0).abs() < 0.6, "{}: {rate}", path.display());
        let d: f64 = probe(path, "format=duration")
            .trim()
            .trim_start_matches("duration=")
            .parse()
            .unwrap();
        assert!((d - 2.0).abs() < 0.3, "{}: duration {d}", path.display());
    }
}

#[test]
fn unwritable_output_is_an_error_not_a_panic() {
    let files = OutputFiles {
        mp4: Some("/proc/no-such-dir/x.mp4".into()),
        flv: None,
        hls: None,
    };
    let res = GstEncoder::new(format(), &EncoderSettings::default(), &files, false);
    assert!(
        matches!(
            res,
            Err(OutputError::Setup(_)) | Err(OutputError::Pipeline { .. })
        ),
        "{res:?}"
    );
    let odd = StreamFormat {
        width: 641,
        ..format()
    };
    let res = GstEncoder::new(
        odd,
        &EncoderSettings::default(),
        &OutputFiles {
            mp4: Some("/tmp/x.mp4".into()),
            flv: None,
            hls: None,
        },
        false,
    );
    assert!(matches!(res, Err(OutputError::Setup(m)) if m.contains("641x360")));
}
