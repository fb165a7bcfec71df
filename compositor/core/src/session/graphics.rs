//! On-screen graphics of a session: name tags and the PK match, drawn over the scene's plan.
//!
//! Thread: owned by the session thread (like the layout engine). Each video tick, after the
//! layout's plan: [`Graphics::advance`] moves the match to the tick's time (events stamped
//! with the exact boundary), then [`Graphics::decorate`] appends the decor's items to the
//! plan (sorted by z) and makes sure every text they show is in the image map as
//! `~text/{key}`: rasterized by the session's [`compositor_text::TextCache`] only when the
//! box changed (counted in `text_rasters`), so a frame with no text change rasterizes
//! nothing and a score change costs one small raster.
//!
//! Fonts: the process-wide [`compositor_text::FontLibrary`]. In real time a frame never
//! waits for it: while it is still loading (the server starts loading it at start-up) text
//! is left out of the frame. Offline, the first text waits for it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use compositor_text::{FontLibrary, TextCache};
use layouts::pk::{PkEvent, PkMatch, PkOutcome, PkPhase, PkSpec, PkTheme, pk_overlay};
use layouts::{Decor, FramePlan, Layout, Scene, TEXT_PREFIX, TagInfo, name_tags, tags_by_default};
use tracing::{info, warn};

use super::SharedStats;
use super::events::SessionEvent;
use crate::render::{FrameRenderer, ImageAsset};

/// What the console sees of the match (`GetStats`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PkStats {
    /// Phase name (`idle`, `intro`, `battle`, `result`, `punishment`).
    pub phase: String,
    /// Time left in the phase, ms (worked out from `ends_at` when the stats are read).
    pub left_ms: u64,
    /// Output time the phase ends (published on changes only, not per frame).
    #[serde(skip)]
    pub ends_at: Duration,
    /// Team totals (left, right).
    pub scores: [u64; 2],
    /// Per-host scores.
    pub hosts: Vec<(String, u64)>,
    /// `left`, `right` or `draw` once decided.
    pub outcome: Option<String>,
}

/// The match's outcome as a word.
pub fn outcome_word(o: PkOutcome) -> &'static str {
    match o {
        PkOutcome::Win { winner: 0 } => "left",
        PkOutcome::Win { .. } => "right",
        PkOutcome::Draw => "draw",
    }
}

/// Where rasterized texts go: the session's image map and its renderer's uploads.
pub(super) struct TextTarget<'a> {
    pub(super) images: &'a mut HashMap<String, ImageAsset>,
    pub(super) renderer: &'a mut dyn FrameRenderer,
}

pub(super) struct Graphics {
    pub(super) pk: PkMatch,
    pub(super) theme: PkTheme,
    /// Labels by input id.
    pub(super) labels: HashMap<String, String>,
    /// The scene shown before the match (restored when it ends).
    pub(super) before_pk: Option<Scene>,
    decor: Decor,
    events: Vec<PkEvent>,
    text: Option<TextCache>,
    offline: bool,
    warned_fonts: bool,
}

impl Graphics {
    pub(super) fn new(offline: bool) -> Self {
        Self {
            pk: PkMatch::new(),
            theme: PkTheme::default(),
            labels: HashMap::new(),
            before_pk: None,
            decor: Decor::default(),
            events: Vec::new(),
            text: None,
            offline,
            warned_fonts: false,
        }
    }

    /// Moves the match to `now`; logs and publishes phase changes. Returns true when a match
    /// just went back to Idle (the caller restores the scene from before it).
    pub(super) fn advance(&mut self, now: Duration, stats: &SharedStats) -> bool {
        if self.pk.spec().is_none() {
            return false;
        }
        self.events.clear();
        self.pk.advance(now, &mut self.events);
        if self.events.is_empty() {
            return false;
        }
        let mut ended = false;
        for ev in self.events.drain(..) {
            if let PkEvent::PhaseChanged {
                from,
                to,
                at,
                outcome,
            } = ev
            {
                info!(from = from.name(), to = to.name(), ?at, "PK phase changed");
                stats.events.push(SessionEvent::PkPhaseChanged {
                    phase: to.name().to_owned(),
                    at,
                    outcome: outcome.map(|o| outcome_word(o).to_owned()),
                });
                ended |= to == PkPhase::Idle;
            }
        }
        self.publish(now, stats);
        ended
    }

    /// Refreshes the match figures in the stats. Called when the phase or a score changes,
    /// not per frame: the time left is derived from `ends_at` when the stats are read.
    pub(super) fn publish(&self, now: Duration, stats: &SharedStats) {
        let next = match self.pk.view(now) {
            None => PkStats {
                phase: "idle".to_owned(),
                ..PkStats::default()
            },
            Some(v) => PkStats {
                phase: v.phase.name().to_owned(),
                left_ms: 0,
                ends_at: now + v.left_in_phase,
                scores: v.scores,
                hosts: self.pk.host_scores(),
                outcome: v.outcome.map(|o| outcome_word(o).to_owned()),
            },
        };
        *stats.pk.lock().unwrap_or_else(|e| e.into_inner()) = next;
    }

    /// Appends name tags and the PK overlay to `plan` and puts their texts in the image
    /// map (dropping the renderer's uploads of texts no longer shown).
    pub(super) fn decorate(
        &mut self,
        now: Duration,
        scene: &Scene,
        plan: &mut FramePlan,
        target: TextTarget<'_>,
        speaking_muted: impl Fn(&str) -> (bool, bool),
        stats: &SharedStats,
    ) {
        let TextTarget { images, renderer } = target;
        self.decor.clear();
        let tags = scene
            .name_tags
            .unwrap_or_else(|| tags_by_default(&scene.layout));
        if tags && !self.labels.is_empty() {
            let labels = &self.labels;
            name_tags(
                plan,
                self.theme.family.as_deref(),
                |id| {
                    let label = labels.get(id)?;
                    let (speaking, muted) = speaking_muted(id);
                    Some(TagInfo {
                        label,
                        speaking,
                        muted,
                    })
                },
                &mut self.decor,
            );
        }
        if let Some(view) = self.pk.view(now) {
            pk_overlay(&view, plan, &self.theme, &mut self.decor);
        }
        if self.decor.items.is_empty() && self.text.is_none() {
            return;
        }
        let have_text = self.ensure_text();
        if let Some(cache) = self.text.as_mut() {
            cache.begin_frame();
            let before = cache.rasters();
            for (id, tb) in &self.decor.texts {
                match cache.get(id, tb) {
                    Ok((rgba, generation, fresh)) => {
                        if fresh || !images.contains_key(id) {
                            images.insert(id.clone(), ImageAsset { generation, rgba });
                        }
                    }
                    Err(e) => warn!(text = %tb.text, error = %e, "text left out"),
                }
            }
            for gone in cache.end_frame() {
                images.remove(&gone);
                renderer.drop_image(&gone);
            }
            let n = cache.rasters() - before;
            if n > 0 {
                stats.text_rasters.fetch_add(n, Ordering::Relaxed);
            }
        }
        for item in self.decor.items.drain(..) {
            // Text not rasterized (fonts still loading, or refused): leave it out.
            if let layouts::Content::Image(id) = &item.content
                && id.starts_with(TEXT_PREFIX)
                && (!have_text || !images.contains_key(id))
            {
                continue;
            }
            plan.items.push(item);
        }
        plan.items.sort_by_key(|i| i.z);
    }

    /// Makes the text cache once the fonts are there; false while they are not.
    fn ensure_text(&mut self) -> bool {
        if self.text.is_some() {
            return true;
        }
        let lib = if self.offline {
            Some(FontLibrary::global())
        } else {
            FontLibrary::try_global()
        };
        match lib {
            Some(lib) => {
                self.text = Some(TextCache::new(&lib));
                true
            }
            None => {
                if !self.warned_fonts {
                    self.warned_fonts = true;
                    warn!("fonts are still loading: text is left out of frames until they are");
                }
                false
            }
        }
    }
}

/// The PK layout for a match, keeping the current scene's style, background, overlays and
/// tag switch (and its score bar and tile aspect when it is a PK layout already).
pub(super) fn pk_scene(current: &Scene, spec: &PkSpec) -> Scene {
    let (score_bar, tile_aspect) = match &current.layout {
        Layout::Pk {
            score_bar,
            tile_aspect,
            ..
        } => (*score_bar, *tile_aspect),
        _ => (layouts::ScoreBar::default(), None),
    };
    let host = |team: usize, i: usize| spec.teams[team].hosts.get(i).cloned();
    Scene {
        layout: Layout::Pk {
            left: host(0, 0).unwrap_or_default(),
            right: host(1, 0).unwrap_or_default(),
            score_bar,
            left_partner: host(0, 1),
            right_partner: host(1, 1),
            tile_aspect,
        },
        ..current.clone()
    }
}

/// Largest layout metadata written per frame, bytes.
pub const MAX_META_BYTES: usize = 1024;

impl Graphics {
    /// Writes the frame's layout as compact JSON into `buf` (cleared first): output time,
    /// canvas, each input tile's rect and label, and the PK phase and scores —
    /// `{"v":1,"t":ms,"canvas":[w,h],"tiles":[{"id":..,"rect":[x,y,w,h],"label":..}],"pk":{..}}`.
    /// Labels are left out, then tiles, when it would exceed [`MAX_META_BYTES`]. Reuses the
    /// buffer (no allocation once it has grown).
    pub(super) fn write_meta(&self, now: Duration, plan: &FramePlan, buf: &mut Vec<u8>) {
        for (labels, max_tiles) in [(true, usize::MAX), (false, usize::MAX), (false, 4)] {
            buf.clear();
            self.write_meta_with(now, plan, buf, labels, max_tiles);
            if buf.len() <= MAX_META_BYTES {
                return;
            }
        }
        buf.clear();
    }

    fn write_meta_with(
        &self,
        now: Duration,
        plan: &FramePlan,
        buf: &mut Vec<u8>,
        labels: bool,
        max_tiles: usize,
    ) {
        use std::io::Write as _;
        let _ = write!(
            buf,
            "{{\"v\":1,\"t\":{},\"canvas\":[{},{}],\"tiles\":[",
            now.as_millis(),
            plan.canvas.w,
            plan.canvas.h
        );
        let mut n = 0;
        for item in &plan.items {
            let layouts::Content::Input(id) = &item.content else {
                continue;
            };
            if n >= max_tiles {
                break;
            }
            if n > 0 {
                buf.push(b',');
            }
            n += 1;
            buf.extend_from_slice(b"{\"id\":");
            let _ = serde_json::to_writer(&mut *buf, id.as_str());
            let c = item.cell;
            let _ = write!(buf, ",\"rect\":[{},{},{},{}]", c.x, c.y, c.w, c.h);
            if labels && let Some(l) = self.labels.get(id) {
                buf.extend_from_slice(b",\"label\":");
                let _ = serde_json::to_writer(&mut *buf, l.as_str());
            }
            buf.push(b'}');
        }
        buf.push(b']');
        if let Some(v) = self.pk.view(now) {
            let _ = write!(
                buf,
                ",\"pk\":{{\"phase\":\"{}\",\"left_ms\":{},\"scores\":[{},{}]",
                v.phase.name(),
                v.left_in_phase.as_millis(),
                v.scores[0],
                v.scores[1]
            );
            if let Some(o) = v.outcome {
                let _ = write!(buf, ",\"outcome\":\"{}\"", outcome_word(o));
            }
            buf.push(b'}');
        }
        buf.push(b'}');
    }
}
