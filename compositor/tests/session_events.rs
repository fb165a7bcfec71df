//! The session's event log: input added, scene applied at the scheduled output time, input
//! ended when its source goes away, in order, and resumable by sequence number.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use compositor_core::session::{ClockMode, Command, SessionConfig, SessionEvent};
use compositor_devkit::synthetic::SyntheticHost;
use compositor_media::output::NullSink;
use compositor_render::gpu::{AdapterChoice, GpuContext};
use layouts::{Layout, Scene, Size};

fn grid(ids: &[&str]) -> Scene {
    Scene {
        layout: Layout::Grid {
            inputs: ids.iter().map(|s| s.to_string()).collect(),
            tile_aspect: (16, 9),
        },
        style: Default::default(),
        background: Default::default(),
        overlays: vec![],
        name_tags: None,
    }
}

#[test]
fn events_arrive_in_order_and_resume() {
    let gpu = GpuContext::shared(AdapterChoice::Auto).unwrap();
    let mut cfg = SessionConfig::new(grid(&["a"]));
    cfg.canvas = Size::new(320, 180);
    cfg.clock = ClockMode::Offline;
    cfg.duration = Some(Duration::from_millis(1500));
    cfg.initial_inputs = vec!["a".into(), "b".into()];
    cfg.scheduled = vec![(
        Duration::from_millis(500),
        Command::SetScene {
            scene: grid(&["a", "b"]),
            transition: None,
        },
    )];
    let mut session =
        compositor_render::start_session(cfg, gpu, Box::new(NullSink::default())).unwrap();
    let handle = session.handle();
    let mut feeders = Vec::new();
    for (i, sender) in session.take_inputs().into_iter().enumerate() {
        let host = SyntheticHost {
            width: 160,
            height: 90,
            ..SyntheticHost::new((200, 50, 50), 440.0)
        };
        // "b" stops after 1 s: its source ends, the session must say so.
        let len = if i == 0 {
            Duration::from_millis(1600)
        } else {
            Duration::from_millis(1000)
        };
        feeders.push(std::thread::spawn(move || host.run(&sender, len, false)));
    }
    let report = session.join().unwrap();
    for f in feeders {
        f.join().unwrap();
    }
    assert_eq!(report.frames, 45);
    let events = handle.events_since(0);
    let kinds: Vec<&SessionEvent> = events.iter().map(|(_, e)| e).collect();
    assert_eq!(kinds[0], &SessionEvent::InputAdded { id: "a".into() });
    assert_eq!(kinds[1], &SessionEvent::InputAdded { id: "b".into() });
    // The first tick at or after 500 ms at 30 fps is frame 15 = exactly 500 ms.
    assert_eq!(
        kinds[2],
        &SessionEvent::SceneApplied {
            at: Duration::from_millis(500)
        }
    );
    assert!(
        kinds.contains(&&SessionEvent::InputEnded { id: "b".into() }),
        "{kinds:?}"
    );
    // Sequence numbers increase and resuming skips what was seen.
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0));
    let resumed = handle.events_since(events[1].0);
    assert_eq!(resumed.len(), events.len() - 2);
    // The mixer's per-input figures are published with the session's stats.
    let audio = handle.stats().audio;
    let a = audio
        .iter()
        .find(|s| s.id == "a")
        .expect("mixer stats for input a");
    assert!(
        a.drift_ppm.is_finite() && a.drift_ppm.abs() < 1000.0,
        "{a:?}"
    );
    assert_eq!(
        a.underruns, 0,
        "a steady offline source never runs dry: {a:?}"
    );
}
