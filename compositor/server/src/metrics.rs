//! Prometheus text exposition (format 0.0.4) of every session: frames, late ticks, render
//! times, per-input counters and mixer figures, per-output state and counters. Built on
//! request from the sessions' atomics; never touches a session thread.

use std::fmt::Write as _;

use super::SessionManager;
use compositor_media::output::OutputState;
use compositor_webrtc::ingest::IngestStats;

/// Escapes a label value.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    rows: Vec<(String, f64)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            kind,
            rows: Vec::new(),
        }
    }
    fn push(&mut self, labels: String, v: f64) {
        self.rows.push((labels, v));
    }
}

/// The exposition text: every session, plus the WHIP hosts' receive/decode counters.
pub fn render(manager: &SessionManager, ingest: &[IngestStats]) -> String {
    let sessions = manager.all();
    let mut f_sessions = Family::new("compositor_sessions", "gauge", "Running sessions.");
    f_sessions.push(String::new(), sessions.len() as f64);
    let mut frames = Family::new(
        "compositor_frames_total",
        "counter",
        "Frames composed and sent to outputs.",
    );
    let mut audio = Family::new(
        "compositor_audio_blocks_total",
        "counter",
        "10 ms mix blocks sent.",
    );
    let mut late = Family::new(
        "compositor_late_ticks_total",
        "counter",
        "Real-time video ticks skipped because rendering fell behind.",
    );
    let mut render_err = Family::new(
        "compositor_render_errors_total",
        "counter",
        "Render failures.",
    );
    let mut render_mean = Family::new(
        "compositor_render_ms_mean",
        "gauge",
        "Mean GPU render time per frame, ms.",
    );
    let mut render_max = Family::new(
        "compositor_render_ms_max",
        "gauge",
        "Worst GPU render time per frame, ms.",
    );
    let mut media = Family::new(
        "compositor_media_time_seconds",
        "gauge",
        "Output time reached.",
    );
    let mut in_video = Family::new(
        "compositor_input_video_frames_total",
        "counter",
        "Video frames accepted per input.",
    );
    let mut in_audio = Family::new(
        "compositor_input_audio_blocks_total",
        "counter",
        "Audio blocks accepted per input.",
    );
    let mut in_drop = Family::new(
        "compositor_input_dropped_total",
        "counter",
        "Input messages dropped at a full queue.",
    );
    let mut in_late = Family::new(
        "compositor_input_late_frames_total",
        "counter",
        "Input frames discarded as late.",
    );
    let mut in_skip = Family::new(
        "compositor_input_skipped_frames_total",
        "counter",
        "Input frames replaced before being shown.",
    );
    let mut mx_queue = Family::new(
        "compositor_mixer_queue_ms",
        "gauge",
        "Mixer queue depth per input, ms.",
    );
    let mut mx_drift = Family::new(
        "compositor_mixer_drift_ppm",
        "gauge",
        "Estimated input clock drift, ppm.",
    );
    let mut mx_under = Family::new(
        "compositor_mixer_underruns_total",
        "counter",
        "Mixer underruns per input.",
    );
    let mut mx_level = Family::new(
        "compositor_mixer_level_dbfs",
        "gauge",
        "Smoothed input level, dBFS.",
    );
    let mut out_state = Family::new(
        "compositor_output_state",
        "gauge",
        "1 for the output's current state.",
    );
    let mut out_bytes = Family::new(
        "compositor_output_bytes_total",
        "counter",
        "Encoded bytes handed to the destination.",
    );
    let mut out_dropped = Family::new(
        "compositor_output_dropped_total",
        "counter",
        "Buffers dropped at the output's full queue.",
    );
    let mut out_reconn = Family::new(
        "compositor_output_reconnects_total",
        "counter",
        "Output reconnect attempts.",
    );
    for m in &sessions {
        let s = m.handle.stats();
        let sl = format!("session=\"{}\"", esc(&m.id));
        frames.push(sl.clone(), s.frames as f64);
        audio.push(sl.clone(), s.audio_blocks as f64);
        late.push(sl.clone(), s.late_ticks as f64);
        render_err.push(sl.clone(), s.render_errors as f64);
        render_mean.push(sl.clone(), s.render_ms_mean);
        render_max.push(sl.clone(), s.render_ms_max);
        media.push(sl.clone(), s.media_time.as_secs_f64());
        for (id, i) in &s.inputs {
            let l = format!("{sl},input=\"{}\"", esc(id));
            in_video.push(l.clone(), i.video_in as f64);
            in_audio.push(l.clone(), i.audio_in as f64);
            in_drop.push(l.clone(), i.dropped as f64);
            in_late.push(l.clone(), i.late as f64);
            in_skip.push(l, i.skipped as f64);
        }
        for a in &s.audio {
            let l = format!("{sl},input=\"{}\"", esc(&a.id));
            mx_queue.push(l.clone(), f64::from(a.queued_ms));
            mx_drift.push(l.clone(), a.drift_ppm);
            mx_under.push(l.clone(), a.underruns as f64);
            mx_level.push(l, f64::from(a.levels.smoothed_dbfs));
        }
        for o in m.outputs.list() {
            let l = format!("{sl},output=\"{}\",kind=\"{}\"", esc(&o.id), esc(&o.kind));
            let state = match o.state {
                OutputState::Starting => "starting",
                OutputState::Connected => "connected",
                OutputState::Reconnecting { .. } => "reconnecting",
                OutputState::Failed { .. } => "failed",
                OutputState::Stopped => "stopped",
            };
            out_state.push(format!("{l},state=\"{state}\""), 1.0);
            out_bytes.push(l.clone(), o.counters.bytes as f64);
            out_dropped.push(l.clone(), o.counters.dropped as f64);
            out_reconn.push(l, o.counters.reconnects as f64);
        }
    }
    let mut ingest_fams = Vec::new();
    type Pick = fn(&IngestStats) -> u64;
    let picks: [(&'static str, &'static str, Pick); 9] = [
        (
            "compositor_whip_packets_total",
            "RTP packets received from the host.",
            |s| s.packets,
        ),
        (
            "compositor_whip_bytes_total",
            "RTP payload bytes received from the host.",
            |s| s.bytes,
        ),
        ("compositor_whip_lost_total", "RTP packets lost.", |s| {
            s.lost
        }),
        (
            "compositor_whip_nacks_total",
            "NACKs sent to the host.",
            |s| s.nacks,
        ),
        (
            "compositor_whip_plis_total",
            "PLIs (keyframe requests) sent to the host.",
            |s| s.plis,
        ),
        (
            "compositor_whip_frames_decoded_total",
            "Video frames decoded.",
            |s| s.frames_decoded,
        ),
        (
            "compositor_whip_audio_blocks_total",
            "Audio blocks decoded.",
            |s| s.audio_blocks,
        ),
        (
            "compositor_whip_decode_errors_total",
            "Decoder errors.",
            |s| s.decode_errors,
        ),
        (
            "compositor_whip_handoff_drops_total",
            "Encoded frames dropped at a full decoder queue.",
            |s| s.handoff_drops,
        ),
    ];
    for (name, help, pick) in picks {
        let mut fam = Family::new(name, "counter", help);
        for st in ingest {
            fam.push(
                format!(
                    "session=\"{}\",input=\"{}\"",
                    esc(&st.session_id),
                    esc(&st.input_id)
                ),
                pick(st) as f64,
            );
        }
        ingest_fams.push(fam);
    }
    let mut out = String::new();
    for fam in [
        f_sessions,
        frames,
        audio,
        late,
        render_err,
        render_mean,
        render_max,
        media,
        in_video,
        in_audio,
        in_drop,
        in_late,
        in_skip,
        mx_queue,
        mx_drift,
        mx_under,
        mx_level,
        out_state,
        out_bytes,
        out_dropped,
        out_reconn,
    ]
    .into_iter()
    .chain(ingest_fams)
    {
        let _ = writeln!(out, "# HELP {} {}", fam.name, fam.help);
        let _ = writeln!(out, "# TYPE {} {}", fam.name, fam.kind);
        for (labels, v) in fam.rows {
            let v = if v.is_finite() { v } else { 0.0 };
            if labels.is_empty() {
                let _ = writeln!(out, "{} {v}", fam.name);
            } else {
                let _ = writeln!(out, "{}{{{labels}}} {v}", fam.name);
            }
        }
    }
    out
}
