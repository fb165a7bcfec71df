//! The gRPC control API end to end, in process: a real `SessionManager` (sessions rendering
//! on the shared GPU context, lavapipe on CPU-only machines) behind `control_api::serve` on an
//! ephemeral port, driven with the generated client. Covers every RPC's happy path and its
//! refusals with the exact status, state unchanged after each refusal, event order, the
//! layout change visible in the pixels, reflection and bearer-token auth.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use compositor_render::gpu::{AdapterChoice, GpuContext};
use compositor_server::{ManagerSettings, SessionManager};
use compositor_webrtc::ingest::IngestDirectory;
use proto::v1 as pb;
use proto::v1::compositor_client::CompositorClient;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::codegen::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;

const TOKEN: &str = "test-token-123";

#[derive(Clone)]
struct Auth(Option<String>);

impl Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(t) = &self.0 {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        Ok(req)
    }
}

type Client = CompositorClient<InterceptedService<Channel, Auth>>;

struct Server {
    addr: std::net::SocketAddr,
    manager: Arc<SessionManager>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    image_dir: std::path::PathBuf,
}

impl Server {
    async fn start() -> Server {
        let gpu = GpuContext::shared(AdapterChoice::Auto).unwrap();
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let image_dir =
            std::env::temp_dir().join(format!("grpc-api-images-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&image_dir).unwrap();
        let manager = Arc::new(SessionManager::new(
            gpu,
            ManagerSettings {
                public_http_base: "http://203.0.113.5:8080".into(),
                image_dir: Some(image_dir.clone()),
                max_sessions: 4,
                ..ManagerSettings::default()
            },
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let backend: Arc<dyn control_api::ControlBackend> = manager.clone();
        let opts = control_api::ServeOptions {
            tokens: vec![TOKEN.into()],
            tls: None,
        };
        let task = tokio::spawn(async move {
            control_api::serve(listener, backend, opts, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Server {
            addr,
            manager,
            stop: Some(tx),
            task: Some(task),
            image_dir,
        }
    }

    async fn client_with(&self, token: Option<&str>) -> Client {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        CompositorClient::with_interceptor(channel, Auth(token.map(str::to_owned)))
            .max_decoding_message_size(64 * 1024 * 1024)
    }

    async fn client(&self) -> Client {
        self.client_with(Some(TOKEN)).await
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        let m = self.manager.clone();
        tokio::task::spawn_blocking(move || m.shutdown())
            .await
            .unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = std::fs::remove_dir_all(&self.image_dir);
    }
}

fn small(id: &str) -> pb::CreateSessionRequest {
    pb::CreateSessionRequest {
        session_id: id.into(),
        width: 320,
        height: 180,
        fps_num: 15,
        fps_den: 1,
        background: Some(pb::Color {
            r: 200,
            g: 30,
            b: 30,
            a: 255,
        }),
        ..Default::default()
    }
}

fn pk(left: &str, right: &str) -> pb::Layout {
    pb::Layout {
        kind: Some(pb::layout::Kind::Pk(pb::PkLayout {
            left_input_id: left.into(),
            right_input_id: right.into(),
            score_bar_height: None,
            score_bar_bottom: false,
        })),
        background: Some(pb::Background {
            color: Some(pb::Color {
                r: 200,
                g: 30,
                b: 30,
                a: 255,
            }),
            image_id: String::new(),
        }),
        ..Default::default()
    }
}

fn grid(ids: &[&str]) -> pb::Layout {
    pb::Layout {
        kind: Some(pb::layout::Kind::Grid(pb::GridLayout {
            input_ids: ids.iter().map(|s| s.to_string()).collect(),
            aspect_w: 0,
            aspect_h: 0,
        })),
        ..Default::default()
    }
}

fn set_layout(session: &str, layout: pb::Layout) -> pb::SetLayoutRequest {
    pb::SetLayoutRequest {
        session_id: session.into(),
        layout: Some(layout),
        transition: None,
        at_ms: None,
    }
}

/// Asserts the call failed with `code` and a message containing `needle`.
#[track_caller]
fn refused<T: std::fmt::Debug>(
    r: Result<tonic::Response<T>, tonic::Status>,
    code: Code,
    needle: &str,
) {
    let e = r.expect_err("the request should have been refused");
    assert_eq!(e.code(), code, "status {e:?}");
    assert!(
        e.message().contains(needle),
        "message {:?} lacks {needle:?}",
        e.message()
    );
}

fn png_bytes(w: u32, h: u32, rgba: [u8; 4]) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba(rgba));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn session_state(c: &mut Client, id: &str) -> pb::Session {
    let mut s = c
        .get_session(pb::GetSessionRequest {
            session_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner();
    s.media_time_ms = 0; // the clock moves; everything else must not
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_happy_paths_and_refusals() {
    let server = Server::start().await;
    let mut c = server.client().await;

    // --- CreateSession ---------------------------------------------------------------------
    let mut bad = small("s1");
    bad.width = 321;
    refused(
        c.create_session(bad).await,
        Code::InvalidArgument,
        "width: 321 must be even",
    );
    let mut bad = small("s1");
    bad.fps_num = 500;
    refused(
        c.create_session(bad).await,
        Code::InvalidArgument,
        "fps_num/fps_den",
    );
    let mut bad = small("s1");
    bad.sample_rate = 44_101;
    refused(
        c.create_session(bad).await,
        Code::InvalidArgument,
        "sample_rate: 44101 must be a multiple of 100",
    );
    let mut bad = small("s1");
    bad.latency_min_ms = 300;
    bad.latency_max_ms = 100;
    refused(
        c.create_session(bad).await,
        Code::InvalidArgument,
        "latency_max_ms: 100 is out of range 300..=5000",
    );
    let mut bad = small("s1");
    bad.layout = Some(pk("a", "b"));
    refused(c.create_session(bad).await, Code::NotFound, "input \"a\"");
    refused(
        c.create_session(small("bad/id")).await,
        Code::InvalidArgument,
        "session_id: contains '/'",
    );
    let list = c
        .list_sessions(pb::ListSessionsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        list.sessions.is_empty(),
        "refused creates left sessions behind: {list:?}"
    );

    let s = c.create_session(small("s1")).await.unwrap().into_inner();
    assert_eq!(
        (s.session_id.as_str(), s.width, s.height, s.fps_num),
        ("s1", 320, 180, 15)
    );
    assert_eq!(
        (
            s.sample_rate,
            s.channels,
            s.latency_min_ms,
            s.latency_max_ms
        ),
        (48_000, 2, 20, 400)
    );
    refused(
        c.create_session(small("s1")).await,
        Code::AlreadyExists,
        "session \"s1\"",
    );
    let auto = c.create_session(small("")).await.unwrap().into_inner();
    assert!(
        auto.session_id.starts_with("s-") && auto.session_id.len() == 14,
        "{}",
        auto.session_id
    );

    // The server's session limit (4 here) is RESOURCE_EXHAUSTED.
    for id in ["s3", "s4"] {
        c.create_session(small(id)).await.unwrap();
    }
    refused(
        c.create_session(small("s5")).await,
        Code::ResourceExhausted,
        "at most 4 sessions",
    );
    for id in ["s3", "s4"] {
        c.delete_session(pb::DeleteSessionRequest {
            session_id: id.into(),
        })
        .await
        .unwrap();
    }

    // --- GetSession / ListSessions -----------------------------------------------------------
    refused(
        c.get_session(pb::GetSessionRequest {
            session_id: "nope".into(),
        })
        .await,
        Code::NotFound,
        "session \"nope\"",
    );
    refused(
        c.get_session(pb::GetSessionRequest {
            session_id: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "session_id: must not be empty",
    );
    let list = c
        .list_sessions(pb::ListSessionsRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut ids: Vec<_> = list.sessions.iter().map(|s| s.session_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, vec![auto.session_id.clone(), "s1".to_string()]);

    // --- AddInput ----------------------------------------------------------------------------
    let a = c
        .add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "host-a".into(),
            label: "Host A".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.whip_url, "http://203.0.113.5:8080/whip/s1/host-a");
    assert_eq!(a.bearer_token.len(), 32);
    assert_eq!(a.input.as_ref().unwrap().label, "Host A");
    // The WHIP side resolves the same slot and token.
    let slot = server.manager.resolve("s1", "host-a").unwrap();
    assert_eq!(slot.token, a.bearer_token);
    assert!(server.manager.resolve("s1", "ghost").is_err());
    let b = c
        .add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "host-b".into(),
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(a.bearer_token, b.bearer_token);
    let before = session_state(&mut c, "s1").await;
    refused(
        c.add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "host-a".into(),
            label: String::new(),
        })
        .await,
        Code::AlreadyExists,
        "input \"host-a\"",
    );
    refused(
        c.add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "a b".into(),
            label: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "input_id: contains ' '",
    );
    refused(
        c.add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "x".repeat(129),
            label: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "input_id: is 129 bytes; at most 128 allowed",
    );
    refused(
        c.add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "c".into(),
            label: "bad\u{7}".into(),
        })
        .await,
        Code::InvalidArgument,
        "label: must not contain control characters",
    );
    refused(
        c.add_input(pb::AddInputRequest {
            session_id: "zz".into(),
            input_id: "c".into(),
            label: String::new(),
        })
        .await,
        Code::NotFound,
        "session \"zz\"",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused AddInput changed the session"
    );

    // --- UpdateInput -------------------------------------------------------------------------
    let upd = |label: Option<&str>, vol: Option<f32>, mute: Option<bool>| pb::UpdateInputRequest {
        session_id: "s1".into(),
        input_id: "host-a".into(),
        label: label.map(str::to_owned),
        volume_db: vol,
        mute,
        placeholder_image_id: None,
    };
    let i = c
        .update_input(upd(Some("Alice"), None, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(i.label, "Alice");
    let before = session_state(&mut c, "s1").await;
    refused(
        c.update_input(upd(Some("Bob"), Some(f32::NAN), None)).await,
        Code::InvalidArgument,
        "volume_db: must be a finite number",
    );
    refused(
        c.update_input(upd(None, Some(30.0), None)).await,
        Code::InvalidArgument,
        "volume_db: 30 is out of range -60..=24",
    );
    // No audio from the host yet: the mixer does not know the input.
    refused(
        c.update_input(upd(Some("Bob"), Some(-6.0), None)).await,
        Code::FailedPrecondition,
        "has no audio yet",
    );
    let mut ph = upd(None, None, None);
    ph.placeholder_image_id = Some("logo".into());
    refused(c.update_input(ph).await, Code::NotFound, "image \"logo\"");
    let mut ph = upd(None, None, None);
    ph.placeholder_image_id = Some("a/b".into());
    refused(
        c.update_input(ph).await,
        Code::InvalidArgument,
        "placeholder_image_id: contains '/'",
    );
    let mut ghost = upd(Some("x"), None, None);
    ghost.input_id = "ghost".into();
    refused(
        c.update_input(ghost).await,
        Code::NotFound,
        "input \"ghost\"",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused UpdateInput changed the session"
    );
    // Once audio flows (fed through the ingest directory, as WHIP will), gain and mute work.
    let sender = server.manager.resolve("s1", "host-a").unwrap();
    let feeder = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(4) {
            let pts = sender.session.session_time(Instant::now());
            let block = compositor_core::frame::AudioBlock {
                pts,
                sample_rate: 48_000,
                channels: 2,
                samples: vec![0.1; 960 * 2],
            };
            if sender.sender.send_audio(block).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    let i = loop {
        match c
            .update_input(upd(Some("Bob"), Some(-6.0), Some(true)))
            .await
        {
            Ok(r) => break r.into_inner(),
            Err(e) if e.code() == Code::FailedPrecondition && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("UpdateInput with audio flowing: {e:?}"),
        }
    };
    assert_eq!((i.label.as_str(), i.volume_db, i.mute), ("Bob", -6.0, true));
    feeder.join().unwrap();

    // --- SetLayout ---------------------------------------------------------------------------
    let before = session_state(&mut c, "s1").await;
    refused(
        c.set_layout(set_layout("s1", pk("host-a", "ghost"))).await,
        Code::NotFound,
        "input \"ghost\"",
    );
    refused(
        c.set_layout(pb::SetLayoutRequest {
            session_id: "s1".into(),
            layout: None,
            transition: None,
            at_ms: None,
        })
        .await,
        Code::InvalidArgument,
        "layout: is required",
    );
    refused(
        c.set_layout(set_layout("s1", pb::Layout::default())).await,
        Code::InvalidArgument,
        "layout.kind: is required",
    );
    let mut nan = pk("host-a", "host-b");
    if let Some(pb::layout::Kind::Pk(p)) = nan.kind.as_mut() {
        p.score_bar_height = Some(f32::NAN);
    }
    refused(
        c.set_layout(set_layout("s1", nan)).await,
        Code::InvalidArgument,
        "must be a finite number",
    );
    let mut far = pk("host-a", "host-b");
    if let Some(pb::layout::Kind::Pk(p)) = far.kind.as_mut() {
        p.score_bar_height = Some(0.9);
    }
    refused(
        c.set_layout(set_layout("s1", far)).await,
        Code::InvalidArgument,
        "out of range 0..=0.3",
    );
    refused(
        c.set_layout(set_layout("s1", pk("host-a", "host-a"))).await,
        Code::InvalidArgument,
        "more than once",
    );
    let mut long = set_layout("s1", pk("host-a", "host-b"));
    long.transition = Some(pb::Transition {
        duration_ms: 20_000,
        easing: 0,
        bezier: None,
    });
    refused(
        c.set_layout(long).await,
        Code::InvalidArgument,
        "transition",
    );
    let mut bez = set_layout("s1", pk("host-a", "host-b"));
    bez.transition = Some(pb::Transition {
        duration_ms: 500,
        easing: pb::Easing::CubicBezier as i32,
        bezier: None,
    });
    refused(
        c.set_layout(bez).await,
        Code::InvalidArgument,
        "transition.bezier: is required",
    );
    let mut later = set_layout("s1", pk("host-a", "host-b"));
    later.at_ms = Some(10_000_000);
    refused(
        c.set_layout(later).await,
        Code::InvalidArgument,
        "at_ms: 10000000 is more than 600000 ms",
    );
    let mut img_bg = pk("host-a", "host-b");
    img_bg.background.as_mut().unwrap().image_id = "missing".into();
    refused(
        c.set_layout(set_layout("s1", img_bg)).await,
        Code::NotFound,
        "image \"missing\"",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused SetLayout changed the session"
    );
    let r = c
        .set_layout(set_layout("s1", pk("host-a", "host-b")))
        .await
        .unwrap()
        .into_inner();
    let now = c
        .get_session(pb::GetSessionRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        r.applied_at_ms <= now.media_time_ms + 100,
        "{r:?} vs {}",
        now.media_time_ms
    );
    assert!(matches!(
        now.layout.as_ref().unwrap().kind,
        Some(pb::layout::Kind::Pk(_))
    ));
    // Scheduled: applied at the first frame at/after the requested time.
    let at = now.media_time_ms + 300;
    let mut sched = set_layout("s1", grid(&["host-a", "host-b"]));
    sched.at_ms = Some(at);
    sched.transition = Some(pb::Transition {
        duration_ms: 200,
        easing: pb::Easing::Linear as i32,
        bezier: None,
    });
    let r = c.set_layout(sched).await.unwrap().into_inner();
    assert!(
        r.applied_at_ms >= at && r.applied_at_ms < at + 100,
        "asked {at}, applied {}",
        r.applied_at_ms
    );

    // --- RemoveInput -------------------------------------------------------------------------
    let before = session_state(&mut c, "s1").await;
    refused(
        c.remove_input(pb::RemoveInputRequest {
            session_id: "s1".into(),
            input_id: "host-b".into(),
        })
        .await,
        Code::FailedPrecondition,
        "in the current layout",
    );
    refused(
        c.remove_input(pb::RemoveInputRequest {
            session_id: "s1".into(),
            input_id: "ghost".into(),
        })
        .await,
        Code::NotFound,
        "input \"ghost\"",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused RemoveInput changed the session"
    );
    c.set_layout(set_layout("s1", grid(&["host-a"])))
        .await
        .unwrap();
    c.remove_input(pb::RemoveInputRequest {
        session_id: "s1".into(),
        input_id: "host-b".into(),
    })
    .await
    .unwrap();
    assert!(server.manager.resolve("s1", "host-b").is_err());
    let s = session_state(&mut c, "s1").await;
    assert_eq!(
        s.inputs
            .iter()
            .map(|i| i.input_id.as_str())
            .collect::<Vec<_>>(),
        vec!["host-a"]
    );

    // --- RegisterImage / RemoveImage ---------------------------------------------------------
    let reg =
        |id: &str, source: Option<pb::register_image_request::Source>| pb::RegisterImageRequest {
            session_id: "s1".into(),
            image_id: id.into(),
            source,
        };
    use pb::register_image_request::Source;
    let img = c
        .register_image(reg(
            "logo",
            Some(Source::Data(png_bytes(64, 32, [0, 255, 0, 255]))),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((img.width, img.height), (64, 32));
    std::fs::write(
        server.image_dir.join("bg.png"),
        png_bytes(16, 16, [0, 0, 255, 255]),
    )
    .unwrap();
    let img = c
        .register_image(reg("bg", Some(Source::ServerPath("bg.png".into()))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((img.width, img.height), (16, 16));
    let before = session_state(&mut c, "s1").await;
    refused(
        c.register_image(reg("x", Some(Source::Data(b"not an image".to_vec()))))
            .await,
        Code::InvalidArgument,
        "data: cannot decode",
    );
    refused(
        c.register_image(reg("x", Some(Source::Data(Vec::new()))))
            .await,
        Code::InvalidArgument,
        "data: must not be empty",
    );
    refused(
        c.register_image(reg("x", None)).await,
        Code::InvalidArgument,
        "source: is required",
    );
    refused(
        c.register_image(reg("x", Some(Source::ServerPath("../etc/passwd".into()))))
            .await,
        Code::InvalidArgument,
        "server_path: must be relative",
    );
    refused(
        c.register_image(reg("x", Some(Source::ServerPath("/etc/passwd".into()))))
            .await,
        Code::InvalidArgument,
        "server_path: must be relative",
    );
    refused(
        c.register_image(reg("x", Some(Source::ServerPath("missing.png".into()))))
            .await,
        Code::NotFound,
        "missing.png",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused RegisterImage changed the session"
    );
    let mut with_bg = grid(&["host-a"]);
    with_bg.background = Some(pb::Background {
        color: None,
        image_id: "bg".into(),
    });
    c.set_layout(set_layout("s1", with_bg)).await.unwrap();
    let rm = |id: &str| pb::RemoveImageRequest {
        session_id: "s1".into(),
        image_id: id.into(),
    };
    refused(
        c.remove_image(rm("bg")).await,
        Code::FailedPrecondition,
        "in the current scene",
    );
    refused(
        c.remove_image(rm("nope")).await,
        Code::NotFound,
        "image \"nope\"",
    );
    c.remove_image(rm("logo")).await.unwrap();
    let s = session_state(&mut c, "s1").await;
    assert_eq!(s.image_ids, vec!["bg".to_string()]);

    // --- UpdateInput.placeholder_image_id ----------------------------------------------------
    // host-a has sent no video: its tile (the whole 320x180 canvas, a grid of one 16:9 tile)
    // shows the plain placeholder until a placeholder image is set.
    const PH_GREEN: [u8; 3] = [40, 180, 60];
    const PLAIN: [u8; 3] = [40, 40, 48];
    c.register_image(reg(
        "ph",
        Some(Source::Data(png_bytes(64, 64, [40, 180, 60, 255]))),
    ))
    .await
    .unwrap();
    let set_ph = |id: &str| {
        let mut r = upd(None, None, None);
        r.placeholder_image_id = Some(id.into());
        r
    };
    let media_ms = |s: pb::Session| s.media_time_ms;
    let now = media_ms(
        c.get_session(pb::GetSessionRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner(),
    );
    let (_, img) = frame_at(&mut c, "s1", now + 1).await;
    near(
        patch(&img, 160, 90),
        PLAIN,
        "host-a before its placeholder image",
    );
    let i = c.update_input(set_ph("ph")).await.unwrap().into_inner();
    assert_eq!(i.placeholder_image_id, "ph");
    let s = session_state(&mut c, "s1").await;
    let a = s.inputs.iter().find(|i| i.input_id == "host-a").unwrap();
    assert_eq!(a.placeholder_image_id, "ph");
    let now = media_ms(
        c.get_session(pb::GetSessionRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner(),
    );
    let (_, img) = frame_at(&mut c, "s1", now + 1).await;
    near(
        patch(&img, 160, 90),
        PH_GREEN,
        "host-a shows its placeholder image",
    );
    near(patch(&img, 20, 20), PH_GREEN, "host-a's whole tile");
    let before = session_state(&mut c, "s1").await;
    refused(
        c.remove_image(rm("ph")).await,
        Code::FailedPrecondition,
        "placeholder of input \"host-a\"",
    );
    refused(
        c.update_input(set_ph("nope")).await,
        Code::NotFound,
        "image \"nope\"",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused placeholder changes changed the session"
    );
    let i = c.update_input(set_ph("")).await.unwrap().into_inner();
    assert_eq!(i.placeholder_image_id, "");
    let now = media_ms(
        c.get_session(pb::GetSessionRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner(),
    );
    let (_, img) = frame_at(&mut c, "s1", now + 1).await;
    near(
        patch(&img, 160, 90),
        PLAIN,
        "host-a after clearing its placeholder image",
    );
    c.remove_image(rm("ph")).await.unwrap();
    let s = session_state(&mut c, "s1").await;
    assert_eq!(s.image_ids, vec!["bg".to_string()]);

    // --- Outputs -----------------------------------------------------------------------------
    use pb::add_output_request::Target;
    let out = |t: Target, enc: Option<pb::EncoderSettings>| pb::AddOutputRequest {
        session_id: "s1".into(),
        output_id: "rec".into(),
        target: Some(t),
        encoder: enc,
    };
    refused(
        c.add_output(out(
            Target::Rtmp(pb::RtmpTarget {
                url: "http://x/live".into(),
                stream_key: "k".into(),
                ..Default::default()
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "rtmp.url: scheme \"http\" is not allowed",
    );
    refused(
        c.add_output(out(
            Target::Rtmp(pb::RtmpTarget {
                url: "rtmp:///live".into(),
                stream_key: "k".into(),
                ..Default::default()
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "rtmp.url: has no host",
    );
    refused(
        c.add_output(out(
            Target::Rtmp(pb::RtmpTarget {
                url: "rtmp://cdn.example/live".into(),
                stream_key: "k".into(),
                tls_skip_verify: true,
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "rtmp.tls_skip_verify: applies to rtmps:// URLs only",
    );
    refused(
        c.add_output(out(
            Target::Srt(pb::SrtTarget {
                address: "cdn:0".into(),
                ..Default::default()
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "srt.address: port \"0\" is out of range 1..=65535",
    );
    refused(
        c.add_output(out(
            Target::Srt(pb::SrtTarget {
                address: "cdn:9000".into(),
                passphrase: "short".into(),
                ..Default::default()
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "srt.passphrase: is 5 bytes; must be 10..=79",
    );
    refused(
        c.add_output(out(
            Target::Hls(pb::HlsTarget {
                dir: "/tmp/hls".into(),
                segment_secs: 60.0,
                playlist_size: 0,
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "hls.segment_secs: 60 is out of range 0.5..=30",
    );
    refused(
        c.add_output(out(
            Target::Mp4(pb::Mp4Target {
                path: "rel.mp4".into(),
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "mp4.path: must be an absolute path",
    );
    refused(
        c.add_output(out(
            Target::Whip(pb::WhipTarget {
                url: "ftp://sfu/whip".into(),
                token: String::new(),
            }),
            None,
        ))
        .await,
        Code::InvalidArgument,
        "whip.url: scheme \"ftp\"",
    );
    let enc = |f: fn(&mut pb::EncoderSettings)| {
        let mut e = pb::EncoderSettings::default();
        f(&mut e);
        Some(e)
    };
    let mp4 = || {
        Target::Mp4(pb::Mp4Target {
            path: "/tmp/rec.mp4".into(),
        })
    };
    refused(
        c.add_output(out(mp4(), enc(|e| e.video_kbps = 99))).await,
        Code::InvalidArgument,
        "encoder.video_kbps: 99 is out of range 100..=50000",
    );
    refused(
        c.add_output(out(mp4(), enc(|e| e.keyframe_interval = 601)))
            .await,
        Code::InvalidArgument,
        "encoder.keyframe_interval: 601 is out of range 1..=600",
    );
    refused(
        c.add_output(out(mp4(), enc(|e| e.preset = "ludicrous".into())))
            .await,
        Code::InvalidArgument,
        "encoder.preset: \"ludicrous\" is not one of",
    );
    refused(
        c.add_output(out(mp4(), enc(|e| e.profile = "extreme".into())))
            .await,
        Code::InvalidArgument,
        "encoder.profile",
    );
    refused(
        c.add_output(out(mp4(), enc(|e| e.codec = pb::VideoCodec::Vp8 as i32)))
            .await,
        Code::InvalidArgument,
        "encoder.codec: VP8 is only for WHIP",
    );
    refused(
        c.add_output(out(mp4(), enc(|e| e.audio_kbps = 1000))).await,
        Code::InvalidArgument,
        "encoder.audio_kbps: 1000 is out of range 32..=320",
    );
    let mut no_target = out(mp4(), None);
    no_target.target = None;
    refused(
        c.add_output(no_target).await,
        Code::InvalidArgument,
        "target: is required",
    );
    // A valid request reaches the output hub: a real fragmented MP4 recording starts.
    let rec_path = std::env::temp_dir().join(format!("grpc-api-rec-{}.mp4", std::process::id()));
    let _ = std::fs::remove_file(&rec_path);
    let rec_target = || {
        Target::Mp4(pb::Mp4Target {
            path: rec_path.to_string_lossy().into_owned(),
        })
    };
    let added = c
        .add_output(out(rec_target(), enc(|e| e.video_kbps = 800)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.output_id, "rec");
    assert_eq!(added.kind, "mp4");
    refused(
        c.add_output(out(rec_target(), None)).await,
        Code::AlreadyExists,
        "rec",
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let outs = c
        .list_outputs(pb::ListOutputsRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outs.outputs.len(), 1, "{outs:?}");
    assert_eq!(outs.outputs[0].output_id, "rec");
    assert!(
        outs.outputs[0].bytes > 0,
        "the recording received data: {outs:?}"
    );
    c.remove_output(pb::RemoveOutputRequest {
        session_id: "s1".into(),
        output_id: "rec".into(),
    })
    .await
    .unwrap();
    let meta = std::fs::metadata(&rec_path).unwrap();
    assert!(meta.len() > 1000, "MP4 written: {} bytes", meta.len());
    let probe = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&rec_path)
        .output()
        .unwrap();
    let probe = String::from_utf8_lossy(&probe.stdout).to_string();
    let fields: Vec<&str> = probe.trim().split(',').collect();
    assert_eq!(fields.first().copied(), Some("h264"), "ffprobe: {probe}");
    let frames: u64 = fields.last().and_then(|f| f.parse().ok()).unwrap_or(0);
    assert!(frames >= 20, "decodable frames in the recording: {probe}");
    let _ = std::fs::remove_file(&rec_path);
    let outs = c
        .list_outputs(pb::ListOutputsRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(outs.outputs.is_empty());
    refused(
        c.list_outputs(pb::ListOutputsRequest {
            session_id: "zz".into(),
        })
        .await,
        Code::NotFound,
        "session \"zz\"",
    );
    refused(
        c.remove_output(pb::RemoveOutputRequest {
            session_id: "s1".into(),
            output_id: "rec".into(),
        })
        .await,
        Code::NotFound,
        "output \"rec\"",
    );

    // --- GetStats / GetFrame -----------------------------------------------------------------
    let st = c
        .get_stats(pb::GetStatsRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(st.frames > 0 && st.media_time_ms > 0, "{st:?}");
    let ia = st
        .inputs
        .iter()
        .find(|i| i.input_id == "host-a")
        .expect("host-a stats");
    assert!(ia.audio_in > 0, "{ia:?}");
    let au = ia.audio.as_ref().expect("mixer figures for host-a");
    assert_eq!((au.gain_db, au.muted), (-6.0, true));
    refused(
        c.get_stats(pb::GetStatsRequest {
            session_id: "zz".into(),
        })
        .await,
        Code::NotFound,
        "session \"zz\"",
    );
    let f = c
        .get_frame(pb::GetFrameRequest {
            session_id: "s1".into(),
            at_or_after_ms: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((f.width, f.height), (320, 180));
    let img = image::load_from_memory(&f.png).unwrap();
    assert_eq!((img.width(), img.height()), (320, 180));
    refused(
        c.get_frame(pb::GetFrameRequest {
            session_id: "s1".into(),
            at_or_after_ms: Some(f.pts_ms + 3_600_000),
        })
        .await,
        Code::InvalidArgument,
        "at_or_after_ms",
    );
    refused(
        c.get_frame(pb::GetFrameRequest {
            session_id: "zz".into(),
            at_or_after_ms: None,
        })
        .await,
        Code::NotFound,
        "session \"zz\"",
    );

    // Malformed ids are INVALID_ARGUMENT on every RPC that takes one.
    refused(
        c.get_stats(pb::GetStatsRequest {
            session_id: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "session_id: must not be empty",
    );
    refused(
        c.list_outputs(pb::ListOutputsRequest {
            session_id: "a b".into(),
        })
        .await,
        Code::InvalidArgument,
        "session_id: contains ' '",
    );
    refused(
        c.remove_output(pb::RemoveOutputRequest {
            session_id: "s1".into(),
            output_id: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "output_id: must not be empty",
    );
    refused(
        c.remove_image(pb::RemoveImageRequest {
            session_id: "s1".into(),
            image_id: "x/y".into(),
        })
        .await,
        Code::InvalidArgument,
        "image_id: contains '/'",
    );
    refused(
        c.remove_input(pb::RemoveInputRequest {
            session_id: "s1".into(),
            input_id: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "input_id: must not be empty",
    );
    refused(
        c.register_image(reg("", Some(Source::Data(png_bytes(2, 2, [0, 0, 0, 255])))))
            .await,
        Code::InvalidArgument,
        "image_id: must not be empty",
    );
    refused(
        c.watch_events(pb::WatchEventsRequest {
            session_id: String::new(),
            after_seq: 0,
        })
        .await,
        Code::InvalidArgument,
        "session_id: must not be empty",
    );
    refused(
        c.get_frame(pb::GetFrameRequest {
            session_id: "a:b".into(),
            at_or_after_ms: None,
        })
        .await,
        Code::InvalidArgument,
        "session_id: contains ':'",
    );
    refused(
        c.delete_session(pb::DeleteSessionRequest {
            session_id: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "session_id: must not be empty",
    );
    assert_eq!(
        c.list_sessions(pb::ListSessionsRequest {})
            .await
            .unwrap()
            .into_inner()
            .sessions
            .len(),
        2
    );

    // --- DeleteSession -----------------------------------------------------------------------
    let d = c
        .delete_session(pb::DeleteSessionRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(d.frames > 0);
    refused(
        c.delete_session(pb::DeleteSessionRequest {
            session_id: "s1".into(),
        })
        .await,
        Code::NotFound,
        "session \"s1\"",
    );
    assert!(server.manager.resolve("s1", "host-a").is_err());
    c.delete_session(pb::DeleteSessionRequest {
        session_id: auto.session_id.clone(),
    })
    .await
    .unwrap();
    let list = c
        .list_sessions(pb::ListSessionsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(list.sessions.is_empty());
    server.stop().await;
}

/// Reads the next `n` events (with a timeout).
async fn next_events(stream: &mut tonic::Streaming<pb::Event>, n: usize) -> Vec<pb::Event> {
    let mut out = Vec::new();
    while out.len() < n {
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("timed out waiting for an event")
            .expect("stream ended")
            .expect("stream error");
        out.push(ev);
    }
    out
}

fn describe(e: &pb::Event) -> String {
    use pb::event::Kind;
    match e.kind.as_ref().unwrap() {
        Kind::InputAdded(i) => format!("input_added:{}", i.input_id),
        Kind::InputRemoved(i) => format!("input_removed:{}", i.input_id),
        Kind::HostJoined(i) => format!("host_joined:{}", i.input_id),
        Kind::HostLeft(i) => format!("host_left:{}", i.input_id),
        Kind::LayoutApplied(_) => "layout_applied".into(),
        other => format!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_events_delivers_joins_leaves_and_layouts_in_order() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("ev")).await.unwrap();
    refused(
        c.watch_events(pb::WatchEventsRequest {
            session_id: "nope".into(),
            after_seq: 0,
        })
        .await,
        Code::NotFound,
        "session \"nope\"",
    );
    let mut stream = c
        .watch_events(pb::WatchEventsRequest {
            session_id: "ev".into(),
            after_seq: 0,
        })
        .await
        .unwrap()
        .into_inner();
    for id in ["a", "b"] {
        c.add_input(pb::AddInputRequest {
            session_id: "ev".into(),
            input_id: id.into(),
            label: String::new(),
        })
        .await
        .unwrap();
    }
    let applied = c
        .set_layout(set_layout("ev", pk("a", "b")))
        .await
        .unwrap()
        .into_inner();
    // The WHIP endpoint reports a host joining and leaving through the session handle.
    let slot = server.manager.resolve("ev", "a").unwrap();
    slot.session
        .emit(compositor_core::session::SessionEvent::HostJoined {
            id: "a".into(),
            remote: "198.51.100.7:5000".into(),
        });
    slot.session
        .emit(compositor_core::session::SessionEvent::HostLeft {
            id: "a".into(),
            reason: "DELETE".into(),
        });
    c.set_layout(set_layout("ev", grid(&["a"]))).await.unwrap();
    c.remove_input(pb::RemoveInputRequest {
        session_id: "ev".into(),
        input_id: "b".into(),
    })
    .await
    .unwrap();

    let evs = next_events(&mut stream, 7).await;
    let names: Vec<_> = evs.iter().map(describe).collect();
    assert_eq!(
        names,
        vec![
            "input_added:a",
            "input_added:b",
            "layout_applied",
            "host_joined:a",
            "host_left:a",
            "layout_applied",
            "input_removed:b",
        ]
    );
    for w in evs.windows(2) {
        assert_eq!(
            w[1].seq,
            w[0].seq + 1,
            "sequence numbers must be consecutive"
        );
    }
    match evs[2].kind.as_ref().unwrap() {
        pb::event::Kind::LayoutApplied(l) => assert_eq!(l.at_ms, applied.applied_at_ms),
        other => panic!("{other:?}"),
    }
    // A watcher that reconnects with the last seq it saw gets exactly the rest.
    drop(stream);
    let mut resumed = c
        .watch_events(pb::WatchEventsRequest {
            session_id: "ev".into(),
            after_seq: evs[3].seq,
        })
        .await
        .unwrap()
        .into_inner();
    c.add_input(pb::AddInputRequest {
        session_id: "ev".into(),
        input_id: "c".into(),
        label: String::new(),
    })
    .await
    .unwrap();
    let rest: Vec<_> = next_events(&mut resumed, 4)
        .await
        .iter()
        .map(describe)
        .collect();
    assert_eq!(
        rest,
        vec![
            "host_left:a",
            "layout_applied",
            "input_removed:b",
            "input_added:c"
        ]
    );
    // Deleting the session ends the stream with NOT_FOUND.
    c.delete_session(pb::DeleteSessionRequest {
        session_id: "ev".into(),
    })
    .await
    .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), resumed.next())
        .await
        .unwrap();
    match end {
        Some(Err(e)) => assert_eq!(e.code(), Code::NotFound),
        other => panic!("expected NOT_FOUND at the end of the stream, got {other:?}"),
    }
    server.stop().await;
}

/// Mean RGB of a 10×10 patch centred at (x, y).
fn patch(img: &image::RgbImage, x: u32, y: u32) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for dy in 0..10 {
        for dx in 0..10 {
            let p = img.get_pixel(x - 5 + dx, y - 5 + dy);
            for k in 0..3 {
                sum[k] += f64::from(p[k]);
            }
        }
    }
    sum.map(|s| s / 100.0)
}

#[track_caller]
fn near(got: [f64; 3], want: [u8; 3], what: &str) {
    for k in 0..3 {
        assert!(
            (got[k] - f64::from(want[k])).abs() <= 6.0,
            "{what}: got {got:?}, want {want:?}"
        );
    }
}

async fn late_ticks(c: &mut Client, session: &str) -> u64 {
    c.get_stats(pb::GetStatsRequest {
        session_id: session.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .late_ticks
}

async fn frame_at(c: &mut Client, session: &str, at_ms: u64) -> (u64, image::RgbImage) {
    let f = c
        .get_frame(pb::GetFrameRequest {
            session_id: session.into(),
            at_or_after_ms: Some(at_ms),
        })
        .await
        .unwrap()
        .into_inner();
    (f.pts_ms, image::load_from_memory(&f.png).unwrap().to_rgb8())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_change_shows_in_the_rendered_frame() {
    const RED: [u8; 3] = [200, 30, 30];
    const PLACEHOLDER: [u8; 3] = [40, 40, 48];
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("px")).await.unwrap();
    c.add_input(pb::AddInputRequest {
        session_id: "px".into(),
        input_id: "a".into(),
        label: String::new(),
    })
    .await
    .unwrap();
    // Empty grid: the whole canvas shows the red background.
    let (_, img) = frame_at(&mut c, "px", 0).await;
    near(patch(&img, 80, 90), RED, "left before the change");
    near(patch(&img, 240, 90), RED, "right before the change");

    // Cut to a custom layout putting input "a" (no host yet: its placeholder) on the left half.
    let custom = pb::Layout {
        kind: Some(pb::layout::Kind::Custom(pb::CustomLayout {
            items: vec![pb::CustomItem {
                input_id: "a".into(),
                rect: Some(pb::Rect {
                    x: 0,
                    y: 0,
                    w: 160,
                    h: 180,
                }),
                ..Default::default()
            }],
        })),
        background: Some(pb::Background {
            color: Some(pb::Color {
                r: 200,
                g: 30,
                b: 30,
                a: 255,
            }),
            image_id: String::new(),
        }),
        ..Default::default()
    };
    let late0 = late_ticks(&mut c, "px").await;
    let r = c
        .set_layout(set_layout("px", custom))
        .await
        .unwrap()
        .into_inner();
    // The first frame at the applied time already shows the new layout (within one frame).
    let (pts, img) = frame_at(&mut c, "px", r.applied_at_ms).await;
    // (A real-time tick skipped because a loaded machine fell behind renders nothing, so
    // the bound holds whenever no tick was skipped meanwhile.)
    if late_ticks(&mut c, "px").await == late0 {
        assert!(
            pts < r.applied_at_ms + 67,
            "frame {pts} ms is not the one at {} ms",
            r.applied_at_ms
        );
    }
    near(patch(&img, 80, 90), PLACEHOLDER, "left after the cut");
    near(patch(&img, 240, 90), RED, "right after the cut");

    // A 400 ms linear transition to a grid with "a" alone (centred 16:9 tile): after the
    // transition (plus one frame) the picture is the new layout exactly.
    let mut tr = set_layout("px", grid(&["a"]));
    tr.layout.as_mut().unwrap().background = Some(pb::Background {
        color: Some(pb::Color {
            r: 30,
            g: 30,
            b: 200,
            a: 255,
        }),
        image_id: String::new(),
    });
    tr.transition = Some(pb::Transition {
        duration_ms: 400,
        easing: pb::Easing::Linear as i32,
        bezier: None,
    });
    let late0 = late_ticks(&mut c, "px").await;
    let r = c.set_layout(tr).await.unwrap().into_inner();
    // Mid-transition the background is between red and blue (right edge: no item there yet).
    let (mid, img) = frame_at(&mut c, "px", r.applied_at_ms + 200).await;
    if mid < r.applied_at_ms + 360 {
        let p = patch(&img, 300, 90);
        assert!(
            (50.0..180.0).contains(&p[0]) && (50.0..180.0).contains(&p[2]),
            "mid-transition background at {mid} ms: {p:?}"
        );
    }
    let (pts, img) = frame_at(&mut c, "px", r.applied_at_ms + 400).await;
    assert!(pts >= r.applied_at_ms + 400, "{pts}");
    if late_ticks(&mut c, "px").await == late0 {
        assert!(pts < r.applied_at_ms + 400 + 67, "{pts}");
    }
    // Grid of one 16:9 tile on a 320x180 canvas: the whole canvas is the input's placeholder.
    near(
        patch(&img, 80, 90),
        PLACEHOLDER,
        "left after the transition",
    );
    near(
        patch(&img, 240, 90),
        PLACEHOLDER,
        "right after the transition",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let server = Server::start().await;
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ServerReflectionClient::new(channel.clone());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = client
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let msg = resp.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("unexpected reflection reply {msg:?}");
    };
    let mut names: Vec<_> = list.service.iter().map(|s| s.name.clone()).collect();
    names.sort();
    assert!(
        names.contains(&"compositor.v1.Compositor".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.reflection.v1.ServerReflection".to_string()),
        "{names:?}"
    );
    // Health says the control service is serving.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let h = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "compositor.v1.Compositor".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_token_is_unauthenticated_and_changes_nothing() {
    let server = Server::start().await;
    for token in [None, Some("wrong-token"), Some("")] {
        let mut c = server.client_with(token).await;
        refused(
            c.create_session(small("sneaky")).await,
            Code::Unauthenticated,
            "",
        );
        refused(
            c.list_sessions(pb::ListSessionsRequest {}).await,
            Code::Unauthenticated,
            "",
        );
        refused(
            c.watch_events(pb::WatchEventsRequest {
                session_id: "sneaky".into(),
                after_seq: 0,
            })
            .await,
            Code::Unauthenticated,
            "",
        );
    }
    assert!(
        server.manager.is_empty(),
        "an unauthenticated request created a session"
    );
    let mut c = server.client().await;
    assert!(
        c.list_sessions(pb::ListSessionsRequest {})
            .await
            .unwrap()
            .into_inner()
            .sessions
            .is_empty()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spotlight_follows_the_active_speaker() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("sp")).await.unwrap();
    for id in ["a", "b", "c"] {
        c.add_input(pb::AddInputRequest {
            session_id: "sp".into(),
            input_id: id.into(),
            label: String::new(),
        })
        .await
        .unwrap();
    }
    let spot = |others: &[&str], follow: bool| pb::Layout {
        kind: Some(pb::layout::Kind::Spotlight(pb::SpotlightLayout {
            main_input_id: "a".into(),
            other_input_ids: others.iter().map(|s| s.to_string()).collect(),
            strip: 0,
            strip_fraction: None,
            follow_active_speaker: follow,
        })),
        ..Default::default()
    };
    refused(
        c.set_layout(set_layout("sp", spot(&[], true))).await,
        Code::InvalidArgument,
        "layout.spotlight.follow_active_speaker: needs at least one other input",
    );
    c.set_layout(set_layout("sp", spot(&["b", "c"], true)))
        .await
        .unwrap();
    // The mixer reports "c" speaking (emitted here through the session handle).
    let slot = server.manager.resolve("sp", "a").unwrap();
    slot.session.emit(
        compositor_core::session::SessionEvent::ActiveSpeakerChanged {
            from: Some("a".into()),
            to: Some("c".into()),
            at: Duration::ZERO,
        },
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = session_state(&mut c, "sp").await;
        if let Some(pb::layout::Kind::Spotlight(l)) = s.layout.unwrap().kind
            && l.main_input_id == "c"
        {
            assert_eq!(l.other_input_ids, vec!["b".to_string(), "a".to_string()]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the spotlight did not follow the speaker"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Without follow, a speaker change leaves the layout alone.
    c.set_layout(set_layout("sp", spot(&["b", "c"], false)))
        .await
        .unwrap();
    slot.session.emit(
        compositor_core::session::SessionEvent::ActiveSpeakerChanged {
            from: Some("a".into()),
            to: Some("b".into()),
            at: Duration::ZERO,
        },
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = session_state(&mut c, "sp").await;
    match s.layout.unwrap().kind {
        Some(pb::layout::Kind::Spotlight(l)) => assert_eq!(l.main_input_id, "a"),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_the_api_to_a_client_trusting_the_certificate() {
    let dir = std::env::temp_dir().join(format!("grpc-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (scripts/setup.sh installs it)");
    assert!(st.success());
    let cert_pem = std::fs::read(&cert).unwrap();
    let key_pem = std::fs::read(&key).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let gpu = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let manager = Arc::new(SessionManager::new(gpu, ManagerSettings::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let backend: Arc<dyn control_api::ControlBackend> = manager.clone();
    let opts = control_api::ServeOptions {
        tokens: vec![TOKEN.into()],
        tls: Some(control_api::TlsPem {
            cert: cert_pem.clone(),
            key: key_pem,
        }),
    };
    let task = tokio::spawn(control_api::serve(listener, backend, opts, async {
        let _ = rx.await;
    }));
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(cert_pem))
        .domain_name("localhost");
    let channel = Channel::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = CompositorClient::with_interceptor(channel, Auth(Some(TOKEN.into())));
    assert!(
        c.list_sessions(pb::ListSessionsRequest {})
            .await
            .unwrap()
            .into_inner()
            .sessions
            .is_empty()
    );
    // Plaintext to the TLS port does not get through.
    let plain = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(ch) = plain {
        let mut p = CompositorClient::with_interceptor(ch, Auth(Some(TOKEN.into())));
        assert!(p.list_sessions(pb::ListSessionsRequest {}).await.is_err());
    }
    let _ = tx.send(());
    task.await.unwrap().unwrap();
}
