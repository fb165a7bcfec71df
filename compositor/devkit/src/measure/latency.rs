//! Added latency of the server: from the moment a host's frame is complete on the server's
//! UDP socket to the encoder's output buffer of the first output frame that shows it.
//!
//! Recording ([`LatencyLog`], installed with
//! [`compositor_core::session::SessionHandle::set_arrival_probe`]):
//! the session notes each timed video frame it places (input, playout pts, arrival), an encoder pad probe
//! notes each encoded video buffer (output pts, instant). Both are `Instant`s read at the edge
//! (UDP loop turn, GStreamer streaming thread); bounded rings ([`LOG_CAPACITY`]) drop the
//! oldest. Analysis ([`added_latency`]) is pure: times on the session clock (`Duration`
//! from session time 0), passed in.
//!
//! Which output frame first shows a frame: the first tick at or after both its pts and its
//! arrival (the session shows a slot's newest frame with pts ≤ tick), or the next encoded
//! output frame when that tick was skipped; a frame superseded by a newer one before that
//! tick was never shown and is left out. Parts of the total: `budget`
//! = pts − arrival (waiting for the playout time: the latency budget minus the network and
//! capture-to-arrival time already spent), `grid` = tick − pts (waiting for the output frame),
//! `render_encode` = encoder output − tick.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept per ring.
pub const LOG_CAPACITY: usize = 100_000;

/// One delivered host frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrivalRecord {
    /// Input id.
    pub input: String,
    /// Playout pts (session clock).
    pub pts: Duration,
    /// When its last packet arrived.
    pub arrival: Instant,
}

/// Side records of delivered frames and encoded output frames (see the module doc).
#[derive(Debug, Default)]
pub struct LatencyLog {
    arrivals: Mutex<VecDeque<ArrivalRecord>>,
    encoded: Mutex<VecDeque<(Duration, Instant)>>,
}

fn push_bounded<T>(q: &Mutex<VecDeque<T>>, v: T) {
    let mut q = q.lock().unwrap_or_else(|e| e.into_inner());
    if q.len() >= LOG_CAPACITY {
        q.pop_front();
    }
    q.push_back(v);
}

impl compositor_core::probe::ArrivalProbe for LatencyLog {
    fn note_arrival(&self, input: &str, pts: Duration, completed: Instant) {
        LatencyLog::note_arrival(self, input, pts, completed);
    }
}

impl LatencyLog {
    /// Notes a delivered video frame.
    pub fn note_arrival(&self, input: &str, pts: Duration, arrival: Instant) {
        push_bounded(
            &self.arrivals,
            ArrivalRecord {
                input: input.to_string(),
                pts,
                arrival,
            },
        );
    }

    /// Notes an encoded video buffer of output pts `pts`, produced at `at`.
    pub fn note_encoded(&self, pts: Duration, at: Instant) {
        push_bounded(&self.encoded, (pts, at));
    }

    /// Copies of both records.
    pub fn snapshot(&self) -> (Vec<ArrivalRecord>, Vec<(Duration, Instant)>) {
        let a = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        let e = self.encoded.lock().unwrap_or_else(|e| e.into_inner());
        (a.iter().cloned().collect(), e.iter().copied().collect())
    }
}

/// p50 / p99 / max of a series, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    /// Median (lower of the middle two).
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// Of `v` (ms); zeros when empty.
    pub fn of(mut v: Vec<f64>) -> Self {
        if v.is_empty() {
            return Self::default();
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).floor() as usize];
        Self {
            p50: at(0.5),
            p99: at(0.99),
            max: v[v.len() - 1],
        }
    }
}

/// Added latency and its parts (ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct LatencyReport {
    /// Frames measured (shown and encoded).
    pub frames: usize,
    /// Arrival → encoder output.
    pub total: Percentiles,
    /// Arrival → pts.
    pub budget: Percentiles,
    /// pts → output tick.
    pub grid: Percentiles,
    /// Output tick → encoder output.
    pub render_encode: Percentiles,
}

/// One delivered frame on the session clock: (input, pts, arrival).
pub type Delivered<'a> = (&'a str, Duration, Duration);

/// The report from delivered frames and encoded output frames (`(output pts, encoder output
/// time)`), all on the session clock. An output frame's pts is the session time of its tick
/// (the exact frame grid plus the session's phase offset, [`compositor_core::session::phase`]), so
/// the ticks are read from the encoded pts.
pub fn added_latency(
    delivered: &[Delivered<'_>],
    encoded: &[(Duration, Duration)],
) -> LatencyReport {
    let enc: BTreeMap<Duration, Duration> = encoded.iter().copied().collect();
    // Per input and tick, the newest frame due by then is the one shown; a tick missing from
    // the encoded ones (skipped in real time, behind) moves it to the next encoded one.
    let mut shown: HashMap<(&str, Duration), (Duration, Duration, Duration)> = HashMap::new();
    for &(input, pts, arrival) in delivered {
        let Some((&tick, &out)) = enc.range(pts.max(arrival)..).next() else {
            continue;
        };
        let e = shown.entry((input, tick)).or_insert((pts, arrival, out));
        if pts > e.0 {
            *e = (pts, arrival, out);
        }
    }
    let (mut total, mut budget, mut grid, mut re) = (vec![], vec![], vec![], vec![]);
    let ms = |a: Duration, b: Duration| (a.as_secs_f64() - b.as_secs_f64()) * 1e3;
    for ((_, tick), (pts, arrival, out)) in shown {
        total.push(ms(out, arrival));
        budget.push(ms(pts, arrival));
        grid.push(ms(tick, pts.max(arrival)));
        re.push(ms(out, tick));
    }
    LatencyReport {
        frames: total.len(),
        total: Percentiles::of(total),
        budget: Percentiles::of(budget),
        grid: Percentiles::of(grid),
        render_encode: Percentiles::of(re),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn parts_add_up_and_superseded_frames_are_left_out() {
        let frame = Duration::from_nanos(1_000_000_000 / 30);
        // Frame 1: arrives at 10 ms, due at 50 ms: shown at tick 2 (66.7 ms), encoded 20 ms
        // later. Frame 2 due at 55 ms is newer for the same tick: frame 1 is superseded.
        let delivered = [
            ("a", ms(50), ms(10)),
            ("a", ms(55), ms(20)),
            ("a", ms(90), ms(60)),
        ];
        let encoded = [
            (frame * 2, frame * 2 + ms(20)),
            (frame * 3, frame * 3 + ms(30)),
        ];
        let r = added_latency(&delivered, &encoded);
        assert_eq!(r.frames, 2);
        // Frame 2: 66.7 + 20 - 20 = 66.7 ms; frame 3: 100 + 30 - 60 = 70 ms.
        assert!((r.total.max - 70.0).abs() < 1e-3, "{r:?}");
        assert!((r.total.p50 - 66.666_666).abs() < 1e-3, "{r:?}");
        assert!((r.budget.max - 35.0).abs() < 1e-6, "{r:?}");
        assert!((r.render_encode.p50 - 20.0).abs() < 1e-6, "{r:?}");
        assert!((r.grid.max - 11.666_666).abs() < 1e-3, "{r:?}");
    }

    #[test]
    fn a_frame_arriving_after_its_pts_is_shown_at_the_tick_after_arrival() {
        let frame = Duration::from_nanos(1_000_000_000 / 30);
        let r = added_latency(&[("a", ms(10), ms(40))], &[(frame * 2, frame * 2)]);
        assert_eq!(r.frames, 1);
        assert!((r.total.p50 - (66.666_666 - 40.0)).abs() < 1e-3, "{r:?}");
        assert!((r.budget.p50 + 30.0).abs() < 1e-6, "{r:?}");
    }

    #[test]
    fn a_skipped_tick_moves_the_frame_to_the_next_encoded_one() {
        let frame = Duration::from_nanos(1_000_000_000 / 30);
        // Due at tick 1, tick 1 skipped, tick 2 encoded 10 ms after its time.
        let r = added_latency(&[("a", ms(20), ms(5))], &[(frame * 2, frame * 2 + ms(10))]);
        assert_eq!(r.frames, 1);
        assert!(
            (r.total.p50 - (66.666_666 + 10.0 - 5.0)).abs() < 1e-3,
            "{r:?}"
        );
        assert!((r.grid.p50 - (66.666_666 - 20.0)).abs() < 1e-3, "{r:?}");
    }

    #[test]
    fn ticks_off_the_exact_grid_are_read_from_the_encoded_pts() {
        // Ticks 5 ms after the grid (phase-locked session): a frame due at 36 ms is shown at
        // the tick of 38.3 ms, not at 66.7 ms.
        let frame = Duration::from_nanos(1_000_000_000 / 30);
        let encoded = [
            (frame + ms(5), frame + ms(12)),
            (frame * 2 + ms(5), frame * 2 + ms(12)),
        ];
        let r = added_latency(&[("a", ms(36), ms(20))], &encoded);
        assert_eq!(r.frames, 1);
        assert!((r.grid.p50 - (38.333_333 - 36.0)).abs() < 1e-3, "{r:?}");
        assert!((r.total.p50 - (45.333_333 - 20.0)).abs() < 1e-3, "{r:?}");
    }

    #[test]
    fn percentiles_of_empty_and_known_series() {
        assert_eq!(Percentiles::of(vec![]), Percentiles::default());
        let p = Percentiles::of((1..=100).map(f64::from).collect());
        assert_eq!((p.p50, p.p99, p.max), (50.0, 99.0, 100.0));
    }
}
