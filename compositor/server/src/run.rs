//! `compositor serve`: one tokio runtime running the gRPC listener, the HTTP listener (WHIP
//! routes and `/metrics`, see [`http_router`]) and the WHIP media UDP socket, the session manager on
//! the shared GPU context, and a clean stop on SIGINT/SIGTERM (listeners drained, then every
//! session stopped so outputs finish their files).
//!
//! On start it prints one JSON line on stdout with the bound addresses
//! (`{"grpc":"127.0.0.1:50051","http":"127.0.0.1:8080"}`), so scripts and tests can use
//! port 0.

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::config::ServeConfig;
use super::{ManagerSettings, SessionManager, metrics};
use compositor_core::render::ComposeChoice;
use compositor_render::Gpus;
use compositor_webrtc::ingest::{WhipConfig, WhipServer};

/// What the HTTP handlers share.
#[derive(Clone)]
struct HttpState {
    manager: Arc<SessionManager>,
    whip: Option<Arc<WhipServer>>,
}

async fn metrics_handler(State(st): State<HttpState>) -> impl IntoResponse {
    let ingest = st.whip.as_ref().map(|w| w.stats()).unwrap_or_default();
    let text = tokio::task::spawn_blocking(move || metrics::render(&st.manager, &ingest))
        .await
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// THE HTTP router of the server (one listener, `http.bind`): `/metrics` and, when a WHIP
/// server is given, its routes (`/whip/{session}/{input}` and the resources; publish
/// targets resolve through `manager` as an [`compositor_webrtc::ingest::IngestDirectory`]).
pub fn http_router(manager: Arc<SessionManager>, whip: Option<Arc<WhipServer>>) -> Router {
    let metrics = Router::new()
        .route("/metrics", get(metrics_handler))
        .with_state(HttpState {
            manager,
            whip: whip.clone(),
        });
    match whip {
        Some(w) => metrics.merge(w.router()),
        None => metrics,
    }
}

/// The address this machine uses towards the Internet (a UDP `connect` sends nothing; it
/// only asks the kernel for the route's source address).
fn default_route_ip() -> anyhow::Result<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0")?;
    s.connect("192.0.2.1:9")?;
    Ok(s.local_addr()?.ip())
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Runs the server until SIGINT/SIGTERM.
pub fn serve(cfg: ServeConfig, gpus: Gpus) -> anyhow::Result<()> {
    // Fonts load in the background from the start, so the first name tag or PK overlay of a
    // real-time session finds them (a session never waits for the disk).
    compositor_text::FontLibrary::preload();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(serve_async(cfg, gpus))
}

async fn serve_async(cfg: ServeConfig, gpus: Gpus) -> anyhow::Result<()> {
    let tls = match &cfg.tls {
        None => None,
        Some((cert, key)) => Some(control_api::TlsPem {
            cert: std::fs::read(cert)
                .with_context(|| format!("grpc.tls_cert {}", cert.display()))?,
            key: std::fs::read(key).with_context(|| format!("grpc.tls_key {}", key.display()))?,
        }),
    };
    // Open the device now (a missing driver fails the start, not the first session), unless
    // every session composes on the CPU.
    if gpus.compose_override != Some(ComposeChoice::Cpu) {
        gpus.context().context("GPU set-up")?;
    }
    let grpc = tokio::net::TcpListener::bind(cfg.grpc_bind)
        .await
        .with_context(|| format!("grpc.bind {}", cfg.grpc_bind))?;
    let http = tokio::net::TcpListener::bind(cfg.http_bind)
        .await
        .with_context(|| format!("http.bind {}", cfg.http_bind))?;
    let grpc_addr = grpc.local_addr()?;
    let http_addr = http.local_addr()?;
    if cfg.public_url.is_none() && http_addr.ip().is_unspecified() {
        tracing::warn!(
            http = %http_addr,
            "http.public_url is not set: WHIP URLs will name {http_addr}, which hosts cannot reach; set http.public_url"
        );
    }
    let public = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{http_addr}"));
    let manager = Arc::new(SessionManager::new(
        gpus,
        ManagerSettings {
            public_http_base: public,
            image_dir: cfg.image_dir.clone(),
            max_sessions: cfg.max_sessions,
            ..ManagerSettings::default()
        },
    ));
    let public_ip = match cfg.whip_public_addr {
        Some(ip) => Some(ip),
        None if cfg.whip_udp_bind.ip().is_unspecified() => {
            let ip = default_route_ip().context(
                "whip.udp_bind is unspecified and no default-route address was found: set whip.public_addr",
            )?;
            tracing::warn!(%ip, "whip.public_addr is not set: announcing the default-route address in ICE candidates");
            Some(ip)
        }
        None => None,
    };
    let whip_cfg = WhipConfig {
        udp_bind: cfg.whip_udp_bind,
        public_addr: public_ip.map(|ip| std::net::SocketAddr::new(ip, 0)),
        ..WhipConfig::default()
    };
    let directory: Arc<dyn compositor_webrtc::ingest::IngestDirectory> = manager.clone();
    let whip = Arc::new(
        WhipServer::start(whip_cfg, directory)
            .await
            .with_context(|| format!("whip.udp_bind {}", cfg.whip_udp_bind))?,
    );
    let udp_addr = whip.udp_addr();
    tracing::info!(
        grpc = %grpc_addr,
        http = %http_addr,
        whip_udp = %udp_addr,
        "compositor serving"
    );
    println!(
        "{}",
        serde_json::json!({
            "grpc": grpc_addr.to_string(),
            "http": http_addr.to_string(),
            "whip_udp": udp_addr.to_string(),
        })
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let wait_stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let backend: Arc<dyn control_api::ControlBackend> = manager.clone();
    let grpc_task = tokio::spawn(control_api::serve(
        grpc,
        backend,
        control_api::ServeOptions {
            tokens: cfg.tokens.clone(),
            tls,
        },
        wait_stop(stop_rx.clone()),
    ));
    let http_task = tokio::spawn(
        axum::serve(http, http_router(manager.clone(), Some(whip.clone())))
            .with_graceful_shutdown(wait_stop(stop_rx))
            .into_future(),
    );
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    match grpc_task.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "gRPC server ended with an error"),
        Err(e) => tracing::warn!(error = %e, "gRPC server task failed"),
        Ok(Ok(())) => {}
    }
    if let Err(e) = http_task.await {
        tracing::warn!(error = %e, "HTTP server task failed");
    }
    whip.shutdown().await;
    let m = manager.clone();
    tokio::task::spawn_blocking(move || m.shutdown())
        .await
        .context("stopping sessions")?;
    tracing::info!("all sessions stopped");
    Ok(())
}
