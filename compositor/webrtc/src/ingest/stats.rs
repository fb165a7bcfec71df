//! Per-host ingest counters: atomics written by the UDP loop and the decoder threads, read
//! by anyone (stats API, Prometheus). Counts are totals since the host joined.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Counters of one published input (one WHIP peer).
#[derive(Debug, Default)]
pub struct PeerCounters {
    /// RTP packets that reached the depacketizer (all tracks).
    pub packets: AtomicU64,
    /// Payload bytes of those packets.
    pub bytes: AtomicU64,
    /// RTP packets never received (sequence gaps after NACK recovery).
    pub lost: AtomicU64,
    /// NACKs sent (from str0m's ingress stats).
    pub nacks: AtomicU64,
    /// Keyframe requests (PLI) sent.
    pub plis: AtomicU64,
    /// Video frames decoded.
    pub frames_decoded: AtomicU64,
    /// Audio blocks decoded.
    pub audio_blocks: AtomicU64,
    /// Decoder errors (each restarts that track's decoder).
    pub decode_errors: AtomicU64,
    /// Encoded frames dropped because a decoder's queue was full.
    pub handoff_drops: AtomicU64,
    /// Width of the last decoded frame.
    pub width: AtomicU32,
    /// Height of the last decoded frame.
    pub height: AtomicU32,
    /// Codec names, "video/audio" (e.g. "VP8", "opus").
    pub codecs: Mutex<Vec<String>>,
}

/// A snapshot of one host's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestStats {
    /// Session id.
    pub session_id: String,
    /// Input id.
    pub input_id: String,
    /// WHIP resource id (the last part of its Location).
    pub resource: String,
    /// ICE + DTLS done.
    pub connected: bool,
    /// RTP packets received.
    pub packets: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// RTP packets lost.
    pub lost: u64,
    /// NACKs sent.
    pub nacks: u64,
    /// PLIs sent.
    pub plis: u64,
    /// Video frames decoded.
    pub frames_decoded: u64,
    /// Audio blocks decoded.
    pub audio_blocks: u64,
    /// Decoder errors.
    pub decode_errors: u64,
    /// Frames dropped at a full decoder queue.
    pub handoff_drops: u64,
    /// Current video size (0×0 before the first frame).
    pub width: u32,
    /// Current video height.
    pub height: u32,
    /// Negotiated codecs of the tracks that carried media.
    pub codecs: Vec<String>,
}

impl PeerCounters {
    /// Reads the counters into a snapshot.
    pub fn snapshot(
        &self,
        session_id: &str,
        input_id: &str,
        resource: &str,
        connected: bool,
    ) -> IngestStats {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        IngestStats {
            session_id: session_id.to_string(),
            input_id: input_id.to_string(),
            resource: resource.to_string(),
            connected,
            packets: r(&self.packets),
            bytes: r(&self.bytes),
            lost: r(&self.lost),
            nacks: r(&self.nacks),
            plis: r(&self.plis),
            frames_decoded: r(&self.frames_decoded),
            audio_blocks: r(&self.audio_blocks),
            decode_errors: r(&self.decode_errors),
            handoff_drops: r(&self.handoff_drops),
            width: self.width.load(Ordering::Relaxed),
            height: self.height.load(Ordering::Relaxed),
            codecs: self
                .codecs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}
