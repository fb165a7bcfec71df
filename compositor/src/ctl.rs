//! `compositor ctl`: every RPC of `compositor.v1` from a terminal, for producers and
//! scripts. Replies print as JSON (enums as their numbers); `get-frame` writes the PNG to a
//! file. The token comes from `--token` or `COMPOSITOR_TOKEN`.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use proto::v1 as pb;

use crate::ctl_args::list;
use proto::v1::compositor_client::CompositorClient;
use tokio_stream::StreamExt as _;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

/// Connection options.
#[derive(Args, Debug, Clone)]
pub struct CtlConn {
    /// Server address (http://host:port, or https:// with TLS).
    #[arg(
        long,
        env = "COMPOSITOR_ADDR",
        default_value = "http://127.0.0.1:50051"
    )]
    pub addr: String,
    /// Bearer token.
    #[arg(long, env = "COMPOSITOR_TOKEN")]
    pub token: Option<String>,
    /// CA certificate (PEM) to trust for https:// addresses.
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
}

/// One RPC.
#[derive(Subcommand, Debug, Clone)]
pub enum CtlCmd {
    /// Create a session.
    CreateSession {
        /// Id (empty = server picks).
        #[arg(long, default_value = "")]
        id: String,
        /// Canvas WxH.
        #[arg(long, default_value = "1280x720")]
        size: String,
        /// Frame rate (30 or 30000/1001).
        #[arg(long, default_value = "30")]
        fps: String,
        /// Mix rate, Hz.
        #[arg(long, default_value_t = 48_000)]
        sample_rate: u32,
        /// Mix channels.
        #[arg(long, default_value_t = 2)]
        channels: u32,
        /// Latency budget lower bound, ms (0 = default).
        #[arg(long, default_value_t = 0)]
        latency_min_ms: u32,
        /// Latency budget upper bound, ms (0 = default).
        #[arg(long, default_value_t = 0)]
        latency_max_ms: u32,
        /// Stall timeout, ms (0 = default).
        #[arg(long, default_value_t = 0)]
        stall_timeout_ms: u32,
        /// Background R,G,B.
        #[arg(long)]
        background: Option<String>,
    },
    /// Show a session.
    GetSession {
        /// Session id.
        session: String,
    },
    /// List sessions.
    ListSessions,
    /// Delete a session (outputs finalised).
    DeleteSession {
        /// Session id.
        session: String,
    },
    /// Add a host slot; prints its WHIP URL and token.
    AddInput {
        /// Session id.
        session: String,
        /// Input id.
        input: String,
        /// Label.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Remove a host slot.
    RemoveInput {
        /// Session id.
        session: String,
        /// Input id.
        input: String,
    },
    /// Change a slot's label, volume or mute.
    UpdateInput {
        /// Session id.
        session: String,
        /// Input id.
        input: String,
        /// New label.
        #[arg(long)]
        label: Option<String>,
        /// Gain, dB.
        #[arg(long, allow_hyphen_values = true)]
        volume_db: Option<f32>,
        /// Mute (true/false).
        #[arg(long)]
        mute: Option<bool>,
        /// Registered image shown while the input has no picture ("" = the plain placeholder).
        #[arg(long)]
        placeholder_image: Option<String>,
    },
    /// Switch the layout.
    SetLayout(SetLayoutArgs),
    /// Register an image from a local file (sent as bytes) or a server path.
    RegisterImage {
        /// Session id.
        session: String,
        /// Image id.
        image: String,
        /// Local PNG/JPEG file to upload.
        #[arg(long, conflicts_with = "server_path")]
        file: Option<PathBuf>,
        /// Path relative to the server's image directory.
        #[arg(long)]
        server_path: Option<String>,
    },
    /// Forget an image.
    RemoveImage {
        /// Session id.
        session: String,
        /// Image id.
        image: String,
    },
    /// Add an output.
    AddOutput(AddOutputArgs),
    /// Remove an output.
    RemoveOutput {
        /// Session id.
        session: String,
        /// Output id.
        output: String,
    },
    /// List outputs.
    ListOutputs {
        /// Session id.
        session: String,
    },
    /// Stream events as JSON lines.
    WatchEvents {
        /// Session id.
        session: String,
        /// Resume after this sequence number.
        #[arg(long, default_value_t = 0)]
        after_seq: u64,
        /// Stop after this many events (0 = until interrupted).
        #[arg(long, default_value_t = 0)]
        count: usize,
    },
    /// Session, input and output counters.
    GetStats {
        /// Session id.
        session: String,
    },
    /// The PK match: start, score, end, cancel, supporters.
    Pk {
        /// What to do.
        #[command(subcommand)]
        cmd: crate::ctl_pk::PkCmd,
    },
    /// Mixer controls: solo, unsolo, ducking.
    Mixer(crate::ctl_pk::MixerArgs),
    /// Save the first frame at/after a time as PNG.
    GetFrame {
        /// Session id.
        session: String,
        /// Output time, ms (default: the next frame).
        #[arg(long)]
        at_ms: Option<u64>,
        /// PNG file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `set-layout` options: one preset, plus style, background and transition.
#[derive(Args, Debug, Clone)]
pub struct SetLayoutArgs {
    /// Session id.
    pub session: String,
    /// PK: LEFT,RIGHT (1v1) or LEFT,RIGHT,LEFT_PARTNER,RIGHT_PARTNER (2v2).
    #[arg(long, group = "preset")]
    pub pk: Option<String>,
    /// PK tile aspect W:H (e.g. 3:4 for portrait hosts).
    #[arg(long)]
    pub tile_aspect: Option<String>,
    /// Custom rects: INPUT:X,Y,W,H[,Z];INPUT:…
    #[arg(long, group = "preset")]
    pub custom: Option<String>,
    /// Overlay IMAGE:X,Y,W,H[,Z] (repeatable).
    #[arg(long)]
    pub overlay: Vec<String>,
    /// Name tags on (true) or off (false); default: the layout's.
    #[arg(long)]
    pub name_tags: Option<bool>,
    /// Grid: comma-separated inputs (empty string = no inputs).
    #[arg(long, group = "preset")]
    pub grid: Option<String>,
    /// Spotlight: MAIN[,OTHER...].
    #[arg(long, group = "preset")]
    pub spotlight: Option<String>,
    /// Spotlight follows the active speaker.
    #[arg(long)]
    pub follow_speaker: bool,
    /// Picture-in-picture: MAIN,INSET[,INSET...].
    #[arg(long, group = "preset")]
    pub pip: Option<String>,
    /// Gap between tiles, px.
    #[arg(long, default_value_t = 0)]
    pub gap: u32,
    /// Background R,G,B.
    #[arg(long)]
    pub background: Option<String>,
    /// Background image id.
    #[arg(long)]
    pub background_image: Option<String>,
    /// Transition length, ms (0 = cut).
    #[arg(long, default_value_t = 0)]
    pub transition_ms: u32,
    /// Easing: linear or ease-in-out.
    #[arg(long, default_value = "ease-in-out")]
    pub easing: String,
    /// Apply at this output time, ms.
    #[arg(long)]
    pub at_ms: Option<u64>,
}

/// `add-output` options: one destination plus encoder settings.
#[derive(Args, Debug, Clone)]
pub struct AddOutputArgs {
    /// Session id.
    pub session: String,
    /// Output id.
    pub output: String,
    /// RTMP(S) URL.
    #[arg(long, group = "dest")]
    pub rtmp: Option<String>,
    /// RTMP stream key.
    #[arg(long, default_value = "")]
    pub stream_key: String,
    /// rtmps:// only: accept any TLS certificate (self-signed test ingests).
    #[arg(long)]
    pub tls_skip_verify: bool,
    /// SRT host:port.
    #[arg(long, group = "dest")]
    pub srt: Option<String>,
    /// SRT listener mode (default caller).
    #[arg(long)]
    pub srt_listener: bool,
    /// SRT latency, ms.
    #[arg(long, default_value_t = 0)]
    pub srt_latency_ms: u32,
    /// SRT passphrase.
    #[arg(long, default_value = "")]
    pub passphrase: String,
    /// HLS directory.
    #[arg(long, group = "dest")]
    pub hls: Option<String>,
    /// HLS segment seconds.
    #[arg(long, default_value_t = 0.0)]
    pub segment_secs: f32,
    /// HLS playlist size.
    #[arg(long, default_value_t = 0)]
    pub playlist_size: u32,
    /// MP4 file path (on the server).
    #[arg(long, group = "dest")]
    pub mp4: Option<String>,
    /// WHIP endpoint URL.
    #[arg(long, group = "dest")]
    pub whip: Option<String>,
    /// WHIP bearer token.
    #[arg(long, default_value = "")]
    pub whip_token: String,
    /// Codec: h264 or vp8.
    #[arg(long, default_value = "h264")]
    pub codec: String,
    /// Hardware: auto, force or forbid.
    #[arg(long, default_value = "auto")]
    pub hardware: String,
    /// Video kbit/s (0 = default).
    #[arg(long, default_value_t = 0)]
    pub video_kbps: u32,
    /// Keyframe interval, frames (0 = default).
    #[arg(long, default_value_t = 0)]
    pub keyframe_interval: u32,
    /// H.264 profile.
    #[arg(long, default_value = "")]
    pub profile: String,
    /// x264 preset.
    #[arg(long, default_value = "")]
    pub preset: String,
    /// AAC kbit/s (0 = default).
    #[arg(long, default_value_t = 0)]
    pub audio_kbps: u32,
}

fn rgb(s: &str) -> anyhow::Result<pb::Color> {
    let parts: Vec<u32> = s
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("colour {s:?}: expected R,G,B"))?;
    let [r, g, b] = parts[..] else {
        bail!("colour {s:?}: expected R,G,B");
    };
    Ok(pb::Color { r, g, b, a: 255 })
}

fn layout_request(a: SetLayoutArgs) -> anyhow::Result<pb::SetLayoutRequest> {
    use pb::layout::Kind;
    let kind = if let Some(p) = &a.pk {
        let ids = list(p);
        let (l, r, lp, rp) = match &ids[..] {
            [l, r] => (l, r, String::new(), String::new()),
            [l, r, lp, rp] => (l, r, lp.clone(), rp.clone()),
            _ => bail!("--pk: expected LEFT,RIGHT or LEFT,RIGHT,LEFT_PARTNER,RIGHT_PARTNER"),
        };
        let (aw, ah) = match &a.tile_aspect {
            None => (0, 0),
            Some(t) => {
                let (w, h) = t
                    .split_once(':')
                    .with_context(|| format!("--tile-aspect {t:?}: expected W:H"))?;
                (
                    w.parse().with_context(|| format!("--tile-aspect {t:?}"))?,
                    h.parse().with_context(|| format!("--tile-aspect {t:?}"))?,
                )
            }
        };
        Kind::Pk(pb::PkLayout {
            left_input_id: l.clone(),
            right_input_id: r.clone(),
            score_bar_height: None,
            score_bar_bottom: false,
            left_partner_input_id: lp,
            right_partner_input_id: rp,
            tile_aspect_w: aw,
            tile_aspect_h: ah,
        })
    } else if let Some(c) = &a.custom {
        Kind::Custom(pb::CustomLayout {
            items: crate::ctl_pk::custom_items(c)?,
        })
    } else if let Some(g) = &a.grid {
        Kind::Grid(pb::GridLayout {
            input_ids: list(g),
            aspect_w: 0,
            aspect_h: 0,
        })
    } else if let Some(s) = &a.spotlight {
        let ids = list(s);
        let Some((main, others)) = ids.split_first() else {
            bail!("--spotlight: expected MAIN[,OTHER...]");
        };
        Kind::Spotlight(pb::SpotlightLayout {
            main_input_id: main.clone(),
            other_input_ids: others.to_vec(),
            strip: 0,
            strip_fraction: None,
            follow_active_speaker: a.follow_speaker,
        })
    } else if let Some(p) = &a.pip {
        let ids = list(p);
        let Some((main, insets)) = ids.split_first() else {
            bail!("--pip: expected MAIN,INSET[,INSET...]");
        };
        Kind::Pip(pb::PipLayout {
            main_input_id: main.clone(),
            inset_input_ids: insets.to_vec(),
            corner: 0,
            size_fraction: None,
            margin: None,
        })
    } else {
        bail!("give one of --pk, --grid, --spotlight, --pip, --custom");
    };
    let background = match (&a.background, &a.background_image) {
        (None, None) => None,
        (c, i) => Some(pb::Background {
            color: c.as_deref().map(rgb).transpose()?,
            image_id: i.clone().unwrap_or_default(),
        }),
    };
    let easing = match a.easing.as_str() {
        "linear" => pb::Easing::Linear,
        "ease-in-out" => pb::Easing::EaseInOut,
        other => bail!("--easing {other:?}: linear or ease-in-out"),
    };
    Ok(pb::SetLayoutRequest {
        session_id: a.session,
        layout: Some(pb::Layout {
            kind: Some(kind),
            style: Some(pb::Style {
                gap: a.gap,
                ..Default::default()
            }),
            background,
            overlays: a
                .overlay
                .iter()
                .map(|o| crate::ctl_pk::overlay(o))
                .collect::<anyhow::Result<_>>()?,
            name_tags: a.name_tags,
        }),
        transition: (a.transition_ms > 0).then_some(pb::Transition {
            duration_ms: a.transition_ms,
            easing: easing as i32,
            bezier: None,
        }),
        at_ms: a.at_ms,
    })
}

fn output_request(a: AddOutputArgs) -> anyhow::Result<pb::AddOutputRequest> {
    use pb::add_output_request::Target;
    let target = if let Some(url) = a.rtmp {
        Target::Rtmp(pb::RtmpTarget {
            url,
            stream_key: a.stream_key,
            tls_skip_verify: a.tls_skip_verify,
        })
    } else if let Some(address) = a.srt {
        Target::Srt(pb::SrtTarget {
            address,
            mode: if a.srt_listener {
                pb::SrtMode::Listener as i32
            } else {
                pb::SrtMode::Caller as i32
            },
            latency_ms: a.srt_latency_ms,
            passphrase: a.passphrase,
        })
    } else if let Some(dir) = a.hls {
        Target::Hls(pb::HlsTarget {
            dir,
            segment_secs: a.segment_secs,
            playlist_size: a.playlist_size,
        })
    } else if let Some(path) = a.mp4 {
        Target::Mp4(pb::Mp4Target { path })
    } else if let Some(url) = a.whip {
        Target::Whip(pb::WhipTarget {
            url,
            token: a.whip_token,
        })
    } else {
        bail!("give one of --rtmp, --srt, --hls, --mp4, --whip");
    };
    let codec = match a.codec.as_str() {
        "h264" => pb::VideoCodec::H264,
        "vp8" => pb::VideoCodec::Vp8,
        other => bail!("--codec {other:?}: h264 or vp8"),
    };
    let hardware = match a.hardware.as_str() {
        "auto" => pb::Hardware::Auto,
        "force" => pb::Hardware::Force,
        "forbid" => pb::Hardware::Forbid,
        other => bail!("--hardware {other:?}: auto, force or forbid"),
    };
    Ok(pb::AddOutputRequest {
        session_id: a.session,
        output_id: a.output,
        target: Some(target),
        encoder: Some(pb::EncoderSettings {
            codec: codec as i32,
            hardware: hardware as i32,
            video_kbps: a.video_kbps,
            keyframe_interval: a.keyframe_interval,
            profile: a.profile,
            preset: a.preset,
            audio_kbps: a.audio_kbps,
        }),
    })
}

fn print<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Runs one RPC and prints its reply.
pub fn run(conn: CtlConn, cmd: CtlCmd) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(conn, cmd))
}

async fn run_async(conn: CtlConn, cmd: CtlCmd) -> anyhow::Result<()> {
    let mut endpoint = Channel::from_shared(conn.addr.clone())
        .with_context(|| format!("--addr {:?}", conn.addr))?;
    if conn.addr.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        if let Some(ca) = &conn.ca_cert {
            let pem = std::fs::read(ca).with_context(|| format!("--ca-cert {}", ca.display()))?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        endpoint = endpoint.tls_config(tls)?;
    }
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot connect to {}", conn.addr))?;
    let header: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> = match &conn.token {
        Some(t) => Some(
            format!("Bearer {t}")
                .parse()
                .context("--token: not valid in a header")?,
        ),
        None => None,
    };
    let mut c = CompositorClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
        if let Some(h) = &header {
            req.metadata_mut().insert("authorization", h.clone());
        }
        Ok(req)
    })
    .max_decoding_message_size(256 * 1024 * 1024)
    .max_encoding_message_size(64 * 1024 * 1024);
    match cmd {
        CtlCmd::CreateSession {
            id,
            size,
            fps,
            sample_rate,
            channels,
            latency_min_ms,
            latency_max_ms,
            stall_timeout_ms,
            background,
        } => {
            let (w, h) = size
                .split_once(['x', 'X'])
                .context("--size: expected WxH")?;
            let (n, d) = fps.split_once('/').unwrap_or((&fps, "1"));
            let r = c
                .create_session(pb::CreateSessionRequest {
                    session_id: id,
                    width: w.parse().context("--size: bad width")?,
                    height: h.parse().context("--size: bad height")?,
                    fps_num: n.parse().context("--fps: bad number")?,
                    fps_den: d.parse().context("--fps: bad number")?,
                    sample_rate,
                    channels,
                    latency_min_ms,
                    latency_max_ms,
                    stall_timeout_ms,
                    background: background.as_deref().map(rgb).transpose()?,
                    layout: None,
                })
                .await?;
            print(r.get_ref())
        }
        CtlCmd::GetSession { session } => print(
            c.get_session(pb::GetSessionRequest {
                session_id: session,
            })
            .await?
            .get_ref(),
        ),
        CtlCmd::ListSessions => print(c.list_sessions(pb::ListSessionsRequest {}).await?.get_ref()),
        CtlCmd::DeleteSession { session } => print(
            c.delete_session(pb::DeleteSessionRequest {
                session_id: session,
            })
            .await?
            .get_ref(),
        ),
        CtlCmd::AddInput {
            session,
            input,
            label,
        } => print(
            c.add_input(pb::AddInputRequest {
                session_id: session,
                input_id: input,
                label,
            })
            .await?
            .get_ref(),
        ),
        CtlCmd::RemoveInput { session, input } => print(
            c.remove_input(pb::RemoveInputRequest {
                session_id: session,
                input_id: input,
            })
            .await?
            .get_ref(),
        ),
        CtlCmd::UpdateInput {
            session,
            input,
            label,
            volume_db,
            mute,
            placeholder_image,
        } => print(
            c.update_input(pb::UpdateInputRequest {
                session_id: session,
                input_id: input,
                label,
                volume_db,
                mute,
                placeholder_image_id: placeholder_image,
            })
            .await?
            .get_ref(),
        ),
        CtlCmd::SetLayout(a) => print(c.set_layout(layout_request(a)?).await?.get_ref()),
        CtlCmd::RegisterImage {
            session,
            image,
            file,
            server_path,
        } => {
            use pb::register_image_request::Source;
            let source = match (file, server_path) {
                (Some(f), _) => Source::Data(
                    std::fs::read(&f).with_context(|| format!("--file {}", f.display()))?,
                ),
                (None, Some(p)) => Source::ServerPath(p),
                (None, None) => bail!("give --file or --server-path"),
            };
            print(
                c.register_image(pb::RegisterImageRequest {
                    session_id: session,
                    image_id: image,
                    source: Some(source),
                })
                .await?
                .get_ref(),
            )
        }
        CtlCmd::RemoveImage { session, image } => print(
            c.remove_image(pb::RemoveImageRequest {
                session_id: session,
                image_id: image,
            })
            .await?
            .get_ref(),
        ),
        CtlCmd::AddOutput(a) => print(c.add_output(output_request(a)?).await?.get_ref()),
        CtlCmd::RemoveOutput { session, output } => print(
            c.remove_output(pb::RemoveOutputRequest {
                session_id: session,
                output_id: output,
            })
            .await?
            .get_ref(),
        ),
        CtlCmd::ListOutputs { session } => print(
            c.list_outputs(pb::ListOutputsRequest {
                session_id: session,
            })
            .await?
            .get_ref(),
        ),
        CtlCmd::WatchEvents {
            session,
            after_seq,
            count,
        } => {
            let mut s = c
                .watch_events(pb::WatchEventsRequest {
                    session_id: session,
                    after_seq,
                })
                .await?
                .into_inner();
            let mut n = 0;
            while let Some(ev) = s.next().await {
                println!("{}", serde_json::to_string(&ev?)?);
                n += 1;
                if count > 0 && n >= count {
                    break;
                }
            }
            Ok(())
        }
        CtlCmd::GetStats { session } => print(
            c.get_stats(pb::GetStatsRequest {
                session_id: session,
            })
            .await?
            .get_ref(),
        ),
        CtlCmd::Pk { cmd } => {
            use crate::ctl_pk::PkCall;
            match crate::ctl_pk::request(cmd)? {
                PkCall::Start(r) => print(c.start_pk(r).await?.get_ref()),
                PkCall::Score(r) => print(c.update_pk_score(r).await?.get_ref()),
                PkCall::End(r) => print(c.end_pk(r).await?.get_ref()),
                PkCall::Cancel(r) => print(c.cancel_pk(r).await?.get_ref()),
                PkCall::Supporters(r) => print(c.set_pk_supporters(r).await?.get_ref()),
            }
        }
        CtlCmd::Mixer(a) => print(
            c.set_mixer(crate::ctl_pk::mixer_request(a)?)
                .await?
                .get_ref(),
        ),
        CtlCmd::GetFrame {
            session,
            at_ms,
            out,
        } => {
            let f = c
                .get_frame(pb::GetFrameRequest {
                    session_id: session,
                    at_or_after_ms: at_ms,
                })
                .await?
                .into_inner();
            std::fs::write(&out, &f.png).with_context(|| format!("--out {}", out.display()))?;
            print(&serde_json::json!({
                "pts_ms": f.pts_ms, "width": f.width, "height": f.height,
                "file": out.display().to_string(),
            }))
        }
    }
}
