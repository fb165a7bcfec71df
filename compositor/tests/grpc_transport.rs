//! The transport of the gRPC control API end to end (see `grpc_support`): server reflection,
//! the health service, bearer-token auth (a wrong or missing token is UNAUTHENTICATED and
//! changes nothing) and TLS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grpc_support;

use std::sync::Arc;

use compositor_render::gpu::{AdapterChoice, GpuContext};
use compositor_server::{ManagerSettings, SessionManager};
use grpc_support::*;
use proto::v1 as pb;
use proto::v1::compositor_client::CompositorClient;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_compositor_health_and_reflection_services() {
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
    let mut client = ServerReflectionClient::new(channel);
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
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_the_control_service_serving() {
    let server = Server::start().await;
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
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
