//! Validation, easing, interpolation, the engine over time and the serde model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use layouts::*;

const R: fn(i32, i32, u32, u32) -> Rect = Rect::new;
const HD: Size = Size::new(1280, 720);

fn err(s: &Scene) -> LayoutError {
    plan(s, HD).expect_err("scene should be refused")
}

// ---------------------------------------------------------------- Validation

#[test]
fn bad_canvas() {
    let s = scene(pk("a", "b"));
    for (w, h) in [(0, 0), (0, 720), (1280, 0), (1, 720), (1280, 1)] {
        assert_eq!(
            plan(&s, Size::new(w, h)),
            Err(LayoutError::BadCanvas { w, h })
        );
    }
    assert!(plan(&s, Size::new(2, 2)).is_ok());
    assert!(LayoutEngine::new(Size::new(0, 0), s).is_err());
}

#[test]
fn too_many_and_too_few_sources() {
    assert_eq!(
        err(&scene(grid(ids(17)))),
        LayoutError::TooManySources {
            field: "layout.inputs",
            got: 17,
            max: 16
        }
    );
    assert!(plan(&scene(grid(ids(16))), HD).is_ok());
    assert_eq!(
        err(&scene(spotlight("m", ids(16), StripSide::Right, 0.25))),
        LayoutError::TooManySources {
            field: "layout.others",
            got: 16,
            max: 15
        }
    );
    let items: Vec<CustomItem> = (0..17)
        .map(|i| item(&format!("s{i}"), R(0, 0, 10, 10)))
        .collect();
    assert!(matches!(
        err(&scene(Layout::Custom { items })),
        LayoutError::TooManySources { got: 17, .. }
    ));
    assert_eq!(
        err(&scene(pip("m", vec![], Corner::TopLeft, 0.25, 24))),
        LayoutError::TooFewSources {
            field: "layout.insets",
            got: 0,
            min: 1
        }
    );
    assert!(matches!(
        err(&scene(pip("m", ids(16), Corner::TopLeft, 0.25, 24))),
        LayoutError::TooManySources {
            field: "layout.insets",
            got: 16,
            max: 15
        }
    ));
}

#[test]
fn not_finite() {
    for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        assert_eq!(
            err(&scene(spotlight("m", ids(2), StripSide::Right, v))),
            LayoutError::NotFinite {
                field: "layout.strip_frac".into()
            }
        );
        let mut it = item("a", R(0, 0, 10, 10));
        it.opacity = v;
        assert_eq!(
            err(&scene(Layout::Custom {
                items: vec![item("b", R(0, 0, 2, 2)), it]
            })),
            LayoutError::NotFinite {
                field: "layout.items[1].opacity".into()
            }
        );
        let mut s = scene(grid(ids(1)));
        s.overlays.push(Overlay {
            image: "logo".into(),
            rect: R(0, 0, 10, 10),
            opacity: v,
            z: 1,
            fit: Fit::Contain,
        });
        assert_eq!(
            err(&s),
            LayoutError::NotFinite {
                field: "overlays[0].opacity".into()
            }
        );
    }
    let nan_bar = Layout::Pk {
        left: "a".into(),
        right: "b".into(),
        score_bar: ScoreBar {
            position: BarPosition::Top,
            height_frac: f32::NAN,
        },
        left_partner: None,
        right_partner: None,
        tile_aspect: None,
    };
    let e = err(&scene(nan_bar));
    assert_eq!(
        e.to_string(),
        "layout.score_bar.height_frac must be a finite number"
    );
    assert_eq!(
        err(&scene(pip("m", ids(1), Corner::TopLeft, f32::NAN, 24))),
        LayoutError::NotFinite {
            field: "layout.size_frac".into()
        }
    );
}

#[test]
fn out_of_range_names_field_and_bounds() {
    let e = err(&scene(spotlight("m", ids(2), StripSide::Right, 0.6)));
    assert_eq!(
        e.to_string(),
        "layout.strip_frac = 0.6 is out of range 0.1..=0.5"
    );
    let e = err(&scene(pip("m", ids(1), Corner::TopLeft, 0.01, 24)));
    assert_eq!(
        e.to_string(),
        "layout.size_frac = 0.01 is out of range 0.05..=0.5"
    );
    let bar = |height_frac| Layout::Pk {
        left: "a".into(),
        right: "b".into(),
        score_bar: ScoreBar {
            position: BarPosition::Top,
            height_frac,
        },
        left_partner: None,
        right_partner: None,
        tile_aspect: None,
    };
    let e = err(&scene(bar(0.31)));
    assert_eq!(
        e.to_string(),
        "layout.score_bar.height_frac = 0.31 is out of range 0..=0.3"
    );
    assert!(matches!(
        err(&scene(bar(-0.01))),
        LayoutError::OutOfRange { .. }
    ));
    // Bounds are inclusive.
    assert!(plan(&scene(bar(0.3)), HD).is_ok());
    assert!(plan(&scene(spotlight("m", ids(2), StripSide::Right, 0.1)), HD).is_ok());
    assert!(plan(&scene(spotlight("m", ids(2), StripSide::Right, 0.5)), HD).is_ok());
    assert!(plan(&scene(pip("m", ids(1), Corner::TopLeft, 0.05, 24)), HD).is_ok());
    assert!(plan(&scene(pip("m", ids(1), Corner::TopLeft, 0.5, 24)), HD).is_ok());

    let mut s = scene(grid(ids(2)));
    s.style.gap = 300;
    assert_eq!(
        err(&s).to_string(),
        "style.gap = 300 is out of range 0..=256"
    );
    s.style.gap = 256;
    s.style.corner_radius = 513;
    assert_eq!(
        err(&s),
        LayoutError::OutOfRange {
            field: "style.corner_radius".into(),
            got: 513.0,
            min: 0.0,
            max: 512.0
        }
    );
    s.style.corner_radius = 0;
    s.style.border = Some(Border {
        width: 65,
        color: Rgba::BLACK,
    });
    assert!(err(&s).to_string().starts_with("style.border.width = 65"));

    let mut it = item("a", R(0, 0, 10, 10));
    it.opacity = 1.5;
    assert!(
        err(&scene(Layout::Custom { items: vec![it] }))
            .to_string()
            .contains("layout.items[0].opacity")
    );
    let e = err(&scene(Layout::Grid {
        inputs: ids(2),
        tile_aspect: (0, 9),
    }));
    assert!(e.to_string().contains("layout.tile_aspect.0"), "{e}");
}

#[test]
fn bad_rects() {
    for r in [
        R(0, 0, 0, 10),
        R(0, 0, 10, 0),
        R(1280, 0, 10, 10),
        R(0, 720, 10, 10),
        R(-10, 0, 10, 10),
        R(0, -10, 10, 10),
    ] {
        assert_eq!(
            err(&scene(Layout::Custom {
                items: vec![item("a", r)]
            })),
            LayoutError::BadRect {
                field: "layout.items[0].rect".into(),
                x: r.x,
                y: r.y,
                w: r.w,
                h: r.h
            }
        );
        let mut s = scene(grid(ids(1)));
        s.overlays.push(Overlay {
            image: "logo".into(),
            rect: r,
            opacity: 1.0,
            z: 1,
            fit: Fit::Contain,
        });
        assert!(
            matches!(err(&s), LayoutError::BadRect { ref field, .. } if field == "overlays[0].rect")
        );
    }
    // Touching the canvas by one pixel is enough.
    assert!(
        plan(
            &scene(Layout::Custom {
                items: vec![item("a", R(-9, -9, 10, 10))]
            }),
            HD
        )
        .is_ok()
    );
    assert!(
        plan(
            &scene(Layout::Custom {
                items: vec![item("a", R(1279, 719, 1, 1))]
            }),
            HD
        )
        .is_ok()
    );
}

#[test]
fn empty_ids() {
    let e = err(&scene(grid(vec!["a".into(), "b".into(), String::new()])));
    assert_eq!(
        e,
        LayoutError::EmptyId {
            field: "layout.inputs[2]".into()
        }
    );
    assert_eq!(e.to_string(), "layout.inputs[2] must not be empty");
    assert_eq!(
        err(&scene(pk("", "b"))),
        LayoutError::EmptyId {
            field: "layout.left".into()
        }
    );
    assert_eq!(
        err(&scene(pk("a", ""))),
        LayoutError::EmptyId {
            field: "layout.right".into()
        }
    );
    assert_eq!(
        err(&scene(spotlight("", ids(1), StripSide::Right, 0.25))),
        LayoutError::EmptyId {
            field: "layout.main".into()
        }
    );
    assert_eq!(
        err(&scene(Layout::Custom {
            items: vec![item("", R(0, 0, 10, 10))]
        })),
        LayoutError::EmptyId {
            field: "layout.items[0].input".into()
        }
    );
    let mut s = scene(grid(ids(1)));
    s.overlays.push(Overlay {
        image: String::new(),
        rect: R(0, 0, 10, 10),
        opacity: 1.0,
        z: 1,
        fit: Fit::Contain,
    });
    assert_eq!(
        err(&s),
        LayoutError::EmptyId {
            field: "overlays[0].image".into()
        }
    );
    let mut s = scene(grid(ids(1)));
    s.background = Background::Image {
        image: String::new(),
        color: Rgba::BLACK,
    };
    assert_eq!(
        err(&s),
        LayoutError::EmptyId {
            field: "background.image".into()
        }
    );
}

#[test]
fn duplicate_inputs() {
    let dup = LayoutError::DuplicateInput { id: "a".into() };
    assert_eq!(err(&scene(pk("a", "a"))), dup);
    assert_eq!(
        err(&scene(grid(vec!["a".into(), "b".into(), "a".into()]))),
        dup
    );
    assert_eq!(
        err(&scene(spotlight(
            "a",
            vec!["b".into(), "a".into()],
            StripSide::Right,
            0.25
        ))),
        dup
    );
    assert_eq!(
        err(&scene(pip(
            "a",
            vec!["a".into()],
            Corner::TopLeft,
            0.25,
            24
        ))),
        dup
    );
    let items = vec![item("a", R(0, 0, 10, 10)), item("a", R(20, 0, 10, 10))];
    assert_eq!(err(&scene(Layout::Custom { items })), dup);
    assert_eq!(
        dup.to_string(),
        "input \"a\" appears more than once in the layout"
    );
}

#[test]
fn the_whole_scene_is_validated() {
    // A valid layout with an invalid style, background or overlay is refused.
    let mut s = scene(pk("a", "b"));
    s.overlays.push(Overlay {
        image: "x".into(),
        rect: R(0, 0, 10, 10),
        opacity: 2.0,
        z: 1,
        fit: Fit::Contain,
    });
    assert!(plan(&s, HD).is_err());
    // Style is validated even for custom layouts that do not use it.
    let mut s = scene(Layout::Custom { items: vec![] });
    s.style.gap = 1000;
    assert!(plan(&s, HD).is_err());
}

// ---------------------------------------------------------------- Easing

fn curves() -> Vec<Easing> {
    vec![
        Easing::Linear,
        Easing::EaseInOut,
        Easing::CubicBezier {
            x1: 0.42,
            y1: 0.0,
            x2: 0.58,
            y2: 1.0,
        },
        Easing::CubicBezier {
            x1: 0.25,
            y1: 0.1,
            x2: 0.25,
            y2: 1.0,
        },
        Easing::CubicBezier {
            x1: 0.0,
            y1: 1.0,
            x2: 1.0,
            y2: 0.0,
        },
        Easing::CubicBezier {
            x1: 1.0,
            y1: 0.0,
            x2: 0.0,
            y2: 1.0,
        },
        Easing::CubicBezier {
            x1: 0.0,
            y1: 0.0,
            x2: 1.0,
            y2: 1.0,
        },
    ]
}

#[test]
fn easing_endpoints_and_clamping() {
    for e in curves() {
        assert_eq!(e.apply(0.0), 0.0, "{e:?}");
        assert_eq!(e.apply(1.0), 1.0, "{e:?}");
        assert_eq!(e.apply(-3.0), 0.0, "{e:?}");
        assert_eq!(e.apply(7.0), 1.0, "{e:?}");
        assert_eq!(e.apply(f32::NAN), 0.0, "{e:?}");
        assert_eq!(e.apply(f32::INFINITY), 1.0, "{e:?}");
    }
}

#[test]
fn easing_is_monotonic() {
    for e in curves() {
        let mut prev = 0.0f32;
        for i in 0..=1000 {
            let v = e.apply(i as f32 / 1000.0);
            assert!(
                v.is_finite() && (0.0..=1.0).contains(&v),
                "{e:?} at {i}: {v}"
            );
            assert!(
                v >= prev - 1e-6,
                "{e:?} not monotonic at {i}: {prev} -> {v}"
            );
            prev = v;
        }
    }
}

#[test]
fn easing_known_values() {
    assert_eq!(Easing::Linear.apply(0.3), 0.3);
    assert_eq!(Easing::EaseInOut.apply(0.25), 0.0625);
    assert_eq!(Easing::EaseInOut.apply(0.5), 0.5);
    assert_eq!(Easing::EaseInOut.apply(0.75), 0.9375);
    let linear = Easing::CubicBezier {
        x1: 0.0,
        y1: 0.0,
        x2: 1.0,
        y2: 1.0,
    };
    for i in 0..=100 {
        let t = i as f32 / 100.0;
        assert!((linear.apply(t) - t).abs() < 1e-5, "{t}");
    }
    // CSS ease-in-out is symmetric: 0.5 at the midpoint.
    let ease_in_out = Easing::CubicBezier {
        x1: 0.42,
        y1: 0.0,
        x2: 0.58,
        y2: 1.0,
    };
    assert!((ease_in_out.apply(0.5) - 0.5).abs() < 1e-5);
    assert!((ease_in_out.apply(0.25) + ease_in_out.apply(0.75) - 1.0).abs() < 1e-5);
    // CSS `ease` at 0.5 ≈ 0.8024.
    let ease = Easing::CubicBezier {
        x1: 0.25,
        y1: 0.1,
        x2: 0.25,
        y2: 1.0,
    };
    assert!(
        (ease.apply(0.5) - 0.8024).abs() < 1e-3,
        "{}",
        ease.apply(0.5)
    );
    // Unvalidated bad parameters never panic and stay at the endpoints.
    let bad = Easing::CubicBezier {
        x1: f32::NAN,
        y1: 0.0,
        x2: 5.0,
        y2: 1.0,
    };
    assert_eq!(bad.apply(0.4), 0.4);
    assert_eq!(bad.apply(1.0), 1.0);
}

// ---------------------------------------------------------------- interpolate

fn custom(items: Vec<CustomItem>) -> FramePlan {
    plan_ok(&scene(Layout::Custom { items }), 1280, 720)
}

#[test]
fn interpolate_moves_and_fades() {
    let from = custom(vec![
        item("a", R(0, 0, 200, 100)),
        item("b", R(600, 0, 100, 100)),
    ]);
    let to = custom(vec![
        item("a", R(400, 200, 400, 300)),
        item("c", R(0, 600, 100, 100)),
    ]);
    let mid = interpolate(&from, &to, 0.5);
    check_invariants(&mid, true);
    assert_eq!(cell(&mid, "a"), R(200, 100, 300, 200));
    assert_eq!(item_of(&mid, "input:b").opacity, 0.5);
    assert_eq!(cell(&mid, "b"), R(600, 0, 100, 100));
    assert_eq!(item_of(&mid, "input:c").opacity, 0.5);
    assert_eq!(cell(&mid, "c"), R(0, 600, 100, 100));

    let q = interpolate(&from, &to, 0.25);
    assert_eq!(item_of(&q, "input:b").opacity, 0.75);
    assert_eq!(item_of(&q, "input:c").opacity, 0.25);
    assert_eq!(cell(&q, "a"), R(100, 50, 250, 150));

    // Endpoints: faded-out items are left out; t = 1 is exactly `to`.
    assert_eq!(interpolate(&from, &to, 1.0), to);
    assert_eq!(interpolate(&from, &to, 5.0), to);
    let start = interpolate(&from, &to, 0.0);
    assert_eq!(cells(&start), cells(&from));
    assert_eq!(interpolate(&from, &to, f32::NAN), start);
    assert_eq!(interpolate(&from, &to, -1.0), start);
}

#[test]
fn interpolate_is_even_at_every_step() {
    let from = plan_ok(&scene(pk("a", "b")), 1281, 721);
    let to = plan_ok(
        &scene(grid(vec!["b".into(), "c".into(), "a".into()])),
        1281,
        721,
    );
    for i in 0..=97 {
        let p = interpolate(&from, &to, i as f32 / 97.0);
        check_invariants(&p, true);
        assert_eq!(p.regions, to.regions);
        assert_eq!(p.canvas, to.canvas);
    }
}

#[test]
fn interpolate_styles_background_and_order() {
    let mut a = item("a", R(0, 0, 100, 100));
    a.opacity = 0.2;
    a.z = 3;
    a.fit = Fit::Contain;
    let mut b = a.clone();
    b.opacity = 1.0;
    b.z = -2;
    b.corner_radius = 20;
    b.fit = Fit::Stretch;
    b.border = Some(Border {
        width: 4,
        color: Rgba::new(200, 100, 0, 255),
    });
    let mut s_from = scene(Layout::Custom {
        items: vec![a, item("x", R(0, 0, 10, 10))],
    });
    s_from.background = Background::Color {
        color: Rgba::new(0, 0, 0, 255),
    };
    let mut s_to = scene(Layout::Custom {
        items: vec![b, item("x", R(0, 0, 10, 10))],
    });
    s_to.background = Background::Color {
        color: Rgba::new(200, 100, 50, 255),
    };
    let from = plan_ok(&s_from, 1280, 720);
    let to = plan_ok(&s_to, 1280, 720);
    let mid = interpolate(&from, &to, 0.5);
    assert_eq!(mid.background, Rgba::new(100, 50, 25, 255));
    let ia = item_of(&mid, "input:a");
    assert!((ia.opacity - 0.6).abs() < 1e-6);
    assert_eq!((ia.z, ia.fit, ia.corner_radius), (-2, Fit::Stretch, 10));
    assert_eq!(
        ia.border,
        Some(Border {
            width: 2,
            color: Rgba::new(200, 100, 0, 255)
        })
    );
    // z from `to`: a (-2) is now below x (0).
    let keys: Vec<&str> = mid.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, vec!["input:a", "input:x"]);
}

// ---------------------------------------------------------------- Engine

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn linear(duration_ms: u32) -> Option<Transition> {
    Some(Transition {
        duration_ms,
        easing: Easing::Linear,
    })
}

fn max_cell_delta(a: &FramePlan, b: &FramePlan) -> i64 {
    let (ca, cb) = (cells(a), cells(b));
    let mut worst = 0;
    for (k, ra) in &ca {
        if let Some(rb) = cb.get(k) {
            let d = [
                i64::from(ra.x) - i64::from(rb.x),
                i64::from(ra.y) - i64::from(rb.y),
                i64::from(ra.w) - i64::from(rb.w),
                i64::from(ra.h) - i64::from(rb.h),
            ];
            worst = d.iter().map(|v| v.abs()).max().unwrap_or(0).max(worst);
        }
    }
    worst
}

#[test]
fn engine_cut_and_transition() {
    let a = scene(Layout::Custom {
        items: vec![item("a", R(0, 0, 200, 100))],
    });
    let b = scene(Layout::Custom {
        items: vec![item("a", R(400, 200, 400, 300))],
    });
    let mut e = LayoutEngine::new(HD, a.clone()).unwrap();
    assert_eq!(e.canvas(), HD);
    assert_eq!(e.plan_at(ms(0)), plan_ok(&a, 1280, 720));
    assert!(!e.in_transition(ms(0)));

    e.set_scene(b.clone(), linear(1000), ms(1000)).unwrap();
    assert_eq!(e.scene(), &b);
    assert!(e.in_transition(ms(1500)));
    assert!(!e.in_transition(ms(2000)));
    assert_eq!(cell(&e.plan_at(ms(500)), "a"), R(0, 0, 200, 100)); // before the start
    assert_eq!(cell(&e.plan_at(ms(1000)), "a"), R(0, 0, 200, 100));
    assert_eq!(cell(&e.plan_at(ms(1500)), "a"), R(200, 100, 300, 200));
    assert_eq!(e.plan_at(ms(2000)), plan_ok(&b, 1280, 720));
    assert_eq!(e.plan_at(ms(90_000)), plan_ok(&b, 1280, 720));

    // No transition, or 0 ms: a cut.
    e.set_scene(a.clone(), None, ms(3000)).unwrap();
    assert_eq!(e.plan_at(ms(3000)), plan_ok(&a, 1280, 720));
    assert!(!e.in_transition(ms(3000)));
    e.set_scene(b.clone(), linear(0), ms(4000)).unwrap();
    assert_eq!(e.plan_at(ms(4000)), plan_ok(&b, 1280, 720));
}

#[test]
fn engine_fades() {
    let a = scene(pk("a", "b"));
    let b = scene(pk("a", "c"));
    let mut e = LayoutEngine::new(HD, a).unwrap();
    e.set_scene(b, linear(1000), ms(0)).unwrap();
    let p = e.plan_at(ms(250));
    assert_eq!(item_of(&p, "input:b").opacity, 0.75);
    assert_eq!(item_of(&p, "input:c").opacity, 0.25);
    assert_eq!(item_of(&p, "input:a").opacity, 1.0);
    let p = e.plan_at(ms(1000));
    assert!(p.items.iter().all(|i| i.key != "input:b"));
}

#[test]
fn engine_change_mid_transition_does_not_jump() {
    let a = scene(pk("a", "b"));
    let b = scene(grid(vec!["a".into(), "b".into(), "c".into()]));
    let c = scene(pip("c", vec!["a".into()], Corner::BottomRight, 0.25, 24));
    for easing in curves() {
        let mut e = LayoutEngine::new(HD, a.clone()).unwrap();
        e.set_scene(
            b.clone(),
            Some(Transition {
                duration_ms: 1000,
                easing,
            }),
            ms(0),
        )
        .unwrap();
        let before = e.plan_at(ms(400));
        let just_before = e.plan_at(ms(399));
        e.set_scene(
            c.clone(),
            Some(Transition {
                duration_ms: 800,
                easing,
            }),
            ms(400),
        )
        .unwrap();
        let after = e.plan_at(ms(400));
        let just_after = e.plan_at(ms(401));
        // At the change the picture is exactly where it was.
        assert_eq!(cells(&after), cells(&before), "{easing:?}");
        for it in &before.items {
            if let Some(o) = after.items.iter().find(|x| x.key == it.key) {
                assert!(
                    (o.opacity - it.opacity).abs() < 1e-6,
                    "{easing:?} {}",
                    it.key
                );
            }
        }
        // One millisecond either side moves at most 2 px (for curves without vertical
        // tangents; (0, 1, 1, 0) legitimately jumps at its ends).
        let steep = matches!(easing, Easing::CubicBezier { x1, y1, .. } if x1 == 0.0 && y1 == 1.0);
        if !steep {
            assert!(max_cell_delta(&just_before, &just_after) <= 2, "{easing:?}");
            assert!(max_cell_delta(&after, &just_after) <= 2, "{easing:?}");
        }
        assert_eq!(e.plan_at(ms(1200)), plan_ok(&c, 1280, 720));
        check_invariants(&e.plan_at(ms(700)), true);
    }
}

#[test]
fn engine_refuses_invalid_changes_and_keeps_state() {
    let a = scene(pk("a", "b"));
    let b = scene(grid(ids(4)));
    let mut e = LayoutEngine::new(HD, a).unwrap();
    e.set_scene(b.clone(), linear(1000), ms(0)).unwrap();
    let snapshot: Vec<FramePlan> = (0..=12).map(|i| e.plan_at(ms(i * 100))).collect();

    let check = |e: &LayoutEngine| {
        assert_eq!(e.scene(), &b);
        assert!(e.in_transition(ms(500)));
        for (i, p) in snapshot.iter().enumerate() {
            assert_eq!(&e.plan_at(ms(i as u64 * 100)), p);
        }
    };
    let bad_scene = scene(grid(ids(17)));
    assert!(e.set_scene(bad_scene, linear(500), ms(500)).is_err());
    check(&e);
    assert!(e.set_scene(scene(pk("x", "x")), None, ms(500)).is_err());
    check(&e);
    let good = scene(pk("x", "y"));
    let e1 = e
        .set_scene(good.clone(), linear(10_001), ms(500))
        .unwrap_err();
    assert_eq!(
        e1.to_string(),
        "transition.duration_ms = 10001 is out of range 0..=10000"
    );
    check(&e);
    let bez = |x1, y1| {
        Some(Transition {
            duration_ms: 300,
            easing: Easing::CubicBezier {
                x1,
                y1,
                x2: 0.5,
                y2: 1.0,
            },
        })
    };
    assert!(matches!(
        e.set_scene(good.clone(), bez(1.5, 0.0), ms(500)),
        Err(LayoutError::OutOfRange { ref field, .. }) if field == "transition.easing.x1"
    ));
    assert_eq!(
        e.set_scene(good.clone(), bez(0.5, f32::NAN), ms(500)),
        Err(LayoutError::NotFinite {
            field: "transition.easing.y1".into()
        })
    );
    check(&e);
    // y may overshoot; x at the bounds is fine.
    assert!(e.set_scene(good, bez(1.0, 2.0), ms(500)).is_ok());
}

#[test]
fn engine_extreme_times_do_not_panic() {
    let mut e = LayoutEngine::new(HD, scene(pk("a", "b"))).unwrap();
    e.set_scene(scene(grid(ids(2))), linear(10_000), Duration::MAX)
        .unwrap();
    assert!(e.in_transition(Duration::MAX));
    let _ = e.plan_at(Duration::ZERO);
    let _ = e.plan_at(Duration::MAX);
}

// ---------------------------------------------------------------- serde

#[test]
fn serde_round_trip() {
    let mut s = scene(spotlight("a", ids(3), StripSide::Bottom, 0.3));
    s.style = Style {
        gap: 8,
        corner_radius: 12,
        border: Some(Border {
            width: 2,
            color: Rgba::new(255, 255, 255, 255),
        }),
        fit: Fit::Contain,
    };
    s.background = Background::Image {
        image: "bg".into(),
        color: Rgba::new(1, 2, 3, 255),
    };
    s.overlays.push(Overlay {
        image: "logo".into(),
        rect: R(10, 10, 100, 50),
        opacity: 0.5,
        z: 7,
        fit: Fit::Stretch,
    });
    let layouts = vec![
        s.layout.clone(),
        pk("a", "b"),
        grid(ids(5)),
        pip("m", ids(2), Corner::TopLeft, 0.2, 16),
        Layout::Custom {
            items: vec![item("a", R(-4, 2, 30, 40))],
        },
    ];
    for layout in layouts {
        let s = Scene {
            layout,
            ..s.clone()
        };
        let json = serde_json::to_string(&s).unwrap();
        let back: Scene = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s, "{json}");
    }
    let t = Transition {
        duration_ms: 300,
        easing: Easing::CubicBezier {
            x1: 0.42,
            y1: 0.0,
            x2: 0.58,
            y2: 1.0,
        },
    };
    let back: Transition = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(back, t);
    let p = plan_ok(&s, 1280, 720);
    let back: FramePlan = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}

#[test]
fn serde_hand_written_json() {
    let s: Scene =
        serde_json::from_str(r#"{"layout":{"type":"pk","left":"a","right":"b"}}"#).unwrap();
    assert_eq!(s, scene(pk("a", "b")));
    let p = plan(&s, HD).unwrap();
    assert_eq!(cell(&p, "a"), R(0, 58, 640, 662));

    let s: Scene = serde_json::from_str(
        r#"{
            "layout": {"type": "grid", "inputs": ["a", "b", "c"]},
            "style": {"gap": 4, "fit": "contain"},
            "background": {"type": "image", "image": "stage"},
            "overlays": [{"image": "logo", "rect": {"x": 20, "y": 20, "w": 120, "h": 60}}]
        }"#,
    )
    .unwrap();
    assert_eq!(
        s.layout,
        Layout::Grid {
            inputs: vec!["a".into(), "b".into(), "c".into()],
            tile_aspect: (16, 9)
        }
    );
    assert_eq!(s.style.gap, 4);
    assert_eq!(s.style.fit, Fit::Contain);
    assert_eq!(
        s.background,
        Background::Image {
            image: "stage".into(),
            color: Rgba::new(16, 16, 24, 255)
        }
    );
    assert_eq!(s.overlays[0].z, 100);
    assert_eq!(s.overlays[0].opacity, 1.0);
    assert_eq!(s.overlays[0].fit, Fit::Contain);
    assert!(plan(&s, HD).is_ok());

    let s: Scene = serde_json::from_str(
        r#"{"layout":{"type":"spotlight","main":"m","others":["x"],"strip":"bottom"}}"#,
    )
    .unwrap();
    assert_eq!(
        s.layout,
        spotlight("m", vec!["x".into()], StripSide::Bottom, 0.25)
    );
    let s: Scene = serde_json::from_str(
        r#"{"layout":{"type":"pip","main":"m","insets":["x"],"corner":"top_left"}}"#,
    )
    .unwrap();
    assert_eq!(
        s.layout,
        pip("m", vec!["x".into()], Corner::TopLeft, 0.25, 24)
    );
    let s: Scene = serde_json::from_str(
        r#"{"layout":{"type":"pk","left":"a","right":"b","score_bar":{"position":"bottom","height_frac":0.1}}}"#,
    )
    .unwrap();
    assert!(matches!(
        s.layout,
        Layout::Pk {
            score_bar: ScoreBar {
                position: BarPosition::Bottom,
                ..
            },
            ..
        }
    ));
    let t: Transition = serde_json::from_str(r#"{"duration_ms":500}"#).unwrap();
    assert_eq!(
        t,
        Transition {
            duration_ms: 500,
            easing: Easing::EaseInOut
        }
    );
    let t: Transition =
        serde_json::from_str(r#"{"duration_ms":500,"easing":{"type":"linear"}}"#).unwrap();
    assert_eq!(t.easing, Easing::Linear);
    assert!(serde_json::from_str::<Scene>(r#"{"layout":{"type":"hexagon"}}"#).is_err());
}

#[test]
fn plan_at_into_matches_plan_at_and_copy_from_is_exact() {
    use layouts::{Easing, FramePlan, Layout, LayoutEngine, Scene, Size, Transition};
    use std::time::Duration;
    let canvas = Size::new(1280, 720);
    let scene = |ids: &[&str]| Scene {
        layout: Layout::Grid {
            inputs: ids.iter().map(|s| s.to_string()).collect(),
            tile_aspect: (16, 9),
        },
        style: Default::default(),
        background: Default::default(),
        overlays: vec![],
        name_tags: None,
    };
    let mut e = LayoutEngine::new(canvas, scene(&["a", "b", "c"])).unwrap();
    let mut out = FramePlan {
        canvas,
        background: layouts::Rgba::BLACK,
        items: vec![],
        regions: vec![],
    };
    e.plan_at_into(Duration::ZERO, &mut out);
    assert_eq!(out, e.plan_at(Duration::ZERO));
    // Fewer items, then a transition midpoint, then the settled target.
    e.set_scene(
        scene(&["b"]),
        Some(Transition {
            duration_ms: 1000,
            easing: Easing::Linear,
        }),
        Duration::from_secs(1),
    )
    .unwrap();
    for ms in [500, 1000, 1500, 2000, 2500] {
        let t = Duration::from_millis(ms);
        e.plan_at_into(t, &mut out);
        assert_eq!(out, e.plan_at(t), "at {ms} ms");
    }
}
