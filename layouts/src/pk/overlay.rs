//! What the audience sees of a PK match, drawn over the PK layout from a [`PkView`]:
//!
//! - the score bar in the layout's `score_bar` region (the top 6 % of the canvas when the
//!   layout has none): the left team's colour over `share` of its width, the right team's
//!   over the rest, each side's score in digits at its outer end;
//! - the countdown (`mm:ss`, with the round in front when set) in a pill centred next to the
//!   bar: white, and in the last 10 s red, 1.4× larger and pulsing once a second;
//! - the intro's 3-2-1, large in the centre, each digit shrinking into place;
//! - WIN / LOSE / DRAW over each team's tiles in the Result and Punishment phases;
//! - the punishment banner with its own countdown in place of the battle's;
//! - each team's supporters (avatar + name, up to three) under the bar at its outer side.
//!
//! Sizes follow the bar height `u` (so a portrait or landscape canvas both work); text
//! boxes change only when their text does (the countdown once a second), which is what keeps
//! rasterizing off the per-frame path.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::decor::{Decor, PK_Z, box_size};
use crate::even::round_even_f;
use crate::frame_plan::{Content, FramePlan};
use crate::geometry::{Rect, Rgba};
use crate::pk::machine::{PkOutcome, PkPhase, PkView};
use crate::text::{TextAlign, TextBox, TextStyle};

/// Colours and font of the PK overlay (a session's theme). Defaults: red vs blue; a field
/// left out of a serialized theme takes its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PkTheme {
    /// Left team's bar colour (when the team sets none).
    pub left: Rgba,
    /// Right team's bar colour.
    pub right: Rgba,
    /// Text colour.
    pub text: Rgba,
    /// Countdown colour in the last 10 s.
    pub warn: Rgba,
    /// WIN colour.
    pub win: Rgba,
    /// LOSE colour.
    pub lose: Rgba,
    /// Pill behind the countdown and the banner.
    pub pill: Rgba,
    /// Preferred font family (the fallback chain covers CJK and emoji).
    pub family: Option<String>,
}

impl Default for PkTheme {
    fn default() -> Self {
        Self {
            left: Rgba::new(240, 62, 98, 255),
            right: Rgba::new(48, 122, 246, 255),
            text: Rgba::new(255, 255, 255, 255),
            warn: Rgba::new(255, 52, 52, 255),
            win: Rgba::new(255, 204, 40, 255),
            lose: Rgba::new(190, 190, 200, 255),
            pill: Rgba::new(0, 0, 0, 150),
            family: None,
        }
    }
}

/// The countdown turns red and pulses below this.
pub const FINAL_SECONDS: Duration = Duration::from_secs(10);

/// `mm:ss` of a time left, rounded up to the second (`00:00` only at the end).
pub fn mm_ss(left: Duration) -> String {
    let s = left.as_millis().div_ceil(1000);
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// Union of the tiles of `hosts` in `plan`.
fn team_rect(plan: &FramePlan, hosts: &[String]) -> Option<Rect> {
    let mut out: Option<(i64, i64, i64, i64)> = None;
    for it in &plan.items {
        let Content::Input(id) = &it.content else {
            continue;
        };
        if !hosts.iter().any(|h| h == id) {
            continue;
        }
        let c = it.cell;
        let (x0, y0) = (i64::from(c.x), i64::from(c.y));
        let (x1, y1) = (x0 + i64::from(c.w), y0 + i64::from(c.h));
        out = Some(match out {
            None => (x0, y0, x1, y1),
            Some((a, b, c2, d)) => (a.min(x0), b.min(y0), c2.max(x1), d.max(y1)),
        });
    }
    out.map(|(x0, y0, x1, y1)| Rect::new(x0 as i32, y0 as i32, (x1 - x0) as u32, (y1 - y0) as u32))
}

/// Adds the PK overlay for `view` over `plan` to `out`.
pub fn pk_overlay(view: &PkView<'_>, plan: &FramePlan, theme: &PkTheme, out: &mut Decor) {
    let canvas = plan.canvas;
    let (cw, ch) = (i64::from(canvas.w), i64::from(canvas.h));
    let bar = plan
        .regions
        .iter()
        .find(|r| r.name == "score_bar")
        .map(|r| r.rect)
        .unwrap_or_else(|| Rect::new(0, 0, canvas.w, round_even_f(ch as f64 * 0.06).max(2) as u32));
    let u = f64::from(bar.h).max(24.0);
    let bar_top = bar.y <= 0 || i64::from(bar.y) < ch / 2;
    let family = theme.family.clone();
    let style = |px: f64, color: Rgba, align: TextAlign| {
        TextStyle::new(px as f32, color)
            .weight(700)
            .outline(
                ((px / 14.0).round() as u32).clamp(1, 4),
                Rgba::new(0, 0, 0, 190),
            )
            .align(align)
            .family(family.clone())
    };
    let colors = [
        view.spec.teams[0].color.unwrap_or(theme.left),
        view.spec.teams[1].color.unwrap_or(theme.right),
    ];

    // The bar: the left colour over `share`, the right over the rest.
    let bw = f64::from(bar.w);
    let split = round_even_f(bw * view.share.clamp(0.0, 1.0)).clamp(0, i64::from(bar.w));
    let (bx, by) = (i64::from(bar.x), i64::from(bar.y));
    if split > 0 {
        out.solid(
            "pk:bar-left",
            Rect::new(bar.x, bar.y, split as u32, bar.h),
            colors[0],
            PK_Z,
            0,
        );
    }
    if split < i64::from(bar.w) {
        out.solid(
            "pk:bar-right",
            Rect::new(
                (bx + split) as i32,
                bar.y,
                (i64::from(bar.w) - split) as u32,
                bar.h,
            ),
            colors[1],
            PK_Z,
            0,
        );
    }
    // A light seam where the colours meet.
    let seam = round_even_f(u * 0.08).max(2);
    out.solid(
        "pk:bar-seam",
        Rect::new(
            (bx + split - seam / 2).clamp(bx, bx + i64::from(bar.w) - seam) as i32,
            bar.y,
            seam as u32,
            bar.h,
        ),
        Rgba::new(255, 255, 255, 230),
        PK_Z + 1,
        0,
    );
    let score_px = (u * 0.5).round();
    let half = box_size(bw / 2.0 - u * 0.3, u);
    for (side, score) in view.scores.iter().enumerate() {
        let (align, x) = if side == 0 {
            (TextAlign::Left, bx + round_even_f(u * 0.3))
        } else {
            (TextAlign::Right, bx + i64::from(bar.w) / 2)
        };
        out.text(
            &format!("pk:score-{side}"),
            TextBox {
                text: score.to_string(),
                style: style(score_px, theme.text, align),
                size: half,
            },
            (x, by),
            PK_Z + 2,
            1.0,
            1.0,
        );
    }

    // Where the pill (countdown, banner) goes: just inside the picture next to the bar.
    let gap = round_even_f(u * 0.2);
    let pill_y = |h: i64| {
        if bar_top {
            by + i64::from(bar.h) + gap
        } else {
            by - gap - h
        }
    };

    let teams = [
        team_rect(plan, &view.spec.teams[0].hosts),
        team_rect(plan, &view.spec.teams[1].hosts),
    ];

    match view.phase {
        PkPhase::Idle => {}
        PkPhase::Intro => {
            let left_s = view.left_in_phase.as_millis().div_ceil(1000);
            let frac = (view.left_in_phase.as_millis() % 1000) as f64 / 1000.0;
            let px = (cw.min(ch) as f64 * 0.28).round();
            let size = box_size(px * 1.6, px * 1.3);
            let at = ((cw - i64::from(size.w)) / 2, (ch - i64::from(size.h)) / 2);
            // Each digit lands: 1.5× at the start of its second, 1× after a third of it.
            let t = if frac == 0.0 { 0.0 } else { 1.0 - frac };
            let scale = 1.0 + 0.5 * (1.0 - (t * 3.0).min(1.0));
            out.text(
                "pk:intro",
                TextBox {
                    text: left_s.max(1).to_string(),
                    style: style(px, theme.text, TextAlign::Center),
                    size,
                },
                at,
                PK_Z + 10,
                scale,
                1.0,
            );
        }
        PkPhase::Battle => {
            let last = view.left_in_phase <= FINAL_SECONDS;
            let mut text = mm_ss(view.left_in_phase);
            if let Some(r) = view.spec.round {
                text = format!("第{r}轮 {text}");
            }
            let (px, color) = if last {
                (u * 0.78, theme.warn)
            } else {
                (u * 0.55, theme.text)
            };
            let width = px * if view.spec.round.is_some() { 6.2 } else { 4.0 };
            let size = box_size(width, px * 1.6);
            let at = ((cw - i64::from(size.w)) / 2, pill_y(i64::from(size.h)));
            let pulse = if last {
                let frac = (view.left_in_phase.as_millis() % 1000) as f64 / 1000.0;
                1.0 + 0.18 * frac
            } else {
                1.0
            };
            out.solid(
                "pk:pill",
                Rect::new(at.0 as i32, at.1 as i32, size.w, size.h),
                theme.pill,
                PK_Z + 3,
                size.h / 2,
            );
            out.text(
                "pk:countdown",
                TextBox {
                    text,
                    style: style(px, color, TextAlign::Center),
                    size,
                },
                at,
                PK_Z + 4,
                pulse,
                1.0,
            );
        }
        PkPhase::Result | PkPhase::Punishment => {
            for (team, rect) in teams.iter().enumerate() {
                let Some(r) = rect else { continue };
                let (word, color) = match view.outcome {
                    Some(PkOutcome::Win { winner }) if winner == team => ("WIN", theme.win),
                    Some(PkOutcome::Win { .. }) => ("LOSE", theme.lose),
                    _ => ("DRAW", theme.text),
                };
                let small = view.phase == PkPhase::Punishment;
                let px = (f64::from(r.h.min(r.w)) * if small { 0.12 } else { 0.2 })
                    .clamp(20.0, 200.0)
                    .round();
                let size = box_size(f64::from(r.w), px * 1.5);
                let y = if small {
                    i64::from(r.y) + i64::from(r.h) / 5
                } else {
                    i64::from(r.y) + (i64::from(r.h) - i64::from(size.h)) / 2
                };
                // The mark pops in: 1.3× → 1× over the first 300 ms.
                let pop = (view.into_phase.as_secs_f64() / 0.3).min(1.0);
                let scale = if small { 1.0 } else { 1.3 - 0.3 * pop };
                out.text(
                    &format!("pk:mark-{team}"),
                    TextBox {
                        text: word.to_owned(),
                        style: style(px, color, TextAlign::Center),
                        size,
                    },
                    (i64::from(r.x), y),
                    PK_Z + 10,
                    scale,
                    1.0,
                );
            }
            if view.phase == PkPhase::Punishment {
                let label = view.spec.punishment_text.as_deref().unwrap_or("惩罚时间");
                let px = u * 0.62;
                let size = box_size((cw as f64 * 0.8).min(px * 16.0), px * 1.7);
                let at = ((cw - i64::from(size.w)) / 2, pill_y(i64::from(size.h)));
                out.solid(
                    "pk:pill",
                    Rect::new(at.0 as i32, at.1 as i32, size.w, size.h),
                    theme.pill,
                    PK_Z + 3,
                    size.h / 2,
                );
                out.text(
                    "pk:banner",
                    TextBox {
                        text: format!("{label} {}", mm_ss(view.left_in_phase)),
                        style: style(px, theme.warn, TextAlign::Center),
                        size,
                    },
                    at,
                    PK_Z + 4,
                    1.0,
                    1.0,
                );
            }
        }
    }

    // Supporters under the bar (above it when the bar is at the bottom), outer sides.
    let avatar = round_even_f(u * 0.7).max(4);
    let slot_w = round_even_f(u * 1.9);
    let name_px = (u * 0.26).max(10.0);
    let name_size = box_size(slot_w as f64, name_px * 1.5);
    let row_h = avatar + i64::from(name_size.h);
    let row_y = if bar_top {
        by + i64::from(bar.h) + gap
    } else {
        by - gap - row_h
    };
    for (team, list) in view.supporters.iter().enumerate() {
        for (i, s) in list.iter().enumerate() {
            let i = i as i64;
            let x = if team == 0 {
                bx + gap + i * slot_w
            } else {
                bx + i64::from(bar.w) - gap - (i + 1) * slot_w
            };
            let ax = x + (slot_w - avatar) / 2;
            match &s.avatar {
                Some(img) => out.image(
                    &format!("pk:sup-{team}-{i}"),
                    img,
                    Rect::new(ax as i32, row_y as i32, avatar as u32, avatar as u32),
                    PK_Z + 5,
                    (avatar / 2) as u32,
                ),
                None => out.solid(
                    &format!("pk:sup-{team}-{i}"),
                    Rect::new(ax as i32, row_y as i32, avatar as u32, avatar as u32),
                    colors[team],
                    PK_Z + 5,
                    (avatar / 2) as u32,
                ),
            }
            out.text(
                &format!("pk:sup-name-{team}-{i}"),
                TextBox {
                    text: s.name.clone(),
                    style: style(name_px, theme.text, TextAlign::Center),
                    size: name_size,
                },
                (x, row_y + avatar),
                PK_Z + 5,
                1.0,
                1.0,
            );
        }
    }
}
