//! The layout RPC of the gRPC control API end to end (see `grpc_support`): SetLayout's
//! refusals with their exact status and the session unchanged after them, immediate and
//! scheduled application, the change visible in the rendered pixels, and a spotlight that
//! follows the active speaker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grpc_support;

use std::time::{Duration, Instant};

use compositor_webrtc::ingest::IngestDirectory;
use grpc_support::*;
use proto::v1 as pb;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_layout_refuses_unknown_references_and_invalid_layouts_changing_nothing() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    add_inputs(&mut c, "s1", &["host-a", "host-b"]).await;
    let before = session_state(&mut c, "s1").await;
    refused(
        c.set_layout(set_layout("s1", pk("host-a", "ghost"))).await,
        Code::NotFound,
        "input \"ghost\"",
    );
    refused(
        c.set_layout(pb::SetLayoutRequest {
            session_id: "s1".into(),
            layout: None,
            transition: None,
            at_ms: None,
        })
        .await,
        Code::InvalidArgument,
        "layout: is required",
    );
    refused(
        c.set_layout(set_layout("s1", pb::Layout::default())).await,
        Code::InvalidArgument,
        "layout.kind: is required",
    );
    let mut nan = pk("host-a", "host-b");
    if let Some(pb::layout::Kind::Pk(p)) = nan.kind.as_mut() {
        p.score_bar_height = Some(f32::NAN);
    }
    refused(
        c.set_layout(set_layout("s1", nan)).await,
        Code::InvalidArgument,
        "must be a finite number",
    );
    let mut far = pk("host-a", "host-b");
    if let Some(pb::layout::Kind::Pk(p)) = far.kind.as_mut() {
        p.score_bar_height = Some(0.9);
    }
    refused(
        c.set_layout(set_layout("s1", far)).await,
        Code::InvalidArgument,
        "out of range 0..=0.3",
    );
    refused(
        c.set_layout(set_layout("s1", pk("host-a", "host-a"))).await,
        Code::InvalidArgument,
        "more than once",
    );
    let mut long = set_layout("s1", pk("host-a", "host-b"));
    long.transition = Some(pb::Transition {
        duration_ms: 20_000,
        easing: 0,
        bezier: None,
    });
    refused(
        c.set_layout(long).await,
        Code::InvalidArgument,
        "transition",
    );
    let mut bez = set_layout("s1", pk("host-a", "host-b"));
    bez.transition = Some(pb::Transition {
        duration_ms: 500,
        easing: pb::Easing::CubicBezier as i32,
        bezier: None,
    });
    refused(
        c.set_layout(bez).await,
        Code::InvalidArgument,
        "transition.bezier: is required",
    );
    let mut later = set_layout("s1", pk("host-a", "host-b"));
    later.at_ms = Some(10_000_000);
    refused(
        c.set_layout(later).await,
        Code::InvalidArgument,
        "at_ms: 10000000 is more than 600000 ms",
    );
    let mut img_bg = pk("host-a", "host-b");
    img_bg.background.as_mut().unwrap().image_id = "missing".into();
    refused(
        c.set_layout(set_layout("s1", img_bg)).await,
        Code::NotFound,
        "image \"missing\"",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused SetLayout changed the session"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_layout_applies_at_once_or_at_the_first_frame_of_the_scheduled_time() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    add_inputs(&mut c, "s1", &["host-a", "host-b"]).await;
    let r = c
        .set_layout(set_layout("s1", pk("host-a", "host-b")))
        .await
        .unwrap()
        .into_inner();
    let now = c
        .get_session(pb::GetSessionRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        r.applied_at_ms <= now.media_time_ms + 100,
        "{r:?} vs {}",
        now.media_time_ms
    );
    assert!(matches!(
        now.layout.as_ref().unwrap().kind,
        Some(pb::layout::Kind::Pk(_))
    ));
    // Scheduled: applied at the first frame at/after the requested time.
    let at = now.media_time_ms + 300;
    let mut sched = set_layout("s1", grid(&["host-a", "host-b"]));
    sched.at_ms = Some(at);
    sched.transition = Some(pb::Transition {
        duration_ms: 200,
        easing: pb::Easing::Linear as i32,
        bezier: None,
    });
    let r = c.set_layout(sched).await.unwrap().into_inner();
    assert!(
        r.applied_at_ms >= at && r.applied_at_ms < at + 100,
        "asked {at}, applied {}",
        r.applied_at_ms
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_change_shows_in_the_rendered_frame() {
    const RED: [u8; 3] = [200, 30, 30];
    const PLACEHOLDER: [u8; 3] = [40, 40, 48];
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("px")).await.unwrap();
    c.add_input(pb::AddInputRequest {
        session_id: "px".into(),
        input_id: "a".into(),
        label: String::new(),
    })
    .await
    .unwrap();
    // Empty grid: the whole canvas shows the red background.
    let (_, img) = frame_at(&mut c, "px", 0).await;
    near(patch(&img, 80, 90), RED, "left before the change");
    near(patch(&img, 240, 90), RED, "right before the change");

    // Cut to a custom layout putting input "a" (no host yet: its placeholder) on the left half.
    let custom = pb::Layout {
        kind: Some(pb::layout::Kind::Custom(pb::CustomLayout {
            items: vec![pb::CustomItem {
                input_id: "a".into(),
                rect: Some(pb::Rect {
                    x: 0,
                    y: 0,
                    w: 160,
                    h: 180,
                }),
                ..Default::default()
            }],
        })),
        background: Some(pb::Background {
            color: Some(pb::Color {
                r: 200,
                g: 30,
                b: 30,
                a: 255,
            }),
            image_id: String::new(),
        }),
        ..Default::default()
    };
    let late0 = late_ticks(&mut c, "px").await;
    let r = c
        .set_layout(set_layout("px", custom))
        .await
        .unwrap()
        .into_inner();
    // The first frame at the applied time already shows the new layout (within one frame).
    let (pts, img) = frame_at(&mut c, "px", r.applied_at_ms).await;
    // (A real-time tick skipped because a loaded machine fell behind renders nothing, so
    // the bound holds whenever no tick was skipped meanwhile.)
    if late_ticks(&mut c, "px").await == late0 {
        assert!(
            pts < r.applied_at_ms + 67,
            "frame {pts} ms is not the one at {} ms",
            r.applied_at_ms
        );
    }
    near(patch(&img, 80, 90), PLACEHOLDER, "left after the cut");
    near(patch(&img, 240, 90), RED, "right after the cut");

    // A 400 ms linear transition to a grid with "a" alone (centred 16:9 tile): after the
    // transition (plus one frame) the picture is the new layout exactly.
    let mut tr = set_layout("px", grid(&["a"]));
    tr.layout.as_mut().unwrap().background = Some(pb::Background {
        color: Some(pb::Color {
            r: 30,
            g: 30,
            b: 200,
            a: 255,
        }),
        image_id: String::new(),
    });
    tr.transition = Some(pb::Transition {
        duration_ms: 400,
        easing: pb::Easing::Linear as i32,
        bezier: None,
    });
    let late0 = late_ticks(&mut c, "px").await;
    let r = c.set_layout(tr).await.unwrap().into_inner();
    // Mid-transition the background is between red and blue (right edge: no item there yet).
    let (mid, img) = frame_at(&mut c, "px", r.applied_at_ms + 200).await;
    if mid < r.applied_at_ms + 360 {
        let p = patch(&img, 300, 90);
        assert!(
            (50.0..180.0).contains(&p[0]) && (50.0..180.0).contains(&p[2]),
            "mid-transition background at {mid} ms: {p:?}"
        );
    }
    let (pts, img) = frame_at(&mut c, "px", r.applied_at_ms + 400).await;
    assert!(pts >= r.applied_at_ms + 400, "{pts}");
    if late_ticks(&mut c, "px").await == late0 {
        assert!(pts < r.applied_at_ms + 400 + 67, "{pts}");
    }
    // Grid of one 16:9 tile on a 320x180 canvas: the whole canvas is the input's placeholder.
    near(
        patch(&img, 80, 90),
        PLACEHOLDER,
        "left after the transition",
    );
    near(
        patch(&img, 240, 90),
        PLACEHOLDER,
        "right after the transition",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spotlight_follows_the_active_speaker() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("sp")).await.unwrap();
    for id in ["a", "b", "c"] {
        c.add_input(pb::AddInputRequest {
            session_id: "sp".into(),
            input_id: id.into(),
            label: String::new(),
        })
        .await
        .unwrap();
    }
    let spot = |others: &[&str], follow: bool| pb::Layout {
        kind: Some(pb::layout::Kind::Spotlight(pb::SpotlightLayout {
            main_input_id: "a".into(),
            other_input_ids: others.iter().map(|s| s.to_string()).collect(),
            strip: 0,
            strip_fraction: None,
            follow_active_speaker: follow,
        })),
        ..Default::default()
    };
    refused(
        c.set_layout(set_layout("sp", spot(&[], true))).await,
        Code::InvalidArgument,
        "layout.spotlight.follow_active_speaker: needs at least one other input",
    );
    c.set_layout(set_layout("sp", spot(&["b", "c"], true)))
        .await
        .unwrap();
    // The mixer reports "c" speaking (emitted here through the session handle).
    let slot = server.manager.resolve("sp", "a").unwrap();
    slot.session.emit(
        compositor_core::session::SessionEvent::ActiveSpeakerChanged {
            from: Some("a".into()),
            to: Some("c".into()),
            at: Duration::ZERO,
        },
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = session_state(&mut c, "sp").await;
        if let Some(pb::layout::Kind::Spotlight(l)) = s.layout.unwrap().kind
            && l.main_input_id == "c"
        {
            assert_eq!(l.other_input_ids, vec!["b".to_string(), "a".to_string()]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the spotlight did not follow the speaker"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Without follow, a speaker change leaves the layout alone.
    c.set_layout(set_layout("sp", spot(&["b", "c"], false)))
        .await
        .unwrap();
    slot.session.emit(
        compositor_core::session::SessionEvent::ActiveSpeakerChanged {
            from: Some("a".into()),
            to: Some("b".into()),
            at: Duration::ZERO,
        },
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = session_state(&mut c, "sp").await;
    match s.layout.unwrap().kind {
        Some(pb::layout::Kind::Spotlight(l)) => assert_eq!(l.main_input_id, "a"),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}
