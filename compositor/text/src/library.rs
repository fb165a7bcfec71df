//! The fonts a process draws with: a fontdb database loaded once, shared by `Arc`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use cosmic_text::fontdb;

use crate::TextError;

/// Family of the Han (and default Latin) face, the first of the fallback chain.
pub const CJK_FAMILY: &str = "Noto Sans CJK SC";
/// Family of the colour emoji face.
pub const EMOJI_FAMILY: &str = "Noto Color Emoji";
/// Family of the general sans-serif face (Latin, Cyrillic, Greek, symbols).
pub const SANS_FAMILY: &str = "DejaVu Sans";

/// The fallback chain, in order; [`FontLibrary::chain`] lists those present.
const CHAIN: [&str; 3] = [CJK_FAMILY, EMOJI_FAMILY, SANS_FAMILY];

/// Environment variable naming extra font directories for [`FontLibrary::global`]
/// (colon-separated).
pub const FONT_DIR_ENV: &str = "COMPOSITOR_FONT_DIR";

/// The fonts a process draws with, loaded once (IO: reads font files). Cheap to clone (`Arc`
/// inside); immutable after loading, so it is shared freely between threads. Each
/// [`crate::TextRasterizer`] takes its own copy of the face list.
#[derive(Clone, Debug)]
pub struct FontLibrary {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: fontdb::Database,
    chain: Vec<String>,
}

/// The process-wide library ([`FontLibrary::global`]).
static GLOBAL: OnceLock<FontLibrary> = OnceLock::new();

impl FontLibrary {
    /// System fonts (fontdb's `load_system_fonts`) plus every font file in `extra_dirs` (a
    /// brand's own fonts; a missing or unreadable dir is an error naming it). Logs
    /// (`tracing::info`) how many faces were loaded and how long it took.
    pub fn load(extra_dirs: &[PathBuf]) -> Result<FontLibrary, TextError> {
        let start = Instant::now();
        let mut db = fontdb::Database::new();
        db.load_system_fonts();
        for dir in extra_dirs {
            check_dir(dir)?;
            let before = db.len();
            db.load_fonts_dir(dir);
            tracing::info!(
                dir = %dir.display(),
                faces = db.len() - before,
                "loaded brand font directory"
            );
        }
        let lib = Self::from_db(db);
        tracing::info!(
            faces = lib.face_count(),
            chain = ?lib.chain(),
            ms = start.elapsed().as_secs_f64() * 1e3,
            "font library loaded"
        );
        Ok(lib)
    }

    /// The process-wide library: loaded on first call with the dirs in the environment
    /// variable `COMPOSITOR_FONT_DIR` (colon-separated, optional) and kept for the life of
    /// the process; later calls return the same library. If an extra dir fails, the error is
    /// logged once and a library of the system fonts only is returned.
    pub fn global() -> FontLibrary {
        GLOBAL
            .get_or_init(|| {
                let dirs: Vec<PathBuf> = std::env::var_os(FONT_DIR_ENV)
                    .map(|v| {
                        std::env::split_paths(&v)
                            .filter(|p| !p.as_os_str().is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                match Self::load(&dirs) {
                    Ok(lib) => lib,
                    Err(e) => {
                        tracing::error!(
                            error = %e,
                            "{FONT_DIR_ENV}: brand fonts not loaded; using system fonts only"
                        );
                        Self::system_only()
                    }
                }
            })
            .clone()
    }

    /// The process-wide library if it is loaded already; otherwise starts loading it on a
    /// background thread (once) and returns None, so a real-time caller never waits for the
    /// disk. [`FontLibrary::preload`] at start-up makes this return it from the first frame.
    pub fn try_global() -> Option<FontLibrary> {
        if let Some(lib) = GLOBAL.get() {
            return Some(lib.clone());
        }
        Self::preload();
        None
    }

    /// Starts loading the process-wide library on a background thread (once).
    pub fn preload() {
        static STARTED: std::sync::Once = std::sync::Once::new();
        STARTED.call_once(|| {
            let spawned = std::thread::Builder::new()
                .name("font-load".into())
                .spawn(|| {
                    let _ = Self::global();
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the font loading thread");
            }
        });
    }

    /// System fonts only; cannot fail (an empty library when the system has none).
    fn system_only() -> FontLibrary {
        let mut db = fontdb::Database::new();
        db.load_system_fonts();
        Self::from_db(db)
    }

    fn from_db(mut db: fontdb::Database) -> FontLibrary {
        let chain: Vec<String> = CHAIN
            .iter()
            .filter(|name| has_family(&db, name))
            .map(|name| (*name).to_owned())
            .collect();
        // `Family::SansSerif` (fontdb's default is "Arial") should name a face that exists.
        if let Some(sans) = [SANS_FAMILY, CJK_FAMILY]
            .into_iter()
            .find(|n| chain.iter().any(|c| c == n))
        {
            db.set_sans_serif_family(sans);
        }
        if chain.is_empty() {
            tracing::warn!(
                faces = db.len(),
                "none of {CHAIN:?} is installed: CJK and emoji may draw as missing-glyph boxes"
            );
        }
        FontLibrary {
            inner: Arc::new(Inner { db, chain }),
        }
    }

    /// Families of the fallback chain that are present, in order: "Noto Sans CJK SC",
    /// "Noto Color Emoji", "DejaVu Sans" (for logs, docs and tests).
    pub fn chain(&self) -> Vec<String> {
        self.inner.chain.clone()
    }

    /// Number of font faces loaded (a `.ttc` counts each face).
    pub fn face_count(&self) -> usize {
        self.inner.db.len()
    }

    /// Whether a face of this family is loaded.
    pub fn has_family(&self, family: &str) -> bool {
        has_family(&self.inner.db, family)
    }

    /// The face database (each rasterizer clones it into its own `FontSystem`).
    pub(crate) fn db(&self) -> &fontdb::Database {
        &self.inner.db
    }
}

fn has_family(db: &fontdb::Database, family: &str) -> bool {
    db.faces()
        .any(|f| f.families.iter().any(|(name, _)| name == family))
}

fn check_dir(dir: &Path) -> Result<(), TextError> {
    let io = |source| TextError::FontDir {
        path: dir.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    std::fs::read_dir(dir).map_err(io)?;
    Ok(())
}
