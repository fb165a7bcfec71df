//! Assembles and runs the gRPC server: the control service behind [`BearerAuth`], server
//! reflection (v1 and v1alpha, so grpcurl of any age can list services) and
//! `grpc.health.v1`, on one listener, optionally over TLS. Health and reflection are not
//! behind the token (load balancers and grpcurl `list` need no secret; they expose no
//! session data).

use std::future::Future;
use std::sync::Arc;

use proto::v1::compositor_server::CompositorServer;
use tokio::net::TcpListener;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::auth::BearerAuth;
use crate::backend::ControlBackend;
use crate::service::{ControlService, MAX_IMAGE_BYTES};

/// PEM certificate chain and private key for TLS.
#[derive(Clone, Debug)]
pub struct TlsPem {
    /// Certificate chain, PEM.
    pub cert: Vec<u8>,
    /// Private key, PEM.
    pub key: Vec<u8>,
}

/// How to serve.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// Accepted bearer tokens (empty = no authentication).
    pub tokens: Vec<String>,
    /// TLS; None = plaintext HTTP/2.
    pub tls: Option<TlsPem>,
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Reflection could not be built (a bug in the embedded schema).
    #[error("reflection: {0}")]
    Reflection(String),
    /// TLS set-up or the transport failed.
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves until `shutdown` resolves, then drains in-flight calls.
pub async fn serve(
    listener: TcpListener,
    backend: Arc<dyn ControlBackend>,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    if opts.tokens.is_empty() {
        tracing::warn!(
            "gRPC control API has no bearer tokens configured: anyone who can reach it can control sessions"
        );
    }
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let (health, health_svc) = tonic_health::server::health_reporter();
    health
        .set_service_status(proto::SERVICE_NAME, tonic_health::ServingStatus::Serving)
        .await;
    let control = CompositorServer::new(ControlService::new(backend))
        .max_decoding_message_size(MAX_IMAGE_BYTES + 64 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024);
    let control =
        tonic::service::interceptor::InterceptedService::new(control, BearerAuth::new(opts.tokens));
    let mut builder = Server::builder();
    if let Some(tls) = opts.tls {
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(Identity::from_pem(tls.cert, tls.key)))?;
    }
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, "gRPC control API listening");
    builder
        .add_service(health_svc)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(control)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await?;
    Ok(())
}
