//! `compositor serve`: one tokio runtime running the gRPC listener and the HTTP listener
//! (metrics now; the WHIP routes join the router in [`http_router`]), the session manager on
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
use crate::gpu::{AdapterChoice, GpuContext};

async fn metrics_handler(State(manager): State<Arc<SessionManager>>) -> impl IntoResponse {
    let text = tokio::task::spawn_blocking(move || metrics::render(&manager))
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

/// THE HTTP router of the server (one listener, `http.bind`): `/metrics` now.
///
/// WHIP INTEGRATION POINT: merge the WHIP endpoint's `axum::Router` here (it resolves
/// publish targets through `manager` as an [`crate::ingest::IngestDirectory`]).
pub fn http_router(manager: Arc<SessionManager>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .with_state(manager)
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
pub fn serve(cfg: ServeConfig, adapter: AdapterChoice) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(serve_async(cfg, adapter))
}

async fn serve_async(cfg: ServeConfig, adapter: AdapterChoice) -> anyhow::Result<()> {
    let tls = match &cfg.tls {
        None => None,
        Some((cert, key)) => Some(control_api::TlsPem {
            cert: std::fs::read(cert)
                .with_context(|| format!("grpc.tls_cert {}", cert.display()))?,
            key: std::fs::read(key).with_context(|| format!("grpc.tls_key {}", key.display()))?,
        }),
    };
    let gpu = GpuContext::shared(adapter).context("GPU set-up")?;
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
        gpu,
        ManagerSettings {
            public_http_base: public,
            image_dir: cfg.image_dir.clone(),
            max_sessions: cfg.max_sessions,
            ..ManagerSettings::default()
        },
    ));
    tracing::info!(
        grpc = %grpc_addr,
        http = %http_addr,
        whip_udp = %cfg.whip_udp_bind,
        "compositor serving"
    );
    println!(
        "{}",
        serde_json::json!({"grpc": grpc_addr.to_string(), "http": http_addr.to_string()})
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
        axum::serve(http, http_router(manager.clone()))
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
    let m = manager.clone();
    tokio::task::spawn_blocking(move || m.shutdown())
        .await
        .context("stopping sessions")?;
    tracing::info!("all sessions stopped");
    Ok(())
}
