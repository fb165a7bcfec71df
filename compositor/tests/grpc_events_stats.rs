//! The observation RPCs of the gRPC control API end to end (see `grpc_support`): WatchEvents
//! (order, consecutive sequence numbers, resuming after a seq, the end on deletion), GetStats
//! and GetFrame, with their refusals' exact status.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grpc_support;

use std::time::Duration;

use compositor_webrtc::ingest::IngestDirectory;
use grpc_support::*;
use proto::v1 as pb;
use tokio_stream::StreamExt;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_events_delivers_joins_leaves_and_layouts_in_order() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("ev")).await.unwrap();
    refused(
        c.watch_events(pb::WatchEventsRequest {
            session_id: "nope".into(),
            after_seq: 0,
        })
        .await,
        Code::NotFound,
        "session \"nope\"",
    );
    let mut stream = c
        .watch_events(pb::WatchEventsRequest {
            session_id: "ev".into(),
            after_seq: 0,
        })
        .await
        .unwrap()
        .into_inner();
    for id in ["a", "b"] {
        c.add_input(pb::AddInputRequest {
            session_id: "ev".into(),
            input_id: id.into(),
            label: String::new(),
        })
        .await
        .unwrap();
    }
    let applied = c
        .set_layout(set_layout("ev", pk("a", "b")))
        .await
        .unwrap()
        .into_inner();
    // The WHIP endpoint reports a host joining and leaving through the session handle.
    let slot = server.manager.resolve("ev", "a").unwrap();
    slot.session
        .emit(compositor_core::session::SessionEvent::HostJoined {
            id: "a".into(),
            remote: "198.51.100.7:5000".into(),
        });
    slot.session
        .emit(compositor_core::session::SessionEvent::HostLeft {
            id: "a".into(),
            reason: "DELETE".into(),
        });
    c.set_layout(set_layout("ev", grid(&["a"]))).await.unwrap();
    c.remove_input(pb::RemoveInputRequest {
        session_id: "ev".into(),
        input_id: "b".into(),
    })
    .await
    .unwrap();

    let evs = next_events(&mut stream, 7).await;
    let names: Vec<_> = evs.iter().map(describe).collect();
    assert_eq!(
        names,
        vec![
            "input_added:a",
            "input_added:b",
            "layout_applied",
            "host_joined:a",
            "host_left:a",
            "layout_applied",
            "input_removed:b",
        ]
    );
    for w in evs.windows(2) {
        assert_eq!(
            w[1].seq,
            w[0].seq + 1,
            "sequence numbers must be consecutive"
        );
    }
    match evs[2].kind.as_ref().unwrap() {
        pb::event::Kind::LayoutApplied(l) => assert_eq!(l.at_ms, applied.applied_at_ms),
        other => panic!("{other:?}"),
    }
    // A watcher that reconnects with the last seq it saw gets exactly the rest.
    drop(stream);
    let mut resumed = c
        .watch_events(pb::WatchEventsRequest {
            session_id: "ev".into(),
            after_seq: evs[3].seq,
        })
        .await
        .unwrap()
        .into_inner();
    c.add_input(pb::AddInputRequest {
        session_id: "ev".into(),
        input_id: "c".into(),
        label: String::new(),
    })
    .await
    .unwrap();
    let rest: Vec<_> = next_events(&mut resumed, 4)
        .await
        .iter()
        .map(describe)
        .collect();
    assert_eq!(
        rest,
        vec![
            "host_left:a",
            "layout_applied",
            "input_removed:b",
            "input_added:c"
        ]
    );
    // Deleting the session ends the stream with NOT_FOUND.
    c.delete_session(pb::DeleteSessionRequest {
        session_id: "ev".into(),
    })
    .await
    .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), resumed.next())
        .await
        .unwrap();
    match end {
        Some(Err(e)) => assert_eq!(e.code(), Code::NotFound),
        other => panic!("expected NOT_FOUND at the end of the stream, got {other:?}"),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_stats_counts_frames_and_media_time_and_refuses_unknown_sessions() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    wait_for_a_frame(&mut c, "s1").await;
    let st = c
        .get_stats(pb::GetStatsRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(st.frames > 0 && st.media_time_ms > 0, "{st:?}");
    refused(
        c.get_stats(pb::GetStatsRequest {
            session_id: "zz".into(),
        })
        .await,
        Code::NotFound,
        "session \"zz\"",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_frame_returns_a_canvas_sized_png_and_refuses_far_future_times_or_unknown_sessions() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    let f = c
        .get_frame(pb::GetFrameRequest {
            session_id: "s1".into(),
            at_or_after_ms: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((f.width, f.height), (320, 180));
    let img = image::load_from_memory(&f.png).unwrap();
    assert_eq!((img.width(), img.height()), (320, 180));
    refused(
        c.get_frame(pb::GetFrameRequest {
            session_id: "s1".into(),
            at_or_after_ms: Some(f.pts_ms + 3_600_000),
        })
        .await,
        Code::InvalidArgument,
        "at_or_after_ms",
    );
    refused(
        c.get_frame(pb::GetFrameRequest {
            session_id: "zz".into(),
            at_or_after_ms: None,
        })
        .await,
        Code::NotFound,
        "session \"zz\"",
    );
    server.stop().await;
}
