//! Rasters kept by key, redrawn only when their box changes.

use std::collections::HashMap;
use std::sync::Arc;

use image::RgbaImage;
use layouts::TextBox;

use crate::{FontLibrary, TextError, TextRasterizer};

/// A cached raster.
#[derive(Debug)]
struct Entry {
    tb: TextBox,
    image: Arc<RgbaImage>,
    generation: u64,
    used: bool,
}

/// Caches rasters by key (e.g. a draw item's id). [`TextCache::get`] re-rasterizes only when
/// the [`TextBox`] for that key changed; each new raster gets a fresh generation from a
/// counter of this cache (strictly increasing, starting at 1), so a consumer re-uploads a
/// texture exactly when the generation changes.
///
/// Frame protocol: [`TextCache::begin_frame`], then [`TextCache::get`] for every text of the
/// frame, then [`TextCache::end_frame`], which drops (and returns) the keys not requested
/// since `begin_frame`. Owns its [`TextRasterizer`]: one cache per thread.
#[derive(Debug)]
pub struct TextCache {
    raster: TextRasterizer,
    entries: HashMap<String, Entry>,
    last_generation: u64,
    rasters: u64,
}

impl TextCache {
    /// An empty cache drawing with the fonts of `lib`.
    pub fn new(lib: &FontLibrary) -> TextCache {
        TextCache {
            raster: TextRasterizer::new(lib),
            entries: HashMap::new(),
            last_generation: 0,
            rasters: 0,
        }
    }

    /// Starts a frame: every key counts as unused until requested by [`TextCache::get`].
    pub fn begin_frame(&mut self) {
        for e in self.entries.values_mut() {
            e.used = false;
        }
    }

    /// The raster of `tb` under `key`: `(image, generation, rasterized_now)`. Rasterizes when
    /// the key is new or its box differs from the cached one; otherwise returns the cached
    /// image and generation. Marks the key used this frame. On error the key's previous
    /// raster (if any) is kept.
    pub fn get(
        &mut self,
        key: &str,
        tb: &TextBox,
    ) -> Result<(Arc<RgbaImage>, u64, bool), TextError> {
        if let Some(e) = self.entries.get_mut(key) {
            e.used = true;
            if e.tb == *tb {
                return Ok((Arc::clone(&e.image), e.generation, false));
            }
        }
        let image = Arc::new(self.raster.rasterize(tb)?);
        self.rasters += 1;
        self.last_generation += 1;
        let generation = self.last_generation;
        self.entries.insert(
            key.to_owned(),
            Entry {
                tb: tb.clone(),
                image: Arc::clone(&image),
                generation,
                used: true,
            },
        );
        Ok((image, generation, true))
    }

    /// Ends a frame: drops the keys not requested since [`TextCache::begin_frame`] and returns
    /// them, sorted.
    pub fn end_frame(&mut self) -> Vec<String> {
        let mut dropped: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.used)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &dropped {
            self.entries.remove(k);
        }
        dropped.sort();
        dropped
    }

    /// Keeps only the keys for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.entries.retain(|k, _| keep(k));
    }

    /// Rasters drawn by this cache since it was made.
    pub fn rasters(&self) -> u64 {
        self.rasters
    }

    /// Number of keys cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The rasterizer (e.g. to [`TextRasterizer::shape`] a box).
    pub fn rasterizer(&mut self) -> &mut TextRasterizer {
        &mut self.raster
    }
}
