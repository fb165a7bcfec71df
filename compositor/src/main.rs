//! The `compositor` command: `serve` (the server: gRPC control + HTTP + WHIP), `ctl` (every
//! RPC from a terminal), `demo` (the one-command showcase), `stream` (a live session of
//! synthetic hosts to outputs), `analyze` (sync measurement of a recording) and `bench`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use compositor_core::outputs::{EncoderKind, EncoderSettings, OutputSpec};
use compositor_core::render::ComposeChoice;
use compositor_core::session::Fps;
use compositor_devkit::bench::{RenderBenchOptions, run_render};
use compositor_devkit::bench_e2e::{
    E2eOptions, WorkerOptions, bench_encoder, run as run_e2e, worker as e2e_worker,
};
use compositor_devkit::demo::{DemoOptions, run as run_demo};
use compositor_devkit::measure::{HostRegion, analyze_file};
use compositor_devkit::stream::{LiveOptions, run as run_stream};
use compositor_render::gpu::AdapterChoice;
use layouts::Size;
use serve_config::FlagOverrides;

mod ctl;
mod ctl_args;
mod ctl_pk;
mod gpu_env;
mod serve_config;

#[derive(Parser, Debug)]
#[command(
    name = "compositor",
    version,
    about = "Real-time GPU compositor for live PK battles and multi-guest panels"
)]
struct Cli {
    /// Log format: human or json.
    #[arg(long, global = true, default_value = "human", value_parser = ["human", "json"])]
    log_format: String,
    /// Graphics adapter: auto, hardware or software (env COMPOSITOR_ADAPTER).
    #[arg(
        long,
        global = true,
        env = "COMPOSITOR_ADAPTER",
        default_value = "auto"
    )]
    adapter: String,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Render a whole 40 s PK battle of two synthetic hosts to MP4 + FLV + HLS + a PNG
    /// snapshot per phase.
    Demo {
        /// Output folder.
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        /// Length in seconds (20..=3600; the battle scales with it).
        #[arg(long, default_value_t = 40.0)]
        duration: f64,
        /// Canvas size WxH.
        #[arg(long, default_value = "1280x720")]
        size: String,
        /// Frame rate (30 or 30000/1001).
        #[arg(long, default_value = "30")]
        fps: String,
        /// H.264 encoder: auto, x264 or nvh264.
        #[arg(long, default_value = "auto")]
        encoder: String,
        /// Video bitrate, kbit/s.
        #[arg(long, default_value_t = 4000)]
        bitrate: u32,
        /// x264 speed preset.
        #[arg(long, default_value = "veryfast")]
        preset: String,
    },
    /// Measure lip sync and cross-host alignment in a recording of stamped test hosts
    /// (see `compositor_devkit::measure`): per host the audio-minus-video offset of each beep, and
    /// across hosts the share of output frames showing same-instant pictures and the gap
    /// between same-instant beeps.
    Analyze {
        /// The recording (MP4, FLV, anything GStreamer's decodebin reads).
        file: PathBuf,
        /// A host: `name:x,y,w,h:hz` (its picture's rectangle in the output and its beep
        /// frequency). Repeat for each host; the first is the reference.
        #[arg(long = "host", alias = "hosts", required = true)]
        hosts: Vec<String>,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Give up decoding after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Run the server: gRPC control API, HTTP (metrics, WHIP), sessions on the GPU.
    Serve {
        /// TOML config file (see compositor/src/serve_config.rs for the keys).
        #[arg(long)]
        config: Option<PathBuf>,
        /// gRPC listen address (overrides config and COMPOSITOR_GRPC_BIND).
        #[arg(long)]
        grpc_bind: Option<String>,
        /// HTTP listen address (overrides config and COMPOSITOR_HTTP_BIND).
        #[arg(long)]
        http_bind: Option<String>,
        /// Accepted bearer token (repeatable; overrides config and COMPOSITOR_GRPC_TOKENS).
        #[arg(long = "token")]
        tokens: Vec<String>,
    },
    /// Call the gRPC control API (replies as JSON).
    Ctl {
        #[command(flatten)]
        conn: ctl::CtlConn,
        #[command(subcommand)]
        cmd: Box<ctl::CtlCmd>,
    },
    /// Stream a real-time PK session of two synthetic hosts to outputs (RTMP, SRT, HLS, MP4).
    Stream {
        /// An output as JSON, e.g. '{"id":"rec","target":{"kind":"mp4","path":"rec.mp4"}}'
        /// (repeatable; fields as in the gRPC AddOutput request).
        #[arg(long = "output", required = true)]
        outputs: Vec<String>,
        /// Length in seconds (0: until stopped or killed).
        #[arg(long, default_value_t = 0.0)]
        duration: f64,
        /// Canvas size WxH.
        #[arg(long, default_value = "1280x720")]
        size: String,
        /// Frame rate (30 or 30000/1001).
        #[arg(long, default_value = "30")]
        fps: String,
        /// H.264 encoder: auto, x264 or nvh264.
        #[arg(long, default_value = "auto")]
        encoder: String,
        /// Video bitrate, kbit/s.
        #[arg(long, default_value_t = 4000)]
        bitrate: u32,
        /// x264 speed preset.
        #[arg(long, default_value = "veryfast")]
        preset: String,
        /// Keyframe interval, frames.
        #[arg(long, default_value_t = 60)]
        keyframe_interval: u32,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCmd {
    /// End-to-end CPU of a 2-host 720p30 session to RTMP (nginx) vs the equivalent
    /// GStreamer pipeline, plus decode + encode only.
    E2e {
        /// Input length, seconds.
        #[arg(long, default_value_t = 20)]
        duration: u64,
        /// Canvas and input size WxH.
        #[arg(long, default_value = "1280x720")]
        size: String,
        /// Video bitrate, kbit/s.
        #[arg(long, default_value_t = 3000)]
        bitrate: u32,
        /// x264 speed preset.
        #[arg(long, default_value = "veryfast")]
        preset: String,
        /// Folder for the generated inputs.
        #[arg(long, default_value = "bench-e2e")]
        work_dir: PathBuf,
        /// Also print the rows as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One measured process of `bench e2e` (internal).
    #[command(hide = true)]
    E2eWorker {
        #[arg(long)]
        mode: String,
        #[arg(long)]
        a: PathBuf,
        #[arg(long)]
        b: PathBuf,
        #[arg(long)]
        rtmp: String,
        #[arg(long)]
        key: String,
        #[arg(long)]
        size: String,
        #[arg(long)]
        bitrate: u32,
        #[arg(long)]
        preset: String,
        #[arg(long)]
        duration: u64,
    },
    /// GPU render time per frame, split into upload / draw / readback.
    Render {
        /// Input counts, comma-separated.
        #[arg(long, default_value = "2,4,9,16")]
        inputs: String,
        /// Input size WxH.
        #[arg(long, default_value = "1280x720")]
        input_size: String,
        /// Canvas size WxH.
        #[arg(long, default_value = "1920x1080")]
        canvas: String,
        /// Measured frames per case.
        #[arg(long, default_value_t = 100)]
        frames: usize,
        /// Warm-up frames per case.
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// Compositor: gpu (wgpu renderer on the chosen adapter), cpu (compositor_render::soft) or
        /// auto (cpu on a software adapter).
        #[arg(long, default_value = "gpu")]
        compose: String,
        /// Also print the rows as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_size(s: &str) -> Result<Size, String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("size {s:?}: expected WxH"))?;
    let w = w
        .parse::<u32>()
        .map_err(|_| format!("size {s:?}: bad width"))?;
    let h = h
        .parse::<u32>()
        .map_err(|_| format!("size {s:?}: bad height"))?;
    Ok(Size::new(w, h))
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,compositor=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    let adapter: AdapterChoice = cli.adapter.parse()?;
    match cli.cmd {
        None => {
            let mut opts = DemoOptions {
                gpus: gpu_env::gpus(adapter)?,
                ..DemoOptions::default()
            };
            opts.encoder = EncoderSettings::default();
            run_demo(&opts)?;
        }
        Some(Cmd::Demo {
            out,
            duration,
            size,
            fps,
            encoder,
            bitrate,
            preset,
        }) => {
            if !(20.0..=3600.0).contains(&duration) {
                anyhow::bail!("--duration {duration}: must be 20..=3600 seconds");
            }
            let kind: EncoderKind = encoder.parse().map_err(anyhow::Error::msg)?;
            let opts = DemoOptions {
                out_dir: out,
                duration: Duration::from_secs_f64(duration),
                size: parse_size(&size).map_err(anyhow::Error::msg)?,
                fps: fps.parse::<Fps>().map_err(anyhow::Error::msg)?,
                encoder: EncoderSettings {
                    kind,
                    video_kbps: bitrate,
                    preset,
                    ..EncoderSettings::default()
                },
                gpus: gpu_env::gpus(adapter)?,
            };
            run_demo(&opts)?;
        }
        Some(Cmd::Analyze {
            file,
            hosts,
            json,
            timeout,
        }) => {
            let hosts = hosts
                .iter()
                .map(|h| h.parse::<HostRegion>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?;
            let report = analyze_file(&file, &hosts, Duration::from_secs(timeout.max(1)))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.human());
            }
        }
        Some(Cmd::Serve {
            config,
            grpc_bind,
            http_bind,
            tokens,
        }) => {
            let text = match &config {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .map_err(|e| anyhow::anyhow!("--config {}: {e}", p.display()))?,
                ),
                None => None,
            };
            let env: std::collections::HashMap<String, String> = std::env::vars().collect();
            let flags = FlagOverrides {
                grpc_bind,
                http_bind,
                tokens,
            };
            let cfg = serve_config::from_sources(text.as_deref(), &env, &flags)?;
            compositor_server::run::serve(cfg, gpu_env::gpus(adapter)?)?;
        }
        Some(Cmd::Ctl { conn, cmd }) => ctl::run(conn, *cmd)?,
        Some(Cmd::Stream {
            outputs,
            duration,
            size,
            fps,
            encoder,
            bitrate,
            preset,
            keyframe_interval,
        }) => {
            if !(0.0..=86_400.0).contains(&duration) {
                anyhow::bail!("--duration {duration}: must be 0..=86400 seconds");
            }
            let specs = outputs
                .iter()
                .map(|o| {
                    serde_json::from_str::<OutputSpec>(o)
                        .map_err(|e| anyhow::anyhow!("--output: not a valid output: {e}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let opts = LiveOptions {
                size: parse_size(&size).map_err(anyhow::Error::msg)?,
                fps: fps.parse::<Fps>().map_err(anyhow::Error::msg)?,
                duration: (duration > 0.0).then(|| Duration::from_secs_f64(duration)),
                encoder: EncoderSettings {
                    kind: encoder.parse().map_err(anyhow::Error::msg)?,
                    video_kbps: bitrate,
                    preset,
                    keyframe_interval,
                    ..EncoderSettings::default()
                },
                gpus: gpu_env::gpus(adapter)?,
                host_size: None,
            };
            let report = run_stream(&opts, specs)?;
            eprintln!(
                "stream: {} frames, {} late ticks",
                report.frames, report.late_ticks
            );
        }
        Some(Cmd::Bench {
            what:
                BenchCmd::E2e {
                    duration,
                    size,
                    bitrate,
                    preset,
                    work_dir,
                    json,
                },
        }) => {
            if !(2..=600).contains(&duration) {
                anyhow::bail!("--duration {duration}: must be 2..=600 seconds");
            }
            let opts = E2eOptions {
                duration: Duration::from_secs(duration),
                size: parse_size(&size).map_err(anyhow::Error::msg)?,
                video_kbps: bitrate,
                preset,
                work_dir,
                adapter,
            };
            let rows = run_e2e(&opts)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            }
        }
        Some(Cmd::Bench {
            what:
                BenchCmd::E2eWorker {
                    mode,
                    a,
                    b,
                    rtmp,
                    key,
                    size,
                    bitrate,
                    preset,
                    duration,
                },
        }) => {
            if mode != "full" && mode != "passthrough" {
                anyhow::bail!("--mode {mode:?}: full or passthrough");
            }
            let size = parse_size(&size).map_err(anyhow::Error::msg)?;
            let e2e = E2eOptions {
                duration: Duration::from_secs(duration),
                size,
                video_kbps: bitrate,
                preset,
                work_dir: PathBuf::new(),
                adapter,
            };
            e2e_worker(&WorkerOptions {
                mode,
                a,
                b,
                rtmp,
                key,
                size,
                encoder: bench_encoder(&e2e),
                duration: Duration::from_secs(duration),
                adapter,
            })?;
        }
        Some(Cmd::Bench {
            what:
                BenchCmd::Render {
                    inputs,
                    input_size,
                    canvas,
                    frames,
                    warmup,
                    compose,
                    json,
                },
        }) => {
            let inputs = inputs
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse::<usize>()
                        .map_err(|_| anyhow::anyhow!("--inputs: bad number {s:?}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            if inputs.iter().any(|&n| n == 0 || n > 16) {
                anyhow::bail!("--inputs: each count must be 1..=16");
            }
            let opts = RenderBenchOptions {
                inputs,
                input_size: parse_size(&input_size).map_err(anyhow::Error::msg)?,
                canvas: parse_size(&canvas).map_err(anyhow::Error::msg)?,
                frames: frames.max(1),
                warmup,
                adapter,
                compose: match compose.parse().map_err(anyhow::Error::msg)? {
                    ComposeChoice::Auto => {
                        gpu_env::compose_override()?.unwrap_or(ComposeChoice::Auto)
                    }
                    c => c,
                },
            };
            let rows = run_render(&opts)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
