//! The PK and name-tag golden cases: a match frozen in each phase over the PK layout of the
//! golden inputs `a` vs `b`, and name tags on a grid — each a frame plan plus the text
//! rasters its decor needs (rasterized here with the real fonts, as the session would).
//! Used by the golden tests of both compositors (`testkit::render_goldens*`).

use std::collections::HashMap;
use std::time::Duration;

use compositor_core::render::ImageAsset;
use compositor_text::{FontLibrary, TextCache};
use layouts::pk::{PkMatch, PkSpec, PkTeam, PkTheme, ScoreChange, Supporter, pk_overlay};
use layouts::{Decor, FramePlan, Layout, Scene, ScoreBar, Size, TagInfo, name_tags};

/// One case: name, plan (scene + decor, sorted by z) and the text images it shows.
pub type DecoratedCase = (String, FramePlan, HashMap<String, ImageAsset>);

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn label(id: &str) -> Option<(&'static str, bool, bool)> {
    match id {
        "a" => Some(("小美🌸", true, false)),
        "b" => Some(("Anna ✨", false, false)),
        "c" => Some(("阿杰", false, true)),
        "sd" => Some(("Leo 🎤", false, false)),
        _ => None,
    }
}

/// Plans `scene` on `canvas`, adds name tags (and the match's overlay at `now` if given),
/// rasterizes every text and merges the items by z.
fn decorate(
    scene: &Scene,
    canvas: Size,
    pk: Option<(&PkMatch, Duration)>,
    cache: &mut TextCache,
) -> Result<(FramePlan, HashMap<String, ImageAsset>), String> {
    let mut plan = layouts::plan(scene, canvas).map_err(|e| e.to_string())?;
    let mut decor = Decor::default();
    name_tags(
        &plan,
        None,
        |id| {
            label(id).map(|(label, speaking, muted)| TagInfo {
                label,
                speaking,
                muted,
            })
        },
        &mut decor,
    );
    if let Some((m, now)) = pk
        && let Some(view) = m.view(now)
    {
        pk_overlay(&view, &plan, &PkTheme::default(), &mut decor);
    }
    let mut images = HashMap::new();
    for (id, tb) in &decor.texts {
        let (rgba, generation, _) = cache.get(id, tb).map_err(|e| e.to_string())?;
        images.insert(id.clone(), ImageAsset { generation, rgba });
    }
    plan.items.extend(decor.items);
    plan.items.sort_by_key(|i| i.z);
    Ok((plan, images))
}

/// The decorated golden cases: `pk_intro`, `pk_battle`, `pk_final`, `pk_result`,
/// `pk_punishment` and `tags_grid`.
pub fn decorated_cases(canvas: Size) -> Result<Vec<DecoratedCase>, String> {
    let mut cache = TextCache::new(&FontLibrary::global());
    let pk_scene = Scene {
        layout: Layout::Pk {
            left: "a".into(),
            right: "b".into(),
            score_bar: ScoreBar::default(),
            left_partner: None,
            right_partner: None,
            tile_aspect: None,
        },
        style: layouts::Style {
            gap: 4,
            ..layouts::Style::default()
        },
        background: layouts::Background::default(),
        overlays: vec![],
        name_tags: None,
    };
    let team = |h: &str| PkTeam {
        hosts: vec![h.into()],
        color: None,
    };
    let mut m = PkMatch::new();
    m.start(
        PkSpec {
            teams: [team("a"), team("b")],
            intro_ms: 3000,
            battle_ms: 60_000,
            result_ms: 5000,
            punishment_ms: 30_000,
            punishment_text: None,
            round: Some(2),
        },
        ms(0),
    )
    .map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    let mut out = Vec::new();
    let case = |name: &str, m: &PkMatch, t: Duration, cache: &mut TextCache| {
        decorate(&pk_scene, canvas, Some((m, t)), cache).map(|(p, i)| (name.to_owned(), p, i))
    };
    m.advance(ms(1200), &mut events);
    out.push(case("pk_intro", &m, ms(1200), &mut cache)?);
    m.advance(ms(3000), &mut events);
    let score = |m: &mut PkMatch, host: &str, v: i64| {
        m.update_score(host, ScoreChange::Set(v), None, ms(3000))
            .map_err(|e| e.to_string())
    };
    score(&mut m, "a", 1314)?;
    score(&mut m, "b", 520)?;
    m.set_supporters(
        0,
        vec![
            Supporter {
                name: "小王".into(),
                avatar: None,
            },
            Supporter {
                name: "Kai".into(),
                avatar: None,
            },
        ],
    )
    .map_err(|e| e.to_string())?;
    m.advance(ms(38_000), &mut events);
    out.push(case("pk_battle", &m, ms(38_000), &mut cache)?);
    m.advance(ms(55_500), &mut events);
    out.push(case("pk_final", &m, ms(55_500), &mut cache)?);
    m.advance(ms(64_500), &mut events);
    out.push(case("pk_result", &m, ms(64_500), &mut cache)?);
    m.advance(ms(80_000), &mut events);
    out.push(case("pk_punishment", &m, ms(80_000), &mut cache)?);
    let grid = Scene {
        layout: Layout::Grid {
            inputs: vec!["a".into(), "b".into(), "c".into(), "sd".into()],
            tile_aspect: (16, 9),
        },
        ..pk_scene.clone()
    };
    let (p, i) = decorate(&grid, canvas, None, &mut cache)?;
    out.push(("tags_grid".to_owned(), p, i));
    Ok(out)
}
