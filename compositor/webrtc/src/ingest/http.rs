//! The WHIP HTTP endpoint (RFC 9725) as an axum [`Router`].
//!
//! - `POST /whip/{session}/{input}` (`application/sdp`, `Authorization: Bearer`): 201 with the
//!   SDP answer and `Location: /whip/{session}/{input}/{resource}`. Checks, in order, each
//!   refusing before anything is allocated: unknown session/input 404, missing or wrong
//!   token 401, content type 415, body over `max_body_bytes` 413, unparsable SDP or no codec
//!   we decode 400 (the reason in the body), too many hosts 503.
//! - `DELETE` on the resource: 200 and the host is gone; unknown resource 404; wrong token 401.
//! - `PATCH` on the resource: 405 (neither trickle ICE nor ICE restart: we are ICE-lite and
//!   answer with all our candidates; RFC 9725 §4.3.1 names 405 for that).
//! - `OPTIONS` and CORS headers on every answer so a browser page can publish.
//!
//! Handlers never block: the peer is negotiated here (str0m is sans-IO) and handed to the UDP
//! loop through a bounded channel.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use str0m::change::SdpOffer;
use str0m::{Candidate, RtcConfig};
use tokio::sync::{mpsc, oneshot};

use super::config::WhipConfig;
use super::offer::check_offer;
use super::peer::{Peer, PeerKey, PeerSettings};
use super::registry::{Entry, Registry};
use super::stats::PeerCounters;
use super::udp::LoopCommand;
use super::{IngestDirectory, IngestLookupError};

/// What the handlers share.
pub struct HttpState {
    /// Settings.
    pub cfg: WhipConfig,
    /// Where publishes may go.
    pub directory: Arc<dyn IngestDirectory>,
    /// Live resources.
    pub registry: Arc<Registry>,
    /// The UDP loop.
    pub commands: mpsc::Sender<LoopCommand>,
    /// Our ICE candidate address.
    pub advertised: std::net::SocketAddr,
}

/// The WHIP routes.
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/whip/{session}/{input}", post(publish).options(preflight))
        .route(
            "/whip/{session}/{input}/{resource}",
            axum::routing::delete(delete_resource)
                .patch(patch_resource)
                .options(preflight),
        )
        .layer(axum::middleware::map_response(cors))
        .with_state(state)
}

async fn cors(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, DELETE, PATCH, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, If-Match"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location, ETag, Link, Accept-Patch"),
    );
    res
}

async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::ACCESS_CONTROL_MAX_AGE, "600")],
    )
        .into_response()
}

fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.into(),
    )
        .into_response()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "missing or wrong bearer token",
    )
        .into_response()
}

/// Constant-time comparison (length differences end early; lengths are not secret).
fn token_matches(headers: &HeaderMap, expected: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
    else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), expected.as_bytes());
    if a.len() != b.len() || b.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn new_resource_id() -> String {
    let n: u128 = rand::random();
    format!("{n:032x}")
}

async fn publish(
    State(st): State<Arc<HttpState>>,
    Path((session_id, input_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let slot = match st.directory.resolve(&session_id, &input_id) {
        Ok(s) => s,
        Err(e @ (IngestLookupError::UnknownSession(_) | IngestLookupError::UnknownInput(_))) => {
            return text(StatusCode::NOT_FOUND, e.to_string());
        }
    };
    if !token_matches(&headers, &slot.token) {
        return unauthorized();
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ctype
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
    {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the offer must be Content-Type: application/sdp",
        );
    }
    let limit = st.cfg.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("offer larger than {limit} bytes"),
        );
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("offer larger than {limit} bytes"),
            );
        }
    };
    let Ok(sdp) = std::str::from_utf8(&bytes) else {
        return text(StatusCode::BAD_REQUEST, "the offer is not UTF-8");
    };
    if let Err(e) = check_offer(sdp) {
        return text(StatusCode::BAD_REQUEST, e.to_string());
    }
    let offer = match SdpOffer::from_sdp_string(sdp) {
        Ok(o) => o,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("not an SDP offer: {e}")),
    };
    if st.registry.count_others(&session_id, &input_id) >= st.cfg.max_peers {
        return text(StatusCode::SERVICE_UNAVAILABLE, "too many hosts publishing");
    }
    let now = Instant::now();
    let mut rtc = RtcConfig::new()
        .set_ice_lite(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .enable_h264(true)
        .enable_vp9(true)
        .set_stats_interval(Some(Duration::from_secs(1)))
        .build(now);
    match Candidate::host(st.advertised, "udp") {
        Ok(c) => {
            rtc.add_local_candidate(c);
        }
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("bad local candidate: {e}"),
            );
        }
    }
    let answer = match rtc.sdp_api().accept_offer(offer) {
        Ok(a) => a,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("cannot answer the offer: {e}"),
            );
        }
    };
    let resource = new_resource_id();
    let counters = Arc::new(PeerCounters::default());
    let connected = Arc::new(AtomicBool::new(false));
    let key = PeerKey {
        session_id: session_id.clone(),
        input_id: input_id.clone(),
        resource: resource.clone(),
    };
    let settings = PeerSettings {
        ice_timeout: st.cfg.ice_timeout,
        stall_timeout: st.cfg.stall_timeout,
        keyframe_interval: st.cfg.keyframe_interval,
        decoder_queue: st.cfg.decoder_queue,
    };
    let token = slot.token.clone();
    let peer = Peer::new(
        key,
        rtc,
        slot,
        settings,
        counters.clone(),
        connected.clone(),
        now,
    );
    let previous = st.registry.insert(
        &resource,
        Entry {
            session_id: session_id.clone(),
            input_id: input_id.clone(),
            token,
            counters,
            connected,
        },
    );
    for old in previous {
        tracing::info!(session = %session_id, input = %input_id, "replacing the previous publisher");
        let _ = st
            .commands
            .send(LoopCommand::Remove {
                resource: old,
                reason: "replaced".into(),
                done: None,
            })
            .await;
    }
    if st
        .commands
        .send(LoopCommand::Add(Box::new(peer)))
        .await
        .is_err()
    {
        st.registry.remove(&resource);
        return text(StatusCode::SERVICE_UNAVAILABLE, "ingest is shutting down");
    }
    let location = format!("/whip/{session_id}/{input_id}/{resource}");
    (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp".to_string()),
            (header::LOCATION, location),
            (header::ETAG, format!("\"{resource}\"")),
        ],
        answer.to_sdp_string(),
    )
        .into_response()
}

async fn delete_resource(
    State(st): State<Arc<HttpState>>,
    Path((session_id, input_id, resource)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(entry) = st
        .registry
        .get(&resource)
        .filter(|e| e.session_id == session_id && e.input_id == input_id)
    else {
        return text(StatusCode::NOT_FOUND, "no such WHIP resource");
    };
    if !token_matches(&headers, &entry.token) {
        return unauthorized();
    }
    let (tx, rx) = oneshot::channel();
    let sent = st
        .commands
        .send(LoopCommand::Remove {
            resource: resource.clone(),
            reason: "deleted".into(),
            done: Some(tx),
        })
        .await;
    if sent.is_err() || !rx.await.unwrap_or(false) {
        st.registry.remove(&resource);
        return text(StatusCode::NOT_FOUND, "no such WHIP resource");
    }
    StatusCode::OK.into_response()
}

async fn patch_resource(method: Method) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "DELETE, OPTIONS")],
        format!("{method} is not supported: neither trickle ICE nor ICE restart (ICE-lite)"),
    )
        .into_response()
}
