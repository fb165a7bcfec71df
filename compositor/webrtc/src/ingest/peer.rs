//! One publishing host: its str0m [`Rtc`] (ICE-lite, answerer), its tracks and decoders, and
//! its lifecycle (joined → media started → stalled/resumed → left).
//!
//! Owned and driven only by the UDP loop task ([`super::udp`]); nothing here blocks: sends use
//! `try_send_to` (a full socket buffer drops the datagram), decoders take frames without
//! waiting. Time comes in as arguments (`now`), read once per loop turn.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use str0m::media::{KeyframeRequestKind, MediaData, Mid, Rid};
use str0m::{Event, IceConnectionState, Input, Output, Rtc};

use super::IngestSlot;
use super::decode::{Pushed, TrackCodec, TrackDecoder};
use super::deliver::Delivery;
use super::stats::PeerCounters;
use super::timing::{
    KeyframeThrottle, LossCounter, MediaTiming, SenderReportMapping, StallChange, StallDetector,
};
use compositor_core::session::SessionEvent;

/// How often a peer's housekeeping runs (bus, stall, keyframe requests) at the latest.
pub const HOUSEKEEPING: Duration = Duration::from_millis(50);

/// Identity of a WHIP resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerKey {
    /// Session id.
    pub session_id: String,
    /// Input id.
    pub input_id: String,
    /// Resource id (random, in the Location URL).
    pub resource: String,
}

/// Knobs a peer needs.
#[derive(Debug, Clone, Copy)]
pub struct PeerSettings {
    /// ICE + DTLS deadline after creation.
    pub ice_timeout: Duration,
    /// No-media time before `HostStalled`.
    pub stall_timeout: Duration,
    /// Minimum interval between keyframe requests per track.
    pub keyframe_interval: Duration,
    /// Decoder queue length.
    pub decoder_queue: u32,
}

struct Track {
    decoder: Option<TrackDecoder>,
    throttle: KeyframeThrottle,
    loss: LossCounter,
    rid: Option<Rid>,
    nacks: u64,
    broken: bool,
    /// A frame was dropped before the decoder (or none decoded yet): later frames reference
    /// what the decoder never saw, so skip to the next keyframe instead of decoding garbage.
    await_keyframe: bool,
}

/// A host being received.
pub struct Peer {
    /// Which resource this is.
    pub key: PeerKey,
    rtc: Rtc,
    slot: IngestSlot,
    settings: PeerSettings,
    counters: Arc<PeerCounters>,
    connected_flag: Arc<AtomicBool>,
    delivery: Arc<Delivery>,
    closed: Arc<AtomicBool>,
    created: Instant,
    connected: bool,
    /// Since when ICE says disconnected (publishers that keep no consent checks going, like
    /// libnice without consent freshness, trip str0m's ICE-lite timer while media flows).
    disconnected_since: Option<Instant>,
    remote: Option<SocketAddr>,
    tracks: HashMap<Mid, Track>,
    stall: StallDetector,
    started_video: bool,
    started_audio: bool,
    span: tracing::Span,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Peer({:?})", self.key)
    }
}

impl Peer {
    /// Wraps a negotiated `rtc` (offer accepted) for `slot`.
    pub fn new(
        key: PeerKey,
        rtc: Rtc,
        slot: IngestSlot,
        settings: PeerSettings,
        counters: Arc<PeerCounters>,
        connected_flag: Arc<AtomicBool>,
        now: Instant,
    ) -> Self {
        let span = tracing::info_span!("whip", session = %key.session_id, input = %key.input_id);
        let delivery = Arc::new(Delivery::new(
            slot.sender.clone(),
            slot.session.clone(),
            counters.clone(),
        ));
        Self {
            key,
            rtc,
            slot,
            settings,
            counters,
            connected_flag,
            delivery,
            closed: Arc::new(AtomicBool::new(false)),
            created: now,
            connected: false,
            disconnected_since: None,
            remote: None,
            tracks: HashMap::new(),
            stall: StallDetector::new(settings.stall_timeout),
            started_video: false,
            started_audio: false,
            span,
        }
    }

    /// Does this datagram belong to this peer?
    pub fn accepts(&self, input: &Input) -> bool {
        self.rtc.accepts(input)
    }

    /// Feeds a datagram (or a timeout). Returns why the peer must go, if it must.
    pub fn input(&mut self, input: Input) -> Result<(), String> {
        let _e = self.span.enter();
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!("rtc input: {e}");
            if !self.rtc.is_alive() {
                return Err(format!("webrtc error: {e}"));
            }
        }
        Ok(())
    }

    /// Housekeeping, then sends what str0m wants sent and handles its events. Returns when
    /// to drive it next, or why the peer must go.
    pub fn drive(
        &mut self,
        now: Instant,
        socket: &tokio::net::UdpSocket,
    ) -> Result<Instant, String> {
        let span = self.span.clone();
        let _e = span.enter();
        if self.closed.load(Ordering::Relaxed) {
            return Err("input removed".into());
        }
        if !self.connected
            && now.saturating_duration_since(self.created) >= self.settings.ice_timeout
        {
            return Err("ice/dtls timeout".into());
        }
        if let Some(since) = self.disconnected_since {
            let silent = self
                .stall
                .last_media()
                .is_none_or(|t| now.saturating_duration_since(t) >= self.settings.stall_timeout);
            if silent && now.saturating_duration_since(since) >= self.settings.stall_timeout {
                return Err("ice disconnected".into());
            }
        }
        match self.stall.poll(now) {
            Some(StallChange::Stalled) => {
                tracing::info!("host stalled");
                self.emit(SessionEvent::HostStalled {
                    id: self.key.input_id.clone(),
                });
            }
            Some(StallChange::Resumed) | None => {}
        }
        self.housekeeping(now);
        let _ = self.rtc.handle_input(Input::Timeout(now));
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    if let Err(e) = socket.try_send_to(&t.contents, t.destination) {
                        tracing::debug!("udp send to {}: {e}", t.destination);
                    }
                }
                Ok(Output::Event(ev)) => self.on_event(ev, now)?,
                Ok(Output::Timeout(t)) => {
                    let mut next = t.min(now + HOUSEKEEPING);
                    if let Some(d) = self.stall.deadline() {
                        next = next.min(d);
                    }
                    return Ok(next.max(now));
                }
                Err(e) => return Err(format!("webrtc error: {e}")),
            }
            if !self.rtc.is_alive() {
                return Err("closed".into());
            }
        }
    }

    /// Emits `HostLeft` and frees everything (decoders stop; the slot sender is dropped).
    pub fn leave(mut self, reason: &str) {
        let _e = self.span.clone().entered();
        tracing::info!(reason, "host left");
        self.rtc.disconnect();
        self.tracks.clear();
        self.emit(SessionEvent::HostLeft {
            id: self.key.input_id.clone(),
            reason: reason.to_string(),
        });
    }

    fn emit(&self, ev: SessionEvent) {
        self.slot.session.emit(ev);
    }

    fn housekeeping(&mut self, now: Instant) {
        let mut keyframes = Vec::new();
        for (mid, t) in self.tracks.iter_mut() {
            if let Some(d) = t.decoder.as_mut() {
                let r = d.poll_bus();
                let errors = r.warnings + u64::from(r.restarted);
                if errors > 0 {
                    self.counters
                        .decode_errors
                        .fetch_add(errors, Ordering::Relaxed);
                    if d.codec().is_video() {
                        t.throttle.want();
                    }
                }
            }
            if !t.broken && t.throttle.poll(now) {
                keyframes.push((*mid, t.rid));
            }
        }
        for (mid, rid) in keyframes {
            let Some(mut w) = self.rtc.writer(mid) else {
                continue;
            };
            match w.request_keyframe(rid, KeyframeRequestKind::Pli) {
                Ok(()) => {
                    self.counters.plis.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%mid, "PLI sent");
                }
                Err(e) => tracing::debug!(%mid, "cannot request a keyframe: {e}"),
            }
        }
    }

    fn on_event(&mut self, ev: Event, now: Instant) -> Result<(), String> {
        match ev {
            Event::Connected => {
                self.connected = true;
                self.connected_flag.store(true, Ordering::Relaxed);
                let remote = self
                    .remote
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "webrtc".into());
                tracing::info!(%remote, "host joined");
                self.emit(SessionEvent::HostJoined {
                    id: self.key.input_id.clone(),
                    remote,
                });
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                tracing::debug!("ICE disconnected; the peer stays while media flows");
                self.disconnected_since.get_or_insert(now);
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => {
                self.disconnected_since = None;
            }
            Event::MediaAdded(m) => {
                self.tracks.entry(m.mid).or_insert_with(|| Track {
                    decoder: None,
                    throttle: KeyframeThrottle::new(self.settings.keyframe_interval),
                    loss: LossCounter::default(),
                    rid: None,
                    nacks: 0,
                    broken: false,
                    await_keyframe: m.kind == str0m::media::MediaKind::Video,
                });
                tracing::debug!(mid = %m.mid, kind = ?m.kind, "track added");
            }
            Event::MediaData(d) => self.on_media(d, now),
            Event::MediaIngressStats(s) => {
                if let Some(t) = self.tracks.get_mut(&s.mid) {
                    if s.nacks > t.nacks {
                        self.counters
                            .nacks
                            .fetch_add(s.nacks - t.nacks, Ordering::Relaxed);
                    }
                    t.nacks = t.nacks.max(s.nacks);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn on_media(&mut self, d: MediaData, now: Instant) {
        let spec = d.params.spec();
        let Some(codec) = TrackCodec::from_str0m(spec.codec) else {
            return;
        };
        let Some(track) = self.tracks.get_mut(&d.mid) else {
            return;
        };
        if let Some(StallChange::Resumed) = self.stall.on_media(now) {
            tracing::info!("host resumed");
            self.slot.session.emit(SessionEvent::HostResumed {
                id: self.key.input_id.clone(),
            });
        }
        track.rid = d.rid;
        let c = &self.counters;
        let lost = track
            .loss
            .on_frame(**d.seq_range.start(), **d.seq_range.end());
        c.lost.fetch_add(lost, Ordering::Relaxed);
        c.packets.fetch_add(
            (**d.seq_range.end()).saturating_sub(**d.seq_range.start()) + 1,
            Ordering::Relaxed,
        );
        c.bytes.fetch_add(d.data.len() as u64, Ordering::Relaxed);
        if track
            .decoder
            .as_ref()
            .is_none_or(|dec| dec.codec() != codec)
        {
            if track.broken {
                return;
            }
            match TrackDecoder::new(
                codec,
                spec.clock_rate.get(),
                self.settings.decoder_queue,
                self.delivery.clone(),
                self.closed.clone(),
            ) {
                Ok(dec) => {
                    track.decoder = Some(dec);
                    if codec.is_video() {
                        track.throttle.want();
                    }
                    let mut codecs = c.codecs.lock().unwrap_or_else(|e| e.into_inner());
                    if !codecs.iter().any(|n| n == codec.name()) {
                        codecs.push(codec.name().to_string());
                    }
                }
                Err(e) => {
                    tracing::error!("{e}");
                    track.broken = true;
                    self.slot.session.emit(SessionEvent::Error {
                        source: self.key.input_id.clone(),
                        message: e.to_string(),
                    });
                    return;
                }
            }
        }
        let started = if codec.is_video() {
            &mut self.started_video
        } else {
            &mut self.started_audio
        };
        if !*started {
            *started = true;
            tracing::info!(codec = codec.name(), "media started");
            self.slot.session.emit(SessionEvent::MediaStarted {
                id: self.key.input_id.clone(),
                kind: if codec.is_video() { "video" } else { "audio" }.into(),
                codec: codec.name().into(),
            });
        }
        if codec.is_video() && (!d.contiguous || lost > 0) {
            track.throttle.want();
        }
        let timing = MediaTiming {
            rtp_time: d.time.numer(),
            clock_rate: d.time.denom(),
            arrival: d.network_time,
            completed: now,
            sender_report: d.last_sender_info.map(|s| SenderReportMapping {
                ntp_time: s.ntp_time,
                rtp_time: s.rtp_time.numer(),
            }),
            abs_capture_time: d.ext_vals.abs_capture_time.map(|a| a.capture_time),
        };
        if codec.is_video() && track.await_keyframe {
            if !d.is_keyframe() {
                track.throttle.want();
                return;
            }
            track.await_keyframe = false;
        }
        if let Some(dec) = track.decoder.as_mut()
            && dec.push(d.data, timing) == Pushed::Dropped
        {
            let n = c.handoff_drops.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_power_of_two() {
                tracing::warn!(dropped = n, "decoder queue full: dropping frames");
            }
            if codec.is_video() {
                track.throttle.want();
                track.await_keyframe = true;
            }
        }
    }

    /// Remembers the remote address from the first datagram it accepted.
    pub fn note_remote(&mut self, addr: SocketAddr) {
        if self.remote.is_none() {
            self.remote = Some(addr);
        }
    }
}
