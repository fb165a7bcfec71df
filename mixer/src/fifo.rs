//! Per-input sample queue (jitter buffer) at the input's own rate.
//!
//! Invariants:
//! - Holds interleaved f32 samples, `channels` per frame, at the *input* rate; the length is
//!   always a whole number of frames.
//! - Every stored sample is finite (non-finite input is replaced by 0.0 on the way in).
//! - Capacity is reserved once for `max_frames`; pushes never grow it. When a push would
//!   exceed `max_frames` the oldest frames are dropped (down to `reset_frames`) and the seam
//!   is cross-faded over `xfade_frames` so the drop does not click.
//! - Owned by its [`crate::input`] input; nothing else reads or writes it.

use std::collections::VecDeque;

/// What a push did besides queueing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PushOutcome {
    /// Frames dropped because the queue would have exceeded its bound (0 = no overrun).
    pub dropped_frames: usize,
}

/// Bounded interleaved FIFO.
#[derive(Debug)]
pub(crate) struct Fifo {
    buf: VecDeque<f32>,
    channels: usize,
    max_frames: usize,
    reset_frames: usize,
    xfade_frames: usize,
}

impl Fifo {
    /// A FIFO of `channels`-channel frames bounded to `max_frames`; an overrun trims it back to
    /// `reset_frames` (clamped to `1..=max_frames`).
    pub(crate) fn new(
        channels: usize,
        max_frames: usize,
        reset_frames: usize,
        xfade_frames: usize,
    ) -> Self {
        let channels = channels.max(1);
        let max_frames = max_frames.max(1);
        Self {
            buf: VecDeque::with_capacity(channels * max_frames),
            channels,
            max_frames,
            reset_frames: reset_frames.clamp(1, max_frames),
            xfade_frames,
        }
    }

    /// Queued frames.
    pub(crate) fn frames(&self) -> usize {
        self.buf.len() / self.channels
    }

    /// Appends frames produced by `frames` (an iterator of interleaved samples, already in this
    /// FIFO's channel layout), dropping the oldest on overflow.
    pub(crate) fn push_frames<I: ExactSizeIterator<Item = f32>>(
        &mut self,
        samples: I,
    ) -> PushOutcome {
        let ch = self.channels;
        let incoming = samples.len() / ch;
        let mut dropped = 0;
        // A single push larger than the bound: keep only its newest part.
        let skip = incoming.saturating_sub(self.max_frames);
        let keep = incoming - skip;
        if self.frames() + keep > self.max_frames {
            // Trim so that after the push the queue holds `reset_frames` (or as close as the
            // push allows).
            let want_old = self.reset_frames.saturating_sub(keep);
            let drop = self.frames() - want_old.min(self.frames());
            self.drop_oldest_xfaded(drop);
            dropped += drop;
        }
        dropped += skip;
        // One bulk extend (reserve once, no per-sample capacity checks); non-finite -> 0.
        self.buf.extend(
            samples
                .skip(skip * ch)
                .take(keep * ch)
                .map(|s| if s.is_finite() { s } else { 0.0 }),
        );
        // Keep whole frames even if the iterator lied about its length.
        let extra = self.buf.len() % ch;
        for _ in 0..extra {
            self.buf.pop_back();
        }
        PushOutcome {
            dropped_frames: dropped,
        }
    }

    /// Drops `n` frames from the front, cross-fading the frames that would have played next
    /// into the new front so the seam is continuous.
    fn drop_oldest_xfaded(&mut self, n: usize) {
        let ch = self.channels;
        let n = n.min(self.frames());
        if n == 0 {
            return;
        }
        let xf = self.xfade_frames.min(self.frames() - n).min(n);
        for i in 0..xf {
            // Raised-cosine weight of the new material: 0 -> 1.
            let w = 0.5 - 0.5 * (std::f32::consts::PI * (i as f32 + 0.5) / xf as f32).cos();
            for c in 0..ch {
                let old = self.buf[i * ch + c];
                let idx = (n + i) * ch + c;
                let new = self.buf[idx];
                self.buf[idx] = old * (1.0 - w) + new * w;
            }
        }
        self.buf.drain(..n * ch);
    }

    /// Copies the oldest `frames` frames into `dst` (interleaved) and removes them. Returns
    /// the number of frames moved (less than asked when the queue is shorter).
    pub(crate) fn pop_into(&mut self, dst: &mut [f32], frames: usize) -> usize {
        let ch = self.channels;
        let n = frames.min(self.frames()).min(dst.len() / ch);
        for (d, s) in dst[..n * ch].iter_mut().zip(self.buf.drain(..n * ch)) {
            *d = s;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_sanitized() {
        let mut f = Fifo::new(2, 10, 4, 2);
        let out = f.push_frames([f32::NAN, 1.0, 0.5, 0.5].into_iter());
        assert_eq!(out.dropped_frames, 0);
        assert_eq!(f.frames(), 2);
        let out = f.push_frames(std::iter::repeat_n(0.25, 2 * 12));
        assert_eq!(out.dropped_frames, 4);
        assert_eq!(f.frames(), 10);
        let mut dst = [9.0; 4];
        assert_eq!(f.pop_into(&mut dst, 2), 2);
        assert!(dst.iter().all(|s| s.is_finite()));
    }
}
