//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use layouts::*;

/// A scene with default style, background and no overlays.
pub fn scene(layout: Layout) -> Scene {
    Scene {
        layout,
        style: Style::default(),
        background: Background::default(),
        overlays: Vec::new(),
        name_tags: None,
    }
}

/// Input ids `s0`, `s1`, ….
pub fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("s{i}")).collect()
}

/// A PK layout with the default score bar.
pub fn pk(left: &str, right: &str) -> Layout {
    Layout::Pk {
        left: left.into(),
        right: right.into(),
        score_bar: ScoreBar::default(),
        left_partner: None,
        right_partner: None,
        tile_aspect: None,
    }
}

/// A 16:9 grid.
pub fn grid(inputs: Vec<String>) -> Layout {
    Layout::Grid {
        inputs,
        tile_aspect: (16, 9),
    }
}

/// A spotlight layout.
pub fn spotlight(main: &str, others: Vec<String>, strip: StripSide, strip_frac: f32) -> Layout {
    Layout::Spotlight {
        main: main.into(),
        others,
        strip,
        strip_frac,
    }
}

/// A PiP layout.
pub fn pip(main: &str, insets: Vec<String>, corner: Corner, size_frac: f32, margin: u32) -> Layout {
    Layout::Pip {
        main: main.into(),
        insets,
        corner,
        size_frac,
        margin,
    }
}

/// A custom item with defaults.
pub fn item(input: &str, rect: Rect) -> CustomItem {
    CustomItem {
        input: input.into(),
        rect,
        fit: Fit::Cover,
        z: 0,
        opacity: 1.0,
        corner_radius: 0,
        border: None,
    }
}

/// Plans or panics with the error.
pub fn plan_ok(s: &Scene, w: u32, h: u32) -> FramePlan {
    plan(s, Size::new(w, h)).unwrap_or_else(|e| panic!("plan failed on {w}x{h}: {e}"))
}

/// Cells by key.
pub fn cells(p: &FramePlan) -> HashMap<String, Rect> {
    p.items.iter().map(|i| (i.key.clone(), i.cell)).collect()
}

/// The cell of `input:{id}`.
pub fn cell(p: &FramePlan, id: &str) -> Rect {
    let key = format!("input:{id}");
    p.items
        .iter()
        .find(|i| i.key == key)
        .unwrap_or_else(|| panic!("no item {key} in {:?}", p.items))
        .cell
}

/// The item with `key`.
pub fn item_of<'a>(p: &'a FramePlan, key: &str) -> &'a DrawItem {
    p.items
        .iter()
        .find(|i| i.key == key)
        .unwrap_or_else(|| panic!("no item {key}"))
}

/// Whether a rect is even with w, h >= 2.
pub fn is_even(r: Rect) -> bool {
    r.x % 2 == 0
        && r.y % 2 == 0
        && r.w.is_multiple_of(2)
        && r.h.is_multiple_of(2)
        && r.w >= 2
        && r.h >= 2
}

/// Whether `r` lies inside a `w`×`h` canvas.
pub fn inside(r: Rect, w: u32, h: u32) -> bool {
    r.x >= 0
        && r.y >= 0
        && i64::from(r.x) + i64::from(r.w) <= i64::from(w)
        && i64::from(r.y) + i64::from(r.h) <= i64::from(h)
}

/// Whether two rects share any pixel.
pub fn overlap(a: Rect, b: Rect) -> bool {
    let (ax1, ay1) = (
        i64::from(a.x) + i64::from(a.w),
        i64::from(a.y) + i64::from(a.h),
    );
    let (bx1, by1) = (
        i64::from(b.x) + i64::from(b.w),
        i64::from(b.y) + i64::from(b.h),
    );
    i64::from(a.x) < bx1 && i64::from(b.x) < ax1 && i64::from(a.y) < by1 && i64::from(b.y) < ay1
}

/// Checks the plan invariants: even rects, z sorted; `contained`: every cell and region
/// inside the canvas.
pub fn check_invariants(p: &FramePlan, contained: bool) {
    let (w, h) = (p.canvas.w, p.canvas.h);
    for it in &p.items {
        assert!(
            is_even(it.cell),
            "{w}x{h}: odd/empty cell {:?} for {}",
            it.cell,
            it.key
        );
        if contained {
            assert!(
                inside(it.cell, w, h),
                "{w}x{h}: {:?} outside for {}",
                it.cell,
                it.key
            );
        }
        assert!(
            (0.0..=1.0).contains(&it.opacity),
            "{}: opacity {}",
            it.key,
            it.opacity
        );
    }
    for r in &p.regions {
        assert!(
            is_even(r.rect) && inside(r.rect, w, h),
            "{w}x{h}: region {r:?}"
        );
    }
    assert!(
        p.items.windows(2).all(|w| w[0].z <= w[1].z),
        "items not sorted by z"
    );
    assert_eq!(p.background.a, 255);
}
