//! Preset geometry, even-pixel properties and placement.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use layouts::*;

const R: fn(i32, i32, u32, u32) -> Rect = Rect::new;

// ---------------------------------------------------------------- PK

#[test]
fn pk_1280x720_halves_and_score_bar() {
    let p = plan_ok(&scene(pk("a", "b")), 1280, 720);
    check_invariants(&p, true);
    assert_eq!(cell(&p, "a"), R(0, 58, 640, 662));
    assert_eq!(cell(&p, "b"), R(640, 58, 640, 662));
    assert_eq!(
        p.regions,
        vec![Region {
            name: "score_bar".into(),
            rect: R(0, 0, 1280, 58)
        }]
    );
    assert_eq!(p.items.len(), 2);
    let a = item_of(&p, "input:a");
    assert_eq!(a.content, Content::Input("a".into()));
    assert_eq!((a.z, a.opacity, a.fit), (0, 1.0, Fit::Cover));
}

#[test]
fn pk_1920x1080_halves_and_score_bar() {
    let p = plan_ok(&scene(pk("a", "b")), 1920, 1080);
    assert_eq!(cell(&p, "a"), R(0, 86, 960, 994));
    assert_eq!(cell(&p, "b"), R(960, 86, 960, 994));
    assert_eq!(p.regions[0].rect, R(0, 0, 1920, 86));
}

#[test]
fn pk_bottom_bar_gap_and_no_bar() {
    let layout = |position, height_frac| Layout::Pk {
        left: "a".into(),
        right: "b".into(),
        score_bar: ScoreBar {
            position,
            height_frac,
        },
        left_partner: None,
        right_partner: None,
        tile_aspect: None,
    };
    let p = plan_ok(&scene(layout(BarPosition::Bottom, 0.08)), 1280, 720);
    assert_eq!(cell(&p, "a"), R(0, 0, 640, 662));
    assert_eq!(cell(&p, "b"), R(640, 0, 640, 662));
    assert_eq!(p.regions[0].rect, R(0, 662, 1280, 58));

    let p = plan_ok(&scene(layout(BarPosition::Top, 0.0)), 1280, 720);
    assert!(p.regions.is_empty());
    assert_eq!(cell(&p, "a"), R(0, 0, 640, 720));
    assert_eq!(cell(&p, "b"), R(640, 0, 640, 720));

    let mut s = scene(layout(BarPosition::Top, 0.08));
    s.style.gap = 10;
    let p = plan_ok(&s, 1280, 720);
    assert_eq!(cell(&p, "a"), R(10, 68, 624, 642));
    assert_eq!(cell(&p, "b"), R(646, 68, 624, 642));
    // An odd gap is rounded up to even.
    s.style.gap = 7;
    let p = plan_ok(&s, 1280, 720);
    assert_eq!(cell(&p, "a"), R(8, 66, 628, 646));
    assert_eq!(cell(&p, "b"), R(644, 66, 628, 646));
}

#[test]
fn pk_style_applies_to_tiles() {
    let mut s = scene(pk("a", "b"));
    let border = Border {
        width: 4,
        color: Rgba::new(255, 0, 0, 255),
    };
    s.style = Style {
        gap: 0,
        corner_radius: 12,
        border: Some(border),
        fit: Fit::Contain,
    };
    let p = plan_ok(&s, 1280, 720);
    for it in &p.items {
        assert_eq!(
            (it.corner_radius, it.border, it.fit),
            (12, Some(border), Fit::Contain)
        );
    }
}

// ---------------------------------------------------------------- Grid

fn grid_cells(n: usize, w: u32, h: u32) -> Vec<Rect> {
    let p = plan_ok(&scene(grid(ids(n))), w, h);
    check_invariants(&p, true);
    (0..n).map(|i| cell(&p, &format!("s{i}"))).collect()
}

#[test]
fn grid_exact_1280x720() {
    assert_eq!(grid_cells(1, 1280, 720), vec![R(0, 0, 1280, 720)]);
    assert_eq!(
        grid_cells(2, 1280, 720),
        vec![R(0, 180, 640, 360), R(640, 180, 640, 360)]
    );
    assert_eq!(
        grid_cells(3, 1280, 720),
        vec![
            R(0, 0, 640, 360),
            R(640, 0, 640, 360),
            R(320, 360, 640, 360)
        ]
    );
    assert_eq!(
        grid_cells(4, 1280, 720),
        vec![
            R(0, 0, 640, 360),
            R(640, 0, 640, 360),
            R(0, 360, 640, 360),
            R(640, 360, 640, 360)
        ]
    );
    assert_eq!(
        grid_cells(5, 1280, 720),
        vec![
            R(2, 120, 426, 240),
            R(428, 120, 426, 240),
            R(854, 120, 426, 240),
            R(214, 360, 426, 240),
            R(640, 360, 426, 240),
        ]
    );
    let nine = grid_cells(9, 1280, 720);
    for (i, r) in nine.iter().enumerate() {
        let (c, row) = ((i % 3) as i32, (i / 3) as i32);
        assert_eq!(*r, R(2 + c * 426, row * 240, 426, 240));
    }
    let sixteen = grid_cells(16, 1280, 720);
    for (i, r) in sixteen.iter().enumerate() {
        let (c, row) = ((i % 4) as i32, (i / 4) as i32);
        assert_eq!(*r, R(c * 320, row * 180, 320, 180));
    }
}

#[test]
fn grid_exact_1920x1080() {
    assert_eq!(grid_cells(1, 1920, 1080), vec![R(0, 0, 1920, 1080)]);
    assert_eq!(
        grid_cells(2, 1920, 1080),
        vec![R(0, 270, 960, 540), R(960, 270, 960, 540)]
    );
    assert_eq!(
        grid_cells(3, 1920, 1080),
        vec![
            R(0, 0, 960, 540),
            R(960, 0, 960, 540),
            R(480, 540, 960, 540)
        ]
    );
    assert_eq!(
        grid_cells(5, 1920, 1080),
        vec![
            R(0, 180, 640, 360),
            R(640, 180, 640, 360),
            R(1280, 180, 640, 360),
            R(320, 540, 640, 360),
            R(960, 540, 640, 360),
        ]
    );
    for (i, r) in grid_cells(9, 1920, 1080).iter().enumerate() {
        let (c, row) = ((i % 3) as i32, (i / 3) as i32);
        assert_eq!(*r, R(c * 640, row * 360, 640, 360));
    }
    for (i, r) in grid_cells(16, 1920, 1080).iter().enumerate() {
        let (c, row) = ((i % 4) as i32, (i / 4) as i32);
        assert_eq!(*r, R(c * 480, row * 270, 480, 270));
    }
}

#[test]
fn grid_with_gap() {
    let mut s = scene(grid(ids(4)));
    s.style.gap = 8;
    let p = plan_ok(&s, 1280, 720);
    check_invariants(&p, true);
    assert_eq!(cell(&p, "s0"), R(18, 8, 618, 348));
    assert_eq!(cell(&p, "s1"), R(644, 8, 618, 348));
    assert_eq!(cell(&p, "s2"), R(18, 364, 618, 348));
    assert_eq!(cell(&p, "s3"), R(644, 364, 618, 348));
}

/// Near-square, same-size tiles, aspect kept, centred, no overlap, inside the canvas.
#[test]
fn grid_properties_many_canvases() {
    for (w, h) in [
        (1280, 720),
        (1920, 1080),
        (1281, 721),
        (720, 1280),
        (1000, 1000),
        (641, 359),
    ] {
        for gap in [0u32, 6, 7] {
            for aspect in [(16u32, 9u32), (4, 3), (9, 16), (1, 1)] {
                for n in [1usize, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16] {
                    let mut s = scene(Layout::Grid {
                        inputs: ids(n),
                        tile_aspect: aspect,
                    });
                    s.style.gap = gap;
                    let p = plan_ok(&s, w, h);
                    check_invariants(&p, true);
                    assert_eq!(p.items.len(), n, "{w}x{h} n={n}");
                    let rects: Vec<Rect> = p.items.iter().map(|i| i.cell).collect();
                    let (tw, th) = (rects[0].w, rects[0].h);
                    assert!(rects.iter().all(|r| (r.w, r.h) == (tw, th)), "sizes differ");
                    // Aspect within rounding (at most 2 px off on the derived side).
                    let ratio = f64::from(aspect.0) / f64::from(aspect.1);
                    let err_w = (f64::from(tw) - f64::from(th) * ratio).abs();
                    let err_h = (f64::from(th) - f64::from(tw) / ratio).abs();
                    assert!(
                        err_w <= 2.0 + 1e-9 || err_h <= 2.0 + 1e-9,
                        "{tw}x{th} vs {aspect:?}"
                    );
                    // Near-square arrangement.
                    let mut xs: Vec<i32> = rects.iter().map(|r| r.x).collect();
                    let mut ys: Vec<i32> = rects.iter().map(|r| r.y).collect();
                    ys.sort();
                    ys.dedup();
                    let cols = rects.iter().filter(|r| r.y == ys[0]).count();
                    let expected_cols = (1..=n).find(|c| c * c >= n).unwrap();
                    assert_eq!(cols, expected_cols);
                    assert_eq!(ys.len(), n.div_ceil(cols));
                    // Gap between neighbours is at least the style gap.
                    xs.sort();
                    xs.dedup();
                    for pair in xs.windows(2) {
                        assert!(
                            pair[1] - pair[0] >= tw as i32 + gap as i32
                                || pair[1] - pair[0] < tw as i32
                        );
                    }
                    for (i, a) in rects.iter().enumerate() {
                        for b in &rects[i + 1..] {
                            assert!(!overlap(*a, *b), "{w}x{h} n={n}: {a:?} overlaps {b:?}");
                        }
                    }
                    // Centred: the bounding box has equal margins within 3 px.
                    let left = rects.iter().map(|r| r.x).min().unwrap();
                    let right = rects.iter().map(|r| r.x + r.w as i32).max().unwrap();
                    let top = rects.iter().map(|r| r.y).min().unwrap();
                    let bottom = rects.iter().map(|r| r.y + r.h as i32).max().unwrap();
                    assert!(
                        (left - (w as i32 - right)).abs() <= 3,
                        "{w}x{h} n={n} not centred"
                    );
                    assert!(
                        (top - (h as i32 - bottom)).abs() <= 3,
                        "{w}x{h} n={n} not centred"
                    );
                    // The last row is centred too.
                    let last_y = *ys.last().unwrap();
                    let row: Vec<&Rect> = rects.iter().filter(|r| r.y == last_y).collect();
                    let rl = row.iter().map(|r| r.x).min().unwrap();
                    let rr = row.iter().map(|r| r.x + r.w as i32).max().unwrap();
                    assert!((rl - (w as i32 - rr)).abs() <= 4, "{w}x{h} n={n} last row");
                }
            }
        }
    }
}

#[test]
fn grid_without_sources_is_empty() {
    let p = plan_ok(&scene(grid(vec![])), 1280, 720);
    assert!(p.items.is_empty());
    assert!(p.regions.is_empty());
    assert_eq!(p.background, Rgba::new(16, 16, 24, 255));
}

// ---------------------------------------------------------------- Spotlight

#[test]
fn spotlight_right_and_bottom() {
    let others = vec!["b".to_string(), "c".into(), "d".into()];
    let s = scene(spotlight("a", others.clone(), StripSide::Right, 0.25));
    let p = plan_ok(&s, 1280, 720);
    check_invariants(&p, true);
    assert_eq!(cell(&p, "a"), R(0, 0, 960, 720));
    assert_eq!(cell(&p, "b"), R(960, 90, 320, 180));
    assert_eq!(cell(&p, "c"), R(960, 270, 320, 180));
    assert_eq!(cell(&p, "d"), R(960, 450, 320, 180));
    let p = plan_ok(&s, 1920, 1080);
    assert_eq!(cell(&p, "a"), R(0, 0, 1440, 1080));
    assert_eq!(cell(&p, "b"), R(1440, 136, 480, 270));
    assert_eq!(cell(&p, "c"), R(1440, 406, 480, 270));
    assert_eq!(cell(&p, "d"), R(1440, 676, 480, 270));

    let s = scene(spotlight("a", others, StripSide::Bottom, 0.25));
    let p = plan_ok(&s, 1280, 720);
    check_invariants(&p, true);
    assert_eq!(cell(&p, "a"), R(0, 0, 1280, 540));
    assert_eq!(cell(&p, "b"), R(160, 540, 320, 180));
    assert_eq!(cell(&p, "c"), R(480, 540, 320, 180));
    assert_eq!(cell(&p, "d"), R(800, 540, 320, 180));
    let p = plan_ok(&s, 1920, 1080);
    assert_eq!(cell(&p, "a"), R(0, 0, 1920, 810));
    assert_eq!(cell(&p, "b"), R(240, 810, 480, 270));
    assert_eq!(cell(&p, "c"), R(720, 810, 480, 270));
    assert_eq!(cell(&p, "d"), R(1200, 810, 480, 270));
}

#[test]
fn spotlight_alone_and_many() {
    let p = plan_ok(
        &scene(spotlight("a", vec![], StripSide::Right, 0.3)),
        1280,
        720,
    );
    assert_eq!(p.items.len(), 1);
    assert_eq!(cell(&p, "a"), R(0, 0, 1280, 720));
    for strip in [StripSide::Right, StripSide::Bottom] {
        let mut s = scene(spotlight("a", ids(15), strip, 0.2));
        s.style.gap = 4;
        let p = plan_ok(&s, 1920, 1080);
        check_invariants(&p, true);
        assert_eq!(p.items.len(), 16);
        let rects: Vec<Rect> = p.items.iter().map(|i| i.cell).collect();
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                assert!(!overlap(*a, *b), "{a:?} overlaps {b:?}");
            }
        }
    }
}

// ---------------------------------------------------------------- PiP

#[test]
fn pip_each_corner() {
    let insets = vec!["b".to_string(), "c".into()];
    let cases = [
        (
            Corner::BottomRight,
            R(936, 516, 320, 180),
            R(936, 312, 320, 180),
        ),
        (
            Corner::BottomLeft,
            R(24, 516, 320, 180),
            R(24, 312, 320, 180),
        ),
        (Corner::TopLeft, R(24, 24, 320, 180), R(24, 228, 320, 180)),
        (
            Corner::TopRight,
            R(936, 24, 320, 180),
            R(936, 228, 320, 180),
        ),
    ];
    for (corner, b, c) in cases {
        let p = plan_ok(
            &scene(pip("a", insets.clone(), corner, 0.25, 24)),
            1280,
            720,
        );
        check_invariants(&p, true);
        assert_eq!(cell(&p, "a"), R(0, 0, 1280, 720), "{corner:?}");
        assert_eq!(cell(&p, "b"), b, "{corner:?}");
        assert_eq!(cell(&p, "c"), c, "{corner:?}");
        let keys: Vec<(&str, i32)> = p.items.iter().map(|i| (i.key.as_str(), i.z)).collect();
        assert_eq!(keys, vec![("input:a", 0), ("input:b", 1), ("input:c", 2)]);
    }
    let p = plan_ok(
        &scene(pip("a", insets, Corner::BottomRight, 0.25, 24)),
        1920,
        1080,
    );
    assert_eq!(cell(&p, "b"), R(1416, 786, 480, 270));
    assert_eq!(cell(&p, "c"), R(1416, 492, 480, 270));
}

#[test]
fn pip_wraps_into_columns_when_the_stack_does_not_fit() {
    for corner in [
        Corner::TopLeft,
        Corner::TopRight,
        Corner::BottomLeft,
        Corner::BottomRight,
    ] {
        for n in 1..=15 {
            let p = plan_ok(&scene(pip("a", ids(n), corner, 0.5, 24)), 1280, 720);
            check_invariants(&p, true);
            assert_eq!(p.items.len(), n + 1);
            let insets: Vec<Rect> = p.items[1..].iter().map(|i| i.cell).collect();
            let size = (insets[0].w, insets[0].h);
            assert!(insets.iter().all(|r| (r.w, r.h) == size));
            for (i, a) in insets.iter().enumerate() {
                for b in &insets[i + 1..] {
                    assert!(!overlap(*a, *b), "{corner:?} n={n}: {a:?} overlaps {b:?}");
                }
            }
        }
    }
    // Four half-width insets: two columns of two, shrunk to 576x324.
    let p = plan_ok(
        &scene(pip("a", ids(4), Corner::TopLeft, 0.5, 24)),
        1280,
        720,
    );
    assert_eq!(cell(&p, "s0"), R(24, 24, 576, 324));
    assert_eq!(cell(&p, "s1"), R(24, 372, 576, 324));
    assert_eq!(cell(&p, "s2"), R(624, 24, 576, 324));
}

// ---------------------------------------------------------------- Custom, overlays, background

#[test]
fn custom_items_rounded_sorted_and_kept_offscreen() {
    let mut a = item("a", R(101, 51, 333, 199));
    a.z = 5;
    a.opacity = 0.5;
    a.corner_radius = 8;
    a.fit = Fit::Contain;
    let mut b = item("b", R(-100, -50, 300, 200));
    b.z = -1;
    let c = item("c", R(1200, 700, 200, 100));
    let p = plan_ok(
        &scene(Layout::Custom {
            items: vec![a, b, c],
        }),
        1280,
        720,
    );
    check_invariants(&p, false);
    let keys: Vec<&str> = p.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, vec!["input:b", "input:c", "input:a"]);
    let ia = item_of(&p, "input:a");
    assert_eq!(ia.cell, R(100, 50, 334, 200));
    assert_eq!(
        (ia.z, ia.opacity, ia.corner_radius, ia.fit),
        (5, 0.5, 8, Fit::Contain)
    );
    assert_eq!(cell(&p, "b"), R(-100, -50, 300, 200));
    assert_eq!(cell(&p, "c"), R(1200, 700, 200, 100));
}

#[test]
fn overlays_and_background_image() {
    let mut s = scene(pk("a", "b"));
    s.background = Background::Image {
        image: "bg".into(),
        color: Rgba::new(1, 2, 3, 0),
    };
    s.overlays = vec![
        Overlay {
            image: "logo".into(),
            rect: R(11, 10, 101, 50),
            opacity: 0.8,
            z: 100,
            fit: Fit::Contain,
        },
        Overlay {
            image: "under".into(),
            rect: R(0, 0, 1280, 720),
            opacity: 1.0,
            z: -5,
            fit: Fit::Stretch,
        },
    ];
    let p = plan_ok(&s, 1281, 721);
    check_invariants(&p, true);
    assert_eq!(p.background, Rgba::new(1, 2, 3, 255));
    let keys: Vec<&str> = p.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "background",
            "overlay:1:under",
            "input:a",
            "input:b",
            "overlay:0:logo"
        ]
    );
    let bg = item_of(&p, "background");
    assert_eq!(bg.content, Content::Image("bg".into()));
    assert_eq!(
        (bg.cell, bg.fit, bg.z, bg.opacity),
        (R(0, 0, 1280, 720), Fit::Cover, i32::MIN, 1.0)
    );
    let logo = item_of(&p, "overlay:0:logo");
    assert_eq!(logo.content, Content::Image("logo".into()));
    assert_eq!(
        (logo.cell, logo.z, logo.opacity, logo.fit),
        (R(10, 10, 102, 50), 100, 0.8, Fit::Contain)
    );
}

#[test]
fn background_colour_alpha_forced_opaque() {
    let mut s = scene(grid(vec![]));
    s.background = Background::Color {
        color: Rgba::new(9, 8, 7, 0),
    };
    assert_eq!(plan_ok(&s, 64, 64).background, Rgba::new(9, 8, 7, 255));
}

// ---------------------------------------------------------------- Even everywhere

fn all_presets() -> Vec<Scene> {
    let mut out = Vec::new();
    for position in [BarPosition::Top, BarPosition::Bottom] {
        for height_frac in [0.0, 0.08, 0.3] {
            out.push(scene(Layout::Pk {
                left: "a".into(),
                right: "b".into(),
                score_bar: ScoreBar {
                    position,
                    height_frac,
                },
                left_partner: None,
                right_partner: None,
                tile_aspect: None,
            }));
        }
    }
    for n in 0..=16 {
        out.push(scene(grid(ids(n))));
        out.push(scene(Layout::Grid {
            inputs: ids(n),
            tile_aspect: (4, 3),
        }));
    }
    for strip in [StripSide::Right, StripSide::Bottom] {
        for n in [0, 1, 3, 15] {
            out.push(scene(spotlight("m", ids(n), strip, 0.1)));
            out.push(scene(spotlight("m", ids(n), strip, 0.5)));
        }
    }
    for corner in [
        Corner::TopLeft,
        Corner::TopRight,
        Corner::BottomLeft,
        Corner::BottomRight,
    ] {
        for n in [1, 2, 7, 15] {
            out.push(scene(pip("m", ids(n), corner, 0.05, 0)));
            out.push(scene(pip("m", ids(n), corner, 0.5, 25)));
        }
    }
    let with_gap: Vec<Scene> = out
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.style.gap = 7;
            s
        })
        .collect();
    out.extend(with_gap);
    out
}

#[test]
fn every_rect_is_even_and_inside_on_any_canvas() {
    let sides = [
        2u32, 3, 4, 5, 7, 16, 33, 100, 359, 641, 720, 721, 1079, 1280, 1281, 1920, 1921,
    ];
    let scenes = all_presets();
    for &w in &sides {
        for &h in &sides {
            for s in &scenes {
                let p = plan_ok(s, w, h);
                check_invariants(&p, true);
            }
            // Custom items anywhere that overlaps: even, not necessarily inside.
            let items = vec![
                item("a", R(-3, -3, 5, 5)),
                item("b", R(w as i32 - 1, h as i32 - 1, 1, 1)),
                item("c", R(1, 1, 3, 7)),
            ];
            let p = plan_ok(&scene(Layout::Custom { items }), w, h);
            check_invariants(&p, false);
        }
    }
}

#[test]
fn huge_canvas_and_huge_rects_do_not_panic() {
    for s in all_presets() {
        let p = plan_ok(&s, u32::MAX, u32::MAX);
        check_invariants(&p, true);
    }
    let items = vec![
        item("a", R(i32::MIN, i32::MIN, u32::MAX, u32::MAX)),
        item("b", R(i32::MAX, 0, 1, 1)),
    ];
    let p = plan_ok(&scene(Layout::Custom { items }), u32::MAX, 720);
    check_invariants(&p, false);
}

// ---------------------------------------------------------------- place()

fn draw(cell: Rect, fit: Fit) -> DrawItem {
    DrawItem {
        key: "input:x".into(),
        content: Content::Input("x".into()),
        cell,
        fit,
        z: 0,
        opacity: 1.0,
        corner_radius: 0,
        border: None,
    }
}

fn close(a: UvRect, b: UvRect) -> bool {
    (a.u - b.u).abs() < 1e-6
        && (a.v - b.v).abs() < 1e-6
        && (a.w - b.w).abs() < 1e-6
        && (a.h - b.h).abs() < 1e-6
}

#[test]
fn place_stretch() {
    let c = R(100, 50, 640, 360);
    let pl = draw(c, Fit::Stretch).place(Size::new(720, 1280));
    assert_eq!(pl.dest, c);
    assert_eq!(pl.crop, UvRect::FULL);
}

#[test]
fn place_contain() {
    let c = R(0, 0, 640, 360);
    let same = draw(c, Fit::Contain).place(Size::new(1920, 1080));
    assert_eq!((same.dest, same.crop), (c, UvRect::FULL));
    let portrait = draw(c, Fit::Contain).place(Size::new(720, 1280));
    assert_eq!(portrait.dest, R(218, 0, 202, 360));
    assert_eq!(portrait.crop, UvRect::FULL);
    let four_three = draw(R(100, 50, 640, 360), Fit::Contain).place(Size::new(640, 480));
    assert_eq!(four_three.dest, R(180, 50, 480, 360));
    let wide = draw(R(0, 0, 640, 360), Fit::Contain).place(Size::new(2400, 1000));
    assert_eq!(wide.dest, R(0, 46, 640, 266));
    assert!(is_even(wide.dest));
}

#[test]
fn place_cover() {
    let c = R(0, 0, 640, 360);
    let portrait = draw(c, Fit::Cover).place(Size::new(720, 1280));
    assert_eq!(portrait.dest, c);
    let want = UvRect {
        u: 0.0,
        v: 175.0 / 512.0,
        w: 1.0,
        h: 81.0 / 256.0,
    };
    assert!(close(portrait.crop, want), "{:?}", portrait.crop);
    let four_three = draw(c, Fit::Cover).place(Size::new(640, 480));
    assert!(close(
        four_three.crop,
        UvRect {
            u: 0.0,
            v: 0.125,
            w: 1.0,
            h: 0.75
        }
    ));
    let wide = draw(c, Fit::Cover).place(Size::new(1920, 800));
    let w = (16.0 / 9.0) / 2.4;
    assert!(
        close(
            wide.crop,
            UvRect {
                u: (1.0 - w) / 2.0,
                v: 0.0,
                w,
                h: 1.0
            }
        ),
        "{:?}",
        wide.crop
    );
    let same = draw(c, Fit::Cover).place(Size::new(1280, 720));
    assert!(close(same.crop, UvRect::FULL));
}

#[test]
fn place_zero_source_is_stretch() {
    let c = R(10, 20, 64, 36);
    for fit in [Fit::Contain, Fit::Cover, Fit::Stretch] {
        for src in [Size::new(0, 0), Size::new(0, 720), Size::new(1280, 0)] {
            let pl = draw(c, fit).place(src);
            assert_eq!((pl.dest, pl.crop), (c, UvRect::FULL));
        }
    }
}

#[test]
fn place_contain_always_even_and_inside() {
    for cw in [2u32, 4, 6, 100, 640, 1280] {
        for ch in [2u32, 4, 6, 100, 360, 720] {
            for (sw, sh) in [
                (1, 1),
                (1920, 1080),
                (1080, 1920),
                (3, 1000),
                (1000, 3),
                (u32::MAX, 1),
            ] {
                let c = R(8, 4, cw, ch);
                let pl = draw(c, Fit::Contain).place(Size::new(sw, sh));
                assert!(is_even(pl.dest), "{c:?} {sw}x{sh}: {:?}", pl.dest);
                assert!(pl.dest.x >= c.x && pl.dest.y >= c.y);
                assert!(pl.dest.x + pl.dest.w as i32 <= c.x + c.w as i32);
                assert!(pl.dest.y + pl.dest.h as i32 <= c.y + c.h as i32);
                let cover = draw(c, Fit::Cover).place(Size::new(sw, sh)).crop;
                for v in [cover.u, cover.v, cover.w, cover.h] {
                    assert!((0.0..=1.0).contains(&v), "{cover:?}");
                }
            }
        }
    }
}
