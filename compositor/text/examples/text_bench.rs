//! Times the font library load and the rasterizing of two typical boxes: a 32 px name tag
//! ("小美🌸" in 240×48 with a 2 px outline) and a 5-character countdown at 56 px. Each figure
//! is the median of 200 rasterizations after a warm-up (the glyph cache is warm, as it is in
//! a running session; `TextCache` would skip even this for unchanged boxes).
//!
//! Run: `cargo run --release -p compositor-text --example text_bench`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use compositor_text::{FontLibrary, TextRasterizer};
use layouts::{Rgba, Size, TextBox, TextStyle};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(r: &mut TextRasterizer, tb: &TextBox) -> Duration {
    for _ in 0..10 {
        r.rasterize(tb).expect("rasterize");
    }
    let runs = (0..200)
        .map(|_| {
            let t = Instant::now();
            let img = r.rasterize(tb).expect("rasterize");
            let d = t.elapsed();
            std::hint::black_box(img);
            d
        })
        .collect();
    median(runs)
}

fn main() {
    let t = Instant::now();
    let lib = FontLibrary::load(&[]).expect("fonts");
    let load = t.elapsed();
    println!(
        "font library load: {:.1} ms ({} faces, chain {:?})",
        load.as_secs_f64() * 1e3,
        lib.face_count(),
        lib.chain()
    );
    let t = Instant::now();
    let mut r = TextRasterizer::new(&lib);
    println!("rasterizer new: {:.2} ms", t.elapsed().as_secs_f64() * 1e3);

    let white = Rgba::new(255, 255, 255, 255);
    let name_tag = TextBox {
        text: "小美🌸".to_owned(),
        style: TextStyle::new(32.0, white).outline(2, Rgba::BLACK),
        size: Size::new(240, 48),
    };
    let t = Instant::now();
    r.rasterize(&name_tag).expect("rasterize");
    println!(
        "name tag, first (cold glyphs): {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let d = time(&mut r, &name_tag);
    println!(
        "name tag 32 px 240x48 + outline: median {:.3} ms",
        d.as_secs_f64() * 1e3
    );

    let countdown = TextBox {
        text: "04:59".to_owned(),
        style: TextStyle::new(56.0, white).shadow(2, 2, 3, Rgba::new(0, 0, 0, 160)),
        size: Size::new(200, 80),
    };
    let d = time(&mut r, &countdown);
    println!(
        "countdown 56 px 200x80 + shadow: median {:.3} ms",
        d.as_secs_f64() * 1e3
    );
}
