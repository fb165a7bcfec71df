//! The shared harness of the gRPC control API tests (`grpc_*.rs`): a real `SessionManager`
//! (sessions rendering on the shared GPU context, lavapipe on CPU-only machines) behind
//! `control_api::serve` on an ephemeral port, the generated client with bearer-token auth,
//! request builders, refusal checks, and frame/event read-back. Each test file includes it
//! with `mod grpc_support;`; a file uses only some of the helpers, hence `dead_code`.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;
use std::time::Duration;

use compositor_render::gpu::{AdapterChoice, GpuContext};
use compositor_server::{ManagerSettings, SessionManager};
use proto::v1 as pb;
use proto::v1::compositor_client::CompositorClient;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::codegen::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;

/// The bearer token the test servers accept.
pub const TOKEN: &str = "test-token-123";

/// Adds `authorization: Bearer <token>` to every request (none when `None`).
#[derive(Clone)]
pub struct Auth(pub Option<String>);

impl Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(t) = &self.0 {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        Ok(req)
    }
}

pub type Client = CompositorClient<InterceptedService<Channel, Auth>>;

/// A control API server on an ephemeral loopback port over its own `SessionManager`
/// (at most 4 sessions; images under a fresh `image_dir`).
pub struct Server {
    pub addr: std::net::SocketAddr,
    pub manager: Arc<SessionManager>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub image_dir: std::path::PathBuf,
}

impl Server {
    pub async fn start() -> Server {
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

    pub async fn client_with(&self, token: Option<&str>) -> Client {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        CompositorClient::with_interceptor(channel, Auth(token.map(str::to_owned)))
            .max_decoding_message_size(64 * 1024 * 1024)
    }

    pub async fn client(&self) -> Client {
        self.client_with(Some(TOKEN)).await
    }

    pub async fn stop(mut self) {
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

/// A 320x180 15 fps session with a red background.
pub fn small(id: &str) -> pb::CreateSessionRequest {
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

pub fn pk(left: &str, right: &str) -> pb::Layout {
    pb::Layout {
        kind: Some(pb::layout::Kind::Pk(pb::PkLayout {
            left_input_id: left.into(),
            right_input_id: right.into(),
            score_bar_height: None,
            score_bar_bottom: false,
            ..Default::default()
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

pub fn grid(ids: &[&str]) -> pb::Layout {
    pb::Layout {
        kind: Some(pb::layout::Kind::Grid(pb::GridLayout {
            input_ids: ids.iter().map(|s| s.to_string()).collect(),
            aspect_w: 0,
            aspect_h: 0,
        })),
        ..Default::default()
    }
}

pub fn set_layout(session: &str, layout: pb::Layout) -> pb::SetLayoutRequest {
    pb::SetLayoutRequest {
        session_id: session.into(),
        layout: Some(layout),
        transition: None,
        at_ms: None,
    }
}

/// Asserts the call failed with `code` and a message containing `needle`.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(
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

/// A `w`x`h` PNG of one colour.
pub fn png_bytes(w: u32, h: u32, rgba: [u8; 4]) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba(rgba));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// The session as GetSession reports it, with the moving clock zeroed.
pub async fn session_state(c: &mut Client, id: &str) -> pb::Session {
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

/// Reads the next `n` events (with a timeout).
pub async fn next_events(stream: &mut tonic::Streaming<pb::Event>, n: usize) -> Vec<pb::Event> {
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

/// `kind:input_id` of an event, for order checks.
pub fn describe(e: &pb::Event) -> String {
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

/// Mean RGB of a 10×10 patch centred at (x, y).
pub fn patch(img: &image::RgbImage, x: u32, y: u32) -> [f64; 3] {
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
/// Asserts each channel of `got` is within 6 of `want`.
pub fn near(got: [f64; 3], want: [u8; 3], what: &str) {
    for k in 0..3 {
        assert!(
            (got[k] - f64::from(want[k])).abs() <= 6.0,
            "{what}: got {got:?}, want {want:?}"
        );
    }
}

/// Ticks the session skipped because rendering fell behind.
pub async fn late_ticks(c: &mut Client, session: &str) -> u64 {
    c.get_stats(pb::GetStatsRequest {
        session_id: session.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .late_ticks
}

/// The first frame at or after `at_ms`: its pts and pixels.
pub async fn frame_at(c: &mut Client, session: &str, at_ms: u64) -> (u64, image::RgbImage) {
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

/// Adds inputs `ids` (no label) to `session`; the setup step of most tests.
pub async fn add_inputs(c: &mut Client, session: &str, ids: &[&str]) {
    for id in ids {
        c.add_input(pb::AddInputRequest {
            session_id: session.into(),
            input_id: (*id).into(),
            label: String::new(),
        })
        .await
        .unwrap();
    }
}

/// Waits for the session to render its next frame, so it has a clock and frames to report.
pub async fn wait_for_a_frame(c: &mut Client, session: &str) {
    c.get_frame(pb::GetFrameRequest {
        session_id: session.into(),
        at_or_after_ms: None,
    })
    .await
    .unwrap();
}
