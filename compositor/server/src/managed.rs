//! What the server keeps per session: the engine's handle and the session itself, its
//! output control and preview, and the bookkeeping of slots, tokens and the current scene
//! ([`Book`], behind its own lock; never held across a wait for the session).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use compositor_core::session::{InputSender, Session, SessionHandle};
use compositor_media::output::OutputControl;
use control_api::backend::NewSession;

use super::preview::Preview;

/// One input slot.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub(super) label: String,
    pub(super) token: String,
    pub(super) sender: InputSender,
    pub(super) volume_db: f32,
    pub(super) mute: bool,
    /// Placeholder image id last set (the engine holds the applied one).
    pub(super) placeholder_image: Option<String>,
}

/// Bookkeeping of a session (the engine owns the media state).
#[derive(Debug)]
pub(super) struct Book {
    pub(super) inputs: BTreeMap<String, Slot>,
    pub(super) images: BTreeMap<String, (u32, u32)>,
    pub(super) scene: layouts::Scene,
    pub(super) follow_speaker: bool,
    pub(super) transition: Option<layouts::Transition>,
}

/// A running session.
pub(super) struct Managed {
    pub(super) id: String,
    pub(super) spec: NewSession,
    pub(super) handle: SessionHandle,
    pub(super) session: Mutex<Option<Session>>,
    pub(super) outputs: Arc<dyn OutputControl>,
    pub(super) preview: Arc<Preview>,
    pub(super) book: Mutex<Book>,
}

impl Managed {
    pub(super) fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }
}
