//! Settings of `compositor serve`, validated. The binary builds them from a TOML file, the
//! environment and flags (`compositor/src/serve_config.rs`); this crate reads none of those.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Validated settings of `compositor serve`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// gRPC listener.
    pub grpc_bind: SocketAddr,
    /// Accepted bearer tokens (empty = no auth, warned about).
    pub tokens: Vec<String>,
    /// TLS certificate and key files (both or neither).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// HTTP listener (metrics, WHIP).
    pub http_bind: SocketAddr,
    /// Base of the WHIP URLs handed to hosts; None = `http://<http bind>` once bound.
    pub public_url: Option<String>,
    /// UDP socket of WHIP media.
    pub whip_udp_bind: SocketAddr,
    /// Address announced in ICE candidates; None = the UDP bind address.
    pub whip_public_addr: Option<IpAddr>,
    /// Root of `RegisterImage.server_path`.
    pub image_dir: Option<PathBuf>,
    /// Most sessions at once.
    pub max_sessions: usize,
}
