//! Spotlight that follows the active speaker. One small thread per session reads the
//! session's event log (every [`POLL`]) and, while the current layout is a spotlight with
//! `follow_active_speaker`, answers each `ActiveSpeakerChanged` naming an input of the strip
//! by swapping it with the main input (with the layout's last transition), through the same
//! `SetScene` command a producer would send. The swap rule is pure ([`swap_in`]).
//!
//! The thread holds only a weak reference to the session and ends when the session is
//! deleted or has ended.

use std::sync::{Arc, Weak};
use std::time::Duration;

use layouts::{Layout, Scene};

use super::managed::Managed;
use compositor_core::session::{Command, SessionEvent};

/// How often the log is read.
pub const POLL: Duration = Duration::from_millis(50);

/// The scene with `speaker` in the spotlight and the previous main in its strip place, or
/// None when `scene` is not a spotlight or `speaker` is not in its strip.
pub fn swap_in(scene: &Scene, speaker: &str) -> Option<Scene> {
    let Layout::Spotlight { main, others, .. } = &scene.layout else {
        return None;
    };
    let pos = others.iter().position(|o| o == speaker)?;
    let mut next = scene.clone();
    if let Layout::Spotlight {
        main: m, others: o, ..
    } = &mut next.layout
    {
        o[pos] = main.clone();
        *m = speaker.to_owned();
    }
    Some(next)
}

/// Starts the follower of `managed`.
pub(super) fn spawn(managed: &Arc<Managed>) -> std::io::Result<()> {
    let weak: Weak<Managed> = Arc::downgrade(managed);
    let mut last = managed.handle.events_since(0).last().map_or(0, |(s, _)| *s);
    std::thread::Builder::new()
        .name("speaker-follow".into())
        .spawn(move || {
            loop {
                std::thread::sleep(POLL);
                let Some(m) = weak.upgrade() else { return };
                if m.handle.stats().ended {
                    return;
                }
                for (seq, ev) in m.handle.events_since(last) {
                    last = seq;
                    let SessionEvent::ActiveSpeakerChanged { to: Some(to), .. } = ev else {
                        continue;
                    };
                    let mut book = m.book();
                    if !book.follow_speaker {
                        continue;
                    }
                    let Some(next) = swap_in(&book.scene, &to) else {
                        continue;
                    };
                    let cmd = Command::SetScene {
                        scene: next.clone(),
                        transition: book.transition,
                    };
                    match m.handle.command(cmd) {
                        Ok(_) => {
                            tracing::info!(session = %m.id, speaker = %to, "spotlight follows the active speaker");
                            book.scene = next;
                        }
                        Err(e) => {
                            tracing::warn!(session = %m.id, error = %e, "spotlight could not follow the speaker");
                        }
                    }
                }
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_the_speaker_into_the_spotlight() {
        let scene = Scene {
            layout: Layout::Spotlight {
                main: "a".into(),
                others: vec!["b".into(), "c".into()],
                strip: layouts::StripSide::Right,
                strip_frac: 0.25,
            },
            style: layouts::Style::default(),
            background: layouts::Background::default(),
            overlays: Vec::new(),
            name_tags: None,
        };
        let next = swap_in(&scene, "c").unwrap();
        match &next.layout {
            Layout::Spotlight { main, others, .. } => {
                assert_eq!(main, "c");
                assert_eq!(others, &vec!["b".to_string(), "a".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        assert!(swap_in(&scene, "a").is_none());
        assert!(swap_in(&scene, "zz").is_none());
    }
}
