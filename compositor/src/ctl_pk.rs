//! `compositor ctl pk …` and `compositor ctl mixer …`: the PK match and the mixer controls
//! from a terminal, plus the custom-layout and overlay flags of `set-layout`. Builds the
//! requests only; `ctl.rs` sends them and prints the replies.

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use proto::v1 as pb;

use crate::ctl_args::list;

/// `ctl pk` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum PkCmd {
    /// Start a match: `pk start SESSION --left a --right b --battle-s 60 --punish-s 20`.
    Start {
        /// Session id.
        session: String,
        /// Left team: INPUT or INPUT,PARTNER (2v2).
        #[arg(long)]
        left: String,
        /// Right team: INPUT or INPUT,PARTNER.
        #[arg(long)]
        right: String,
        /// Battle length, s.
        #[arg(long, default_value_t = 300)]
        battle_s: u32,
        /// Punishment length, s (0 = none).
        #[arg(long, default_value_t = 0)]
        punish_s: u32,
        /// The 3-2-1 before the battle, ms.
        #[arg(long)]
        intro_ms: Option<u32>,
        /// How long WIN / LOSE shows, ms.
        #[arg(long)]
        result_ms: Option<u32>,
        /// Punishment banner text.
        #[arg(long)]
        punishment_text: Option<String>,
        /// Round number.
        #[arg(long)]
        round: Option<u32>,
        /// Start at this output time, ms.
        #[arg(long)]
        at_ms: Option<u64>,
        /// Theme font family.
        #[arg(long)]
        font_family: Option<String>,
    },
    /// Add to (`--add`) or set (`--set`) a host's score.
    Score {
        /// Session id.
        session: String,
        /// Host input id.
        input: String,
        /// Points to add.
        #[arg(long, group = "change", allow_hyphen_values = true)]
        add: Option<i64>,
        /// Score to set.
        #[arg(long, group = "change", allow_hyphen_values = true)]
        set: Option<i64>,
        /// Idempotency key (a retried gift with the same key counts once).
        #[arg(long, default_value = "")]
        key: String,
    },
    /// End the battle now (→ result).
    End {
        /// Session id.
        session: String,
    },
    /// Drop the match (→ idle, no result).
    Cancel {
        /// Session id.
        session: String,
    },
    /// Set a team's supporters: `pk supporters SESSION 0 "小王:avatar1,Lee"`.
    Supporters {
        /// Session id.
        session: String,
        /// 0 = left, 1 = right.
        team: u32,
        /// NAME[:AVATAR_IMAGE_ID], comma-separated (up to three; empty = none).
        list: String,
    },
}

/// One PK RPC to make.
#[derive(Debug)]
pub enum PkCall {
    /// StartPk.
    Start(pb::StartPkRequest),
    /// UpdatePkScore.
    Score(pb::UpdatePkScoreRequest),
    /// EndPk.
    End(pb::EndPkRequest),
    /// CancelPk.
    Cancel(pb::CancelPkRequest),
    /// SetPkSupporters.
    Supporters(pb::SetPkSupportersRequest),
}

fn team(s: &str) -> pb::PkTeam {
    pb::PkTeam {
        input_ids: list(s),
        color: None,
    }
}

/// The request of a `ctl pk` command.
pub fn request(cmd: PkCmd) -> anyhow::Result<PkCall> {
    Ok(match cmd {
        PkCmd::Start {
            session,
            left,
            right,
            battle_s,
            punish_s,
            intro_ms,
            result_ms,
            punishment_text,
            round,
            at_ms,
            font_family,
        } => PkCall::Start(pb::StartPkRequest {
            session_id: session,
            teams: vec![team(&left), team(&right)],
            battle_ms: battle_s.saturating_mul(1000),
            punishment_ms: punish_s.saturating_mul(1000),
            intro_ms,
            result_ms,
            punishment_text,
            round,
            start_at_ms: at_ms,
            theme: font_family.map(|f| pb::PkTheme {
                font_family: Some(f),
                ..Default::default()
            }),
        }),
        PkCmd::Score {
            session,
            input,
            add,
            set,
            key,
        } => {
            use pb::update_pk_score_request::Change;
            let change = match (add, set) {
                (Some(a), None) => Change::Add(a),
                (None, Some(s)) => Change::Set(s),
                _ => bail!("give --add N or --set N"),
            };
            PkCall::Score(pb::UpdatePkScoreRequest {
                session_id: session,
                input_id: input,
                change: Some(change),
                idempotency_key: key,
            })
        }
        PkCmd::End { session } => PkCall::End(pb::EndPkRequest {
            session_id: session,
        }),
        PkCmd::Cancel { session } => PkCall::Cancel(pb::CancelPkRequest {
            session_id: session,
        }),
        PkCmd::Supporters {
            session,
            team,
            list,
        } => PkCall::Supporters(pb::SetPkSupportersRequest {
            session_id: session,
            team,
            supporters: crate::ctl_args::list(&list)
                .iter()
                .map(|s| {
                    let (name, avatar) = s.split_once(':').unwrap_or((s.as_str(), ""));
                    pb::PkSupporter {
                        name: name.to_owned(),
                        avatar_image_id: avatar.to_owned(),
                    }
                })
                .collect(),
        }),
    })
}

/// `ctl mixer` options.
#[derive(Args, Debug, Clone)]
pub struct MixerArgs {
    /// Session id.
    pub session: String,
    /// Inputs to solo, comma-separated.
    #[arg(long, default_value = "")]
    pub solo: String,
    /// Inputs to unsolo, comma-separated.
    #[arg(long, default_value = "")]
    pub unsolo: String,
    /// Ducking: TRIGGER:DEPTH_DB[:ATTACK_MS[:RELEASE_MS]].
    #[arg(long, conflicts_with = "duck_off")]
    pub duck: Option<String>,
    /// Switch ducking off.
    #[arg(long)]
    pub duck_off: bool,
}

/// The request of `ctl mixer`.
pub fn mixer_request(a: MixerArgs) -> anyhow::Result<pb::SetMixerRequest> {
    let ducking = match &a.duck {
        None => None,
        Some(d) => {
            let parts: Vec<&str> = d.split(':').collect();
            let num = |i: usize, default: f32| -> anyhow::Result<f32> {
                parts.get(i).map_or(Ok(default), |p| {
                    p.parse::<f32>()
                        .with_context(|| format!("--duck {d:?}: {p:?} is not a number"))
                })
            };
            let Some(trigger) = parts.first().filter(|t| !t.is_empty()) else {
                bail!("--duck {d:?}: expected TRIGGER:DEPTH_DB[:ATTACK_MS[:RELEASE_MS]]");
            };
            Some(pb::Ducking {
                trigger_input_id: (*trigger).to_owned(),
                depth_db: num(1, 12.0)?,
                attack_ms: num(2, 50.0)?,
                release_ms: num(3, 400.0)?,
            })
        }
    };
    Ok(pb::SetMixerRequest {
        session_id: a.session,
        solo_input_ids: list(&a.solo),
        unsolo_input_ids: list(&a.unsolo),
        ducking,
        ducking_off: a.duck_off,
    })
}

/// `--custom "a:X,Y,W,H[,Z];b:…"` → custom layout items.
pub fn custom_items(s: &str) -> anyhow::Result<Vec<pb::CustomItem>> {
    let mut out = Vec::new();
    for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, geo) = part
            .split_once(':')
            .with_context(|| format!("--custom {part:?}: expected INPUT:X,Y,W,H[,Z]"))?;
        let (rect, z) = rect_z(geo).with_context(|| format!("--custom {part:?}"))?;
        out.push(pb::CustomItem {
            input_id: id.trim().to_owned(),
            rect: Some(rect),
            fit: 0,
            z,
            opacity: None,
            corner_radius: 0,
            border: None,
        });
    }
    Ok(out)
}

/// `--overlay "IMAGE:X,Y,W,H[,Z]"` → an overlay.
pub fn overlay(s: &str) -> anyhow::Result<pb::Overlay> {
    let (id, geo) = s
        .split_once(':')
        .with_context(|| format!("--overlay {s:?}: expected IMAGE:X,Y,W,H[,Z]"))?;
    let (rect, z) = rect_z(geo).with_context(|| format!("--overlay {s:?}"))?;
    Ok(pb::Overlay {
        image_id: id.trim().to_owned(),
        rect: Some(rect),
        opacity: None,
        z: (z != 0).then_some(z),
        fit: 0,
    })
}

fn rect_z(geo: &str) -> anyhow::Result<(pb::Rect, i32)> {
    let n: Vec<i64> = geo
        .split(',')
        .map(|p| p.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .context("expected integers X,Y,W,H[,Z]")?;
    let (x, y, w, h, z) = match n[..] {
        [x, y, w, h] => (x, y, w, h, 0),
        [x, y, w, h, z] => (x, y, w, h, z),
        _ => bail!("expected X,Y,W,H[,Z]"),
    };
    Ok((
        pb::Rect {
            x: i32::try_from(x).context("x")?,
            y: i32::try_from(y).context("y")?,
            w: u32::try_from(w).context("w")?,
            h: u32::try_from(h).context("h")?,
        },
        i32::try_from(z).context("z")?,
    ))
}
