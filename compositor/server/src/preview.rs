//! The producer's preview: a sink wrapper that hands out copies of composed frames on request
//! (`GetFrame`). Requests name an output time; the first frame at or after it is copied once
//! per waiting request and sent over a bounded(1) channel. With no request waiting the wrapper
//! costs one atomic load per frame — the session thread never waits for a requester.
//!
//! Threads: [`PreviewTap`] runs on the session thread (inside the sink chain);
//! [`Preview::request`] is called from any thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use compositor_core::frame::I420Frame;
use compositor_media::output::{OutputError, OutputSink, SinkStats};

/// Most requests waiting at once per session.
pub const MAX_PENDING: usize = 16;

/// A composed frame and its output time.
pub type PreviewFrame = (Duration, I420Frame);

/// A waiting request: wanted output time, when the requester gives up, where to send.
#[derive(Debug)]
struct Request {
    at: Duration,
    deadline: Instant,
    tx: Sender<PreviewFrame>,
}

/// Shared between the tap and requesters.
#[derive(Debug, Default)]
pub struct Preview {
    waiting: AtomicBool,
    requests: Mutex<Vec<Request>>,
}

impl Preview {
    /// Asks for the first frame at or after `at`, waited for until `deadline`; None when
    /// [`MAX_PENDING`] requests wait.
    pub fn request(&self, at: Duration, deadline: Instant) -> Option<Receiver<PreviewFrame>> {
        let mut reqs = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        // Requests whose requester gave up are dropped here.
        let now = Instant::now();
        reqs.retain(|r| r.deadline > now);
        if reqs.len() >= MAX_PENDING {
            return None;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        reqs.push(Request { at, deadline, tx });
        self.waiting.store(true, Ordering::Release);
        Some(rx)
    }
}

/// The sink wrapper.
pub struct PreviewTap {
    inner: Box<dyn OutputSink>,
    shared: Arc<Preview>,
}

impl std::fmt::Debug for PreviewTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreviewTap")
    }
}

impl PreviewTap {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn OutputSink>, shared: Arc<Preview>) -> Self {
        Self { inner, shared }
    }
}

impl OutputSink for PreviewTap {
    fn push_video(
        &mut self,
        frame: &I420Frame,
        pts: Duration,
        duration: Duration,
    ) -> Result<(), OutputError> {
        if self.shared.waiting.load(Ordering::Acquire) {
            let mut reqs = self
                .shared
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            reqs.retain(|r| {
                if r.at <= pts {
                    let _ = r.tx.try_send((pts, frame.clone()));
                    false
                } else {
                    true
                }
            });
            self.shared
                .waiting
                .store(!reqs.is_empty(), Ordering::Release);
        }
        self.inner.push_video(frame, pts, duration)
    }
    fn push_audio(&mut self, samples: &[f32], pts: Duration) -> Result<(), OutputError> {
        self.inner.push_audio(samples, pts)
    }
    fn finish(&mut self) -> Result<(), OutputError> {
        self.inner.finish()
    }
    fn stats(&self) -> SinkStats {
        self.inner.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use compositor_media::output::NullSink;

    #[test]
    fn serves_the_first_frame_at_or_after_the_time() {
        let shared = Arc::new(Preview::default());
        let mut tap = PreviewTap::new(Box::new(NullSink::default()), shared.clone());
        let f = I420Frame::filled(16, 16, 100, 128, 128).unwrap();
        let d = Duration::from_millis(40);
        let rx = shared
            .request(
                Duration::from_millis(50),
                Instant::now() + Duration::from_secs(60),
            )
            .unwrap();
        tap.push_video(&f, Duration::from_millis(40), d).unwrap();
        assert!(rx.try_recv().is_err());
        tap.push_video(&f, Duration::from_millis(80), d).unwrap();
        assert_eq!(rx.try_recv().unwrap().0, Duration::from_millis(80));
        assert!(!shared.waiting.load(Ordering::Relaxed));
    }
}
