//! Engine values -> their `compositor.v1` messages: events, outputs, stats. Pure.
//! Times become whole milliseconds of output time (truncated).

use proto::v1 as pb;

use compositor_core::session::{SessionEvent, StatsSnapshot};
use compositor_media::output::{OutputInfo, OutputState};

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One logged event as a proto event.
pub fn event(seq: u64, ev: &SessionEvent) -> pb::Event {
    use pb::event::Kind;
    let kind = match ev.clone() {
        SessionEvent::HostJoined { id, remote } => Kind::HostJoined(pb::HostJoined {
            input_id: id,
            remote,
        }),
        SessionEvent::MediaStarted { id, kind, codec } => Kind::MediaStarted(pb::MediaStarted {
            input_id: id,
            kind,
            codec,
        }),
        SessionEvent::HostStalled { id } => Kind::HostStalled(pb::HostStalled { input_id: id }),
        SessionEvent::HostResumed { id } => Kind::HostResumed(pb::HostResumed { input_id: id }),
        SessionEvent::HostLeft { id, reason } => Kind::HostLeft(pb::HostLeft {
            input_id: id,
            reason,
        }),
        SessionEvent::OutputAdded { id } => Kind::OutputAdded(pb::OutputAdded { output_id: id }),
        SessionEvent::OutputConnected { id } => {
            Kind::OutputConnected(pb::OutputConnected { output_id: id })
        }
        SessionEvent::OutputFailed {
            id,
            error,
            retrying,
        } => Kind::OutputFailed(pb::OutputFailed {
            output_id: id,
            error,
            retrying,
        }),
        SessionEvent::OutputReconnecting {
            id,
            attempt,
            delay_ms,
        } => Kind::OutputReconnecting(pb::OutputReconnecting {
            output_id: id,
            attempt,
            delay_ms,
        }),
        SessionEvent::OutputRemoved { id } => {
            Kind::OutputRemoved(pb::OutputRemoved { output_id: id })
        }
        SessionEvent::Error { source, message } => Kind::Error(pb::ErrorEvent { source, message }),
        SessionEvent::InputAdded { id } => Kind::InputAdded(pb::InputAdded { input_id: id }),
        SessionEvent::InputRemoved { id } => Kind::InputRemoved(pb::InputRemoved { input_id: id }),
        SessionEvent::InputEnded { id } => Kind::InputEnded(pb::InputEnded { input_id: id }),
        SessionEvent::SceneApplied { at } => {
            Kind::LayoutApplied(pb::LayoutApplied { at_ms: ms(at) })
        }
        SessionEvent::ActiveSpeakerChanged { from, to, at } => {
            Kind::ActiveSpeakerChanged(pb::ActiveSpeakerChanged {
                from_input_id: from.unwrap_or_default(),
                to_input_id: to.unwrap_or_default(),
                at_ms: ms(at),
            })
        }
        SessionEvent::PkPhaseChanged { phase, at, outcome } => {
            Kind::PkPhaseChanged(pb::PkPhaseChanged {
                phase,
                at_ms: ms(at),
                outcome: outcome.unwrap_or_default(),
            })
        }
        SessionEvent::PkScoreChanged { host, scores, at } => {
            Kind::PkScoreChanged(pb::PkScoreChanged {
                input_id: host,
                left_score: scores[0],
                right_score: scores[1],
                at_ms: ms(at),
            })
        }
    };
    pb::Event {
        seq,
        kind: Some(kind),
    }
}

/// A listed output.
pub fn output(o: &OutputInfo) -> pb::Output {
    let (state, attempt, error) = match &o.state {
        OutputState::Starting => (pb::OutputState::Starting, 0, String::new()),
        OutputState::Connected => (pb::OutputState::Connected, 0, String::new()),
        OutputState::Reconnecting {
            attempt,
            last_error,
        } => (pb::OutputState::Reconnecting, *attempt, last_error.clone()),
        OutputState::Failed { error } => (pb::OutputState::Failed, 0, error.clone()),
        OutputState::Stopped => (pb::OutputState::Stopped, 0, String::new()),
    };
    pb::Output {
        output_id: o.id.clone(),
        kind: o.kind.clone(),
        destination: o.destination.clone(),
        state: state as i32,
        attempt,
        error,
        bytes: o.counters.bytes,
        buffers: o.counters.buffers,
        dropped: o.counters.dropped,
        reconnects: o.counters.reconnects,
    }
}

/// A session's counters.
pub fn stats(session_id: &str, s: &StatsSnapshot, outputs: &[OutputInfo]) -> pb::SessionStats {
    pb::SessionStats {
        session_id: session_id.to_owned(),
        frames: s.frames,
        audio_blocks: s.audio_blocks,
        late_ticks: s.late_ticks,
        render_errors: s.render_errors,
        render_ms_mean: s.render_ms_mean,
        render_ms_max: s.render_ms_max,
        media_time_ms: ms(s.media_time),
        inputs: s
            .inputs
            .iter()
            .map(|(id, i)| pb::InputStats {
                input_id: id.clone(),
                video_in: i.video_in,
                audio_in: i.audio_in,
                dropped: i.dropped,
                late: i.late,
                skipped: i.skipped,
                audio: s
                    .audio
                    .iter()
                    .find(|a| &a.id == id)
                    .map(|a| pb::AudioStats {
                        queued_ms: a.queued_ms,
                        underruns: a.underruns,
                        overruns: a.overruns,
                        drift_ppm: a.drift_ppm,
                        gain_db: a.gain_db,
                        muted: a.muted,
                    }),
            })
            .collect(),
        outputs: outputs.iter().map(output).collect(),
        pk: Some(pk_state(&s.pk)),
        text_rasters: s.text_rasters,
    }
}

/// The PK match as the console sees it.
pub fn pk_state(p: &compositor_core::session::PkStats) -> pb::PkState {
    pb::PkState {
        phase: if p.phase.is_empty() {
            "idle".to_owned()
        } else {
            p.phase.clone()
        },
        left_ms: p.left_ms,
        left_score: p.scores[0],
        right_score: p.scores[1],
        hosts: p
            .hosts
            .iter()
            .map(|(id, score)| pb::PkHostScore {
                input_id: id.clone(),
                score: *score,
            })
            .collect(),
        outcome: p.outcome.clone().unwrap_or_default(),
    }
}
