//! PK and mixer requests: proto → validated domain types ([`PkRequest`], [`MixerChange`]),
//! and the match state back to proto. Ranges are checked by `layouts::pk::PkSpec::validate`
//! (the one definition of the bounds); here only what the wire can get wrong (ids, a missing
//! oneof, colour components, the team count). Pure, no IO.

use std::time::Duration;

use layouts::pk::{PkSpec, PkTeam, PkTheme, ScoreChange, Supporter};
use proto::v1 as pb;
use tonic::Status;

use crate::check::{self, invalid};
use crate::layout::color;

/// A validated PK request.
#[derive(Debug, Clone, PartialEq)]
pub enum PkRequest {
    /// Start a match (at an output time, or the next frame).
    Start {
        /// The match.
        spec: PkSpec,
        /// Theme; None keeps the session's.
        theme: Option<PkTheme>,
        /// Start time on the output clock.
        at: Option<Duration>,
    },
    /// Change a host's score.
    Score {
        /// Host input id.
        host: String,
        /// Add or set.
        change: ScoreChange,
        /// Idempotency key.
        key: Option<String>,
    },
    /// End the battle now.
    End,
    /// Drop the match.
    Cancel,
    /// A team's supporters.
    Supporters {
        /// 0 left, 1 right.
        team: usize,
        /// Up to three.
        list: Vec<Supporter>,
    },
}

/// A validated mixer change (only what is set changes).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MixerChange {
    /// Inputs to solo.
    pub solo: Vec<String>,
    /// Inputs to unsolo.
    pub unsolo: Vec<String>,
    /// `Some(None)` = ducking off, `Some(Some(d))` = on with these settings.
    pub ducking: Option<Option<mixer::Ducking>>,
}

fn opt_color(
    field: &str,
    c: Option<&pb::Color>,
    default: layouts::Rgba,
) -> Result<layouts::Rgba, Status> {
    c.map_or(Ok(default), |c| color(field, c))
}

fn theme(t: &pb::PkTheme) -> Result<PkTheme, Status> {
    let d = PkTheme::default();
    let family = match &t.font_family {
        Some(f) => {
            check::text("theme.font_family", f, 128)?;
            if f.is_empty() {
                return Err(invalid("theme.font_family", "must not be empty when set"));
            }
            Some(f.clone())
        }
        None => None,
    };
    Ok(PkTheme {
        left: opt_color("theme.left", t.left.as_ref(), d.left)?,
        right: opt_color("theme.right", t.right.as_ref(), d.right)?,
        text: opt_color("theme.text", t.text.as_ref(), d.text)?,
        warn: opt_color("theme.warn", t.warn.as_ref(), d.warn)?,
        win: opt_color("theme.win", t.win.as_ref(), d.win)?,
        lose: opt_color("theme.lose", t.lose.as_ref(), d.lose)?,
        pill: opt_color("theme.pill", t.pill.as_ref(), d.pill)?,
        family,
    })
}

/// Validates a `StartPkRequest` (session id checked by the caller).
pub fn start(r: &pb::StartPkRequest) -> Result<PkRequest, Status> {
    if r.teams.len() != 2 {
        return Err(invalid(
            "teams",
            format!("{} teams; exactly 2 (left, right) required", r.teams.len()),
        ));
    }
    let mut teams = Vec::with_capacity(2);
    for (i, t) in r.teams.iter().enumerate() {
        for (j, h) in t.input_ids.iter().enumerate() {
            check::id(&format!("teams[{i}].input_ids[{j}]"), h)?;
        }
        teams.push(PkTeam {
            hosts: t.input_ids.clone(),
            color: t
                .color
                .as_ref()
                .map(|c| color(&format!("teams[{i}].color"), c))
                .transpose()?,
        });
    }
    let [left, right]: [PkTeam; 2] = teams
        .try_into()
        .map_err(|_| invalid("teams", "exactly 2 required"))?;
    if let Some(t) = &r.punishment_text {
        check::text("punishment_text", t, 128)?;
    }
    let spec = PkSpec {
        teams: [left, right],
        intro_ms: r.intro_ms.unwrap_or(3000),
        battle_ms: r.battle_ms,
        result_ms: r.result_ms.unwrap_or(5000),
        punishment_ms: r.punishment_ms,
        punishment_text: r.punishment_text.clone().filter(|t| !t.is_empty()),
        round: r.round,
    };
    spec.validate()
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    Ok(PkRequest::Start {
        spec,
        theme: r.theme.as_ref().map(theme).transpose()?,
        at: r.start_at_ms.map(Duration::from_millis),
    })
}

/// Validates an `UpdatePkScoreRequest`.
pub fn score(r: &pb::UpdatePkScoreRequest) -> Result<PkRequest, Status> {
    check::id("input_id", &r.input_id)?;
    let change = match r.change {
        None => return Err(invalid("change", "is required: add or set")),
        Some(pb::update_pk_score_request::Change::Add(d)) => {
            if d < 0 {
                return Err(invalid(
                    "add",
                    format!("{d} is negative; use set to correct"),
                ));
            }
            ScoreChange::Add(d)
        }
        Some(pb::update_pk_score_request::Change::Set(v)) => {
            if v < 0 || v as u64 > layouts::pk::MAX_SCORE {
                return Err(invalid(
                    "set",
                    format!("{v} is out of range 0..={}", layouts::pk::MAX_SCORE),
                ));
            }
            ScoreChange::Set(v)
        }
    };
    let key = if r.idempotency_key.is_empty() {
        None
    } else {
        check::text("idempotency_key", &r.idempotency_key, 128)?;
        Some(r.idempotency_key.clone())
    };
    Ok(PkRequest::Score {
        host: r.input_id.clone(),
        change,
        key,
    })
}

/// Validates a `SetPkSupportersRequest`.
pub fn supporters(r: &pb::SetPkSupportersRequest) -> Result<PkRequest, Status> {
    if r.team > 1 {
        return Err(invalid(
            "team",
            format!("{} is not 0 (left) or 1 (right)", r.team),
        ));
    }
    if r.supporters.len() > layouts::pk::MAX_SUPPORTERS {
        return Err(invalid(
            "supporters",
            format!(
                "{} given; at most {}",
                r.supporters.len(),
                layouts::pk::MAX_SUPPORTERS
            ),
        ));
    }
    let mut list = Vec::new();
    for (i, s) in r.supporters.iter().enumerate() {
        check::text(&format!("supporters[{i}].name"), &s.name, 128)?;
        let avatar = if s.avatar_image_id.is_empty() {
            None
        } else {
            check::id(
                &format!("supporters[{i}].avatar_image_id"),
                &s.avatar_image_id,
            )?;
            Some(s.avatar_image_id.clone())
        };
        list.push(Supporter {
            name: s.name.clone(),
            avatar,
        });
    }
    Ok(PkRequest::Supporters {
        team: r.team as usize,
        list,
    })
}

/// Validates a `SetMixerRequest`.
pub fn mixer_change(r: &pb::SetMixerRequest) -> Result<MixerChange, Status> {
    for (i, id) in r.solo_input_ids.iter().enumerate() {
        check::id(&format!("solo_input_ids[{i}]"), id)?;
    }
    for (i, id) in r.unsolo_input_ids.iter().enumerate() {
        check::id(&format!("unsolo_input_ids[{i}]"), id)?;
    }
    if r.ducking.is_some() && r.ducking_off {
        return Err(invalid(
            "ducking_off",
            "cannot be set together with ducking",
        ));
    }
    let ducking = match (&r.ducking, r.ducking_off) {
        (Some(d), _) => {
            check::id("ducking.trigger_input_id", &d.trigger_input_id)?;
            check::range_f32("ducking.depth_db", d.depth_db, 0.0, 60.0)?;
            check::range_f32("ducking.attack_ms", d.attack_ms, 0.0, 10_000.0)?;
            check::range_f32("ducking.release_ms", d.release_ms, 0.0, 10_000.0)?;
            Some(Some(mixer::Ducking {
                trigger: d.trigger_input_id.clone(),
                depth_db: d.depth_db,
                attack_ms: d.attack_ms,
                release_ms: d.release_ms,
            }))
        }
        (None, true) => Some(None),
        (None, false) => None,
    };
    Ok(MixerChange {
        solo: r.solo_input_ids.clone(),
        unsolo: r.unsolo_input_ids.clone(),
        ducking,
    })
}
