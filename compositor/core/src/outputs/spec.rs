//! What a producer asks for when adding an output, and the control surface of a session's
//! outputs ([`OutputControl`]). The gRPC layer and `compositor serve` code against this; the
//! output hub (one encode per encoder profile, fanned out to per-output bounded queues and
//! pipelines, each reconnecting on its own) implements it.

use std::path::PathBuf;

use super::EncoderSettings;
use crate::session::CommandError;

/// Video codec of an encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoCodec {
    /// H.264 (x264 or a hardware encoder).
    #[default]
    H264,
    /// VP8 (WHIP egress to SFUs that prefer it).
    Vp8,
}

/// SRT connection mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SrtMode {
    /// We connect to a listener.
    Caller,
    /// We listen; a caller connects to us.
    Listener,
}

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutputTarget {
    /// RTMP or RTMPS push (FLV, H.264 + AAC).
    Rtmp {
        /// `rtmp://host[:port]/app` or `rtmps://…`.
        url: String,
        /// Stream key appended to the URL (secret: never logged or listed).
        stream_key: String,
        /// `rtmps://` only: check the ingest's TLS certificate (default true). `false` accepts
        /// any certificate — for self-signed test ingests only; refused with `rtmp://`.
        #[serde(default = "verify_by_default")]
        tls_verify: bool,
    },
    /// SRT (MPEG-TS).
    Srt {
        /// `host:port` (caller: remote; listener: local bind, host may be empty).
        address: String,
        /// Caller or listener.
        mode: SrtMode,
        /// SRT latency, ms.
        latency_ms: u32,
        /// Optional passphrase (10..=79 bytes; secret).
        passphrase: Option<String>,
    },
    /// HLS (MPEG-TS segments + playlist).
    Hls {
        /// Directory for the playlist and segments.
        dir: PathBuf,
        /// Target segment length, seconds.
        segment_secs: f32,
        /// Segments kept in the playlist.
        playlist_len: u32,
    },
    /// Fragmented MP4 recording (a crash leaves a playable file).
    Mp4 {
        /// File path.
        path: PathBuf,
    },
    /// WHIP egress: publish the composite to a WHIP endpoint (an SFU).
    Whip {
        /// Endpoint URL.
        url: String,
        /// Optional bearer token (secret).
        token: Option<String>,
    },
}

fn verify_by_default() -> bool {
    true
}

/// One output to add.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutputSpec {
    /// Id, unique in the session (1..=128 bytes).
    pub id: String,
    /// Destination.
    pub target: OutputTarget,
    /// Encoder profile; None = the session's default. Outputs with equal settings share one
    /// encode.
    pub encoder: Option<EncoderSettings>,
}

/// Where an output stands.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OutputState {
    /// Starting up / first connect in progress.
    Starting,
    /// Sending.
    Connected,
    /// Waiting to retry after a failure.
    Reconnecting {
        /// Retry number.
        attempt: u32,
        /// Last error.
        last_error: String,
    },
    /// Gave up (not retryable, e.g. a bad path).
    Failed {
        /// The error.
        error: String,
    },
    /// Removed / finished.
    Stopped,
}

/// Counters of one output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutputCounters {
    /// Encoded bytes handed to the destination.
    pub bytes: u64,
    /// Encoded buffers handed to the destination.
    pub buffers: u64,
    /// Buffers dropped because this output's queue was full (slow or dead destination).
    pub dropped: u64,
    /// Reconnect attempts so far.
    pub reconnects: u64,
}

/// A listed output. Secrets (stream keys, passphrases, tokens) are never included.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutputInfo {
    /// Id.
    pub id: String,
    /// "rtmp", "srt", "hls", "mp4" or "whip".
    pub kind: String,
    /// Destination with secrets redacted.
    pub destination: String,
    /// State.
    pub state: OutputState,
    /// Counters.
    pub counters: OutputCounters,
}

/// Control of a session's outputs; thread-safe, never blocks the session's output clock.
pub trait OutputControl: Send + Sync {
    /// Validates and starts an output. Errors: `Invalid` (naming the field), `AlreadyExists`,
    /// `Exhausted` (limit of outputs). A refused add changes nothing.
    fn add(&self, spec: OutputSpec) -> Result<OutputInfo, CommandError>;
    /// Stops and removes an output (files finalised). `NotFound` for an unknown id.
    fn remove(&self, id: &str) -> Result<(), CommandError>;
    /// All outputs, in the order added.
    fn list(&self) -> Vec<OutputInfo>;
    /// Asks every encode for a keyframe as soon as possible.
    fn request_keyframe(&self);
}
