//! [`WhipServer`]: the piece the serve command starts. Binds the one UDP socket, spawns the
//! UDP loop on the caller's tokio runtime and hands out the HTTP routes to merge into the
//! server's one HTTP listener.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::IngestDirectory;
use super::config::WhipConfig;
use super::http::{HttpState, router};
use super::registry::Registry;
use super::stats::IngestStats;
use super::udp::{LoopCommand, run};

/// Why ingest could not start.
#[derive(Debug, thiserror::Error)]
pub enum WhipError {
    /// Settings that cannot work.
    #[error("whip config: {0}")]
    Config(String),
    /// The UDP socket.
    #[error("whip udp socket {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Error.
        source: std::io::Error,
    },
    /// GStreamer would not initialise.
    #[error("gstreamer: {0}")]
    Gstreamer(String),
}

/// WHIP ingest: HTTP routes + the UDP media loop.
#[derive(Debug)]
pub struct WhipServer {
    state: Arc<HttpState>,
    local: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpState({})", self.advertised)
    }
}

impl WhipServer {
    /// Binds `cfg.udp_bind` and starts the UDP loop (on the current tokio runtime).
    pub async fn start(
        cfg: WhipConfig,
        directory: Arc<dyn IngestDirectory>,
    ) -> Result<WhipServer, WhipError> {
        gstreamer::init().map_err(|e| WhipError::Gstreamer(e.to_string()))?;
        if cfg.max_body_bytes == 0 || cfg.decoder_queue == 0 || cfg.max_peers == 0 {
            return Err(WhipError::Config(
                "max_body_bytes, decoder_queue and max_peers must be > 0".into(),
            ));
        }
        let socket = tokio::net::UdpSocket::bind(cfg.udp_bind)
            .await
            .map_err(|source| WhipError::Bind {
                addr: cfg.udp_bind,
                source,
            })?;
        let local = socket.local_addr().map_err(|source| WhipError::Bind {
            addr: cfg.udp_bind,
            source,
        })?;
        let mut advertised = cfg.public_addr.unwrap_or(local);
        if advertised.port() == 0 {
            advertised.set_port(local.port());
        }
        if advertised.ip().is_unspecified() {
            return Err(WhipError::Config(format!(
                "bound to {local}: set public_addr to the address hosts can reach"
            )));
        }
        let registry = Arc::new(Registry::default());
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(run(socket, advertised, rx, registry.clone()));
        tracing::info!(%local, %advertised, "WHIP ingest listening");
        Ok(WhipServer {
            state: Arc::new(HttpState {
                cfg,
                directory,
                registry,
                commands: tx,
                advertised,
            }),
            local,
            task: Mutex::new(Some(task)),
        })
    }

    /// The WHIP routes (`/whip/...`), to merge into the server's router.
    pub fn router(&self) -> axum::Router {
        router(self.state.clone())
    }

    /// Counters of every live host.
    pub fn stats(&self) -> Vec<IngestStats> {
        self.state.registry.stats()
    }

    /// Live WHIP resources (peers being set up or receiving).
    pub fn peer_count(&self) -> usize {
        self.state.registry.len()
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.local
    }

    /// The address in our ICE candidate.
    pub fn advertised_addr(&self) -> SocketAddr {
        self.state.advertised
    }

    /// Closes every peer (`HostLeft` "server shutdown") and ends the UDP loop.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self
            .state
            .commands
            .send(LoopCommand::Shutdown(tx))
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}
