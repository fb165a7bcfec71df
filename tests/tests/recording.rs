//! End-to-end crash-safety test of the recording: the MP4 is written fragmented (moov first,
//! one fragment per second), so when the compositor dies mid-run (SIGKILL, power loss, OOM
//! kill) the file on disk must still play up to its last complete fragment.
//!
//! - `mp4_survives_sigkill`: start a long `compositor demo`, wait until a few fragments are
//!   on disk, SIGKILL it, then ffprobe must read the file and decode more than one fragment's
//!   worth of frames.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{
    ChildGuard, TempOut, compositor_bin, count_decoded_frames, ffprobe_json, file_len, streams_of,
};

/// At the demo's 4 Mbit/s one fragment (1 s, 30 frames) is roughly 0.4–0.5 MB, so 1.2 MB on
/// disk means at least two complete fragments (more than 30 frames) have been written.
const KILL_AT_BYTES: u64 = 1_200_000;
/// Upper bound for reaching [`KILL_AT_BYTES`]: start-up plus ~3 s of media at the slowest
/// software-rendering speed seen (~0.4x real time), with room for a loaded machine.
const KILL_DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn mp4_survives_sigkill() {
    let out = TempOut::new("recording-sigkill");
    let mp4 = out.join("demo.mp4");
    let bin = compositor_bin();
    let child = Command::new(&bin)
        .args(["demo", "--out", out.path().to_str().unwrap()])
        .args(["--duration", "120"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    // Killed on every path, including a failing assertion below.
    let mut child = ChildGuard(child);

    let started = Instant::now();
    while file_len(&mp4) < KILL_AT_BYTES && started.elapsed() < KILL_DEADLINE {
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("compositor exited early ({status}) before the test killed it");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let size_at_kill = file_len(&mp4);
    let status = child.kill().unwrap();
    eprintln!(
        "killed after {:.1} s with {} bytes on disk ({status})",
        started.elapsed().as_secs_f64(),
        size_at_kill
    );
    assert!(
        size_at_kill >= KILL_AT_BYTES,
        "demo.mp4 reached only {size_at_kill} bytes in {KILL_DEADLINE:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "the process was not SIGKILLed");
    }

    let probe = ffprobe_json(&mp4);
    let video = streams_of(&probe, "video");
    assert_eq!(
        video.len(),
        1,
        "killed mp4: want one video stream: {probe:#}"
    );
    assert_eq!(video[0]["codec_name"], "h264");
    let frames = count_decoded_frames(&mp4);
    eprintln!("killed mp4 decodes to {frames} frames");
    assert!(
        frames > 30,
        "killed mp4 decodes to only {frames} frames; want > 30 (more than one fragment)"
    );
}
