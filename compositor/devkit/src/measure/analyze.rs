//! The analyzer: decodes an output file (MP4/FLV, anything `decodebin` reads) and measures,
//! per host, lip sync (beep onset vs the first output frame showing the beep's capture
//! time) and, across hosts, how often same-instant pictures share an output frame and how
//! far apart same-instant beeps land.
//!
//! Threads: a GStreamer pipeline `filesrc ! decodebin` with a GRAY8 video appsink and a mono
//! F32 48 kHz audio appsink, each drained by its own thread; the caller's thread waits for
//! the end (bounded by a timeout) and then computes the report (pure, [`analyze_decoded`]).
//! Times in the report are seconds of output time (buffer pts); offsets in ms.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use super::stamp::read_strip;
use super::tone::onsets;

/// Where a host sits in the output picture and how it beeps.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HostRegion {
    /// Name in the report.
    pub name: String,
    /// The host picture's rectangle in the output: x, y, w, h (pixels).
    pub rect: (u32, u32, u32, u32),
    /// Its beep frequency, Hz.
    pub beep_hz: f64,
}

impl std::str::FromStr for HostRegion {
    type Err = compositor_core::Invalid;
    /// `name:x,y,w,h:hz`, e.g. `a:0,0,640,360:1000`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).map_err(compositor_core::Invalid)
    }
}

impl HostRegion {
    fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let [name, rect, hz] = parts.as_slice() else {
            return Err(format!("host {s:?}: expected name:x,y,w,h:hz"));
        };
        let nums: Vec<u32> = rect
            .split(',')
            .map(|v| v.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("host {s:?}: rectangle: {e}"))?;
        let [x, y, w, h] = nums.as_slice() else {
            return Err(format!("host {s:?}: rectangle needs 4 numbers"));
        };
        let beep_hz: f64 = hz
            .parse()
            .map_err(|e| format!("host {s:?}: frequency: {e}"))?;
        if name.is_empty() || *w == 0 || *h == 0 || !(50.0..=20_000.0).contains(&beep_hz) {
            return Err(format!(
                "host {s:?}: needs a name, a non-empty rectangle and 50..=20000 Hz"
            ));
        }
        Ok(HostRegion {
            name: name.to_string(),
            rect: (*x, *y, *w, *h),
            beep_hz,
        })
    }
}

/// What was decoded: per output frame its pts and each host's stamp; mono audio.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// (pts s, stamp per host in `HostRegion` order).
    pub frames: Vec<(f64, Vec<Option<u32>>)>,
    /// Mono samples.
    pub audio: Vec<f32>,
    /// Audio rate.
    pub audio_rate: u32,
    /// pts of the first audio sample, s.
    pub audio_t0: f64,
}

/// Lip sync of one host.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct HostSync {
    /// Host name.
    pub name: String,
    /// Output frames whose strip was read.
    pub frames_read: usize,
    /// Beeps matched to a picture.
    pub beeps: usize,
    /// Audio minus video time per beep, ms (positive = sound late), in capture order.
    pub av_offsets_ms: Vec<f64>,
    /// Capture time (ms) of each beep in `av_offsets_ms`.
    pub beep_capture_ms: Vec<u32>,
    /// Mean of `av_offsets_ms`.
    pub av_mean_ms: f64,
    /// Smallest.
    pub av_min_ms: f64,
    /// Largest.
    pub av_max_ms: f64,
}

/// The analyzer's findings.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SyncReport {
    /// Output frames decoded.
    pub frames: usize,
    /// Per host.
    pub hosts: Vec<HostSync>,
    /// Output frames where every host's strip was read.
    pub frames_all_read: usize,
    /// Of those, the share whose strips all say the same capture ms (0..=1).
    pub same_instant_share: f64,
    /// Mean (second host − first host) capture ms over frames where all were read: the
    /// picture skew (positive = the second host shows older pictures).
    pub picture_skew_ms: f64,
    /// For beeps of the same capture time, the largest |onset difference| between the first
    /// host and each other one, ms.
    pub beep_skew_max_ms: f64,
    /// Mean signed (other − first) beep onset difference, ms.
    pub beep_skew_mean_ms: f64,
    /// Same-instant beep pairs compared.
    pub beep_pairs: usize,
    /// Per pair: the beeps' capture time (ms) and (other − first) onset difference (ms).
    pub beep_skews_ms: Vec<(u32, f64)>,
}

impl SyncReport {
    /// A few human-readable lines.
    pub fn human(&self) -> String {
        let mut s = format!("{} output frames\n", self.frames);
        for h in &self.hosts {
            s += &format!(
                "host {}: {} frames read, {} beeps, A/V (audio - video) mean {:+.1} ms, range {:+.1}..{:+.1} ms\n",
                h.name, h.frames_read, h.beeps, h.av_mean_ms, h.av_min_ms, h.av_max_ms
            );
        }
        s += &format!(
            "same-instant pictures in {:.2} % of {} frames (mean skew {:+.1} ms); same-instant beeps: max {:.1} ms apart, mean {:+.1} ms over {} pairs\n",
            self.same_instant_share * 100.0,
            self.frames_all_read,
            self.picture_skew_ms,
            self.beep_skew_max_ms,
            self.beep_skew_mean_ms,
            self.beep_pairs
        );
        s
    }
}

/// Analyzer failures.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The file cannot be read or decoded.
    #[error("decoding {0}")]
    Decode(String),
    /// Bad arguments.
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// Decodes `file` and reports (see the module doc). `timeout` bounds the decode.
pub fn analyze_file(
    file: &Path,
    hosts: &[HostRegion],
    timeout: Duration,
) -> Result<SyncReport, AnalyzeError> {
    if hosts.is_empty() {
        return Err(AnalyzeError::Invalid("no hosts given".into()));
    }
    let decoded = decode(file, hosts, timeout)?;
    Ok(analyze_decoded(&decoded, hosts))
}

/// Decodes `file` into per-frame stamps and mono audio (for callers that analyse a part of
/// a recording with [`analyze_decoded`], e.g. after a settling period).
pub fn decode_file(
    file: &Path,
    hosts: &[HostRegion],
    timeout: Duration,
) -> Result<Decoded, AnalyzeError> {
    if hosts.is_empty() {
        return Err(AnalyzeError::Invalid("no hosts given".into()));
    }
    decode(file, hosts, timeout)
}

fn decode(file: &Path, hosts: &[HostRegion], timeout: Duration) -> Result<Decoded, AnalyzeError> {
    let err = |e: String| AnalyzeError::Decode(format!("{}: {e}", file.display()));
    if !file.is_file() {
        return Err(err("no such file".into()));
    }
    gst::init().map_err(|e| err(e.to_string()))?;
    // Each decoded stream is linked by its media type (not by parse-launch's delayed
    // linking, which may hand the audio pad to the video branch).
    let pipeline = gst::Pipeline::new();
    let make = |f: &str| {
        gst::ElementFactory::make(f)
            .build()
            .map_err(|e| err(format!("{f}: {e}")))
    };
    let (src, dec) = (make("filesrc")?, make("decodebin")?);
    src.set_property("location", file.to_string_lossy().to_string());
    let branch = |desc: &str| -> Result<gst::Bin, AnalyzeError> {
        gst::parse::bin_from_description(desc, true).map_err(|e| err(e.to_string()))
    };
    let vbin = branch(
        "queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! videoconvert ! \
         video/x-raw,format=GRAY8 ! appsink name=v sync=false",
    )?;
    let abin = branch(
        "queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! audioconvert ! \
         audioresample ! audio/x-raw,format=F32LE,channels=1,rate=48000,layout=interleaved ! \
         appsink name=a sync=false",
    )?;
    pipeline
        .add_many([&src, &dec, vbin.upcast_ref(), abin.upcast_ref()])
        .map_err(|e| err(e.to_string()))?;
    src.link(&dec).map_err(|e| err(e.to_string()))?;
    {
        let (vbin, abin) = (vbin.clone(), abin.clone());
        dec.connect_pad_added(move |_, pad| {
            let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
            let name = caps
                .structure(0)
                .map(|s| s.name().to_string())
                .unwrap_or_default();
            let target = if name.starts_with("video/") {
                &vbin
            } else if name.starts_with("audio/") {
                &abin
            } else {
                return;
            };
            if let Some(sink) = target.static_pad("sink")
                && !sink.is_linked()
            {
                let _ = pad.link(&sink);
            }
        });
    }
    {
        // A file without one of the media: end that branch so the pipeline can finish.
        let (vbin, abin) = (vbin.clone(), abin.clone());
        dec.connect_no_more_pads(move |_| {
            for bin in [&vbin, &abin] {
                if let Some(sink) = bin.static_pad("sink")
                    && !sink.is_linked()
                {
                    let _ = sink.send_event(gst::event::Eos::new());
                }
            }
        });
    }
    let sink = |bin: &gst::Bin, n: &str| {
        bin.by_name(n)
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| err(format!("no appsink {n}")))
    };
    let (vs, aus) = (sink(&vbin, "v")?, sink(&abin, "a")?);
    let out = Arc::new(Mutex::new(Decoded {
        audio_rate: 48_000,
        audio_t0: f64::NAN,
        ..Decoded::default()
    }));
    let regions: Vec<(usize, usize, usize, usize)> = hosts
        .iter()
        .map(|h| {
            let (x, y, w, hh) = h.rect;
            (x as usize, y as usize, w as usize, hh as usize)
        })
        .collect();
    let deadline = Instant::now() + timeout;
    // Start first: an appsink that is not yet PAUSED reports end-of-stream.
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| err(e.to_string()))?;
    let vt = {
        let out = out.clone();
        std::thread::spawn(move || {
            while Instant::now() < deadline {
                let Some(sample) = vs.try_pull_sample(gst::ClockTime::from_mseconds(200)) else {
                    if vs.is_eos() {
                        break;
                    }
                    continue;
                };
                let (Some(buf), Some(caps)) = (sample.buffer(), sample.caps()) else {
                    continue;
                };
                let Ok(info) = gst_video::VideoInfo::from_caps(caps) else {
                    continue;
                };
                let pts = buf.pts().map_or(f64::NAN, |p| p.nseconds() as f64 / 1e9);
                let Ok(frame) = gst_video::VideoFrameRef::from_buffer_ref_readable(buf, &info)
                else {
                    continue;
                };
                let stride = frame.plane_stride()[0] as usize;
                let Ok(plane) = frame.plane_data(0) else {
                    continue;
                };
                let h = info.height() as usize;
                let stamps = regions
                    .iter()
                    .map(|r| read_strip(plane, stride, h, *r))
                    .collect();
                out.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .frames
                    .push((pts, stamps));
            }
        })
    };
    let at = {
        let out = out.clone();
        std::thread::spawn(move || {
            while Instant::now() < deadline {
                let Some(sample) = aus.try_pull_sample(gst::ClockTime::from_mseconds(200)) else {
                    if aus.is_eos() {
                        break;
                    }
                    continue;
                };
                let Some(buf) = sample.buffer() else { continue };
                let Ok(map) = buf.map_readable() else {
                    continue;
                };
                let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
                if o.audio_t0.is_nan() {
                    o.audio_t0 = buf.pts().map_or(0.0, |p| p.nseconds() as f64 / 1e9);
                }
                o.audio.extend(
                    map.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
            }
        })
    };
    let bus = pipeline.bus().ok_or_else(|| err("no bus".into()))?;
    let mut failure = None;
    while Instant::now() < deadline {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(200)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                failure = Some(format!("{} ({:?})", e.error(), e.debug()));
                break;
            }
            _ => {}
        }
    }
    let timed_out = Instant::now() >= deadline;
    let _ = pipeline.set_state(gst::State::Null);
    let _ = vt.join();
    let _ = at.join();
    if let Some(f) = failure {
        return Err(err(f));
    }
    if timed_out {
        return Err(err(format!("not decoded within {timeout:?}")));
    }
    let mut d = std::mem::take(&mut *out.lock().unwrap_or_else(|e| e.into_inner()));
    if d.audio_t0.is_nan() {
        d.audio_t0 = 0.0;
    }
    d.frames.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(d)
}

/// The report from decoded data (pure).
pub fn analyze_decoded(d: &Decoded, hosts: &[HostRegion]) -> SyncReport {
    let mut rep = SyncReport {
        frames: d.frames.len(),
        ..SyncReport::default()
    };
    // Per host: the first output time each capture ms is shown.
    let mut first_shown: Vec<std::collections::BTreeMap<u32, f64>> =
        vec![Default::default(); hosts.len()];
    for (pts, stamps) in &d.frames {
        for (i, s) in stamps.iter().enumerate() {
            if let Some(ms) = s {
                first_shown[i].entry(*ms).or_insert(*pts);
            }
        }
    }
    // Per host: beep onsets, each matched to the capture time of the beep it shows.
    let mut beeps: Vec<std::collections::BTreeMap<u32, f64>> =
        vec![Default::default(); hosts.len()];
    for (i, h) in hosts.iter().enumerate() {
        let frames_read = d.frames.iter().filter(|f| f.1[i].is_some()).count();
        let found = onsets(&d.audio, d.audio_rate, d.audio_t0, h.beep_hz, 0.02, 0.3);
        let mut offs = Vec::new();
        let mut caps = Vec::new();
        for t in found {
            // The frame shown nearest before/after the onset tells the capture second.
            let near = first_shown[i]
                .iter()
                .filter(|(ms, _)| *ms % 1000 == 0)
                .min_by(|a, b| (a.1 - t).abs().total_cmp(&(b.1 - t).abs()));
            if let Some((ms, v)) = near
                && (v - t).abs() < 0.4
            {
                offs.push((t - v) * 1e3);
                caps.push(*ms);
                beeps[i].insert(*ms, t);
            }
        }
        let n = offs.len();
        rep.hosts.push(HostSync {
            name: h.name.clone(),
            frames_read,
            beeps: n,
            av_mean_ms: if n > 0 {
                offs.iter().sum::<f64>() / n as f64
            } else {
                0.0
            },
            av_min_ms: offs
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min)
                .min(f64::MAX),
            av_max_ms: offs
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max)
                .max(f64::MIN),
            av_offsets_ms: offs,
            beep_capture_ms: caps,
        });
    }
    // Across hosts: pictures.
    let all: Vec<&Vec<Option<u32>>> = d
        .frames
        .iter()
        .map(|f| &f.1)
        .filter(|s| s.iter().all(Option::is_some))
        .collect();
    rep.frames_all_read = all.len();
    if !all.is_empty() && hosts.len() > 1 {
        let same = all.iter().filter(|s| s.iter().all(|v| *v == s[0])).count();
        rep.same_instant_share = same as f64 / all.len() as f64;
        let skew: f64 = all
            .iter()
            .map(|s| {
                let a = f64::from(s[0].unwrap_or(0));
                let b = f64::from(s[1].unwrap_or(0));
                a - b
            })
            .sum();
        rep.picture_skew_ms = skew / all.len() as f64;
    }
    // Across hosts: beeps of the same capture second.
    let mut diffs = Vec::new();
    for other in beeps.iter().skip(1) {
        for (ms, t) in other {
            if let Some(t0) = beeps[0].get(ms) {
                diffs.push((t - t0) * 1e3);
                rep.beep_skews_ms.push((*ms, (t - t0) * 1e3));
            }
        }
    }
    rep.beep_pairs = diffs.len();
    if !diffs.is_empty() {
        rep.beep_skew_max_ms = diffs.iter().map(|d| d.abs()).fold(0.0, f64::max);
        rep.beep_skew_mean_ms = diffs.iter().sum::<f64>() / diffs.len() as f64;
    }
    rep
}
