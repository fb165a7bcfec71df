//! Input slots: the bounded channel a source feeds, and what the session keeps per slot.
//!
//! A source (synthetic host now, WHIP decoder or file later) holds an [`InputSender`] and
//! pushes [`VideoFrame`]s and [`AudioBlock`]s stamped on the session clock. Real-time sessions
//! never wait for a source: a full channel drops the newest message (counted, logged every
//! 5 s). Offline sessions block the source instead, so nothing is lost. Dropping every sender
//! of a slot tells the session the source ended.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use super::placement::{TimedMedia, TimedUnit};
use crate::frame::{AudioBlock, VideoFrame};

/// What a source sends.
#[derive(Debug)]
pub enum InputMessage {
    /// A picture.
    Video(VideoFrame),
    /// Sound.
    Audio(AudioBlock),
    /// A picture or sound with its RTP timing, placed by the session
    /// ([`super::placement`]).
    Timed(TimedUnit),
}

impl InputMessage {
    /// Session time the message starts at.
    pub fn time(&self) -> Duration {
        match self {
            InputMessage::Video(f) => f.pts,
            InputMessage::Audio(a) => a.pts,
            // Not placed yet: its arrival (a lower bound of its playout time).
            InputMessage::Timed(t) => t.unit.arrival,
        }
    }
}

/// Per-input counters, shared between the sender and the session.
#[derive(Debug, Default)]
pub struct InputCounters {
    /// Video frames accepted into the channel.
    pub video_in: AtomicU64,
    /// Audio blocks accepted into the channel.
    pub audio_in: AtomicU64,
    /// Messages dropped because the channel was full.
    pub dropped: AtomicU64,
    /// Frames that arrived after a newer one had been shown (discarded).
    pub late: AtomicU64,
    /// Frames replaced before ever being shown.
    pub skipped: AtomicU64,
    /// Audio blocks dropped whole because all their samples were past their playout time.
    pub audio_late: AtomicU64,
    /// Audio frames (samples per channel) of silence inserted for gaps in the timeline.
    pub audio_gap_frames: AtomicU64,
    /// Audio frames trimmed because they overlapped earlier audio or were past due.
    pub audio_trimmed_frames: AtomicU64,
    /// Audio frames released while time-stretching (the timing moved by less than 10 ms).
    pub audio_stretched_frames: AtomicU64,
}

/// A snapshot of [`InputCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct InputStats {
    /// Video frames accepted.
    pub video_in: u64,
    /// Audio blocks accepted.
    pub audio_in: u64,
    /// Dropped at a full channel.
    pub dropped: u64,
    /// Discarded as late.
    pub late: u64,
    /// Never shown (replaced by a newer frame within one tick).
    pub skipped: u64,
    /// Audio blocks dropped as past due.
    pub audio_late: u64,
    /// Silence inserted for audio gaps, frames.
    pub audio_gap_frames: u64,
    /// Audio trimmed (overlap or past due), frames.
    pub audio_trimmed_frames: u64,
    /// Audio released time-stretched, frames.
    pub audio_stretched_frames: u64,
}

impl InputCounters {
    /// Reads the counters.
    pub fn snapshot(&self) -> InputStats {
        InputStats {
            video_in: self.video_in.load(Ordering::Relaxed),
            audio_in: self.audio_in.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            audio_late: self.audio_late.load(Ordering::Relaxed),
            audio_gap_frames: self.audio_gap_frames.load(Ordering::Relaxed),
            audio_trimmed_frames: self.audio_trimmed_frames.load(Ordering::Relaxed),
            audio_stretched_frames: self.audio_stretched_frames.load(Ordering::Relaxed),
        }
    }
}

/// The session went away.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("input {0:?} is closed (removed or session ended)")]
pub struct InputClosed(pub String);

/// The feeding end of an input slot. Cloneable; the slot ends when all clones are dropped.
#[derive(Debug, Clone)]
pub struct InputSender {
    id: Arc<str>,
    tx: Sender<InputMessage>,
    blocking: bool,
    counters: Arc<InputCounters>,
    last_log: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl InputSender {
    pub(crate) fn new(
        id: &str,
        tx: Sender<InputMessage>,
        blocking: bool,
        counters: Arc<InputCounters>,
    ) -> Self {
        Self {
            id: id.into(),
            tx,
            blocking,
            counters,
            last_log: Default::default(),
        }
    }

    /// The slot's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends a picture.
    pub fn send_video(&self, frame: VideoFrame) -> Result<(), InputClosed> {
        self.send(InputMessage::Video(frame))
    }

    /// Sends sound.
    pub fn send_audio(&self, block: AudioBlock) -> Result<(), InputClosed> {
        self.send(InputMessage::Audio(block))
    }

    /// Sends a unit with its RTP timing; the session places it on its own thread.
    pub fn send_timed(&self, unit: TimedUnit) -> Result<(), InputClosed> {
        self.send(InputMessage::Timed(unit))
    }

    fn send(&self, msg: InputMessage) -> Result<(), InputClosed> {
        let is_video = matches!(
            msg,
            InputMessage::Video(_)
                | InputMessage::Timed(TimedUnit {
                    media: TimedMedia::Video(_),
                    ..
                })
        );
        let res = if self.blocking {
            self.tx
                .send(msg)
                .map_err(|_| TrySendError::Disconnected(()))
        } else {
            self.tx.try_send(msg).map_err(|e| match e {
                TrySendError::Full(_) => TrySendError::Full(()),
                TrySendError::Disconnected(_) => TrySendError::Disconnected(()),
            })
        };
        match res {
            Ok(()) => {
                let c = if is_video {
                    &self.counters.video_in
                } else {
                    &self.counters.audio_in
                };
                c.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(())) => {
                let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                let mut last = self.last_log.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                if last.is_none_or(|t| now - t > Duration::from_secs(5)) {
                    *last = Some(now);
                    tracing::warn!(input = %self.id, dropped = n, "input queue full: dropping");
                }
                Ok(())
            }
            Err(TrySendError::Disconnected(())) => Err(InputClosed(self.id.to_string())),
        }
    }
}
