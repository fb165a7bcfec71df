//! The PK match: a pure state machine on the output clock.
//!
//! `Idle → Intro (3-2-1) → Battle → Result → Punishment → Idle`. Every boundary is a fixed
//! output time computed when the match starts (or when it is ended early), so a change lands
//! on the first output frame at or after it and tests need no sleeps. [`PkMatch::advance`]
//! is called with each frame's time and returns the phase changes crossed, each stamped with
//! its exact boundary. A draw has no punishment (Result → Idle); a zero punishment too.
//!
//! Scores are per host (a team's score is the sum of its hosts'), `0..=MAX_SCORE`. An update
//! carries an optional idempotency key; a key seen before in this match changes nothing and
//! is reported as a duplicate (a retried gift is counted once).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::geometry::Rgba;
use crate::text::check_text;

/// Largest score a host may reach.
pub const MAX_SCORE: u64 = 1_000_000_000_000;
/// Idempotency keys remembered per match (oldest forgotten first).
pub const MAX_KEYS: usize = 10_000;
/// Supporters shown per team.
pub const MAX_SUPPORTERS: usize = 3;

/// Phases of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PkPhase {
    /// No match.
    #[default]
    Idle,
    /// The 3-2-1 before the battle.
    Intro,
    /// Scores count; the countdown runs.
    Battle,
    /// WIN / LOSE / DRAW shown.
    Result,
    /// The loser's punishment, with its own countdown.
    Punishment,
}

impl PkPhase {
    /// Lower-case name (`idle`, `intro`, …).
    pub fn name(self) -> &'static str {
        match self {
            PkPhase::Idle => "idle",
            PkPhase::Intro => "intro",
            PkPhase::Battle => "battle",
            PkPhase::Result => "result",
            PkPhase::Punishment => "punishment",
        }
    }
}

/// One side of a match: one host (1v1) or two (2v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PkTeam {
    /// Input ids, 1..=2, distinct across both teams.
    pub hosts: Vec<String>,
    /// Team colour on the bar (the theme's default when None).
    #[serde(default)]
    pub color: Option<Rgba>,
}

/// A supporter shown under the bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Supporter {
    /// Display name.
    pub name: String,
    /// Registered image id of the avatar (drawn round), if any.
    #[serde(default)]
    pub avatar: Option<String>,
}

/// What `StartPk` asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PkSpec {
    /// Left and right.
    pub teams: [PkTeam; 2],
    /// 3-2-1 before the battle, ms (0..=10 000; 0 = none).
    #[serde(default = "default_intro")]
    pub intro_ms: u32,
    /// Battle length, ms (5 000..=3 600 000).
    pub battle_ms: u32,
    /// How long WIN / LOSE shows, ms (1 000..=60 000).
    #[serde(default = "default_result")]
    pub result_ms: u32,
    /// Punishment length, ms (0..=600 000; 0 = none).
    #[serde(default)]
    pub punishment_ms: u32,
    /// Banner text in the punishment phase (default "惩罚时间").
    #[serde(default)]
    pub punishment_text: Option<String>,
    /// Round number shown with the countdown (1..=999), if any.
    #[serde(default)]
    pub round: Option<u32>,
}

fn default_intro() -> u32 {
    3000
}
fn default_result() -> u32 {
    5000
}

/// How a match ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PkOutcome {
    /// Team `0` (left) or `1` (right) won.
    Win {
        /// Winning team index.
        winner: usize,
    },
    /// Equal scores.
    Draw,
}

/// A score change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreChange {
    /// Add to the host's score (≥ 0).
    Add(i64),
    /// Set the host's score (0..=MAX_SCORE).
    Set(i64),
}

/// Why a request changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkError {
    /// A bad number or text.
    #[error("{0}")]
    Invalid(String),
    /// A host that is not in the match.
    #[error("{0}")]
    NotFound(String),
    /// The match is not in a phase that allows it.
    #[error("{0}")]
    FailedPrecondition(String),
}

/// What happened, for events.
#[derive(Debug, Clone, PartialEq)]
pub enum PkEvent {
    /// The phase changed at `at` (an exact boundary on the output clock).
    PhaseChanged {
        /// Before.
        from: PkPhase,
        /// After.
        to: PkPhase,
        /// When.
        at: Duration,
        /// Set when entering Result.
        outcome: Option<PkOutcome>,
    },
    /// A score changed.
    ScoreChanged {
        /// Team totals after the change.
        scores: [u64; 2],
        /// The host whose score changed.
        host: String,
        /// When.
        at: Duration,
    },
}

/// Result of a score update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreUpdate {
    /// False when the idempotency key was seen before (nothing changed).
    pub applied: bool,
    /// Team totals.
    pub scores: [u64; 2],
}

/// The share of the bar the left team holds, easing to a new value in [`BAR_EASE`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct BarShare {
    from: f64,
    to: f64,
    since: Duration,
}

/// How long the bar takes to reach a new split.
pub const BAR_EASE: Duration = Duration::from_millis(300);

#[derive(Debug, Clone)]
struct Running {
    spec: PkSpec,
    phase: PkPhase,
    /// Start of each phase after Idle: intro, battle, result, punishment, idle.
    intro_at: Duration,
    battle_at: Duration,
    result_at: Duration,
    punish_at: Duration,
    idle_at: Duration,
    scores: Vec<(String, u64)>,
    keys: HashSet<String>,
    key_order: VecDeque<String>,
    outcome: Option<PkOutcome>,
    share: BarShare,
    supporters: [Vec<Supporter>; 2],
}

/// Everything the overlay draws at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct PkView<'a> {
    /// The phase.
    pub phase: PkPhase,
    /// Time left in the phase (Intro, Battle, Punishment); zero otherwise.
    pub left_in_phase: Duration,
    /// Time since the phase started.
    pub into_phase: Duration,
    /// Team totals.
    pub scores: [u64; 2],
    /// Left team's share of the bar, 0..=1, eased.
    pub share: f64,
    /// The outcome (Result and Punishment).
    pub outcome: Option<PkOutcome>,
    /// The match.
    pub spec: &'a PkSpec,
    /// Supporters per team.
    pub supporters: &'a [Vec<Supporter>; 2],
}

/// A match, or none.
#[derive(Debug, Clone, Default)]
pub struct PkMatch {
    run: Option<Running>,
}

impl PkSpec {
    /// Checks every bound and that hosts are distinct.
    pub fn validate(&self) -> Result<(), PkError> {
        let inv = |m: String| Err(PkError::Invalid(m));
        let range = |name: &str, v: u32, lo: u32, hi: u32| {
            if v < lo || v > hi {
                Err(PkError::Invalid(format!(
                    "{name} = {v} is out of range {lo}..={hi}"
                )))
            } else {
                Ok(())
            }
        };
        range("intro_ms", self.intro_ms, 0, 10_000)?;
        range("battle_ms", self.battle_ms, 5_000, 3_600_000)?;
        range("result_ms", self.result_ms, 1_000, 60_000)?;
        range("punishment_ms", self.punishment_ms, 0, 600_000)?;
        if let Some(r) = self.round {
            range("round", r, 1, 999)?;
        }
        if let Some(t) = &self.punishment_text {
            check_text("punishment_text", t).map_err(|e| PkError::Invalid(e.to_string()))?;
        }
        let mut seen = HashSet::new();
        for (i, team) in self.teams.iter().enumerate() {
            if team.hosts.is_empty() || team.hosts.len() > 2 {
                return inv(format!(
                    "teams[{i}] has {} hosts: 1 or 2 allowed",
                    team.hosts.len()
                ));
            }
            for h in &team.hosts {
                if h.is_empty() {
                    return inv(format!("teams[{i}]: empty host id"));
                }
                if !seen.insert(h.as_str()) {
                    return inv(format!("host {h:?} is in the match twice"));
                }
            }
        }
        Ok(())
    }

    /// Every host, left team first.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.teams
            .iter()
            .flat_map(|t| t.hosts.iter().map(String::as_str))
    }
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

impl Running {
    fn totals(&self) -> [u64; 2] {
        let mut t = [0u64; 2];
        for (host, score) in &self.scores {
            if let Some(team) = self.team_of(host) {
                t[team] = t[team].saturating_add(*score);
            }
        }
        t
    }

    fn team_of(&self, host: &str) -> Option<usize> {
        self.spec
            .teams
            .iter()
            .position(|t| t.hosts.iter().any(|h| h == host))
    }

    fn target_share(&self) -> f64 {
        let [l, r] = self.totals();
        if l + r == 0 {
            0.5
        } else {
            l as f64 / (l as f64 + r as f64)
        }
    }

    fn share_at(&self, now: Duration) -> f64 {
        let s = self.share;
        let t = now.saturating_sub(s.since).as_secs_f64() / BAR_EASE.as_secs_f64();
        if t >= 1.0 {
            return s.to;
        }
        // Ease-out cubic: fast at first, settling on the new split.
        let e = 1.0 - (1.0 - t).powi(3);
        s.from + (s.to - s.from) * e
    }

    /// Phase at `now` by the boundaries.
    fn phase_at(&self, now: Duration) -> PkPhase {
        if now < self.intro_at {
            PkPhase::Idle
        } else if now < self.battle_at {
            PkPhase::Intro
        } else if now < self.result_at {
            PkPhase::Battle
        } else if now < self.punish_at {
            PkPhase::Result
        } else if now < self.idle_at {
            PkPhase::Punishment
        } else {
            PkPhase::Idle
        }
    }

    fn boundary(&self, phase: PkPhase) -> Duration {
        match phase {
            PkPhase::Idle => self.idle_at,
            PkPhase::Intro => self.intro_at,
            PkPhase::Battle => self.battle_at,
            PkPhase::Result => self.result_at,
            PkPhase::Punishment => self.punish_at,
        }
    }

    fn next_boundary(&self, phase: PkPhase) -> Duration {
        match phase {
            PkPhase::Idle => self.intro_at,
            PkPhase::Intro => self.battle_at,
            PkPhase::Battle => self.result_at,
            PkPhase::Result => self.punish_at,
            PkPhase::Punishment => self.idle_at,
        }
    }

    fn decide(&mut self) {
        let [l, r] = self.totals();
        let outcome = match l.cmp(&r) {
            std::cmp::Ordering::Greater => PkOutcome::Win { winner: 0 },
            std::cmp::Ordering::Less => PkOutcome::Win { winner: 1 },
            std::cmp::Ordering::Equal => PkOutcome::Draw,
        };
        self.outcome = Some(outcome);
        let punish = if outcome == PkOutcome::Draw {
            Duration::ZERO
        } else {
            ms(self.spec.punishment_ms)
        };
        self.punish_at = self.result_at + ms(self.spec.result_ms);
        self.idle_at = self.punish_at + punish;
    }
}

impl PkMatch {
    /// No match.
    pub fn new() -> Self {
        Self::default()
    }

    /// The phase at the last [`PkMatch::advance`].
    pub fn phase(&self) -> PkPhase {
        self.run.as_ref().map_or(PkPhase::Idle, |r| r.phase)
    }

    /// The running match's spec.
    pub fn spec(&self) -> Option<&PkSpec> {
        self.run.as_ref().map(|r| &r.spec)
    }

    /// Starts a match whose intro begins at `at` (≥ now). Refused while one runs.
    pub fn start(&mut self, spec: PkSpec, at: Duration) -> Result<(), PkError> {
        spec.validate()?;
        if self.run.is_some() {
            return Err(PkError::FailedPrecondition(format!(
                "a match is already running (phase {}); end or cancel it first",
                self.phase().name()
            )));
        }
        let battle_at = at + ms(spec.intro_ms);
        let result_at = battle_at + ms(spec.battle_ms);
        let scores = spec.hosts().map(|h| (h.to_owned(), 0)).collect();
        let mut run = Running {
            phase: PkPhase::Idle,
            intro_at: at,
            battle_at,
            result_at,
            punish_at: result_at,
            idle_at: result_at,
            scores,
            keys: HashSet::new(),
            key_order: VecDeque::new(),
            outcome: None,
            share: BarShare {
                from: 0.5,
                to: 0.5,
                since: at,
            },
            supporters: [Vec::new(), Vec::new()],
            spec,
        };
        // Provisional: decided again at the battle's real end.
        run.punish_at = run.result_at + ms(run.spec.result_ms);
        run.idle_at = run.punish_at + ms(run.spec.punishment_ms);
        self.run = Some(run);
        Ok(())
    }

    /// Changes a host's score. Only in the battle phase.
    pub fn update_score(
        &mut self,
        host: &str,
        change: ScoreChange,
        key: Option<&str>,
        now: Duration,
    ) -> Result<ScoreUpdate, PkError> {
        let Some(run) = self.run.as_mut() else {
            return Err(PkError::FailedPrecondition(
                "no PK match is running".to_owned(),
            ));
        };
        let Some(slot) = run.scores.iter().position(|(h, _)| h == host) else {
            return Err(PkError::NotFound(format!(
                "host {host:?} is not in the match"
            )));
        };
        if let Some(k) = key
            && (k.is_empty() || k.len() > 128)
        {
            return Err(PkError::Invalid(format!(
                "idempotency key of {} bytes: 1..=128 allowed",
                k.len()
            )));
        }
        let phase = run.phase_at(now);
        if phase != PkPhase::Battle {
            return Err(PkError::FailedPrecondition(format!(
                "scores change only during the battle (phase is {})",
                phase.name()
            )));
        }
        let current = run.scores[slot].1;
        let new = match change {
            ScoreChange::Add(d) if d < 0 => {
                return Err(PkError::Invalid(format!(
                    "score delta {d} is negative; use set to correct a score"
                )));
            }
            ScoreChange::Add(d) => current.checked_add(d as u64),
            ScoreChange::Set(v) if v < 0 => {
                return Err(PkError::Invalid(format!("score {v} is negative")));
            }
            ScoreChange::Set(v) => Some(v as u64),
        };
        let new = match new {
            Some(v) if v <= MAX_SCORE => v,
            _ => {
                return Err(PkError::Invalid(format!("score would exceed {MAX_SCORE}")));
            }
        };
        if let Some(k) = key {
            if run.keys.contains(k) {
                return Ok(ScoreUpdate {
                    applied: false,
                    scores: run.totals(),
                });
            }
            run.keys.insert(k.to_owned());
            run.key_order.push_back(k.to_owned());
            if run.key_order.len() > MAX_KEYS
                && let Some(old) = run.key_order.pop_front()
            {
                run.keys.remove(&old);
            }
        }
        let from = run.share_at(now);
        run.scores[slot].1 = new;
        run.share = BarShare {
            from,
            to: run.target_share(),
            since: now,
        };
        Ok(ScoreUpdate {
            applied: true,
            scores: run.totals(),
        })
    }

    /// Sets a team's supporters (up to three shown).
    pub fn set_supporters(&mut self, team: usize, list: Vec<Supporter>) -> Result<(), PkError> {
        let Some(run) = self.run.as_mut() else {
            return Err(PkError::FailedPrecondition(
                "no PK match is running".to_owned(),
            ));
        };
        if team > 1 {
            return Err(PkError::Invalid(format!(
                "team {team}: 0 (left) or 1 (right)"
            )));
        }
        if list.len() > MAX_SUPPORTERS {
            return Err(PkError::Invalid(format!(
                "{} supporters: at most {MAX_SUPPORTERS}",
                list.len()
            )));
        }
        for (i, s) in list.iter().enumerate() {
            check_text(&format!("supporters[{i}].name"), &s.name)
                .map_err(|e| PkError::Invalid(e.to_string()))?;
        }
        run.supporters[team] = list;
        Ok(())
    }

    /// Ends the battle now (→ Result with the current scores). Only in Intro or Battle.
    pub fn end(&mut self, now: Duration) -> Result<(), PkError> {
        let Some(run) = self.run.as_mut() else {
            return Err(PkError::FailedPrecondition(
                "no PK match is running".to_owned(),
            ));
        };
        let phase = run.phase_at(now);
        if !matches!(phase, PkPhase::Intro | PkPhase::Battle) {
            return Err(PkError::FailedPrecondition(format!(
                "only a started battle can be ended (phase is {}); cancel drops a match",
                phase.name()
            )));
        }
        run.intro_at = run.intro_at.min(now);
        run.battle_at = run.battle_at.min(now);
        run.result_at = now;
        run.decide();
        Ok(())
    }

    /// Drops the match now (→ Idle, no result). Refused when none runs.
    pub fn cancel(&mut self) -> Result<PkPhase, PkError> {
        match self.run.take() {
            Some(r) => Ok(r.phase),
            None => Err(PkError::FailedPrecondition(
                "no PK match is running".to_owned(),
            )),
        }
    }

    /// Moves to the phase of `now`, returning each boundary crossed (in order). Call with
    /// every output frame's time, non-decreasing.
    pub fn advance(&mut self, now: Duration, events: &mut Vec<PkEvent>) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        // The phase last announced: a zero-length phase (intro_ms = 0) is crossed at once
        // and not announced, so the next event reads from the one before it.
        let mut announced = run.phase;
        loop {
            let from = run.phase;
            let at = run.next_boundary(from);
            if now < at {
                break;
            }
            let to = match from {
                PkPhase::Idle => PkPhase::Intro,
                PkPhase::Intro => PkPhase::Battle,
                PkPhase::Battle => {
                    run.decide();
                    PkPhase::Result
                }
                PkPhase::Result if run.punish_at < run.idle_at => PkPhase::Punishment,
                PkPhase::Result | PkPhase::Punishment => PkPhase::Idle,
            };
            run.phase = to;
            if to != PkPhase::Idle && run.next_boundary(to) == at {
                continue;
            }
            events.push(PkEvent::PhaseChanged {
                from: announced,
                to,
                at,
                outcome: (to == PkPhase::Result).then_some(run.outcome).flatten(),
            });
            announced = to;
            if to == PkPhase::Idle {
                self.run = None;
                return;
            }
        }
    }

    /// What to draw at `now` (after [`PkMatch::advance`]); None when idle.
    pub fn view(&self, now: Duration) -> Option<PkView<'_>> {
        let run = self.run.as_ref()?;
        if run.phase == PkPhase::Idle {
            return None;
        }
        let start = run.boundary(run.phase);
        let end = run.next_boundary(run.phase);
        Some(PkView {
            phase: run.phase,
            left_in_phase: end.saturating_sub(now),
            into_phase: now.saturating_sub(start),
            scores: run.totals(),
            share: run.share_at(now),
            outcome: run.outcome,
            spec: &run.spec,
            supporters: &run.supporters,
        })
    }

    /// Per-host scores, in team order.
    pub fn host_scores(&self) -> Vec<(String, u64)> {
        self.run.as_ref().map_or(Vec::new(), |r| r.scores.clone())
    }
}
