//! Each output's own bounded queue of encoded packets, between the encode's streaming thread
//! (producer, never blocked) and the output's worker thread (consumer).
//!
//! Invariants: at most `max_items` packets and `max_bytes` bytes are held; when a push would
//! exceed either, the oldest packets are dropped (counted) and the queue marks a *gap*: the
//! consumer must then skip to the next keyframe (the decoder of the destination cannot use
//! frames that follow a hole). Timestamps are whatever the packets carry (session clock, ns);
//! the queue never looks at them. [`PacketQueue`] is pure; [`SharedQueue`] adds the lock and
//! the condition variable.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Something a queue can hold.
pub(crate) trait Weighed {
    /// Bytes it weighs.
    fn bytes(&self) -> usize;
}

/// The pure bounded FIFO.
#[derive(Debug)]
pub(crate) struct PacketQueue<T> {
    items: VecDeque<T>,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
    dropped: u64,
    gap: bool,
}

impl<T: Weighed> PacketQueue<T> {
    /// An empty queue with these bounds (each at least 1).
    pub(crate) fn new(max_items: usize, max_bytes: usize) -> Self {
        Self {
            items: VecDeque::with_capacity(max_items.clamp(1, 4096)),
            bytes: 0,
            max_items: max_items.max(1),
            max_bytes: max_bytes.max(1),
            dropped: 0,
            gap: false,
        }
    }

    /// Appends `item`, dropping the oldest items while a bound is exceeded. Returns how many
    /// were dropped by this push.
    pub(crate) fn push(&mut self, item: T) -> u64 {
        self.bytes += item.bytes();
        self.items.push_back(item);
        let mut dropped = 0;
        while self.items.len() > self.max_items
            || (self.bytes > self.max_bytes && self.items.len() > 1)
        {
            if let Some(old) = self.items.pop_front() {
                self.bytes -= old.bytes();
                dropped += 1;
            }
        }
        if dropped > 0 {
            self.dropped += dropped;
            self.gap = true;
        }
        dropped
    }

    /// The oldest item, and whether a gap happened since the last pop that reported one.
    pub(crate) fn pop(&mut self) -> Option<(T, bool)> {
        let item = self.items.pop_front()?;
        self.bytes -= item.bytes();
        let gap = std::mem::take(&mut self.gap);
        Some((item, gap))
    }

    /// Drops everything (not counted as overflow: a reconnect starts fresh).
    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.bytes = 0;
        self.gap = false;
    }

    /// Items dropped for overflow so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Items held.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

/// [`PacketQueue`] behind a mutex with a condition variable for the consumer.
#[derive(Debug)]
pub(crate) struct SharedQueue<T> {
    inner: Mutex<PacketQueue<T>>,
    ready: Condvar,
}

impl<T: Weighed> SharedQueue<T> {
    /// A queue with these bounds.
    pub(crate) fn new(max_items: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(PacketQueue::new(max_items, max_bytes)),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PacketQueue<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pushes without blocking (beyond the short lock); returns the number dropped.
    pub(crate) fn push(&self, item: T) -> u64 {
        let d = self.lock().push(item);
        self.ready.notify_one();
        d
    }

    /// Waits up to `timeout` for an item.
    pub(crate) fn pop_timeout(&self, timeout: Duration) -> Option<(T, bool)> {
        let mut g = self.lock();
        if g.len() == 0 {
            g = self
                .ready
                .wait_timeout(g, timeout)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        g.pop()
    }

    /// Wakes a waiting consumer (to see a stop flag).
    pub(crate) fn wake(&self) {
        self.ready.notify_all();
    }

    /// Drops everything held.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// Overflow drops so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weighed for (u32, usize) {
        fn bytes(&self) -> usize {
            self.1
        }
    }

    #[test]
    fn drops_oldest_and_marks_a_gap() {
        let mut q = PacketQueue::new(3, 1000);
        for i in 0..3 {
            assert_eq!(q.push((i, 10)), 0);
        }
        assert_eq!(q.push((3, 10)), 1);
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.pop(), Some(((1, 10), true)));
        assert_eq!(q.pop(), Some(((2, 10), false)));
        assert_eq!(q.pop(), Some(((3, 10), false)));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn byte_bound_keeps_at_least_the_newest() {
        let mut q = PacketQueue::new(100, 25);
        q.push((0, 10));
        q.push((1, 10));
        assert_eq!(q.push((2, 10)), 1);
        assert_eq!(q.push((3, 100)), 2);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop(), Some(((3, 100), true)));
        q.push((4, 1));
        q.clear();
        assert_eq!(q.pop(), None);
        assert_eq!(q.dropped(), 3);
    }

    #[test]
    fn shared_pop_times_out_empty() {
        let q: SharedQueue<(u32, usize)> = SharedQueue::new(2, 100);
        assert!(q.pop_timeout(Duration::from_millis(1)).is_none());
        q.push((7, 1));
        assert_eq!(q.pop_timeout(Duration::ZERO), Some(((7, 1), false)));
    }
}
