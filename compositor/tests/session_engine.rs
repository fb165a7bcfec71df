//! Integration tests of the session engine (`compositor_core::session`), driven through its public
//! API with a capturing [`OutputSink`] and the shared GPU device (lavapipe in CI).
//!
//! Covered, each with exact observable results:
//! - the output clock: video ticks at `Fps::frame_time(k)` (30 and 30000/1001 fps), 10 ms mix
//!   blocks of `block_frames * channels` samples, ticks in time order (video first on ties;
//!   an audio block's tick is at its end, pts + 10 ms);
//! - scripted scene switches land at the first tick at/after the requested time, with no mixed
//!   frame;
//! - command validation: every refusal has its `CommandError` variant and changes nothing;
//! - the stall placeholder: a silent input's last frame is held for `stall_timeout`, then the
//!   placeholder colour is shown;
//! - per-input placeholder images: a frameless input shows its registered image in its cell
//!   until cleared; an image used as a placeholder cannot be removed (nor while the input lives);
//! - real time: a silent input never holds the others, and a bursting source never blocks
//!   and has its excess counted as dropped;
//! - offline determinism (byte-identical runs) and audio reaching the mix (Goertzel check);
//! - config validation errors naming the field;
//! - a steady tone comes out of an offline session without dropouts (fails at the time of
//!   writing: see `offline_audio_of_a_steady_tone_has_no_dropouts`).
//!
//! Offline sessions are deterministic and run as fast as the machine allows; only the
//! real-time tests use wall time. GPU tests take one lock so the real-time ones measure the
//! session, not their neighbours on a small machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use compositor_core::frame::{AudioBlock, ColorMatrix, I420Frame, VideoFrame, rgb_to_yuv};
use compositor_core::session::{
    ClockMode, Command, CommandError, CommandReply, Fps, InputMessage, InputSender, SessionConfig,
    SessionError,
};
use compositor_devkit::synthetic::SyntheticHost;
use compositor_media::output::{OutputError, OutputSink, SinkStats};
use compositor_render::gpu::{AdapterChoice, GpuContext, PLACEHOLDER};
use layouts::{Background, Layout, Overlay, Rect, Rgba, Scene, Size, StripSide, Style, Transition};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const CANVAS: Size = Size::new(320, 180);
const RED: (u8, u8, u8) = (220, 30, 30);
const BLUE: (u8, u8, u8) = (30, 60, 220);
/// A moderate tint: its chroma on the pattern's whole luma ramp (40..=190) stays inside
/// R'G'B', so the rendered tile keeps the tint's U and V.
const STEEL: (u8, u8, u8) = (106, 131, 168);
/// Colour tolerance per Y'CbCr component (filtering and rounding on the GPU).
const TOL: i32 = 3;

/// Serialises the GPU tests (see the module doc).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn gpu() -> Arc<GpuContext> {
    GpuContext::shared(AdapterChoice::Auto).unwrap()
}

/// Everything a session pushed to its sink, in order.
#[derive(Debug, Default)]
struct Captured {
    /// (pts, duration, frame).
    video: Vec<(Duration, Duration, I420Frame)>,
    /// (pts, interleaved samples).
    audio: Vec<(Duration, Vec<f32>)>,
    /// Every push in call order: (is_video, pts).
    order: Vec<(bool, Duration)>,
    finished: u32,
}

/// A sink that keeps copies of everything for the test to inspect after `Session::join`.
#[derive(Debug, Default)]
struct CaptureSink {
    out: Arc<Mutex<Captured>>,
    stats: SinkStats,
}

impl CaptureSink {
    fn boxed() -> (Box<dyn OutputSink>, Arc<Mutex<Captured>>) {
        let sink = CaptureSink::default();
        let out = sink.out.clone();
        (Box::new(sink), out)
    }
}

impl OutputSink for CaptureSink {
    fn push_video(
        &mut self,
        frame: &I420Frame,
        pts: Duration,
        duration: Duration,
    ) -> Result<(), OutputError> {
        let mut c = self.out.lock().unwrap();
        c.video.push((pts, duration, frame.clone()));
        c.order.push((true, pts));
        self.stats.video_frames += 1;
        Ok(())
    }

    fn push_audio(&mut self, samples: &[f32], pts: Duration) -> Result<(), OutputError> {
        let mut c = self.out.lock().unwrap();
        c.audio.push((pts, samples.to_vec()));
        c.order.push((false, pts));
        self.stats.audio_blocks += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), OutputError> {
        self.out.lock().unwrap().finished += 1;
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }
}

fn take(out: &Arc<Mutex<Captured>>) -> Captured {
    std::mem::take(&mut *out.lock().unwrap())
}

fn grid(inputs: &[&str]) -> Scene {
    Scene {
        layout: Layout::Grid {
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            tile_aspect: (16, 9),
        },
        style: Style::default(),
        background: Background::default(),
        overlays: vec![],
        name_tags: None,
    }
}

/// A small 30 fps 48 kHz stereo session on [`CANVAS`].
fn config(
    scene: Scene,
    inputs: &[&str],
    clock: ClockMode,
    duration: Option<Duration>,
) -> SessionConfig {
    SessionConfig {
        canvas: CANVAS,
        clock,
        initial_inputs: inputs.iter().map(|s| s.to_string()).collect(),
        duration,
        ..SessionConfig::new(scene)
    }
}

/// The matrix the renderer uses for [`CANVAS`] (and the one our small inputs use).
fn matrix() -> ColorMatrix {
    ColorMatrix::for_height(CANVAS.h)
}

fn yuv(rgb: (u8, u8, u8)) -> (u8, u8, u8) {
    rgb_to_yuv(rgb.0, rgb.1, rgb.2, matrix())
}

fn placeholder_yuv() -> (u8, u8, u8) {
    yuv((PLACEHOLDER.r, PLACEHOLDER.g, PLACEHOLDER.b))
}

/// A solid 160x90 input frame.
fn solid(rgb: (u8, u8, u8), pts: Duration) -> VideoFrame {
    let (y, u, v) = yuv(rgb);
    VideoFrame {
        pts,
        matrix: ColorMatrix::for_height(90),
        image: I420Frame::filled(160, 90, y, u, v).unwrap(),
    }
}

/// 20 ms of stereo 48 kHz silence.
fn silence(pts: Duration) -> AudioBlock {
    AudioBlock {
        pts,
        sample_rate: 48_000,
        channels: 2,
        samples: vec![0.0; 960 * 2],
    }
}

/// Y'CbCr of the pixel at (x, y).
fn pixel(f: &I420Frame, x: u32, y: u32) -> (u8, u8, u8) {
    let (yp, up, vp) = f.planes();
    let (cw, _) = f.chroma_size();
    let ci = (y / 2 * cw + x / 2) as usize;
    (yp[(y * f.width() + x) as usize], up[ci], vp[ci])
}

fn near(a: (u8, u8, u8), b: (u8, u8, u8), tol: i32) -> bool {
    (i32::from(a.0) - i32::from(b.0)).abs() <= tol
        && (i32::from(a.1) - i32::from(b.1)).abs() <= tol
        && (i32::from(a.2) - i32::from(b.2)).abs() <= tol
}

/// True when every sample of every plane is within [`TOL`] of `want` (a solid frame).
fn all_near(f: &I420Frame, want: (u8, u8, u8)) -> bool {
    let (y, u, v) = f.planes();
    let ok = |plane: &[u8], c: u8| {
        plane
            .iter()
            .all(|&s| (i32::from(s) - i32::from(c)).abs() <= TOL)
    };
    ok(y, want.0) && ok(u, want.1) && ok(v, want.2)
}

fn centre(f: &I420Frame) -> (u8, u8, u8) {
    pixel(f, f.width() / 2, f.height() / 2)
}

/// Sends `msgs` (in time order) from a thread, then drops the sender (the source ends).
fn feed(sender: InputSender, msgs: Vec<InputMessage>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for m in msgs {
            let r = match m {
                InputMessage::Video(f) => sender.send_video(f),
                InputMessage::Audio(a) => sender.send_audio(a),
                InputMessage::Timed(t) => sender.send_timed(t),
            };
            if r.is_err() {
                return;
            }
        }
    })
}

/// Solid `rgb` frames at 30 fps for `t < video_until`, and 20 ms silent audio blocks for
/// `t < audio_until`, merged in time order.
fn solid_source(
    rgb: (u8, u8, u8),
    video_until: Duration,
    audio_until: Duration,
) -> Vec<InputMessage> {
    let fps = Fps::new(30, 1);
    let mut msgs: Vec<InputMessage> = (0..)
        .map(|k| fps.frame_time(k))
        .take_while(|t| *t < video_until)
        .map(|t| InputMessage::Video(solid(rgb, t)))
        .collect();
    msgs.extend(
        (0..)
            .map(|a| Duration::from_millis(20) * a)
            .take_while(|t| *t < audio_until)
            .map(|t| InputMessage::Audio(silence(t))),
    );
    msgs.sort_by_key(InputMessage::time);
    msgs
}

/// Runs an offline session fed by solid sources and returns what it produced.
fn run_offline(cfg: SessionConfig, sources: Vec<Vec<InputMessage>>) -> Captured {
    let (sink, out) = CaptureSink::boxed();
    let mut session = compositor_render::start_session(cfg, gpu(), sink).unwrap();
    let feeders: Vec<_> = session
        .take_inputs()
        .into_iter()
        .zip(sources)
        .map(|(s, m)| feed(s, m))
        .collect();
    session.join().unwrap();
    for f in feeders {
        f.join().unwrap();
    }
    take(&out)
}

/// A hash of one frame's bytes.
fn frame_hash(f: &I420Frame) -> u64 {
    let mut h = DefaultHasher::new();
    f.data().hash(&mut h);
    h.finish()
}

/// Goertzel power of `x` (Hann-windowed) at `freq`, normalised to amplitude.
fn tone_amplitude(x: &[f32], freq: f64, rate: f64) -> f64 {
    let n = x.len() as f64;
    let w = std::f64::consts::TAU * freq / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for (i, &v) in x.iter().enumerate() {
        let hann = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / (n - 1.0)).cos();
        let s = f64::from(v) * hann + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    // A Hann window halves the coherent gain: amplitude = 2 |X| / (N / 2).
    4.0 * power.max(0.0).sqrt() / n
}

// ---------------------------------------------------------------------------------------------
// 1. Clock
// ---------------------------------------------------------------------------------------------

#[test]
fn offline_clock_ticks_at_exact_frame_and_mix_times() {
    let _g = serial();
    for (fps, frames) in [(Fps::new(30, 1), 60u64), (Fps::new(30_000, 1001), 60)] {
        let cfg = SessionConfig {
            fps,
            ..config(
                grid(&[]),
                &[],
                ClockMode::Offline,
                Some(Duration::from_secs(2)),
            )
        };
        let (sink, out) = CaptureSink::boxed();
        let report = compositor_render::start_session(cfg, gpu(), sink)
            .unwrap()
            .join()
            .unwrap();
        let c = take(&out);

        assert_eq!(report.frames, frames, "{fps:?}");
        assert_eq!(report.audio_blocks, 200, "{fps:?}");
        assert_eq!(report.late_ticks, 0, "offline never skips");
        assert_eq!(report.sink.video_frames, frames);
        assert_eq!(report.sink.audio_blocks, 200);
        assert_eq!(c.finished, 1, "the sink is finished once");

        let pts: Vec<Duration> = c.video.iter().map(|v| v.0).collect();
        let want: Vec<Duration> = (0..frames).map(|k| fps.frame_time(k)).collect();
        assert_eq!(pts, want, "video pts at {fps:?}");
        assert!(pts.windows(2).all(|w| w[0] < w[1]));
        assert!(*pts.last().unwrap() < Duration::from_secs(2));
        for (k, (_, dur, f)) in c.video.iter().enumerate() {
            let k = k as u64;
            assert_eq!(
                *dur,
                fps.frame_time(k + 1) - fps.frame_time(k),
                "frame {k} duration"
            );
            assert_eq!((f.width(), f.height()), (CANVAS.w, CANVAS.h));
        }

        for (m, (pts, samples)) in c.audio.iter().enumerate() {
            assert_eq!(*pts, Duration::from_millis(10) * m as u32, "block {m} pts");
            assert_eq!(samples.len(), 480 * 2, "block {m}: 10 ms of 48 kHz stereo");
        }

        // Ticks are processed in time order, video first on ties. An audio block is mixed
        // when its end is due (pts + 10 ms): that is its tick's time.
        let due = |(video, pts): (bool, Duration)| {
            if video {
                pts
            } else {
                pts + Duration::from_millis(10)
            }
        };
        for w in c.order.windows(2) {
            let (t0, t1) = (due(w[0]), due(w[1]));
            assert!(
                t0 < t1 || (t0 == t1 && w[0].0 && !w[1].0),
                "out of order: {w:?}"
            );
        }
    }
    // 30000/1001 for 1.001 s: frames at k * 1001/30000 s < 1.001 s are k = 0..30.
    let fps = Fps::new(30_000, 1001);
    let cfg = SessionConfig {
        fps,
        ..config(
            grid(&[]),
            &[],
            ClockMode::Offline,
            Some(Duration::from_millis(1001)),
        )
    };
    let report = compositor_render::start_session(cfg, gpu(), CaptureSink::boxed().0)
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(report.frames, 30);
    assert_eq!(report.audio_blocks, 101, "blocks starting before 1.001 s");
}

// ---------------------------------------------------------------------------------------------
// 2. Scene switch at a frame boundary
// ---------------------------------------------------------------------------------------------

#[test]
fn scheduled_scene_switch_lands_on_the_first_tick_at_or_after_its_time() {
    let _g = serial();
    let set = |id: &str| Command::SetScene {
        scene: grid(&[id]),
        transition: None,
    };
    let duration = Duration::from_secs(2);
    let cfg = SessionConfig {
        scheduled: vec![
            (Duration::from_secs(1), set("blue")),
            // Not on a frame boundary: lands on frame 46 (1.5333 s).
            (Duration::from_millis(1520), set("red")),
        ],
        ..config(
            grid(&["red"]),
            &["red", "blue"],
            ClockMode::Offline,
            Some(duration),
        )
    };
    let c = run_offline(
        cfg,
        vec![
            solid_source(RED, duration, duration),
            solid_source(BLUE, duration, duration),
        ],
    );
    assert_eq!(c.video.len(), 60);
    let (red, blue) = (yuv(RED), yuv(BLUE));
    let fps = Fps::new(30, 1);
    for (k, (pts, _, f)) in c.video.iter().enumerate() {
        let want_blue = *pts >= Duration::from_secs(1) && *pts < fps.frame_time(46);
        let (name, want) = if want_blue {
            ("blue", blue)
        } else {
            ("red", red)
        };
        assert!(
            near(centre(f), want, TOL),
            "frame {k} at {pts:?}: centre {:?}, want {name} {want:?}",
            centre(f)
        );
        // The whole frame is the one input (grid of one, 16:9 cover): no mixed frame.
        assert!(all_near(f, want), "frame {k} at {pts:?} is not all {name}");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Command validation
// ---------------------------------------------------------------------------------------------

#[test]
fn refused_commands_name_the_reason_and_change_nothing() {
    let _g = serial();
    let cfg = SessionConfig {
        stall_timeout: Duration::from_secs(600),
        ..config(grid(&["a"]), &["a"], ClockMode::RealTime, None)
    };
    let (sink, out) = CaptureSink::boxed();
    let mut session = compositor_render::start_session(cfg, gpu(), sink).unwrap();
    let a = session.take_inputs().pop().unwrap();
    a.send_video(solid(RED, Duration::ZERO)).unwrap();
    let h = session.handle();
    let ids = |h: &compositor_core::session::SessionHandle| -> Vec<String> {
        h.stats().inputs.into_iter().map(|(id, _)| id).collect()
    };

    let not_found = |r: Result<CommandReply, CommandError>, what: &str| match r {
        Err(CommandError::NotFound(_)) => {}
        other => panic!("{what}: want NotFound, got {other:?}"),
    };
    let invalid = |r: Result<CommandReply, CommandError>, what: &str| match r {
        Err(CommandError::Invalid(_)) => {}
        other => panic!("{what}: want Invalid, got {other:?}"),
    };

    not_found(
        h.command(Command::SetScene {
            scene: grid(&["a", "nope"]),
            transition: None,
        }),
        "scene with an unknown input",
    );
    let mut with_logo = grid(&["a"]);
    with_logo.overlays.push(Overlay {
        image: "logo".into(),
        rect: Rect::new(0, 0, 32, 32),
        opacity: 1.0,
        z: 100,
        fit: layouts::Fit::Contain,
    });
    not_found(
        h.command(Command::SetScene {
            scene: with_logo,
            transition: None,
        }),
        "scene with an unknown image",
    );
    invalid(
        h.command(Command::SetScene {
            scene: Scene {
                layout: Layout::Spotlight {
                    main: "a".into(),
                    others: vec![],
                    strip: StripSide::Right,
                    strip_frac: f32::NAN,
                },
                ..grid(&[])
            },
            transition: None,
        }),
        "strip_frac NaN",
    );
    invalid(
        h.command(Command::SetScene {
            scene: grid(&["a"; 17]),
            transition: None,
        }),
        "17 grid inputs",
    );
    invalid(
        h.command(Command::SetScene {
            scene: grid(&["a"]),
            transition: Some(Transition {
                duration_ms: 60_000,
                easing: Default::default(),
            }),
        }),
        "60 s transition",
    );
    assert!(
        matches!(
            h.command(Command::AddInput { id: "a".into() }),
            Err(CommandError::AlreadyExists(_))
        ),
        "duplicate input"
    );
    invalid(
        h.command(Command::AddInput { id: String::new() }),
        "empty id",
    );
    invalid(
        h.command(Command::AddInput {
            id: "x".repeat(129),
        }),
        "129-byte id",
    );
    assert_eq!(ids(&h), ["a"], "refused AddInputs created nothing");
    not_found(
        h.command(Command::RemoveInput { id: "zzz".into() }),
        "remove an unknown input",
    );
    assert!(
        matches!(
            h.command(Command::RemoveInput { id: "a".into() }),
            Err(CommandError::FailedPrecondition(_))
        ),
        "remove an input of the current layout"
    );
    assert_eq!(ids(&h), ["a"], "a is still there");
    not_found(
        h.command(Command::RemoveImage { id: "logo".into() }),
        "remove an unknown image",
    );
    not_found(
        h.command(Command::SetGain {
            id: "zzz".into(),
            db: -6.0,
        }),
        "gain of an unknown input",
    );
    not_found(
        h.command(Command::SetMute {
            id: "zzz".into(),
            mute: true,
        }),
        "mute of an unknown input",
    );
    assert!(
        matches!(
            h.command(Command::SetGain {
                id: "a".into(),
                db: -6.0,
            }),
            Err(CommandError::FailedPrecondition(_))
        ),
        "gain of an input without audio"
    );

    // The state is intact: valid commands still work, and act on what the refusals left.
    let b = h.add_input("b").unwrap();
    b.send_video(solid(BLUE, Duration::ZERO)).unwrap();
    assert_eq!(ids(&h), ["a", "b"]);
    // One round trip through the session thread, so b's frame is drained before the tick
    // that applies the next command.
    not_found(
        h.command(Command::RemoveImage { id: "logo".into() }),
        "remove an unknown image, again",
    );
    let switched_at = match h.command(Command::SetScene {
        scene: grid(&["b"]),
        transition: None,
    }) {
        Ok(CommandReply::Done { applied_at }) => applied_at,
        other => panic!("SetScene b: {other:?}"),
    };
    let k = (switched_at.as_secs_f64() * 30.0).round() as u64;
    assert_eq!(
        switched_at,
        Fps::new(30, 1).frame_time(k),
        "applied at a frame time"
    );
    assert!(matches!(
        h.command(Command::RemoveInput { id: "a".into() }),
        Ok(CommandReply::Done { .. })
    ));
    not_found(
        h.command(Command::SetGain {
            id: "a".into(),
            db: 0.0,
        }),
        "gain of a removed input",
    );
    assert!(matches!(
        a.send_video(solid(RED, Duration::from_secs(1))),
        Err(compositor_core::session::InputClosed(_))
    ));
    assert_eq!(ids(&h), ["b"]);

    h.stop();
    let report = session.join().unwrap();
    assert!(matches!(
        h.command(Command::Stop),
        Err(CommandError::SessionEnded | CommandError::Exhausted(_))
    ));
    let c = take(&out);
    assert_eq!(report.frames, c.video.len() as u64);
    assert_eq!(c.finished, 1);

    // Before the switch: the placeholder until a's frame arrived, then red, never anything
    // else (no refused scene ever showed). From the switch on: blue only.
    let (red, blue, ph) = (yuv(RED), yuv(BLUE), placeholder_yuv());
    let mut seen_red = false;
    for (pts, _, f) in &c.video {
        let px = centre(f);
        if *pts < switched_at {
            if seen_red {
                assert!(near(px, red, TOL), "at {pts:?}: {px:?}, want red");
            } else {
                seen_red = near(px, red, TOL);
                assert!(seen_red || near(px, ph, TOL), "at {pts:?}: {px:?}");
            }
        } else {
            assert!(near(px, blue, TOL), "at {pts:?}: {px:?}, want blue");
        }
    }
    assert!(seen_red, "a's frame never showed");
    assert!(c.video.last().unwrap().0 >= switched_at);
}

// ---------------------------------------------------------------------------------------------
// 4. Stall placeholder
// ---------------------------------------------------------------------------------------------

#[test]
fn stalled_input_holds_its_last_frame_then_shows_the_placeholder() {
    let _g = serial();
    let stall = Duration::from_millis(300);
    let duration = Duration::from_millis(1500);
    let cfg = SessionConfig {
        stall_timeout: stall,
        ..config(grid(&["a"]), &["a"], ClockMode::Offline, Some(duration))
    };
    // Video for t < 0.5 s only (last frame at 14/30 s); audio keeps the input alive.
    let c = run_offline(
        cfg,
        vec![solid_source(RED, Duration::from_millis(500), duration)],
    );
    assert_eq!(c.video.len(), 45);
    let last_frame = Fps::new(30, 1).frame_time(14);
    let (red, ph) = (yuv(RED), placeholder_yuv());
    let mut reds = 0;
    for (pts, _, f) in &c.video {
        // Held while the shown frame is at most `stall` old; placeholder after.
        let held = *pts <= last_frame + stall;
        let want = if held { red } else { ph };
        assert!(
            all_near(f, want),
            "at {pts:?} want {} {want:?}, centre {:?}",
            if held { "red" } else { "placeholder" },
            centre(f)
        );
        reds += usize::from(held);
    }
    assert_eq!(reds, 24, "frames 0..=23 (to 0.7667 s) show red");
}

// ---------------------------------------------------------------------------------------------
// 5. Real time: a silent input does not hold the others
// ---------------------------------------------------------------------------------------------

#[test]
fn realtime_silent_input_shows_placeholder_and_holds_nothing() {
    let _g = serial();
    let duration = Duration::from_millis(1500);
    let cfg = SessionConfig {
        stall_timeout: Duration::from_millis(500),
        ..config(
            grid(&["a", "b"]),
            &["a", "b"],
            ClockMode::RealTime,
            Some(duration),
        )
    };
    let (sink, out) = CaptureSink::boxed();
    let mut session = compositor_render::start_session(cfg, gpu(), sink).unwrap();
    let mut inputs = session.take_inputs().into_iter();
    let (a, b) = (inputs.next().unwrap(), inputs.next().unwrap());
    let host = SyntheticHost {
        width: 160,
        height: 90,
        ..SyntheticHost::new(STEEL, 440.0)
    };
    let feeder = std::thread::spawn(move || host.run(&a, duration, true));
    let handle = session.handle();
    let t0 = Instant::now();
    let report = session.join().unwrap();
    let wall = t0.elapsed();
    feeder.join().unwrap();
    let stats = handle.stats();
    drop(b); // b stayed open and silent the whole time.

    assert!(wall < Duration::from_millis(2500), "took {wall:?}");
    assert_eq!(
        report.frames + report.late_ticks,
        45,
        "every tick of 1.5 s is rendered or counted late"
    );
    assert!(report.frames >= 40, "{} frames in 1.5 s", report.frames);
    assert!(report.late_ticks <= 5, "{} late ticks", report.late_ticks);
    let b_stats = stats.inputs.iter().find(|(id, _)| id == "b").unwrap().1;
    assert_eq!((b_stats.video_in, b_stats.audio_in), (0, 0));
    let a_stats = stats.inputs.iter().find(|(id, _)| id == "a").unwrap().1;
    assert!(a_stats.video_in >= 40, "{a_stats:?}");

    // Grid of two on 320x180: a = (0, 46, 160, 90)-ish on the left, b on the right. Look
    // at rows a quarter into the tiles (the pattern's white box sweeps the middle rows).
    let c = take(&out);
    let (ph, tint) = (placeholder_yuv(), yuv(STEEL));
    let row = CANVAS.h / 2 - 22;
    let mut a_shown = 0;
    for (pts, _, f) in &c.video {
        let bpx = pixel(f, 240, row);
        assert!(
            near(bpx, ph, TOL),
            "b at {pts:?}: {bpx:?}, want placeholder {ph:?}"
        );
        let apx = pixel(f, 80, row);
        if near(apx, ph, TOL) {
            assert!(a_shown == 0, "a fell back to the placeholder at {pts:?}");
            continue;
        }
        a_shown += 1;
        // The pattern: a's tint in chroma, a luma ramp along the row.
        assert!(
            near((tint.0, apx.1, apx.2), tint, 6),
            "a at {pts:?}: {apx:?} vs tint {tint:?}"
        );
        let lumas: Vec<u8> = (8..152).step_by(16).map(|x| pixel(f, x, row).0).collect();
        assert!(
            lumas.windows(2).any(|w| w[0] != w[1]),
            "a's ramp is flat: {lumas:?}"
        );
    }
    assert!(a_shown >= 35, "a showed in only {a_shown} frames");
}

// ---------------------------------------------------------------------------------------------
// 6. Real time: bounded input queue
// ---------------------------------------------------------------------------------------------

#[test]
fn realtime_burst_never_blocks_the_source_and_counts_drops() {
    let _g = serial();
    let cfg = SessionConfig {
        input_queue: 8,
        stall_timeout: Duration::from_secs(600),
        ..config(grid(&["a"]), &["a"], ClockMode::RealTime, None)
    };
    let (sink, out) = CaptureSink::boxed();
    let mut session = compositor_render::start_session(cfg, gpu(), sink).unwrap();
    let a = session.take_inputs().pop().unwrap();
    let h = session.handle();
    let frame = solid(BLUE, Duration::ZERO);
    let t0 = Instant::now();
    for _ in 0..1000 {
        a.send_video(frame.clone()).unwrap();
    }
    let burst = t0.elapsed();
    assert!(burst < Duration::from_secs(1), "the burst took {burst:?}");
    // Let the session show the newest frame, then stop.
    let shown = match h.command(Command::SetBackground(Background::Color {
        color: Rgba::new(0, 0, 0, 255),
    })) {
        Ok(CommandReply::Done { applied_at }) => applied_at,
        other => panic!("{other:?}"),
    };
    let stats = h.stats();
    h.stop();
    session.join().unwrap();
    let s = stats.inputs.iter().find(|(id, _)| id == "a").unwrap().1;
    assert!(s.dropped > 0, "{s:?}");
    assert!(s.video_in < 1000, "{s:?}");
    assert!(
        s.video_in + s.dropped >= 1000,
        "every frame accepted or dropped: {s:?}"
    );
    let c = take(&out);
    let last = &c.video.last().unwrap();
    assert!(last.0 >= shown);
    assert!(
        near(centre(&last.2), yuv(BLUE), TOL),
        "the burst's frames were shown"
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Offline determinism
// ---------------------------------------------------------------------------------------------

#[test]
fn offline_runs_are_byte_identical() {
    let _g = serial();
    let duration = Duration::from_millis(1200);
    let run = || {
        let cfg = SessionConfig {
            scheduled: vec![(
                Duration::from_millis(400),
                Command::SetScene {
                    scene: Scene {
                        layout: Layout::Pk {
                            left: "b".into(),
                            right: "a".into(),
                            score_bar: Default::default(),
                            left_partner: None,
                            right_partner: None,
                            tile_aspect: None,
                        },
                        ..grid(&[])
                    },
                    transition: Some(Transition {
                        duration_ms: 300,
                        easing: Default::default(),
                    }),
                },
            )],
            ..config(
                grid(&["a", "b"]),
                &["a", "b"],
                ClockMode::Offline,
                Some(duration),
            )
        };
        let (sink, out) = CaptureSink::boxed();
        let mut session = compositor_render::start_session(cfg, gpu(), sink).unwrap();
        let hosts = [(RED, 440.0), (BLUE, 660.0)];
        let feeders: Vec<_> = session
            .take_inputs()
            .into_iter()
            .zip(hosts)
            .map(|(s, (tint, hz))| {
                let host = SyntheticHost {
                    width: 160,
                    height: 90,
                    ..SyntheticHost::new(tint, hz)
                };
                std::thread::spawn(move || host.run(&s, duration, false))
            })
            .collect();
        session.join().unwrap();
        for f in feeders {
            f.join().unwrap();
        }
        let c = take(&out);
        let video: Vec<(Duration, u64)> = c
            .video
            .iter()
            .map(|(t, _, f)| (*t, frame_hash(f)))
            .collect();
        let audio: Vec<(Duration, Vec<u32>)> = c
            .audio
            .iter()
            .map(|(t, s)| (*t, s.iter().map(|v| v.to_bits()).collect()))
            .collect();
        (video, audio)
    };
    let (v1, a1) = run();
    let (v2, a2) = run();
    assert_eq!(v1.len(), 36);
    assert_eq!(a1.len(), 120);
    for (k, (x, y)) in v1.iter().zip(&v2).enumerate() {
        assert_eq!(x, y, "video frame {k} differs between runs");
    }
    for (m, (x, y)) in a1.iter().zip(&a2).enumerate() {
        assert!(x == y, "audio block {m} at {:?} differs between runs", x.0);
    }
    assert_eq!((v1.len(), a1.len()), (v2.len(), a2.len()));
    // The check means something: the picture moves and the sound is not silence.
    let distinct: std::collections::HashSet<u64> = v1.iter().map(|v| v.1).collect();
    assert!(
        distinct.len() > 30,
        "only {} distinct frames",
        distinct.len()
    );
    assert!(
        a1.iter()
            .any(|(_, s)| s.iter().any(|&b| f32::from_bits(b) != 0.0))
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Audio reaches the output
// ---------------------------------------------------------------------------------------------

#[test]
fn both_tones_reach_the_mix() {
    let _g = serial();
    let duration = Duration::from_millis(1500);
    let cfg = config(
        grid(&["lo", "hi"]),
        &["lo", "hi"],
        ClockMode::Offline,
        Some(duration),
    );
    let (sink, out) = CaptureSink::boxed();
    let mut session = compositor_render::start_session(cfg, gpu(), sink).unwrap();
    let feeders: Vec<_> = session
        .take_inputs()
        .into_iter()
        .zip([(RED, 440.0), (BLUE, 660.0)])
        .map(|(s, (tint, hz))| {
            let host = SyntheticHost {
                width: 160,
                height: 90,
                ..SyntheticHost::new(tint, hz)
            };
            std::thread::spawn(move || host.run(&s, duration, false))
        })
        .collect();
    session.join().unwrap();
    for f in feeders {
        f.join().unwrap();
    }
    let c = take(&out);
    assert_eq!(c.audio.len(), 150);
    // Both channels carry the same mix (the hosts are stereo with equal channels).
    let mut left = Vec::new();
    for (pts, block) in &c.audio {
        if *pts < Duration::from_millis(200) {
            continue;
        }
        for fr in block.chunks_exact(2) {
            assert!((fr[0] - fr[1]).abs() < 1e-6, "channels differ at {pts:?}");
            left.push(fr[0]);
        }
    }
    assert_eq!(left.len(), 130 * 480);
    // Over the whole span: both tones stand far above the frequency between them.
    let amp = |hz| tone_amplitude(&left, hz, 48_000.0);
    let (a440, a660, a550) = (amp(440.0), amp(660.0), amp(550.0));
    for (hz, a) in [(440, a440), (660, a660)] {
        assert!(
            a > 100.0 * a550,
            "{hz} Hz ({a}) not well above 550 Hz ({a550})"
        );
    }
    // And in every 100 ms window: each host's −12 dBFS (0.25) sine is there throughout.
    for (w, seg) in left.chunks_exact(4800).enumerate() {
        let amp = |hz| tone_amplitude(seg, hz, 48_000.0);
        let (a440, a660, a550) = (amp(440.0), amp(660.0), amp(550.0));
        assert!(
            a440 > 0.15 && a660 > 0.15 && a550 < 0.01,
            "window {w}: 440 Hz {a440}, 660 Hz {a660}, 550 Hz {a550}"
        );
    }
    let peak = left.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(peak < 0.9, "peak {peak}: no clipping");
}

// ---------------------------------------------------------------------------------------------
// 9. Config validation
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_configs_are_refused_naming_the_field() {
    let _g = serial();
    let base = || {
        config(
            grid(&["a"]),
            &["a"],
            ClockMode::Offline,
            Some(Duration::from_secs(1)),
        )
    };
    let cases: Vec<(&str, SessionConfig, &str)> = vec![
        (
            "odd canvas",
            SessionConfig {
                canvas: Size::new(321, 180),
                ..base()
            },
            "canvas",
        ),
        (
            "fps 0",
            SessionConfig {
                fps: Fps::new(0, 1),
                ..base()
            },
            "fps",
        ),
        (
            "fps 0 denominator",
            SessionConfig {
                fps: Fps::new(30, 0),
                ..base()
            },
            "fps",
        ),
        (
            "offline without duration",
            SessionConfig {
                duration: None,
                ..base()
            },
            "duration",
        ),
        (
            "duplicate initial inputs",
            SessionConfig {
                initial_inputs: vec!["a".into(), "a".into()],
                ..base()
            },
            "given twice",
        ),
        (
            "input queue 1",
            SessionConfig {
                input_queue: 1,
                ..base()
            },
            "input_queue",
        ),
        (
            "scene with an unknown input",
            config(
                grid(&["a", "ghost"]),
                &["a"],
                ClockMode::Offline,
                Some(Duration::from_secs(1)),
            ),
            "ghost",
        ),
    ];
    for (what, cfg, field) in cases {
        match compositor_render::start_session(cfg, gpu(), CaptureSink::boxed().0) {
            Err(SessionError::Config(msg)) => {
                assert!(
                    msg.contains(field),
                    "{what}: {msg:?} does not mention {field:?}"
                )
            }
            Err(e) => panic!("{what}: want a Config error, got {e:?}"),
            Ok(_) => panic!("{what}: started"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 10. Offline audio is continuous
// ---------------------------------------------------------------------------------------------

/// A steady tone through an offline session must come out steady: the module doc promises
/// output identical to a perfect real-time run, and a paced real-time run of the same host
/// plays it without a gap once buffered.
///
/// Regression test: the offline wait for mix tick `m` once stopped as soon as an input's
/// newest message of any kind started at or after `(m + 1) * 10 ms`, so with video sent before
/// audio on ties the mixer ran dry every 100 ms. The session now waits for audio up to the end
/// of the tick plus the mixer's target depth. The source outlives the session so the last
/// blocks are steady too (a source that ends fades out, as it should).
#[test]
fn offline_audio_of_a_steady_tone_has_no_dropouts() {
    let _g = serial();
    let duration = Duration::from_millis(1500);
    let cfg = config(grid(&["a"]), &["a"], ClockMode::Offline, Some(duration));
    let (sink, out) = CaptureSink::boxed();
    let mut session = compositor_render::start_session(cfg, gpu(), sink).unwrap();
    let s = session.take_inputs().pop().unwrap();
    let host = SyntheticHost {
        width: 160,
        height: 90,
        ..SyntheticHost::new(RED, 440.0)
    };
    let feeder =
        std::thread::spawn(move || host.run(&s, duration + Duration::from_millis(100), false));
    session.join().unwrap();
    feeder.join().unwrap();
    let c = take(&out);
    assert_eq!(c.audio.len(), 150);
    // After the first 100 ms (join fade, buffering), every 10 ms block holds 4.4 periods of
    // a 0.25 sine: its peak is 0.25.
    let dips: Vec<String> = c
        .audio
        .iter()
        .filter(|(pts, _)| *pts >= Duration::from_millis(100))
        .filter_map(|(pts, b)| {
            let peak = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            (!(0.24..=0.26).contains(&peak)).then(|| format!("{pts:?}: peak {peak:.3}"))
        })
        .collect();
    assert!(
        dips.is_empty(),
        "the tone drops out in {} blocks: {}",
        dips.len(),
        dips.join(", ")
    );
}

// ---------------------------------------------------------------------------------------------
// 10. Per-input placeholder images
// ---------------------------------------------------------------------------------------------

#[test]
fn placeholder_image_fills_a_frameless_input_until_cleared_and_pins_the_image() {
    let _g = serial();
    const GREEN: (u8, u8, u8) = (40, 180, 60);
    let duration = Duration::from_millis(1500);
    let scene = grid(&["a", "b"]);
    let cfg = config(
        scene.clone(),
        &["a", "b", "c"],
        ClockMode::Offline,
        Some(duration),
    );
    let (sink, out) = CaptureSink::boxed();
    let mut session = compositor_render::start_session(cfg, gpu(), sink).unwrap();
    let h = session.handle();
    let ms = |n: u64| Some(Duration::from_millis(n));
    let green = image::RgbaImage::from_pixel(64, 64, image::Rgba([GREEN.0, GREEN.1, GREEN.2, 255]));
    let set = |id: &str, image: Option<&str>| Command::SetPlaceholder {
        id: id.into(),
        image: image.map(str::to_owned),
    };
    let remove_green = || Command::RemoveImage { id: "green".into() };
    // Queued before any input data, so the offline clock cannot have passed their times.
    let replies = vec![
        (
            "register",
            h.submit(
                Command::RegisterImage {
                    id: "green".into(),
                    image: Arc::new(green),
                },
                ms(0),
            ),
        ),
        ("set a", h.submit(set("a", Some("green")), ms(0))),
        ("set c", h.submit(set("c", Some("green")), ms(0))),
        ("remove while used", h.submit(remove_green(), ms(500))),
        ("unknown image", h.submit(set("a", Some("nope")), ms(500))),
        (
            "unknown input",
            h.submit(set("zzz", Some("green")), ms(500)),
        ),
        ("clear a", h.submit(set("a", None), ms(800))),
        ("remove while c uses it", h.submit(remove_green(), ms(800))),
        (
            "remove c",
            h.submit(Command::RemoveInput { id: "c".into() }, ms(1000)),
        ),
        ("remove after c left", h.submit(remove_green(), ms(1000))),
    ];
    // a: audio only (never a frame); b: red video; c: ends at once (not in the scene).
    let mut senders = session.take_inputs().into_iter();
    let (a, b) = (senders.next().unwrap(), senders.next().unwrap());
    drop(senders);
    let feeders = [
        feed(a, solid_source(RED, Duration::ZERO, duration)),
        feed(b, solid_source(RED, duration, duration)),
    ];
    session.join().unwrap();
    for f in feeders {
        f.join().unwrap();
    }
    let results: Vec<_> = replies.into_iter().map(|(n, r)| (n, r.wait())).collect();
    for (name, r) in &results {
        let ok = matches!(r, Ok(CommandReply::Done { .. }));
        let want_ok = !matches!(
            *name,
            "remove while used" | "unknown image" | "unknown input" | "remove while c uses it"
        );
        assert_eq!(ok, want_ok, "{name}: {r:?}");
    }
    let err = |n: &str| {
        results
            .iter()
            .find(|r| r.0 == n)
            .unwrap()
            .1
            .as_ref()
            .err()
            .cloned()
    };
    assert!(matches!(
        err("remove while used"),
        Some(CommandError::FailedPrecondition(_))
    ));
    assert!(matches!(
        err("remove while c uses it"),
        Some(CommandError::FailedPrecondition(_))
    ));
    assert!(matches!(
        err("unknown image"),
        Some(CommandError::NotFound(_))
    ));
    assert!(matches!(
        err("unknown input"),
        Some(CommandError::NotFound(_))
    ));

    let plan = layouts::plan(&scene, CANVAS).unwrap();
    let cell_centre = |id: &str| {
        let item = plan
            .items
            .iter()
            .find(|i| i.content == layouts::Content::Input(id.into()))
            .unwrap();
        let c = item.cell;
        ((c.x + c.w as i32 / 2) as u32, (c.y + c.h as i32 / 2) as u32)
    };
    let (ax, ay) = cell_centre("a");
    let (bx, by) = cell_centre("b");
    let c = take(&out);
    assert_eq!(c.video.len(), 45);
    let (green, red, ph) = (yuv(GREEN), yuv(RED), placeholder_yuv());
    for (pts, _, f) in &c.video {
        let want = if *pts < Duration::from_millis(800) {
            green
        } else {
            ph
        };
        let got = pixel(f, ax, ay);
        assert!(near(got, want, TOL), "a at {pts:?}: {got:?}, want {want:?}");
        let got = pixel(f, bx, by);
        assert!(near(got, red, TOL), "b at {pts:?}: {got:?}, want red");
    }
}
