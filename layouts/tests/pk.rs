//! The PK match state machine and its overlay: phases on exact output times, score rules,
//! the bar's split, the countdown, WIN/LOSE, punishment, 2v2 and portrait tiles, name tags.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use layouts::pk::*;
use layouts::*;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn team(h: &[&str]) -> PkTeam {
    PkTeam {
        hosts: h.iter().map(|s| s.to_string()).collect(),
        color: None,
    }
}

fn spec() -> PkSpec {
    PkSpec {
        teams: [team(&["a"]), team(&["b"])],
        intro_ms: 3000,
        battle_ms: 60_000,
        result_ms: 5000,
        punishment_ms: 20_000,
        punishment_text: None,
        round: None,
    }
}

fn phases(events: &[PkEvent]) -> Vec<(PkPhase, Duration)> {
    events
        .iter()
        .filter_map(|e| match e {
            PkEvent::PhaseChanged { to, at, .. } => Some((*to, *at)),
            _ => None,
        })
        .collect()
}

/// Runs the machine frame by frame at 30 fps from `from` to `to`, collecting events.
fn run(m: &mut PkMatch, from_ms: u64, to_ms: u64, ev: &mut Vec<PkEvent>) {
    let mut k = from_ms * 30 / 1000;
    loop {
        let t = Duration::from_nanos(k * 1_000_000_000 / 30);
        if t > ms(to_ms) {
            break;
        }
        m.advance(t, ev);
        k += 1;
    }
}

#[test]
fn phases_land_on_exact_output_times() {
    let mut m = PkMatch::new();
    m.start(spec(), ms(1000)).unwrap();
    let mut ev = Vec::new();
    run(&mut m, 0, 2000, &mut ev);
    assert_eq!(phases(&ev), vec![(PkPhase::Intro, ms(1000))]);
    m.update_score("a", ScoreChange::Add(5), None, ms(2000))
        .expect_err("no scores in the intro");
    run(&mut m, 2000, 4500, &mut ev);
    assert_eq!(m.phase(), PkPhase::Battle);
    let up = m
        .update_score("a", ScoreChange::Add(300), Some("g1"), ms(4500))
        .unwrap();
    assert!(up.applied);
    assert_eq!(up.scores, [300, 0]);
    run(&mut m, 4500, 100_000, &mut ev);
    assert_eq!(
        phases(&ev),
        vec![
            (PkPhase::Intro, ms(1000)),
            (PkPhase::Battle, ms(4000)),
            (PkPhase::Result, ms(64_000)),
            (PkPhase::Punishment, ms(69_000)),
            (PkPhase::Idle, ms(89_000)),
        ]
    );
    let outcome = ev.iter().find_map(|e| match e {
        PkEvent::PhaseChanged {
            to: PkPhase::Result,
            outcome,
            ..
        } => *outcome,
        _ => None,
    });
    assert_eq!(outcome, Some(PkOutcome::Win { winner: 0 }));
    assert_eq!(m.phase(), PkPhase::Idle);
    assert!(m.view(ms(100_000)).is_none());
}

#[test]
fn score_rules_change_nothing_on_bad_input() {
    let mut m = PkMatch::new();
    assert!(matches!(
        m.update_score("a", ScoreChange::Add(1), None, ms(0)),
        Err(PkError::FailedPrecondition(_))
    ));
    let mut s = spec();
    s.intro_ms = 0;
    m.start(s, ms(0)).unwrap();
    let mut ev = Vec::new();
    m.advance(ms(0), &mut ev);
    assert_eq!(m.phase(), PkPhase::Battle);
    assert!(matches!(
        m.update_score("zz", ScoreChange::Add(1), None, ms(10)),
        Err(PkError::NotFound(_))
    ));
    assert!(matches!(
        m.update_score("a", ScoreChange::Add(-1), None, ms(10)),
        Err(PkError::Invalid(_))
    ));
    assert!(matches!(
        m.update_score("a", ScoreChange::Set(-5), None, ms(10)),
        Err(PkError::Invalid(_))
    ));
    m.update_score("a", ScoreChange::Set(MAX_SCORE as i64), None, ms(10))
        .unwrap();
    assert!(matches!(
        m.update_score("a", ScoreChange::Add(1), None, ms(10)),
        Err(PkError::Invalid(_))
    ));
    assert!(matches!(
        m.update_score("a", ScoreChange::Add(i64::MAX), None, ms(10)),
        Err(PkError::Invalid(_))
    ));
    m.update_score("a", ScoreChange::Set(10), None, ms(10))
        .unwrap();
    // A retried gift (same key) counts once.
    let first = m
        .update_score("b", ScoreChange::Add(7), Some("gift-1"), ms(20))
        .unwrap();
    let again = m
        .update_score("b", ScoreChange::Add(7), Some("gift-1"), ms(30))
        .unwrap();
    assert!(first.applied && !again.applied);
    assert_eq!(again.scores, [10, 7]);
    // A second start while one runs is refused.
    assert!(matches!(
        m.start(spec(), ms(40)),
        Err(PkError::FailedPrecondition(_))
    ));
    // Bad specs.
    let mut bad = spec();
    bad.teams[1].hosts = vec!["a".into()];
    assert!(matches!(
        PkMatch::new().start(bad, ms(0)),
        Err(PkError::Invalid(_))
    ));
    let mut bad = spec();
    bad.battle_ms = 10;
    assert!(matches!(
        PkMatch::new().start(bad, ms(0)),
        Err(PkError::Invalid(_))
    ));
}

#[test]
fn early_end_draw_and_cancel() {
    let mut m = PkMatch::new();
    let mut s = spec();
    s.intro_ms = 0;
    m.start(s.clone(), ms(0)).unwrap();
    let mut ev = Vec::new();
    run(&mut m, 0, 10_000, &mut ev);
    m.update_score("a", ScoreChange::Add(4), None, ms(10_000))
        .unwrap();
    m.update_score("b", ScoreChange::Add(4), None, ms(10_000))
        .unwrap();
    m.end(ms(12_000)).unwrap();
    ev.clear();
    run(&mut m, 12_000, 30_000, &mut ev);
    // A draw: Result for result_ms, then straight back to Idle (no punishment).
    assert_eq!(
        phases(&ev),
        vec![(PkPhase::Result, ms(12_000)), (PkPhase::Idle, ms(17_000))]
    );
    assert!(matches!(
        m.end(ms(31_000)),
        Err(PkError::FailedPrecondition(_))
    ));

    m.start(s, ms(40_000)).unwrap();
    run(&mut m, 30_000, 41_000, &mut ev);
    assert_eq!(m.cancel().unwrap(), PkPhase::Battle);
    assert_eq!(m.phase(), PkPhase::Idle);
    assert!(matches!(m.cancel(), Err(PkError::FailedPrecondition(_))));
}

#[test]
fn bar_eases_to_the_score_share_in_300_ms() {
    let mut m = PkMatch::new();
    let mut s = spec();
    s.intro_ms = 0;
    m.start(s, ms(0)).unwrap();
    let mut ev = Vec::new();
    m.advance(ms(1000), &mut ev);
    assert_eq!(m.view(ms(1000)).unwrap().share, 0.5);
    m.update_score("a", ScoreChange::Add(300), None, ms(1000))
        .unwrap();
    m.update_score("b", ScoreChange::Add(100), None, ms(1000))
        .unwrap();
    let at = |t| m.view(ms(t)).unwrap().share;
    assert!((at(1000) - 0.5).abs() < 1e-9);
    assert!(at(1100) > 0.55 && at(1100) < 0.75);
    assert!((at(1300) - 0.75).abs() < 1e-9);
}

fn pk_plan(canvas: Size, partners: bool) -> FramePlan {
    let scene = Scene {
        layout: Layout::Pk {
            left: "a".into(),
            right: "b".into(),
            score_bar: ScoreBar::default(),
            left_partner: partners.then(|| "a2".into()),
            right_partner: partners.then(|| "b2".into()),
            tile_aspect: None,
        },
        style: Style::default(),
        background: Background::default(),
        overlays: vec![],
        name_tags: None,
    };
    plan(&scene, canvas).unwrap()
}

fn item<'a>(d: &'a Decor, key: &str) -> Option<&'a DrawItem> {
    d.items.iter().find(|i| i.key == key)
}

fn text<'a>(d: &'a Decor, key: &str) -> Option<&'a TextBox> {
    let id = format!("{TEXT_PREFIX}{key}");
    d.texts.iter().find(|(i, _)| *i == id).map(|(_, t)| t)
}

#[test]
fn overlay_draws_bar_split_countdown_marks_and_banner() {
    let plan = pk_plan(Size::new(1280, 720), false);
    let theme = PkTheme::default();
    let mut m = PkMatch::new();
    let mut s = spec();
    s.intro_ms = 0;
    s.round = None;
    m.start(s, ms(0)).unwrap();
    let mut ev = Vec::new();
    m.advance(ms(0), &mut ev);
    m.update_score("a", ScoreChange::Add(700), None, ms(0))
        .unwrap();
    m.update_score("b", ScoreChange::Add(300), None, ms(0))
        .unwrap();

    // 35 s into a 60 s battle, long after the bar settled.
    m.advance(ms(35_000), &mut ev);
    let mut d = Decor::default();
    pk_overlay(&m.view(ms(35_000)).unwrap(), &plan, &theme, &mut d);
    let left = item(&d, "pk:bar-left").unwrap().cell;
    let right = item(&d, "pk:bar-right").unwrap().cell;
    assert_eq!(left.x, 0);
    assert_eq!(left.w + right.w, 1280);
    assert!((f64::from(left.w) / 1280.0 - 0.7).abs() <= 0.01, "{left:?}");
    assert_eq!(text(&d, "pk:score-0").unwrap().text, "700");
    assert_eq!(text(&d, "pk:score-1").unwrap().text, "300");
    let cd = text(&d, "pk:countdown").unwrap();
    assert_eq!(cd.text, "00:25");
    assert_eq!(cd.style.color, theme.text);
    // The same second: the same box (so no new raster).
    let mut d2 = Decor::default();
    pk_overlay(&m.view(ms(35_400)).unwrap(), &plan, &theme, &mut d2);
    assert_eq!(text(&d2, "pk:countdown"), Some(cd));

    // Last ten seconds: red, larger, pulsing.
    let mut d3 = Decor::default();
    pk_overlay(&m.view(ms(52_300)).unwrap(), &plan, &theme, &mut d3);
    let last = text(&d3, "pk:countdown").unwrap();
    assert_eq!(last.text, "00:08");
    assert_eq!(last.style.color, theme.warn);
    assert!(last.style.size_px() > cd.style.size_px() * 1.3);
    let cell = item(&d3, "pk:countdown").unwrap().cell;
    assert!(
        cell.w > last.size.w,
        "pulsing: drawn larger than its raster"
    );

    // Result: WIN over the left tile, LOSE over the right.
    m.advance(ms(61_000), &mut ev);
    let mut d4 = Decor::default();
    pk_overlay(&m.view(ms(61_000)).unwrap(), &plan, &theme, &mut d4);
    assert_eq!(text(&d4, "pk:mark-0").unwrap().text, "WIN");
    assert_eq!(text(&d4, "pk:mark-1").unwrap().text, "LOSE");
    let win = item(&d4, "pk:mark-0").unwrap().cell;
    assert!(
        win.x + (win.w as i32) <= 660,
        "WIN over the left half: {win:?}"
    );
    assert!(text(&d4, "pk:countdown").is_none());

    // Punishment: the banner with its own countdown.
    m.advance(ms(66_000), &mut ev);
    let mut d5 = Decor::default();
    pk_overlay(&m.view(ms(66_000)).unwrap(), &plan, &theme, &mut d5);
    assert_eq!(text(&d5, "pk:banner").unwrap().text, "惩罚时间 00:19");
}

#[test]
fn intro_counts_three_two_one() {
    let plan = pk_plan(Size::new(1280, 720), false);
    let mut m = PkMatch::new();
    m.start(spec(), ms(0)).unwrap();
    let mut ev = Vec::new();
    let mut seen = Vec::new();
    for t in [0, 999, 1000, 1999, 2000, 2999] {
        m.advance(ms(t), &mut ev);
        let mut d = Decor::default();
        pk_overlay(&m.view(ms(t)).unwrap(), &plan, &PkTheme::default(), &mut d);
        seen.push(text(&d, "pk:intro").unwrap().text.clone());
    }
    assert_eq!(seen, ["3", "3", "2", "2", "1", "1"]);
}

#[test]
fn two_v_two_has_four_tiles_and_portrait_keeps_tiles_side_by_side() {
    let plan4 = pk_plan(Size::new(1280, 720), true);
    let inputs: Vec<_> = plan4
        .items
        .iter()
        .filter(|i| matches!(i.content, Content::Input(_)))
        .collect();
    assert_eq!(inputs.len(), 4);
    let a = inputs.iter().find(|i| i.key == "input:a").unwrap().cell;
    let a2 = inputs.iter().find(|i| i.key == "input:a2").unwrap().cell;
    assert_eq!(a.x, a2.x);
    assert!(a2.y > a.y);

    let portrait = pk_plan(Size::new(720, 1280), false);
    let l = portrait
        .items
        .iter()
        .find(|i| i.key == "input:a")
        .unwrap()
        .cell;
    let r = portrait
        .items
        .iter()
        .find(|i| i.key == "input:b")
        .unwrap()
        .cell;
    assert_eq!((l.w, l.h), (360, 480), "3:4 tiles");
    assert_eq!(l.y, r.y);
    assert!(r.x > l.x);
    let bar = &portrait.regions[0].rect;
    assert_eq!(bar.y + bar.h as i32, l.y, "bar right above the tiles");
}

#[test]
fn name_tags_follow_labels_speaking_and_mute() {
    let plan = pk_plan(Size::new(1280, 720), false);
    let mut d = Decor::default();
    name_tags(
        &plan,
        None,
        |id| match id {
            "a" => Some(TagInfo {
                label: "小美🌸",
                speaking: true,
                muted: false,
            }),
            "b" => Some(TagInfo {
                label: "Anna ✨",
                speaking: false,
                muted: true,
            }),
            _ => None,
        },
        &mut d,
    );
    assert_eq!(text(&d, "tag:a").unwrap().text, "小美🌸");
    assert_eq!(text(&d, "tag:b").unwrap().text, "🔇 Anna ✨");
    assert!(item(&d, "tag-dot:a").is_some());
    assert!(item(&d, "tag-dot:b").is_none());
    let tile = plan.items.iter().find(|i| i.key == "input:a").unwrap().cell;
    let tag = item(&d, "tag:a").unwrap().cell;
    assert!(tag.x >= tile.x && tag.y + tag.h as i32 <= tile.y + tile.h as i32);
    assert!(tag.y > tile.y + tile.h as i32 / 2, "bottom of the tile");
    assert!(tags_by_default(&Layout::Grid {
        inputs: vec![],
        tile_aspect: (16, 9)
    }));
}

#[test]
fn mm_ss_rounds_up() {
    assert_eq!(mm_ss(ms(0)), "00:00");
    assert_eq!(mm_ss(ms(1)), "00:01");
    assert_eq!(mm_ss(ms(60_000)), "01:00");
    assert_eq!(mm_ss(ms(299_500)), "05:00");
}
