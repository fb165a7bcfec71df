//! Decoding overlay and background images (PNG, JPEG) from untrusted bytes or files, with
//! limits, into the straight-alpha RGBA that [`crate::session::Command::RegisterImage`] takes.
//! The session uploads each registered image to the GPU once and caches it.

use std::path::Path;

/// Largest accepted side, pixels.
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// Largest accepted encoded size, bytes.
pub const MAX_IMAGE_BYTES: usize = 32 * 1024 * 1024;

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Too many bytes.
    #[error("image is {0} bytes; at most {MAX_IMAGE_BYTES} are accepted")]
    TooLarge(usize),
    /// Not PNG or JPEG, or corrupt.
    #[error("cannot decode the image (PNG or JPEG expected): {0}")]
    Decode(String),
    /// Sides out of range.
    #[error("image is {0}x{1}; sides must be 1..={MAX_IMAGE_SIDE}")]
    BadSize(u32, u32),
    /// File could not be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The path.
        path: String,
        /// What went wrong.
        error: String,
    },
}

/// Decodes PNG or JPEG bytes into RGBA (JPEG gets opaque alpha).
pub fn decode_image(bytes: &[u8]) -> Result<image::RgbaImage, ImageError> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge(bytes.len()));
    }
    let format = image::guess_format(bytes).map_err(|e| ImageError::Decode(e.to_string()))?;
    if !matches!(format, image::ImageFormat::Png | image::ImageFormat::Jpeg) {
        return Err(ImageError::Decode(format!("{format:?} is not supported")));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 || w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE {
        return Err(ImageError::BadSize(w, h));
    }
    Ok(img.to_rgba8())
}

/// Reads and decodes an image file.
pub fn load_image(path: &Path) -> Result<image::RgbaImage, ImageError> {
    let meta = std::fs::metadata(path).map_err(|e| ImageError::Io {
        path: path.display().to_string(),
        error: e.to_string(),
    })?;
    if meta.len() > MAX_IMAGE_BYTES as u64 {
        return Err(ImageError::TooLarge(meta.len() as usize));
    }
    let bytes = std::fs::read(path).map_err(|e| ImageError::Io {
        path: path.display().to_string(),
        error: e.to_string(),
    })?;
    decode_image(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(img: &image::RgbaImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        if format == image::ImageFormat::Jpeg {
            image::DynamicImage::ImageRgba8(img.clone())
                .to_rgb8()
                .write_to(&mut out, format)
                .unwrap();
        } else {
            img.write_to(&mut out, format).unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn png_keeps_alpha_and_jpeg_is_opaque() {
        let img =
            image::RgbaImage::from_fn(8, 4, |x, _| image::Rgba([200, 10, 10, (x * 30) as u8]));
        let png = decode_image(&encode(&img, image::ImageFormat::Png)).unwrap();
        assert_eq!(png, img);
        let jpg = decode_image(&encode(&img, image::ImageFormat::Jpeg)).unwrap();
        assert_eq!(jpg.dimensions(), (8, 4));
        assert!(jpg.pixels().all(|p| p[3] == 255));
        assert!(jpg.pixels().all(|p| p[0] > 150 && p[1] < 60));
    }

    #[test]
    fn garbage_and_oversize_are_refused() {
        assert!(matches!(
            decode_image(b"not an image"),
            Err(ImageError::Decode(_))
        ));
        assert!(matches!(decode_image(&[]), Err(ImageError::Decode(_))));
        let big = vec![0u8; MAX_IMAGE_BYTES + 1];
        assert!(matches!(decode_image(&big), Err(ImageError::TooLarge(_))));
        // A PNG header claiming 100000 x 1 pixels is refused by the limits, not allocated.
        let wide = image::RgbaImage::new(MAX_IMAGE_SIDE + 1, 1);
        assert!(decode_image(&encode(&wide, image::ImageFormat::Png)).is_err());
        assert!(matches!(
            load_image(Path::new("/nonexistent/x.png")),
            Err(ImageError::Io { .. })
        ));
    }
}
