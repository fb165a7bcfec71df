//! Rasterizing with the real system fonts (fonts-noto-cjk, fonts-noto-color-emoji, DejaVu).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use compositor_text::{ELLIPSIS, FontLibrary, TextCache, TextError, TextRasterizer};
use image::RgbaImage;
use layouts::{Rgba, Size, TextAlign, TextBox, TextStyle};

const WHITE: Rgba = Rgba::new(255, 255, 255, 255);

fn lib() -> FontLibrary {
    static LIB: OnceLock<FontLibrary> = OnceLock::new();
    LIB.get_or_init(|| FontLibrary::load(&[]).expect("system fonts"))
        .clone()
}

fn tbox(text: &str, style: TextStyle, w: u32, h: u32) -> TextBox {
    TextBox {
        text: text.to_owned(),
        style,
        size: Size::new(w, h),
    }
}

/// Bounding box (x0, y0, x1, y1), inclusive, of pixels with alpha > `min_alpha`.
fn bbox(img: &RgbaImage, min_alpha: u8) -> Option<(u32, u32, u32, u32)> {
    let mut b: Option<(u32, u32, u32, u32)> = None;
    for (x, y, p) in img.enumerate_pixels() {
        if p.0[3] > min_alpha {
            b = Some(match b {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            });
        }
    }
    b
}

#[test]
fn library_has_the_fallback_chain() {
    let lib = lib();
    assert_eq!(
        lib.chain(),
        ["Noto Sans CJK SC", "Noto Color Emoji", "DejaVu Sans"],
        "install fonts-noto-cjk, fonts-noto-color-emoji, fonts-dejavu-core"
    );
    assert!(lib.face_count() > 10);
}

#[test]
fn missing_font_dir_is_an_error_naming_it() {
    let dir = std::path::PathBuf::from("/nonexistent/brand-fonts");
    let err = FontLibrary::load(std::slice::from_ref(&dir)).unwrap_err();
    assert!(matches!(err, TextError::FontDir { .. }));
    assert!(
        err.to_string().contains("/nonexistent/brand-fonts"),
        "{err}"
    );
}

#[test]
fn mixed_cjk_emoji_latin_has_no_missing_glyph() {
    let mut r = TextRasterizer::new(&lib());
    let text = "小美🌸 Anna ✨ 主播";
    let shaped = r.shape(&tbox(text, TextStyle::new(32.0, WHITE), 2000, 64));
    assert!(!shaped.ellipsized);
    assert!(shaped.width > 100.0);
    let clusters: String = shaped.glyphs.iter().map(|g| g.text.as_str()).collect();
    assert_eq!(clusters, text, "every cluster drawn once, in order");
    for g in &shaped.glyphs {
        assert_ne!(
            g.glyph_id, 0,
            "missing glyph (tofu) for {:?} in {}",
            g.text, g.font_family
        );
        let emoji = g.text == "🌸" || g.text == "✨";
        let han = g
            .text
            .chars()
            .any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c));
        if emoji {
            assert!(g.font_family.contains("Emoji"), "{g:?}");
        }
        if han {
            assert!(g.font_family.contains("CJK"), "{g:?}");
        }
    }
    assert_eq!(
        shaped
            .glyphs
            .iter()
            .filter(|g| g.font_family.contains("Emoji"))
            .count(),
        2
    );
}

#[test]
fn centred_text_extent() {
    let mut r = TextRasterizer::new(&lib());
    let style = TextStyle::new(40.0, WHITE);
    let img = r
        .rasterize(&tbox("PK 12:34", style.clone(), 400, 80))
        .unwrap();
    assert_eq!(img.dimensions(), (400, 80));
    let (x0, y0, x1, y1) = bbox(&img, 128).expect("some ink");
    let (left, right) = (x0, 399 - x1);
    assert!(
        left.abs_diff(right) <= 2,
        "left margin {left}, right margin {right}"
    );
    let (top, bottom) = (y0, 79 - y1);
    assert!(
        top.abs_diff(bottom) <= 6,
        "top margin {top}, bottom margin {bottom}"
    );
    let height = (y1 - y0 + 1) as f32;
    assert!(
        (20.0..=36.0).contains(&height),
        "ink height {height} for 40 px"
    );
    assert!(x1 - x0 + 1 > 100, "ink width {}", x1 - x0 + 1);

    let left_style = style.align(TextAlign::Left);
    let pad = left_style.pad();
    let img = r.rasterize(&tbox("PK 12:34", left_style, 400, 80)).unwrap();
    let (x0, ..) = bbox(&img, 128).expect("some ink");
    assert!((pad..=pad + 4).contains(&x0), "left edge {x0}, pad {pad}");

    let right_style = TextStyle::new(40.0, WHITE).align(TextAlign::Right);
    let pad = right_style.pad();
    let img = r
        .rasterize(&tbox("PK 12:34", right_style, 400, 80))
        .unwrap();
    let (_, _, x1, _) = bbox(&img, 128).expect("some ink");
    assert!(
        (400 - pad - 5..400 - pad).contains(&x1),
        "right edge {x1}, pad {pad}"
    );
}

#[test]
fn colour_emoji_keeps_its_colours() {
    let mut r = TextRasterizer::new(&lib());
    let img = r
        .rasterize(&tbox("🌸", TextStyle::new(48.0, WHITE), 80, 64))
        .unwrap();
    let pink = img
        .pixels()
        .filter(|p| p.0[3] > 200 && i32::from(p.0[0]) > i32::from(p.0[1]) + 40)
        .count();
    assert!(
        pink > 50,
        "only {pink} pink pixels: emoji drawn as a mask in the fill colour?"
    );
    // Latin text in white has no such pixels.
    let img = r
        .rasterize(&tbox("Anna", TextStyle::new(48.0, WHITE), 200, 64))
        .unwrap();
    assert!(
        img.pixels()
            .all(|p| p.0[3] == 0 || p.0[..3] == [255, 255, 255])
    );
}

#[test]
fn long_text_is_ellipsized_inside_the_pad() {
    let mut r = TextRasterizer::new(&lib());
    let style = TextStyle::new(24.0, WHITE)
        .outline(2, Rgba::BLACK)
        .align(TextAlign::Left);
    let pad = style.pad();
    let tb = tbox(
        "今晚八点 PK 大赛 Anna vs 小美 不见不散 🌸🌸🌸",
        style,
        200,
        40,
    );
    let shaped = r.shape(&tb);
    assert!(shaped.ellipsized);
    assert_eq!(
        shaped.glyphs.last().map(|g| g.text.as_str()),
        Some(ELLIPSIS)
    );
    assert!(shaped.width <= (200 - 2 * pad) as f32, "{}", shaped.width);
    assert!(
        shaped.glyphs.len() > 4,
        "kept too little: {:?}",
        shaped.text
    );
    let img = r.rasterize(&tb).unwrap();
    for (x, y, p) in img.enumerate_pixels() {
        if x >= 200 - pad {
            assert!(
                p.0[3] < 128,
                "opaque pixel at ({x},{y}) inside the right pad"
            );
        }
    }
    // Fits: not cut.
    let wide = tbox("小美", TextStyle::new(24.0, WHITE), 200, 40);
    assert!(!r.shape(&wide).ellipsized);
    // Nothing fits: nothing drawn, no panic.
    let tiny = tbox("小美主播", TextStyle::new(24.0, WHITE), 4, 40);
    let s = r.shape(&tiny);
    assert!(s.ellipsized && s.glyphs.is_empty());
    assert!(r.rasterize(&tiny).unwrap().pixels().all(|p| p.0[3] == 0));
}

/// Opaque black-ish pixels 4-adjacent to opaque white-ish ones.
fn black_next_to_white(img: &RgbaImage) -> usize {
    let white = |x: u32, y: u32| {
        let p = img.get_pixel(x, y).0;
        p[3] > 200 && p[0] > 200 && p[1] > 200 && p[2] > 200
    };
    let mut n = 0;
    for (x, y, p) in img.enumerate_pixels() {
        let black = p.0[3] > 200 && p.0[0] < 60 && p.0[1] < 60 && p.0[2] < 60;
        if !black {
            continue;
        }
        let (w, h) = img.dimensions();
        let near = (x > 0 && white(x - 1, y))
            || (x + 1 < w && white(x + 1, y))
            || (y > 0 && white(x, y - 1))
            || (y + 1 < h && white(x, y + 1));
        n += usize::from(near);
    }
    n
}

#[test]
fn outline_surrounds_the_fill() {
    let mut r = TextRasterizer::new(&lib());
    let plain = TextStyle::new(40.0, WHITE);
    let outlined = plain.clone().outline(3, Rgba::BLACK);
    let a = r.rasterize(&tbox("小美 Anna", plain, 300, 70)).unwrap();
    let b = r.rasterize(&tbox("小美 Anna", outlined, 300, 70)).unwrap();
    assert_eq!(black_next_to_white(&a), 0);
    assert!(black_next_to_white(&b) > 50, "{}", black_next_to_white(&b));
    // The outline grows the ink by about its width on each side.
    let (ax0, ay0, ax1, ay1) = bbox(&a, 128).unwrap();
    let (bx0, by0, bx1, by1) = bbox(&b, 128).unwrap();
    assert!(bx1 - bx0 >= ax1 - ax0 + 4 && by1 - by0 >= ay1 - ay0 + 4);
}

#[test]
fn shadow_is_offset_and_under_the_fill() {
    let mut r = TextRasterizer::new(&lib());
    let style = TextStyle::new(40.0, WHITE).shadow(4, 4, 2, Rgba::new(0, 0, 0, 255));
    let pad = style.pad();
    let img = r.rasterize(&tbox("PK", style, 120, 70)).unwrap();
    let (x0, y0, x1, y1) = bbox(&img, 10).unwrap();
    let plain = r
        .rasterize(&tbox("PK", TextStyle::new(40.0, WHITE), 120, 70))
        .unwrap();
    let (px0, py0, px1, py1) = bbox(&plain, 10).unwrap();
    // Same centring (the pad is symmetric), shadow reaching down-right.
    assert!(x0 <= px0 && y0 <= py0 && x1 >= px1 + 4 && y1 >= py1 + 4);
    assert!(x1 < 120 && y1 < 70 && pad == 7);
    // Fill stays white on top.
    assert!(img.pixels().any(|p| p.0 == [255, 255, 255, 255]));
    assert!(img.pixels().any(|p| p.0[3] > 100 && p.0[0] < 60));
}

#[test]
fn cache_rasterizes_only_on_change() {
    let mut c = TextCache::new(&lib());
    let a = tbox("小美", TextStyle::new(32.0, WHITE), 120, 48);
    c.begin_frame();
    let (img1, g1, now1) = c.get("a", &a).unwrap();
    let (img2, g2, now2) = c.get("a", &a).unwrap();
    assert!(now1 && !now2);
    assert_eq!(g1, g2);
    assert!(std::sync::Arc::ptr_eq(&img1, &img2));
    assert_eq!(c.rasters(), 1);
    let mut b = a.clone();
    b.text = "Anna".to_owned();
    let (_, g3, now3) = c.get("a", &b).unwrap();
    assert!(now3 && g3 > g2);
    assert_eq!(c.rasters(), 2);
    let (_, g4, _) = c.get("b", &a).unwrap();
    assert!(g4 > g3);
    assert!(c.end_frame().is_empty());

    c.begin_frame();
    let (_, g5, now5) = c.get("a", &b).unwrap();
    assert!(!now5 && g5 == g3);
    assert_eq!(c.end_frame(), ["b"]);
    assert_eq!(c.len(), 1);
    assert_eq!(c.rasters(), 3);
    // Errors come back and keep the previous raster.
    let bad = tbox("x", TextStyle::new(32.0, WHITE), 0, 48);
    assert!(matches!(c.get("a", &bad), Err(TextError::BadSize { .. })));
    assert_eq!(c.get("a", &b).unwrap().1, g3);
}

#[test]
fn equal_boxes_give_equal_bytes() {
    let lib = lib();
    let style = TextStyle::new(32.0, Rgba::new(255, 220, 0, 255))
        .outline(2, Rgba::BLACK)
        .shadow(2, 3, 3, Rgba::new(0, 0, 0, 160));
    let tb = tbox("小美🌸 Anna ✨ 主播", style, 420, 64);
    let mut r1 = TextRasterizer::new(&lib);
    let mut r2 = TextRasterizer::new(&lib);
    let a = r1.rasterize(&tb).unwrap();
    let _ = r1
        .rasterize(&tbox("other", TextStyle::new(20.0, WHITE), 100, 30))
        .unwrap();
    let b = r2.rasterize(&tb).unwrap();
    let c = r1.rasterize(&tb).unwrap();
    assert!(a.pixels().any(|p| p.0[3] > 0));
    assert!(a.as_raw() == b.as_raw() && a.as_raw() == c.as_raw());
}

#[test]
fn bad_boxes_are_errors_and_odd_strings_do_not_panic() {
    let mut r = TextRasterizer::new(&lib());
    let s = TextStyle::new(20.0, WHITE);
    for (w, h) in [(0, 10), (10, 0), (4097, 10), (10, 5000)] {
        assert!(matches!(
            r.rasterize(&tbox("a", s.clone(), w, h)),
            Err(TextError::BadSize { .. })
        ));
    }
    assert!(matches!(
        r.rasterize(&tbox("a", TextStyle::new(1.0, WHITE), 10, 10)),
        Err(TextError::BadStyle(_))
    ));
    let empty = r.rasterize(&tbox("", s.clone(), 64, 32)).unwrap();
    assert_eq!(empty.dimensions(), (64, 32));
    assert!(empty.pixels().all(|p| p.0 == [0, 0, 0, 0]));
    let long = "很长的名字🌸".repeat(400);
    let odd = [
        "\n\t\r",
        "\u{0}\u{FFFF}\u{10FFFF}",
        "e\u{301}\u{301}\u{301}",
        "👩‍👩‍👧‍👦🇨🇳1️⃣",
        "مرحبا بالعالم",
        "\u{202E}abc",
        long.as_str(),
    ];
    for t in odd {
        for (w, h) in [(1, 1), (300, 40), (4096, 64)] {
            let img = r.rasterize(&tbox(t, s.clone(), w, h)).unwrap();
            assert_eq!(img.dimensions(), (w, h));
        }
    }
    assert!(r.shape(&tbox(&long, s, 300, 40)).ellipsized);
}

#[test]
fn weights_and_unknown_families_keep_the_chain() {
    let mut r = TextRasterizer::new(&lib());
    let text = "小美❤\u{FE0F}🌸 Anna";
    for (weight, family) in [
        (700, None),
        (600, None),
        (300, None),
        (400, Some("No Such Brand")),
    ] {
        let style = TextStyle::new(32.0, WHITE)
            .weight(weight)
            .family(family.map(str::to_owned));
        let shaped = r.shape(&tbox(text, style, 1000, 64));
        for g in &shaped.glyphs {
            assert_ne!(g.glyph_id, 0, "tofu for {:?} at weight {weight}", g.text);
            let emoji = g.text.starts_with('❤') || g.text == "🌸";
            assert_eq!(
                g.font_family.contains("Emoji"),
                emoji,
                "{g:?} at weight {weight}"
            );
            if !emoji {
                assert_eq!(
                    g.font_family, "Noto Sans CJK SC",
                    "{g:?} at weight {weight}"
                );
            }
        }
    }
    // Bold draws more ink than regular.
    let ink = |img: &RgbaImage| img.pixels().map(|p| u64::from(p.0[3])).sum::<u64>();
    let regular = r
        .rasterize(&tbox("小美 Anna", TextStyle::new(32.0, WHITE), 300, 64))
        .unwrap();
    let bold = r
        .rasterize(&tbox(
            "小美 Anna",
            TextStyle::new(32.0, WHITE).weight(700),
            300,
            64,
        ))
        .unwrap();
    assert!(
        ink(&bold) > ink(&regular) * 11 / 10,
        "{} vs {}",
        ink(&bold),
        ink(&regular)
    );
}

#[test]
fn thread_contract() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<FontLibrary>();
    send::<TextRasterizer>();
    send::<TextCache>();
    // The global library is loaded once and shared.
    let a = FontLibrary::global();
    let b = std::thread::spawn(FontLibrary::global).join().unwrap();
    assert_eq!(a.face_count(), b.face_count());
    assert_eq!(a.chain(), b.chain());
}

#[test]
fn brand_font_dir_adds_its_faces() {
    let dir = std::env::temp_dir().join(format!("compositor-text-brand-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        dir.join("Brand.ttf"),
    )
    .unwrap();
    let with = FontLibrary::load(std::slice::from_ref(&dir)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(with.face_count(), lib().face_count() + 1);
    // A file is not a directory.
    let file = std::path::PathBuf::from("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
    assert!(matches!(
        FontLibrary::load(&[file]),
        Err(TextError::FontDir { .. })
    ));
}
