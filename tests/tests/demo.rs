//! End-to-end tests of `compositor demo`, the README's one-command showcase: they run the real
//! binary (see `e2e_tests::compositor_bin` for how it is found and kept up to date) and read
//! every file it writes back with `ffprobe`, `ffmpeg` and the `image` crate.
//!
//! - `demo_writes_playable_mp4`: the default 40 s run gives a playable MP4, FLV and HLS
//!   (H.264 and AAC, right size, rate and length), a real PNG snapshot per phase of the
//!   battle, and frames whose content is the PK battle (red host left, blue host right).
//! - `demo_options_are_honoured`: `--duration`, `--size` and `--fps` reach the output file.
//! - `bad_arguments_fail_cleanly`: invalid flags exit non-zero quickly with a one-line
//!   `error:` naming the problem, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use e2e_tests::{
    TempOut, count_decoded_frames, decode_frame_rgb, ffprobe_json, format_duration, json_f64,
    mean_rgb, run_compositor, streams_of,
};

/// Generous: the default demo takes about 50 s in release on a 2-core machine without a GPU.
const DEMO_LIMIT: Duration = Duration::from_secs(600);

fn reddish([r, g, b]: [f64; 3]) -> bool {
    r > g + 50.0 && r > b + 50.0
}

fn bluish([r, g, b]: [f64; 3]) -> bool {
    b > r + 50.0 && b > g + 40.0
}

/// Asserts the one video stream is H.264 `w`x`h` at `rate` and returns the probe.
fn assert_video(probe: &serde_json::Value, what: &str, w: u64, h: u64, rate: &str) {
    let video = streams_of(probe, "video");
    assert_eq!(video.len(), 1, "{what}: want one video stream: {probe:#}");
    let v = video[0];
    assert_eq!(v["codec_name"], "h264", "{what}: video codec");
    assert_eq!(v["width"].as_u64(), Some(w), "{what}: width");
    assert_eq!(v["height"].as_u64(), Some(h), "{what}: height");
    assert_eq!(v["r_frame_rate"], rate, "{what}: r_frame_rate");
}

/// Asserts the one audio stream is AAC, 48 kHz stereo.
fn assert_audio(probe: &serde_json::Value, what: &str) {
    let audio = streams_of(probe, "audio");
    assert_eq!(audio.len(), 1, "{what}: want one audio stream: {probe:#}");
    let a = audio[0];
    assert_eq!(a["codec_name"], "aac", "{what}: audio codec");
    assert_eq!(json_f64(&a["sample_rate"]), Some(48_000.0), "{what}: rate");
    assert_eq!(a["channels"].as_u64(), Some(2), "{what}: channels");
}

/// Opens a snapshot PNG, checks its size and that it is a real picture (not a flat fill), and
/// returns it as RGB.
fn check_snapshot(path: &Path) -> image::RgbImage {
    assert!(path.is_file(), "missing snapshot {}", path.display());
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    assert_eq!(img.dimensions(), (1280, 720), "{}", path.display());
    // Flat fills have a handful of colours and no spread; the demo's striped gradients have
    // hundreds of colours and a wide spread of brightness.
    let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    let luma: Vec<f64> = img
        .pixels()
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect();
    let mean = luma.iter().sum::<f64>() / luma.len() as f64;
    let sd = (luma.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / luma.len() as f64).sqrt();
    eprintln!(
        "{}: {} colours, luma std-dev {sd:.1}",
        path.display(),
        colours.len()
    );
    assert!(
        colours.len() > 200 && sd > 20.0,
        "{}: {} distinct colours, luma std-dev {sd:.1}; looks blank",
        path.display(),
        colours.len()
    );
    img
}

#[test]
fn demo_writes_playable_mp4() {
    let out = TempOut::new("demo-default");
    let out_arg = out.path().to_str().unwrap();
    // The README's command, with every default: 40 s, 1280x720, 30 fps, encoder auto.
    let run = run_compositor(&["demo", "--out", out_arg], DEMO_LIMIT);
    eprintln!("demo (defaults) took {:.1} s", run.elapsed.as_secs_f64());
    assert!(
        run.status.success(),
        "demo failed ({}):\n{}",
        run.status,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);

    let mp4 = out.join("demo.mp4");
    let flv = out.join("demo.flv");

    // stdout names the written files, the MP4 first among them.
    let mp4_abs = mp4.canonicalize().unwrap();
    assert!(
        run.stdout.lines().any(|l| Path::new(l.trim()) == mp4_abs),
        "stdout does not list {}:\n{}",
        mp4_abs.display(),
        run.stdout
    );

    // MP4: H.264 1280x720 @ 30/1 + AAC 48 kHz stereo, 40 ± 0.5 s, 1200 ± 2 decodable frames.
    let probe = ffprobe_json(&mp4);
    assert_video(&probe, "mp4", 1280, 720, "30/1");
    assert_audio(&probe, "mp4");
    let streams = probe["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2, "mp4: want exactly video + audio");
    let dur = format_duration(&probe);
    assert!(
        (dur - 40.0).abs() <= 0.5,
        "mp4 duration {dur} s, want 40 ± 0.5"
    );
    let frames = count_decoded_frames(&mp4);
    assert!(
        frames.abs_diff(1200) <= 2,
        "mp4 decodes to {frames} frames, want 1200 ± 2"
    );

    // FLV: the same streams (flvmux may add a metadata stream; it is not checked).
    let probe = ffprobe_json(&flv);
    assert_video(&probe, "flv", 1280, 720, "30/1");
    assert_audio(&probe, "flv");
    let dur = format_duration(&probe);
    assert!(
        (dur - 40.0).abs() <= 0.5,
        "flv duration {dur} s, want 40 ± 0.5"
    );
    // HLS: a playlist of segments that ffprobe reads as the same streams.
    let playlist = out.join("hls").join("playlist.m3u8");
    let text = std::fs::read_to_string(&playlist).unwrap();
    assert!(text.matches(".ts").count() >= 10, "{text}");
    let probe = ffprobe_json(&playlist);
    assert_video(&probe, "hls", 1280, 720, "30/1");

    // Snapshots: real pictures of each phase of the battle.
    for name in ["intro", "last-seconds", "result", "punishment"] {
        check_snapshot(&out.join(format!("snapshot-{name}.png")));
    }
    let cohost = check_snapshot(&out.join("snapshot-cohost.png"));
    let pk = check_snapshot(&out.join("snapshot-battle.png"));
    let after = check_snapshot(&out.join("snapshot-after.png"));
    let (w, _) = pk.dimensions();
    // PK: host A (red) on the left, host B (blue) on the right, below the score bar.
    let left = mean_rgb(pk.as_raw(), w, (40, 600), (100, 700));
    let right = mean_rgb(pk.as_raw(), w, (680, 1240), (100, 700));
    assert!(reddish(left), "pk snapshot left half {left:?} is not red");
    assert!(
        bluish(right),
        "pk snapshot right half {right:?} is not blue"
    );
    // Co-hosting before and after: two 16:9 tiles side by side, centred vertically.
    for (img, what) in [(&cohost, "cohost"), (&after, "after")] {
        let left = mean_rgb(img.as_raw(), w, (40, 600), (250, 450));
        let right = mean_rgb(img.as_raw(), w, (680, 1240), (250, 450));
        assert!(
            reddish(left),
            "{what} snapshot left tile {left:?} is not red"
        );
        assert!(
            bluish(right),
            "{what} snapshot right tile {right:?} is not blue"
        );
    }

    // The encoded video itself (not only the snapshots) shows the PK battle at t = 12 s.
    let rgb = decode_frame_rgb(&mp4, 12.0);
    assert_eq!(rgb.len(), 1280 * 720 * 3, "decoded frame size");
    let left = mean_rgb(&rgb, 1280, (0, 640), (80, 720));
    let right = mean_rgb(&rgb, 1280, (640, 1280), (80, 720));
    assert!(
        reddish(left),
        "mp4 frame at 12 s: left half {left:?} is not red"
    );
    assert!(
        bluish(right),
        "mp4 frame at 12 s: right half {right:?} is not blue"
    );
}

#[test]
fn demo_options_are_honoured() {
    let out = TempOut::new("demo-options");
    let run = run_compositor(
        &[
            "demo",
            "--out",
            out.path().to_str().unwrap(),
            "--duration",
            "20",
            "--size",
            "640x360",
            "--fps",
            "25",
        ],
        DEMO_LIMIT,
    );
    eprintln!(
        "demo (20 s, 640x360, 25 fps) took {:.1} s",
        run.elapsed.as_secs_f64()
    );
    assert!(
        run.status.success(),
        "demo failed ({}):\n{}",
        run.status,
        run.stderr
    );
    let mp4 = out.join("demo.mp4");
    let probe = ffprobe_json(&mp4);
    assert_video(&probe, "mp4", 640, 360, "25/1");
    assert_audio(&probe, "mp4");
    let dur = format_duration(&probe);
    assert!(
        (dur - 20.0).abs() <= 0.2,
        "mp4 duration {dur} s, want 20 ± 0.2"
    );
    let frames = count_decoded_frames(&mp4);
    assert!(
        frames.abs_diff(500) <= 2,
        "mp4 decodes to {frames} frames, want 500 ± 2"
    );
    for png in [
        "snapshot-cohost.png",
        "snapshot-intro.png",
        "snapshot-battle.png",
        "snapshot-last-seconds.png",
        "snapshot-result.png",
        "snapshot-punishment.png",
        "snapshot-after.png",
    ] {
        let (w, h) = image::image_dimensions(out.join(png)).unwrap();
        assert_eq!((w, h), (640, 360), "{png}");
    }
}

#[test]
fn bad_arguments_fail_cleanly() {
    let out = TempOut::new("demo-bad-args");
    let dir = out.path().to_str().unwrap();
    // (extra arguments, text the error line must contain)
    let cases: [(&[&str], &str); 5] = [
        (&["--out", dir, "--size", "641x360"], "641x360"),
        (&["--out", dir, "--duration", "0.5"], "--duration"),
        (&["--out", dir, "--fps", "0"], "fps"),
        (&["--out", dir, "--encoder", "bogus"], "bogus"),
        (&["--out", "/proc/forbidden-dir"], "/proc/forbidden-dir"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["demo"];
        args.extend_from_slice(extra);
        let run = run_compositor(&args, Duration::from_secs(60));
        let what = format!("compositor {}", args.join(" "));
        assert!(
            !run.status.success(),
            "{what}: exited successfully:\n{}",
            run.stderr
        );
        assert!(
            run.elapsed < Duration::from_secs(15),
            "{what}: took {:?} to fail",
            run.elapsed
        );
        assert!(
            !run.stderr.contains("panicked"),
            "{what}: panicked:\n{}",
            run.stderr
        );
        // The last thing on stderr is one `error: …` line that names the problem. (Graphics
        // drivers may print their own lines before it.)
        let last = run
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        assert!(
            last.starts_with("error: ") && last.contains(needle),
            "{what}: last stderr line {last:?} is not an `error:` naming {needle:?}; stderr:\n{}",
            run.stderr
        );
    }
}
