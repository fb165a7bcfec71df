//! Audio placement: turns an input's audio blocks, stamped with playout times, into a
//! continuous sample stream whose samples enter the mixer exactly when they are due.
//!
//! The placer keeps a *mixer timeline*: the session time at which the next released sample
//! enters the mixer (`out_pos`) and the content time (pts) of that sample (`cursor`), apart
//! by `shift`. The session calls [`AudioPlacer::release`] before mixing the block starting
//! at `now` with `horizon = now + the mixer's timed depth`: the timeline is filled up to the
//! horizon. The mixer holds each timed input's queue at that depth, so the sample at the head
//! of its queue is the one whose playout time is
//! `now`: the mixer's drift control keeps working unchanged and places audio by pts.
//! - A gap between blocks (loss, DTX, a stall) becomes silence of the gap's length.
//! - An overlap (reordering, clock steps) is trimmed from the later block; a block whose
//!   samples are all before the release cursor (arrived after its playout time) is dropped.
//! - A timeline that ran dry (cursor before `now`) restarts at `now`: leading silence up to
//!   the first due sample, so the mixer starts it on time.
//!
//! Differences within [`TOLERANCE`] are ignored: the stream stays sample-continuous, so the
//! mixer's queue depth moves by exactly what is released and its drift control sees no
//! false error; a discrepancy is corrected once it exceeds the tolerance.
//!
//! Sans-IO: times are `Duration`s on the session clock, passed in. The placer owns the
//! queued blocks (bounded: [`MAX_PENDING`] of audio; the oldest is dropped and counted).
//! Samples are f32 interleaved at the input's own rate and channel count.

use std::collections::VecDeque;
use std::time::Duration;

/// Timestamp differences ignored between consecutive blocks, seconds.
pub const TOLERANCE: f64 = 0.001;
/// Most audio kept waiting for its playout time.
pub const MAX_PENDING: Duration = Duration::from_secs(2);

/// What the placer did (cumulative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlacerCounters {
    /// Frames of silence inserted for gaps.
    pub gap_frames: u64,
    /// Frames trimmed because they overlapped earlier audio or were past due.
    pub trimmed_frames: u64,
    /// Blocks dropped whole because they were entirely past due.
    pub late_blocks: u64,
    /// Blocks dropped because too much audio was waiting.
    pub overflow_blocks: u64,
}

/// What one release handed over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Release {
    /// Frames written (silence included).
    pub frames: usize,
    /// Of which silence.
    pub silence_frames: usize,
}

#[derive(Debug)]
struct Pending {
    pts: f64,
    samples: Vec<f32>,
    /// Frames already released or trimmed.
    done: usize,
}

/// Places one input's audio by playout time.
#[derive(Debug)]
pub struct AudioPlacer {
    rate: f64,
    channels: usize,
    pending: VecDeque<Pending>,
    pending_frames: usize,
    max_frames: usize,
    /// Content time (pts) of the next frame to release, s.
    cursor: Option<f64>,
    /// Mixer-timeline time (session clock) at which the next released frame enters, s.
    out_pos: f64,
    /// Shift applied between content time and the mixer timeline, s.
    shift: f64,
    counters: PlacerCounters,
}

impl AudioPlacer {
    /// For an input of `sample_rate` Hz and `channels` channels (both ≥ 1).
    pub fn new(sample_rate: u32, channels: u16) -> Self {
        Self {
            rate: f64::from(sample_rate.max(1)),
            channels: usize::from(channels.max(1)),
            pending: VecDeque::new(),
            pending_frames: 0,
            max_frames: (MAX_PENDING.as_secs_f64() * f64::from(sample_rate.max(1))) as usize,
            cursor: None,
            out_pos: 0.0,
            shift: 0.0,
            counters: PlacerCounters::default(),
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> PlacerCounters {
        self.counters
    }

    /// Queues a block whose first sample plays at `pts`. Samples that are not a whole
    /// number of frames lose the partial frame. Returns the number of blocks dropped to stay
    /// within the bound.
    pub fn push(&mut self, pts: Duration, mut samples: Vec<f32>) -> u64 {
        let frames = samples.len() / self.channels;
        samples.truncate(frames * self.channels);
        if frames == 0 {
            return 0;
        }
        let mut dropped = 0;
        while self.pending_frames + frames > self.max_frames {
            let Some(old) = self.pending.pop_front() else {
                break;
            };
            self.pending_frames -= old.samples.len() / self.channels - old.done;
            self.counters.overflow_blocks += 1;
            dropped += 1;
        }
        // Keep the queue in pts order (reordered blocks are inserted where they belong).
        let pts = pts.as_secs_f64();
        let at = self.pending.partition_point(|p| p.pts <= pts);
        self.pending.insert(
            at,
            Pending {
                pts,
                samples,
                done: 0,
            },
        );
        self.pending_frames += frames;
        dropped
    }

    /// Appends to `out` (cleared first) the samples that fill the mixer's timeline from its
    /// current end up to `horizon`, for the mix tick at `now`. `shift` (s) is added to every
    /// pts (the slot's video wait minus the mixer's and encoder's delays); a change of more
    /// than [`TOLERANCE`] is applied at once (silence inserted or audio skipped at the
    /// timeline's end, never under the samples already queued).
    pub fn release(
        &mut self,
        now: Duration,
        horizon: Duration,
        shift: f64,
        out: &mut Vec<f32>,
    ) -> Release {
        out.clear();
        let (now, horizon) = (now.as_secs_f64(), horizon.as_secs_f64());
        let mut rel = Release::default();
        if self.pending.is_empty() {
            return rel;
        }
        let ch = self.channels;
        // The timeline ran dry (or never started): restart it at `now`.
        if self.out_pos < now || self.cursor.is_none() {
            self.out_pos = now;
            self.cursor = Some(now - shift);
            self.shift = shift;
        }
        let mut cursor = self.cursor.unwrap_or(now - shift);
        let d = shift - self.shift;
        if d > TOLERANCE {
            let n = (d * self.rate).round() as usize;
            out.resize(out.len() + n * ch, 0.0);
            rel.frames += n;
            rel.silence_frames += n;
            self.counters.gap_frames += n as u64;
            self.out_pos += n as f64 / self.rate;
            self.shift = shift;
        } else if d < -TOLERANCE {
            // Skip content: the trim below drops what lies before the moved cursor.
            cursor -= d;
            self.shift = shift;
        }
        let room =
            |out_pos: f64| ((horizon - out_pos) * self.rate + 1e-6).floor().max(0.0) as usize;
        while let Some(p) = self.pending.front_mut() {
            let total = p.samples.len() / ch;
            let left = total - p.done;
            if left == 0 {
                self.pending.pop_front();
                continue;
            }
            let start = p.pts + p.done as f64 / self.rate;
            let end = start + left as f64 / self.rate;
            if end <= cursor + TOLERANCE && start < cursor - TOLERANCE {
                // Entirely past due or overlapped.
                self.counters.late_blocks += 1;
                self.counters.trimmed_frames += left as u64;
                self.pending_frames -= left;
                self.pending.pop_front();
                continue;
            }
            if start < cursor - TOLERANCE {
                let k = (((cursor - start) * self.rate).round() as usize).min(left);
                p.done += k;
                self.pending_frames -= k;
                self.counters.trimmed_frames += k as u64;
                continue;
            }
            if start > cursor + TOLERANCE {
                let gap = ((start - cursor) * self.rate).round() as usize;
                let n = gap.min(room(self.out_pos));
                out.resize(out.len() + n * ch, 0.0);
                rel.frames += n;
                rel.silence_frames += n;
                self.counters.gap_frames += n as u64;
                cursor += n as f64 / self.rate;
                self.out_pos += n as f64 / self.rate;
                if n < gap {
                    break;
                }
                // Now within one frame of `start`.
                cursor = start;
            }
            // Within tolerance: continuous with what was released (no re-anchoring, so the
            // mixer's timeline advances by exactly the samples given).
            let m = left.min(room(self.out_pos));
            if m == 0 {
                break;
            }
            out.extend_from_slice(&p.samples[p.done * ch..(p.done + m) * ch]);
            p.done += m;
            self.pending_frames -= m;
            rel.frames += m;
            cursor += m as f64 / self.rate;
            self.out_pos += m as f64 / self.rate;
            if p.done < total {
                break;
            }
            self.pending.pop_front();
        }
        self.cursor = Some(cursor);
        rel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn block(v: f32, frames: usize) -> Vec<f32> {
        vec![v; frames]
    }

    #[test]
    fn starts_on_time_fills_gaps_and_trims_overlaps() {
        // Mono 1 kHz so 1 frame = 1 ms.
        let mut p = AudioPlacer::new(1000, 1);
        let mut out = Vec::new();
        p.push(ms(25), block(1.0, 20));
        // Tick at 0 with a 40 ms horizon: 25 ms of leading silence, then 15 frames.
        let r = p.release(ms(0), ms(40), 0.0, &mut out);
        assert_eq!((r.frames, r.silence_frames), (40, 25));
        assert!(out[..25].iter().all(|&s| s == 0.0) && out[25..].iter().all(|&s| s == 1.0));
        // The rest of the block, then a 10 ms gap before the next one.
        p.push(ms(55), block(2.0, 20));
        let r = p.release(ms(10), ms(50), 0.0, &mut out);
        assert_eq!((r.frames, r.silence_frames), (10, 5));
        assert!(out[..5].iter().all(|&s| s == 1.0) && out[5..].iter().all(|&s| s == 0.0));
        // A block overlapping the released audio by 5 ms is trimmed.
        p.push(ms(70), block(3.0, 20));
        let r = p.release(ms(20), ms(90), 0.0, &mut out);
        assert_eq!(r.frames, 40);
        assert!(out[..5].iter().all(|&s| s == 0.0));
        assert!(out[5..25].iter().all(|&s| s == 2.0));
        assert!(out[25..].iter().all(|&s| s == 3.0));
        assert_eq!(p.counters().trimmed_frames, 5);
        assert_eq!(p.counters().gap_frames, 35);
        // A block entirely before the cursor is dropped as late.
        p.push(ms(60), block(4.0, 10));
        let r = p.release(ms(30), ms(95), 0.0, &mut out);
        assert_eq!(r.frames, 0);
        assert_eq!(p.counters().late_blocks, 1);
    }

    #[test]
    fn a_timeline_that_ran_dry_restarts_at_now() {
        let mut p = AudioPlacer::new(1000, 2);
        let mut out = Vec::new();
        p.push(ms(0), vec![0.5; 40]);
        assert_eq!(p.release(ms(0), ms(40), 0.0, &mut out).frames, 20);
        // Nothing for a while; content resumes at 500 ms, tick at 480 ms.
        p.push(ms(500), vec![0.5; 40]);
        let r = p.release(ms(480), ms(520), 0.0, &mut out);
        assert_eq!((r.frames, r.silence_frames), (40, 20));
        assert_eq!(out.len(), 80);
    }

    #[test]
    fn overflow_drops_oldest_and_counts() {
        let mut p = AudioPlacer::new(1000, 1);
        for i in 0..300u64 {
            p.push(ms(i * 10), block(0.1, 10));
        }
        assert_eq!(p.counters().overflow_blocks, 100);
        let mut out = Vec::new();
        // The oldest kept block starts at 1 s.
        let r = p.release(ms(1000), ms(1040), 0.0, &mut out);
        assert_eq!((r.frames, r.silence_frames), (40, 0));
    }
}
