//! WHIP ingest settings (the `[whip]` section of the server's config).

use std::net::SocketAddr;
use std::time::Duration;

/// How the WHIP endpoint and its UDP socket behave.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhipConfig {
    /// Where the one UDP socket for every host's media binds (port 0: any free port).
    pub udp_bind: SocketAddr,
    /// The address hosts are told to send to (NAT, relays). `None`: the bound address
    /// (which must then not be unspecified). Port 0: the bound port.
    pub public_addr: Option<SocketAddr>,
    /// Largest SDP offer accepted, bytes (larger: 413).
    pub max_body_bytes: usize,
    /// ICE + DTLS must complete within this time after the POST, or the peer is freed.
    #[serde(with = "millis")]
    pub ice_timeout: Duration,
    /// No media from a connected host for this long: `HostStalled`.
    #[serde(with = "millis")]
    pub stall_timeout: Duration,
    /// At most one keyframe request (PLI) per track per this interval.
    #[serde(with = "millis")]
    pub keyframe_interval: Duration,
    /// Encoded frames waiting for a decoder, per track, before new ones are dropped.
    pub decoder_queue: u32,
    /// Most hosts at once (further POSTs: 503).
    pub max_peers: usize,
}

impl Default for WhipConfig {
    fn default() -> Self {
        Self {
            udp_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_addr: None,
            max_body_bytes: 64 * 1024,
            ice_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(2),
            keyframe_interval: Duration::from_secs(1),
            decoder_queue: 32,
            max_peers: 64,
        }
    }
}

mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms: u64 = serde::Deserialize::deserialize(d)?;
        Ok(Duration::from_millis(ms))
    }
}
