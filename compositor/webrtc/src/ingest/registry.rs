//! The table of live WHIP resources, shared by the HTTP handlers (add on POST, look up on
//! DELETE), the UDP loop (remove when a peer leaves) and stats readers. One short-held mutex;
//! never held across an await.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::stats::{IngestStats, PeerCounters};

/// One live resource.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Session id.
    pub session_id: String,
    /// Input id.
    pub input_id: String,
    /// Bearer token the resource's DELETE must present.
    pub token: String,
    /// Counters.
    pub counters: Arc<PeerCounters>,
    /// Set once ICE + DTLS completed.
    pub connected: Arc<AtomicBool>,
}

/// Live resources by id.
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<HashMap<String, Entry>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `resource`; returns the resources already publishing to the same input.
    pub fn insert(&self, resource: &str, entry: Entry) -> Vec<String> {
        let mut g = self.lock();
        let previous = g
            .iter()
            .filter(|(_, e)| e.session_id == entry.session_id && e.input_id == entry.input_id)
            .map(|(k, _)| k.clone())
            .collect();
        g.insert(resource.to_string(), entry);
        previous
    }

    /// Removes `resource` (no-op when absent).
    pub fn remove(&self, resource: &str) -> Option<Entry> {
        self.lock().remove(resource)
    }

    /// Looks up `resource`.
    pub fn get(&self, resource: &str) -> Option<Entry> {
        self.lock().get(resource).cloned()
    }

    /// Number of live resources.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Live resources publishing to inputs other than `(session_id, input_id)` (a publish
    /// there replaces its own, so it does not count against the limit).
    pub fn count_others(&self, session_id: &str, input_id: &str) -> usize {
        self.lock()
            .values()
            .filter(|e| e.session_id != session_id || e.input_id != input_id)
            .count()
    }

    /// True when no resource is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters of every live resource, sorted by session, input.
    pub fn stats(&self) -> Vec<IngestStats> {
        let mut v: Vec<IngestStats> = self
            .lock()
            .iter()
            .map(|(r, e)| {
                e.counters.snapshot(
                    &e.session_id,
                    &e.input_id,
                    r,
                    e.connected.load(Ordering::Relaxed),
                )
            })
            .collect();
        v.sort_by(|a, b| (&a.session_id, &a.input_id).cmp(&(&b.session_id, &b.input_id)));
        v
    }
}
