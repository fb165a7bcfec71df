//! Reading text and the PK bar back from output frames, for tests: tesseract (from Debian,
//! installed by scripts/setup.sh) on a crop, and the score bar's seam.

use std::path::Path;
use std::process::Command;

/// Runs tesseract on one line of `img` (scaled up 3×, written to `path`), with `lang`
/// (`eng`, `chi_sim`); returns what it read, trimmed.
pub fn ocr_line(img: &image::RgbImage, lang: &str, path: &Path) -> anyhow::Result<String> {
    let big = image::imageops::resize(
        img,
        img.width() * 3,
        img.height() * 3,
        image::imageops::FilterType::CatmullRom,
    );
    big.save(path)?;
    let out = Command::new("tesseract")
        .arg(path)
        .arg("stdout")
        .args(["--psm", "7", "-l", lang])
        .output()
        .map_err(|e| anyhow::anyhow!("tesseract (scripts/setup.sh installs it): {e}"))?;
    anyhow::ensure!(
        out.status.success(),
        "tesseract: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// White text (every channel > 200) as black on white, which OCR engines read best.
pub fn white_ink(img: &mut image::RgbImage) {
    for p in img.pixels_mut() {
        let ink = p.0.iter().all(|&c| c > 200);
        p.0 = if ink { [0, 0, 0] } else { [255, 255, 255] };
    }
}

/// The x of the PK bar's white seam on row `y` (the middle of the white run), ignoring 8 px
/// at each edge.
pub fn bar_seam_x(img: &image::RgbImage, y: u32) -> Option<u32> {
    let w = img.width();
    let xs: Vec<u32> = (8..w.saturating_sub(8))
        .filter(|&x| img.get_pixel(x, y).0.iter().all(|&c| c > 200))
        .collect();
    Some((xs.first()? + xs.last()?) / 2)
}
