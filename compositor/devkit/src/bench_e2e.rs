//! `compositor bench e2e`: end-to-end CPU of one 2-host session (decode two H.264 + AAC
//! files in real time → align, compose, mix → one encode → RTMP into a local nginx-rtmp) next
//! to the equivalent GStreamer pipeline (`compositor` + `audiomixer` + `x264enc` +
//! `avenc_aac` + `flvmux` → the same nginx) on the same inputs with the same encoder settings.
//! A third run, *decode + encode only* (host A's decoded frames and sound go straight to the
//! same hub; host B is decoded and dropped: no composing, no mixing), gives what composing and
//! mixing add.
//!
//! Each run is a child process (ours: `compositor bench e2e-worker`; GStreamer:
//! `gst-launch-1.0`) paced by the wall clock over the length of the inputs; its CPU time
//! (user + system, from `/proc/PID/stat`, sampled every 50 ms until it exits) is the figure.
//! Runs are sequential so each has the machine to itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use layouts::Size;

use crate::demo::pk_scene;
use compositor_core::frame::{AudioBlock, ColorMatrix, I420Frame, VideoFrame};
use compositor_core::session::{ClockMode, EventLog, Fps, InputSender, Session, SessionConfig};
use compositor_media::output::{
    EncoderKind, EncoderSettings, OutputHub, OutputSink, OutputSpec, OutputTarget, StreamFormat,
};
use compositor_render::Gpus;
use compositor_render::gpu::AdapterChoice;

/// Options of the benchmark.
#[derive(Debug, Clone)]
pub struct E2eOptions {
    /// Input length.
    pub duration: Duration,
    /// Canvas and input size.
    pub size: Size,
    /// Video bitrate, kbit/s.
    pub video_kbps: u32,
    /// x264 preset.
    pub preset: String,
    /// Folder for the generated inputs (kept).
    pub work_dir: PathBuf,
    /// Adapter for ours.
    pub adapter: AdapterChoice,
}

/// One run's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct E2eRow {
    /// What ran.
    pub name: String,
    /// CPU seconds (user + system).
    pub cpu_s: f64,
    /// Wall seconds.
    pub wall_s: f64,
    /// CPU / wall, in cores (1.0 = one core busy).
    pub cores: f64,
    /// Video frames the RTMP server received (recorded by nginx, counted with ffprobe): the
    /// work actually delivered.
    pub frames_delivered: u64,
}

/// Video packets in the FLV nginx recorded for stream `key`.
fn delivered(dir: &Path, key: &str) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir.join("rec")) else {
        return 0;
    };
    let mut total = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with(&format!("{key}-")) {
            continue;
        }
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-count_packets"])
            .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
            .arg(e.path())
            .output();
        if let Ok(o) = out {
            total += String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u64>()
                .unwrap_or(0);
        }
    }
    total
}

/// Settings both sides use.
pub fn bench_encoder(opts: &E2eOptions) -> EncoderSettings {
    EncoderSettings {
        kind: EncoderKind::X264,
        video_kbps: opts.video_kbps,
        preset: opts.preset.clone(),
        keyframe_interval: 60,
        audio_bps: 128_000,
        ..EncoderSettings::default()
    }
}

fn gst_launch(args: &str) -> Command {
    let mut c = Command::new("gst-launch-1.0");
    c.arg("-q");
    c.args(args.split_whitespace());
    c.stdout(Stdio::null());
    c
}

/// Generates a 30 fps H.264 + AAC MP4 (`pattern`, tone `freq`) with GStreamer.
fn make_input(path: &Path, size: Size, secs: u32, pattern: &str, freq: u32) -> Result<()> {
    let frames = secs * 30;
    let blocks = secs * 48_000 / 1024;
    let p = format!(
        "videotestsrc num-buffers={frames} pattern={pattern} ! video/x-raw,width={w},height={h},framerate=30/1 \
         ! x264enc speed-preset=veryfast bitrate=4000 key-int-max=60 ! h264parse ! mp4mux name=m ! filesink location={out} \
         audiotestsrc num-buffers={blocks} samplesperbuffer=1024 freq={freq} volume=0.3 ! audio/x-raw,rate=48000,channels=2 \
         ! avenc_aac ! aacparse ! m.",
        w = size.w,
        h = size.h,
        out = path.display()
    );
    let st = gst_launch(&p).status().context("gst-launch-1.0 runs")?;
    if !st.success() {
        bail!("could not generate {}", path.display());
    }
    Ok(())
}

/// CPU seconds (user + system) of a live or zombie process.
fn proc_cpu(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0) // USER_HZ is 100 on Linux
}

/// Runs `child` to the end, sampling its CPU; kills it after `limit`.
fn measure(name: &str, mut child: Child, limit: Duration) -> Result<E2eRow> {
    let start = Instant::now();
    let pid = child.id();
    let mut cpu = 0.0;
    loop {
        if let Some(c) = proc_cpu(pid) {
            cpu = c;
        }
        if let Some(st) = child.try_wait()? {
            if !st.success() {
                bail!("{name} failed: {st}");
            }
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{name} ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let wall = start.elapsed().as_secs_f64();
    Ok(E2eRow {
        name: name.to_string(),
        cpu_s: cpu,
        wall_s: wall,
        cores: cpu / wall.max(1e-9),
        frames_delivered: 0,
    })
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_nginx(dir: &Path) -> Result<(Nginx, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let conf = format!(
        "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\ndaemon off;\nmaster_process off;\n\
         pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 64; }}\n\
         rtmp {{ server {{ listen 127.0.0.1:{port}; application live {{ live on; record video; \
         record_path {d}/rec; record_unique on; }} }} }}\n",
        d = dir.display()
    );
    let _ = std::fs::remove_dir_all(dir.join("rec"));
    std::fs::create_dir_all(dir.join("rec"))?;
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf)?;
    let child = Command::new("/usr/sbin/nginx")
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("nginx with libnginx-mod-rtmp (scripts/setup.sh)")?;
    let guard = Nginx(child);
    let end = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > end {
            bail!("nginx did not start (see {}/error.log)", dir.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((guard, port))
}

/// The GStreamer pipeline equivalent to our session (same layout: two 16:9 tiles side by
/// side with an 8 px gap, same encoder settings).
fn gst_equivalent(opts: &E2eOptions, a: &Path, b: &Path, url: &str) -> String {
    let s = bench_encoder(opts);
    let (w, h) = (opts.size.w, opts.size.h);
    let tw = (w - 8) / 2 / 2 * 2;
    let th = (tw * 9 / 16) / 2 * 2;
    let y = (h - th) / 2;
    format!(
        "compositor name=comp background=black sink_0::xpos=0 sink_0::ypos={y} sink_1::xpos={x1} sink_1::ypos={y} \
         ! video/x-raw,width={w},height={h},framerate=30/1,format=I420 \
         ! x264enc tune=zerolatency speed-preset={preset} bitrate={kbps} key-int-max={gop} ! video/x-h264,profile=high \
         ! h264parse ! flvmux name=mux streamable=true ! rtmp2sink location={url} \
         audiomixer name=amix ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! audioresample ! avenc_aac bitrate={abps} ! aacparse ! mux. \
         filesrc location={a} ! qtdemux name=da da.video_0 ! queue ! h264parse ! avdec_h264 ! videoscale ! video/x-raw,width={tw},height={th} ! comp.sink_0 \
         da.audio_0 ! queue ! avdec_aac ! audioconvert ! audioresample ! amix.sink_0 \
         filesrc location={b} ! qtdemux name=db db.video_0 ! queue ! h264parse ! avdec_h264 ! videoscale ! video/x-raw,width={tw},height={th} ! comp.sink_1 \
         db.audio_0 ! queue ! avdec_aac ! audioconvert ! audioresample ! amix.sink_1",
        x1 = w - tw,
        preset = s.preset,
        kbps = s.video_kbps,
        gop = s.keyframe_interval,
        abps = s.audio_bps,
        a = a.display(),
        b = b.display(),
    )
}

fn adapter_name(a: AdapterChoice) -> &'static str {
    match a {
        AdapterChoice::Auto => "auto",
        AdapterChoice::Hardware => "hardware",
        AdapterChoice::Software => "software",
    }
}

/// Runs the benchmark: generates inputs, starts nginx, runs ours (full and decode + encode
/// only) and GStreamer, prints a table.
pub fn run(opts: &E2eOptions) -> Result<Vec<E2eRow>> {
    compositor_media::output::init_gstreamer()?;
    std::fs::create_dir_all(&opts.work_dir)?;
    let dir = opts.work_dir.canonicalize()?;
    let secs = opts.duration.as_secs().max(2) as u32;
    let (a, b) = (dir.join("host-a.mp4"), dir.join("host-b.mp4"));
    eprintln!(
        "bench e2e: generating two {secs} s {}x{} inputs",
        opts.size.w, opts.size.h
    );
    make_input(&a, opts.size, secs, "ball", 440)?;
    make_input(&b, opts.size, secs, "smpte", 660)?;
    let (_nginx, port) = start_nginx(&dir)?;
    let exe = std::env::current_exe()?;
    let limit = opts.duration + Duration::from_secs(30);
    let mut rows = Vec::new();
    for (name, mode) in [
        ("ours: full session", "full"),
        ("ours: decode + encode only", "passthrough"),
    ] {
        let url = format!("rtmp://127.0.0.1:{port}/live");
        let child = Command::new(&exe)
            .args([
                "--adapter",
                adapter_name(opts.adapter),
                "bench",
                "e2e-worker",
            ])
            .args(["--mode", mode, "--rtmp", &url, "--key", mode])
            .arg("--a")
            .arg(&a)
            .arg("--b")
            .arg(&b)
            .args(["--size", &format!("{}x{}", opts.size.w, opts.size.h)])
            .args([
                "--bitrate",
                &opts.video_kbps.to_string(),
                "--preset",
                &opts.preset,
            ])
            .args(["--duration", &secs.to_string()])
            .stdout(Stdio::null())
            .spawn()?;
        eprintln!("bench e2e: running {name}");
        let mut row = measure(name, child, limit)?;
        row.frames_delivered = delivered(&dir, mode);
        rows.push(row);
    }
    let url = format!("rtmp://127.0.0.1:{port}/live/gst");
    eprintln!("bench e2e: running GStreamer");
    let child = gst_launch(&gst_equivalent(opts, &a, &b, &url)).spawn()?;
    let mut row = measure("GStreamer compositor + audiomixer", child, limit)?;
    row.frames_delivered = delivered(&dir, "gst");
    rows.push(row);
    println!(
        "| run | CPU s | wall s | cores | frames delivered (of {}) | CPU ms / delivered frame |",
        secs * 30
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {} | {:.1} |",
            r.name,
            r.cpu_s,
            r.wall_s,
            r.cores,
            r.frames_delivered,
            1000.0 * r.cpu_s / (r.frames_delivered.max(1) as f64)
        );
    }
    let ratio = rows[0].cpu_s / rows[2].cpu_s.max(1e-9);
    let added = (rows[0].cpu_s - rows[1].cpu_s) / rows[1].cpu_s.max(1e-9);
    println!("ratio ours / GStreamer (CPU s): {ratio:.3}");
    println!(
        "composing + mixing add {:.1} % to decode + encode",
        added * 100.0
    );
    Ok(rows)
}

/// Worker options (`compositor bench e2e-worker`).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// "full" or "passthrough".
    pub mode: String,
    /// Inputs.
    pub a: PathBuf,
    /// Inputs.
    pub b: PathBuf,
    /// RTMP application URL.
    pub rtmp: String,
    /// Stream key.
    pub key: String,
    /// Canvas.
    pub size: Size,
    /// Encoder settings.
    pub encoder: EncoderSettings,
    /// Length.
    pub duration: Duration,
    /// Adapter.
    pub adapter: AdapterChoice,
}

type VideoFn = Box<dyn Fn(I420Frame, Duration) + Send + Sync>;
type AudioFn = Box<dyn Fn(Vec<f32>, Duration) + Send + Sync>;

/// Decodes `path` in real time, calling `on_video` with I420 frames and `on_audio` with
/// 48 kHz stereo F32 blocks, both stamped with running time. Returns the playing pipeline.
fn decode(path: &Path, on_video: VideoFn, on_audio: AudioFn) -> Result<gst::Pipeline> {
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin name=d \
         d. ! queue ! videoconvert ! video/x-raw,format=I420 ! appsink name=v sync=true \
         d. ! queue ! audioconvert ! audioresample ! audio/x-raw,format=F32LE,layout=interleaved,rate=48000,channels=2 ! appsink name=a sync=true",
        path.display()
    );
    let pipeline = gst::parse::launch(&desc)?
        .downcast::<gst::Pipeline>()
        .map_err(|_| anyhow::anyhow!("not a pipeline"))?;
    let get = |n: &str| -> Result<gst_app::AppSink> {
        pipeline
            .by_name(n)
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| anyhow::anyhow!("no appsink {n}"))
    };
    let running = |s: &gst::Sample| -> Option<(gst::Buffer, Duration)> {
        let buf = s.buffer_owned()?;
        let seg = s.segment()?.downcast_ref::<gst::ClockTime>()?.clone();
        let t = seg.to_running_time(buf.pts()?)?;
        Some((buf, Duration::from_nanos(t.nseconds())))
    };
    get("v")?.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let caps = sample
                    .caps()
                    .and_then(|c| gstreamer_video::VideoInfo::from_caps(c).ok());
                if let (Some(info), Some((buf, t))) = (caps, running(&sample))
                    && let Ok(map) = buf.map_readable()
                    && let Ok(f) = I420Frame::from_vec(info.width(), info.height(), map.to_vec())
                {
                    on_video(f, t);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    get("a")?.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some((buf, t)) = running(&sample)
                    && let Ok(map) = buf.map_readable()
                {
                    let samples: Vec<f32> = map
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    on_audio(samples, t);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline.set_state(gst::State::Playing)?;
    Ok(pipeline)
}

fn wait_eos(p: &gst::Pipeline, limit: Duration) {
    if let Some(bus) = p.bus() {
        let _ = bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(limit.as_nanos() as u64),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
    }
    let _ = p.set_state(gst::State::Null);
}

fn feed(sender: InputSender) -> (VideoFn, AudioFn) {
    let s2 = sender.clone();
    let matrix = ColorMatrix::Bt709;
    (
        Box::new(move |image, pts| {
            let _ = sender.send_video(VideoFrame { pts, matrix, image });
        }),
        Box::new(move |samples, pts| {
            let _ = s2.send_audio(AudioBlock {
                pts,
                sample_rate: 48_000,
                channels: 2,
                samples,
            });
        }),
    )
}

/// Runs one measured process: decode both inputs in real time and stream to RTMP.
pub fn worker(opts: &WorkerOptions) -> Result<()> {
    compositor_media::output::init_gstreamer()?;
    let fmt = StreamFormat {
        width: opts.size.w,
        height: opts.size.h,
        fps_num: 30,
        fps_den: 1,
        matrix: ColorMatrix::for_height(opts.size.h),
        sample_rate: 48_000,
        channels: 2,
    };
    let events = Arc::new(EventLog::default());
    let (hub, control) = OutputHub::new(fmt, opts.encoder.clone(), events.clone())?;
    control
        .add(OutputSpec {
            id: "rtmp".into(),
            target: OutputTarget::Rtmp {
                url: opts.rtmp.clone(),
                stream_key: opts.key.clone(),
                tls_verify: true,
            },
            encoder: None,
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let limit = opts.duration + Duration::from_secs(10);
    if opts.mode == "passthrough" {
        let hub = Arc::new(Mutex::new(hub));
        let frame_dur = Duration::from_nanos(1_000_000_000 / 30);
        let (h1, h2) = (hub.clone(), hub.clone());
        let pa = decode(
            &opts.a,
            Box::new(move |f, t| {
                let _ = h1
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_video(&f, t, frame_dur);
            }),
            Box::new(move |s, t| {
                let _ = h2
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_audio(&s, t);
            }),
        )?;
        let pb = decode(&opts.b, Box::new(|_, _| {}), Box::new(|_, _| {}))?;
        wait_eos(&pa, limit);
        wait_eos(&pb, Duration::from_secs(1));
        hub.lock().unwrap_or_else(|e| e.into_inner()).finish()?;
        return Ok(());
    }
    let mut config = SessionConfig::new(pk_scene(opts.size));
    config.scene.overlays.clear();
    config.canvas = opts.size;
    config.fps = Fps::new(30, 1);
    config.clock = ClockMode::RealTime;
    config.duration = Some(opts.duration);
    config.initial_inputs = vec!["host-a".into(), "host-b".into()];
    let renderer = Gpus::lazy(opts.adapter.into()).renderer(config.compose, config.canvas)?;
    let mut session = Session::start_with_events(config, renderer, Box::new(hub), events)?;
    let mut pipes = Vec::new();
    for sender in session.take_inputs() {
        let path = if sender.id() == "host-a" {
            &opts.a
        } else {
            &opts.b
        };
        let (v, a) = feed(sender);
        pipes.push(decode(path, v, a)?);
    }
    let report = session.join()?;
    for p in &pipes {
        wait_eos(p, Duration::from_secs(1));
    }
    eprintln!(
        "bench worker: {} frames rendered, {} late ticks (skipped), {} frames dropped before the encoder",
        report.frames, report.late_ticks, report.sink.video_dropped
    );
    Ok(())
}
