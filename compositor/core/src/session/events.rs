//! Session events: what a producer's console shows (input joined/left, scene applied, active
//! speaker changed). Kept in a bounded log with sequence numbers so a watcher can resume from
//! the last event it saw without losing any that happened meanwhile (up to the log's size).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// Events the log keeps; older ones are dropped first.
pub const EVENT_LOG_CAPACITY: usize = 1024;

/// Something that happened in a session, stamped with the session time it took effect.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionEvent {
    /// A publisher (WHIP host) connected to an input slot.
    HostJoined {
        /// Input id.
        id: String,
        /// Remote address or a short description of the peer.
        remote: String,
    },
    /// First media of a kind arrived from a host.
    MediaStarted {
        /// Input id.
        id: String,
        /// "video" or "audio".
        kind: String,
        /// Codec name (VP8, H264, opus…).
        codec: String,
    },
    /// No media from a host for the stall timeout.
    HostStalled {
        /// Input id.
        id: String,
    },
    /// Media flows again after a stall.
    HostResumed {
        /// Input id.
        id: String,
    },
    /// A publisher went away (DELETE, replaced, ICE/DTLS failure or timeout).
    HostLeft {
        /// Input id.
        id: String,
        /// Why.
        reason: String,
    },
    /// An output was added to the session.
    OutputAdded {
        /// Output id.
        id: String,
    },
    /// An output connected to its destination (or opened its file).
    OutputConnected {
        /// Output id.
        id: String,
    },
    /// An output failed; it will retry if `retrying`.
    OutputFailed {
        /// Output id.
        id: String,
        /// The error.
        error: String,
        /// Whether a reconnect follows.
        retrying: bool,
    },
    /// An output is about to retry after a back-off.
    OutputReconnecting {
        /// Output id.
        id: String,
        /// Attempt number (1 = first retry).
        attempt: u32,
        /// Back-off before this attempt, ms.
        delay_ms: u64,
    },
    /// An output was removed (its file finalised).
    OutputRemoved {
        /// Output id.
        id: String,
    },
    /// An error worth a producer's attention that ended nothing.
    Error {
        /// What it concerns (an input or output id, "session"…).
        source: String,
        /// The message.
        message: String,
    },
    /// An input slot was created.
    InputAdded {
        /// Input id.
        id: String,
    },
    /// An input slot was deleted.
    InputRemoved {
        /// Input id.
        id: String,
    },
    /// An input's source went away (all senders dropped).
    InputEnded {
        /// Input id.
        id: String,
    },
    /// A scene (layout) change took effect at this output time.
    SceneApplied {
        /// Output time of the first frame showing it.
        at: Duration,
    },
    /// The mixer's active-speaker decision changed.
    ActiveSpeakerChanged {
        /// Previous speaker.
        from: Option<String>,
        /// New speaker.
        to: Option<String>,
        /// Output time of the change.
        at: Duration,
    },
    /// The PK match entered a phase (`intro`, `battle`, `result`, `punishment`, `idle`) at
    /// this exact output time.
    PkPhaseChanged {
        /// The new phase.
        phase: String,
        /// Output time of the boundary.
        at: Duration,
        /// `left`, `right` or `draw` when entering `result`.
        outcome: Option<String>,
    },
    /// A PK score changed.
    PkScoreChanged {
        /// The host whose score changed.
        host: String,
        /// Team totals after it (left, right).
        scores: [u64; 2],
        /// Output time it applied at.
        at: Duration,
    },
}

/// The bounded, sequence-numbered log.
#[derive(Debug, Default)]
pub struct EventLog {
    inner: Mutex<(u64, VecDeque<(u64, SessionEvent)>)>,
}

impl EventLog {
    /// Appends an event; returns its sequence number (1, 2, …).
    pub fn push(&self, ev: SessionEvent) -> u64 {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 += 1;
        let seq = g.0;
        if g.1.len() >= EVENT_LOG_CAPACITY {
            g.1.pop_front();
        }
        g.1.push_back((seq, ev));
        seq
    }

    /// Events with a sequence number greater than `after`, oldest first.
    pub fn since(&self, after: u64) -> Vec<(u64, SessionEvent)> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.1.iter().filter(|(s, _)| *s > after).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_and_stays_bounded() {
        let log = EventLog::default();
        for i in 0..(EVENT_LOG_CAPACITY + 10) {
            log.push(SessionEvent::InputAdded { id: i.to_string() });
        }
        let all = log.since(0);
        assert_eq!(all.len(), EVENT_LOG_CAPACITY);
        assert_eq!(all[0].0, 11);
        let tail = log.since(all[all.len() - 3].0);
        assert_eq!(tail.len(), 2);
    }
}
