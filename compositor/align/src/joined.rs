//! One input's audio blocks joined into a continuous stream, read at a fractional position:
//! what the [`super::AudioPlacer`] time-stretches from.
//!
//! - The stream is interleaved f32 frames at the input's rate. Each joined block keeps its
//!   own pts as an *anchor* (frame index → pts): frames after an anchor have pts
//!   `anchor pts + (index - anchor index) / rate`. Blocks joined end to end whose pts differ
//!   by a little from the stream's end (the budget slewing moves every block's pts by up to
//!   1 % of its length) are contiguous in samples; the pts jump at the anchor is what the
//!   placer absorbs by reading slightly faster or slower.
//! - [`JoinedAudio::read`] interpolates at the read position with the 4-point cubic
//!   (Lagrange, points at −1, 0, 1, 2: the kernel the mixer uses for drift) and advances it
//!   by `step` frames per output frame. At a whole-frame position it copies the frame: a
//!   stream read at step 1 is passed through bit-exact.
//! - Owned by one placer, on the session thread; times are f64 seconds on the session
//!   clock. Read frames are dropped from the front in batches of [`COMPACT_AT`] frames.

use std::collections::VecDeque;

/// Read frames kept before the read position (the cubic reads one frame before it).
const HISTORY: usize = 1;
/// Read frames are dropped from the front once this many have accumulated.
const COMPACT_AT: usize = 4096;

/// A continuous stream of joined audio blocks (see the module doc).
#[derive(Debug)]
pub(super) struct JoinedAudio {
    rate: f64,
    ch: usize,
    buf: Vec<f32>,
    /// `(frame index in buf, pts s)` of each joined block, ascending index; when several
    /// share an index the last one holds. Empty until the stream is started.
    anchors: VecDeque<(usize, f64)>,
    /// Read position, frames into `buf`.
    pos: f64,
}

impl JoinedAudio {
    /// Empty, not started; `rate` Hz (> 0), `ch` channels (≥ 1).
    pub(super) fn new(rate: f64, ch: usize) -> Self {
        Self {
            rate,
            ch: ch.max(1),
            buf: Vec::new(),
            anchors: VecDeque::new(),
            pos: 0.0,
        }
    }

    /// Whether the stream has a position in time.
    pub(super) fn is_started(&self) -> bool {
        !self.anchors.is_empty()
    }

    fn frames(&self) -> usize {
        self.buf.len() / self.ch
    }

    /// Frames from the read position to the end of the stream.
    pub(super) fn unread(&self) -> f64 {
        (self.frames() as f64 - self.pos).max(0.0)
    }

    /// Pts (s) at frame position `x`; `None` before the stream is started.
    fn pts_at(&self, x: f64) -> Option<f64> {
        let i = self.anchors.partition_point(|a| a.0 as f64 <= x);
        let (idx, pts) = if i == 0 {
            *self.anchors.front()?
        } else {
            *self.anchors.get(i - 1)?
        };
        Some(pts + (x - idx as f64) / self.rate)
    }

    /// Pts of the read position.
    pub(super) fn read_pts(&self) -> Option<f64> {
        self.pts_at(self.pos)
    }

    /// Pts just after the last frame (where the next block should start).
    pub(super) fn end_pts(&self) -> Option<f64> {
        self.pts_at(self.frames() as f64)
    }

    /// Empties the stream and starts it again at `pts` (nothing joined yet).
    pub(super) fn restart_at(&mut self, pts: f64) {
        self.buf.clear();
        self.anchors.clear();
        self.anchors.push_back((0, pts));
        self.pos = 0.0;
    }

    /// The unread frames (from the next whole frame) and their pts, removing them; the
    /// stream then ends at the read position.
    pub(super) fn take_unread(&mut self) -> Option<(f64, Vec<f32>)> {
        let from = self.pos.ceil() as usize;
        if from >= self.frames() {
            return None;
        }
        let pts = self.pts_at(from as f64)?;
        let samples = self.buf.split_off(from * self.ch);
        while self.anchors.len() > 1 && self.anchors.back().is_some_and(|a| a.0 >= from) {
            self.anchors.pop_back();
        }
        Some((pts, samples))
    }

    /// Appends a block whose first frame has pts `pts`.
    pub(super) fn append(&mut self, pts: f64, samples: &[f32]) {
        let idx = self.frames();
        while self.anchors.back().is_some_and(|a| a.0 == idx) {
            self.anchors.pop_back();
        }
        self.anchors.push_back((idx, pts));
        self.buf.extend_from_slice(samples);
    }

    /// Appends `frames` of silence continuing the last block's timing.
    pub(super) fn append_silence(&mut self, frames: usize) {
        self.buf.resize(self.buf.len() + frames * self.ch, 0.0);
    }

    /// Fades the last `frames` frames to zero, only those not read yet (before a gap).
    pub(super) fn fade_out_tail(&mut self, frames: usize) {
        let first_unread = self.pos.ceil() as usize;
        let n = frames.min(self.frames().saturating_sub(first_unread));
        let start = (self.frames() - n) * self.ch;
        ramp(&mut self.buf[start..], self.ch, |k| {
            (n - k) as f32 / (n + 1) as f32
        });
    }

    /// Moves the read position forward by up to `frames`; returns how far it moved.
    pub(super) fn skip(&mut self, frames: f64) -> f64 {
        let s = frames.clamp(0.0, self.unread());
        self.pos += s;
        s
    }

    /// Whether the read position is on a whole frame (reading at step 1 copies frames).
    pub(super) fn on_frame(&self) -> bool {
        self.pos.fract() == 0.0
    }

    /// Appends to `out` up to `n` frames read at `step` frames apart from the read position,
    /// stopping before a frame that needs audio not joined yet. Returns the frames written.
    /// With `land`, the position is set on the first whole frame it passes (a move of at
    /// most `|step - 1|` frame) and read at step 1 from there: the way back to copying
    /// frames without a jump of up to half a frame.
    /// A position already on a whole frame has landed: read at step 1.
    pub(super) fn read(&mut self, step: f64, land: bool, n: usize, out: &mut Vec<f32>) -> usize {
        let (frames, ch) = (self.frames(), self.ch);
        let (mut step, land) = if land && self.on_frame() {
            (1.0, false)
        } else {
            (step, land)
        };
        let mut written = 0;
        while written < n {
            let i = self.pos.floor() as usize; // pos >= 0
            let x = (self.pos - i as f64) as f32;
            if x == 0.0 {
                let Some(f) = self.buf.get(i * ch..(i + 1) * ch) else {
                    break;
                };
                out.extend_from_slice(f);
            } else {
                if i + 2 >= frames {
                    break;
                }
                let im1 = i.saturating_sub(1);
                let w = mixer::cubic_weights(x);
                for c in 0..ch {
                    let y = |j: usize| self.buf[j * ch + c];
                    out.push(w[0] * y(im1) + w[1] * y(i) + w[2] * y(i + 1) + w[3] * y(i + 2));
                }
            }
            let next = self.pos + step;
            if land && step != 1.0 {
                // Signed offsets from the nearest whole frame before and after: a change of
                // sign by less than a frame is the crossing.
                let (r0, r1) = (self.pos - self.pos.round(), next - next.round());
                if r1 == 0.0 || (r0.signum() != r1.signum() && (r1 - r0).abs() < 0.5) {
                    self.pos = next.round();
                    step = 1.0;
                    written += 1;
                    continue;
                }
            }
            self.pos = next;
            written += 1;
        }
        self.compact();
        written
    }

    /// Drops read frames from the front (keeping [`HISTORY`]), re-basing the anchors.
    fn compact(&mut self) {
        let i = self.pos.floor() as usize;
        if i < COMPACT_AT + HISTORY {
            return;
        }
        let d = i - HISTORY;
        let Some(p0) = self.pts_at(d as f64) else {
            return;
        };
        self.buf.drain(..d * self.ch);
        self.pos -= d as f64;
        while self.anchors.front().is_some_and(|a| a.0 <= d) {
            self.anchors.pop_front();
        }
        for a in &mut self.anchors {
            a.0 -= d;
        }
        self.anchors.push_front((0, p0));
    }
}

/// Multiplies frame `j` of `frames` (interleaved, `ch` channels) by `gain(j)`, clamped to
/// 0..=1: the fades around gaps and corrections.
pub(super) fn ramp(frames: &mut [f32], ch: usize, gain: impl Fn(usize) -> f32) {
    for (j, f) in frames.chunks_exact_mut(ch).enumerate() {
        let g = gain(j).clamp(0.0, 1.0);
        f.iter_mut().for_each(|s| *s *= g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_one_copies_and_anchors_give_pts() {
        let mut j = JoinedAudio::new(1000.0, 1);
        j.restart_at(1.0);
        j.append(1.0, &[1.0, 2.0, 3.0]);
        // A block 0.5 ms late against the stream's end: contiguous, its own pts.
        j.append(1.0035, &[4.0, 5.0]);
        assert_eq!(j.end_pts(), Some(1.0055));
        let mut out = Vec::new();
        assert_eq!(j.read(1.0, false, 10, &mut out), 5);
        assert_eq!(out, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!((j.read_pts().unwrap_or(0.0) - 1.0055).abs() < 1e-12);
    }

    #[test]
    fn fractional_steps_interpolate_a_line_exactly_and_wait_for_audio() {
        let mut j = JoinedAudio::new(1000.0, 2);
        j.restart_at(0.0);
        let ramp: Vec<f32> = (0..20).flat_map(|i| [i as f32, -(i as f32)]).collect();
        j.append(0.0, &ramp);
        let mut out = Vec::new();
        let n = j.read(1.02, false, 100, &mut out);
        // Stops while the cubic still has its two frames ahead.
        assert!(n > 10 && n < 19, "{n}");
        for (k, f) in out.chunks_exact(2).enumerate() {
            let x = k as f32 * 1.02;
            assert!(
                (f[0] - x).abs() < 1e-3 && (f[1] + x).abs() < 1e-3,
                "{k}: {f:?}"
            );
        }
    }

    #[test]
    fn landing_moves_onto_a_whole_frame_without_a_jump_then_copies() {
        let mut j = JoinedAudio::new(1000.0, 1);
        j.restart_at(0.0);
        let ramp: Vec<f32> = (0..200).map(|i| i as f32).collect();
        j.append(0.0, &ramp);
        j.skip(5.7);
        let mut out = Vec::new();
        assert_eq!(j.read(1.01, true, 100, &mut out), 100);
        assert!(j.on_frame());
        // Moved by 0.01 frame per frame until the whole frame 36 (5.7 + 30 * 1.01 = 36.0),
        // exact copies from there, never a step of more than 1.01.
        assert!(
            out.windows(2).all(|w| (w[1] - w[0] - 1.0).abs() <= 0.0101),
            "{out:?}"
        );
        let exact = out.iter().position(|&v| v == 36.0).unwrap_or(usize::MAX);
        assert!(exact <= 31, "{out:?}");
        assert!(out[exact..].windows(2).all(|w| w[1] - w[0] == 1.0));
    }

    #[test]
    fn compaction_keeps_the_timing() {
        let mut j = JoinedAudio::new(48_000.0, 1);
        j.restart_at(0.0);
        for b in 0..20 {
            j.append(f64::from(b) * 0.02, &[0.25; 960]);
        }
        let mut out = Vec::new();
        assert_eq!(j.read(1.0, false, 10_000, &mut out), 10_000);
        assert!((j.read_pts().unwrap_or(0.0) - 10_000.0 / 48_000.0).abs() < 1e-9);
        assert!(j.buf.len() < 19_200);
        let (pts, rest) = j.take_unread().unwrap_or((0.0, Vec::new()));
        assert!((pts - 10_000.0 / 48_000.0).abs() < 1e-9);
        assert_eq!(rest.len(), 19_200 - 10_000);
    }
}
