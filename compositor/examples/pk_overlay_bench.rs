//! The added cost of the PK overlay on the CPU compositor: a 1280×720 PK frame of two live
//! 1280×720 hosts rendered with and without the overlay (score bar, countdown, supporters,
//! two or four name tags), interleaved frame by frame so both see the same machine load;
//! plus the decor's own per-frame cost (building items, cache look-ups) and the rasters made
//! in steady state (0 expected: no text changed).
//!
//! `cargo run --release -p compositor --example pk_overlay_bench -- [frames]`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use compositor_core::frame::{I420Frame, VideoFrame};
use compositor_core::render::ImageAsset;
use compositor_devkit::synthetic::{PatternGen, SyntheticHost};
use compositor_render::soft::SoftRenderer;
use compositor_text::{FontLibrary, TextCache};
use layouts::pk::{PkMatch, PkSpec, PkTeam, PkTheme, ScoreChange, pk_overlay};
use layouts::{Decor, FramePlan, Layout, Scene, ScoreBar, Size, TagInfo, name_tags};

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let frames: usize = std::env::args()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .unwrap_or(300);
    let canvas = Size::new(1280, 720);
    for tags in [2usize, 4] {
        let (left, right) = ("a".to_owned(), "b".to_owned());
        let partners = tags == 4;
        let scene = Scene {
            layout: Layout::Pk {
                left,
                right,
                score_bar: ScoreBar::default(),
                left_partner: partners.then(|| "a2".into()),
                right_partner: partners.then(|| "b2".into()),
                tile_aspect: None,
            },
            style: Default::default(),
            background: Default::default(),
            overlays: vec![],
            name_tags: None,
        };
        let base = layouts::plan(&scene, canvas)?;
        let hosts: Vec<&str> = if partners {
            vec!["a", "b", "a2", "b2"]
        } else {
            vec!["a", "b"]
        };
        let mut gens: Vec<(String, PatternGen)> = hosts
            .iter()
            .map(|h| {
                let host = SyntheticHost {
                    width: 1280,
                    height: 720,
                    ..SyntheticHost::new((200, 80, 90), 440.0)
                };
                (h.to_string(), PatternGen::new(&host))
            })
            .collect();
        let team = |h: &[&str]| PkTeam {
            hosts: h.iter().map(|s| s.to_string()).collect(),
            color: None,
        };
        let mut m = PkMatch::new();
        let teams = if partners {
            [team(&["a", "a2"]), team(&["b", "b2"])]
        } else {
            [team(&["a"]), team(&["b"])]
        };
        m.start(
            PkSpec {
                teams,
                intro_ms: 0,
                battle_ms: 300_000,
                result_ms: 5000,
                punishment_ms: 0,
                punishment_text: None,
                round: None,
            },
            Duration::ZERO,
        )
        .map_err(anyhow::Error::msg)?;
        let mut ev = Vec::new();
        m.advance(Duration::ZERO, &mut ev);
        m.update_score("a", ScoreChange::Add(1314), None, Duration::ZERO)
            .map_err(anyhow::Error::msg)?;
        m.update_score("b", ScoreChange::Add(520), None, Duration::ZERO)
            .map_err(anyhow::Error::msg)?;
        let lib = FontLibrary::global();
        let mut cache = TextCache::new(&lib);
        let mut plain = SoftRenderer::new(canvas);
        let mut decorated = SoftRenderer::new(canvas);
        let mut out = I420Frame::black(canvas.w, canvas.h)?;
        let mut images: HashMap<String, ImageAsset> = HashMap::new();
        let mut inputs: HashMap<String, (VideoFrame, u64)> = HashMap::new();
        let mut decor = Decor::default();
        let mut plan = FramePlan {
            canvas,
            background: base.background,
            items: Vec::new(),
            regions: Vec::new(),
        };
        let (mut t_plain, mut t_pk, mut t_decor) = (Vec::new(), Vec::new(), Vec::new());
        let warm = 30;
        let mut steady_rasters = 0;
        // Frames sit within one second of the countdown, so only the first frame rasterizes.
        let start = Duration::from_millis(100_000);
        for k in 0..frames + warm {
            let now = start + Duration::from_micros(k as u64 * 33_333 % 900_000);
            for (id, g) in gens.iter_mut() {
                let f = g.frame(now)?;
                inputs.insert(id.clone(), (f, k as u64 + 1));
            }
            let t0 = Instant::now();
            plain
                .render(&base, &inputs, &images, &mut out)
                .map_err(anyhow::Error::msg)?;
            let d_plain = t0.elapsed();

            let t1 = Instant::now();
            plan.copy_from(&base);
            decor.clear();
            name_tags(
                &plan,
                None,
                |id| {
                    Some(TagInfo {
                        label: match id {
                            "a" => "小美🌸",
                            "b" => "Anna ✨",
                            "a2" => "阿杰",
                            _ => "Leo 🎤",
                        },
                        speaking: id == "a",
                        muted: false,
                    })
                },
                &mut decor,
            );
            m.advance(now, &mut ev);
            if let Some(v) = m.view(now) {
                pk_overlay(&v, &plan, &PkTheme::default(), &mut decor);
            }
            cache.begin_frame();
            let before = cache.rasters();
            for (id, tb) in &decor.texts {
                let (rgba, generation, fresh) = cache.get(id, tb).map_err(anyhow::Error::msg)?;
                if fresh {
                    images.insert(id.clone(), ImageAsset { generation, rgba });
                }
            }
            cache.end_frame();
            plan.items.append(&mut decor.items);
            plan.items.sort_by_key(|i| i.z);
            let d_decor = t1.elapsed();
            if k >= warm {
                steady_rasters += cache.rasters() - before;
            }
            let t2 = Instant::now();
            decorated
                .render(&plan, &inputs, &images, &mut out)
                .map_err(anyhow::Error::msg)?;
            let d_pk = t2.elapsed() + d_decor;
            if k >= warm {
                t_plain.push(d_plain);
                t_pk.push(d_pk);
                t_decor.push(d_decor);
            }
        }
        let (p, q, d) = (
            median(&mut t_plain),
            median(&mut t_pk),
            median(&mut t_decor),
        );
        println!(
            "{tags} name tags: plain PK {:.3} ms, PK + overlay {:.3} ms (decor {:.3} ms) → added {:.3} ms per 720p frame; rasters in {frames} steady frames: {steady_rasters}; text images: {}",
            p.as_secs_f64() * 1e3,
            q.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3,
            (q.as_secs_f64() - p.as_secs_f64()) * 1e3,
            images.len()
        );
    }
    Ok(())
}
