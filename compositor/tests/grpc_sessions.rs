//! The session RPCs of the gRPC control API end to end (see `grpc_support`): CreateSession
//! (validation, defaults, duplicate and generated ids, the server's session limit),
//! GetSession/ListSessions, DeleteSession, and malformed ids refused on every RPC, each
//! refusal with its exact status and the state unchanged after it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grpc_support;

use compositor_webrtc::ingest::IngestDirectory;
use grpc_support::*;
use proto::v1 as pb;
use tonic::Code;

async fn session_ids(c: &mut Client) -> Vec<String> {
    let list = c
        .list_sessions(pb::ListSessionsRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut ids: Vec<_> = list.sessions.iter().map(|s| s.session_id.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_session_refuses_invalid_requests_and_creates_nothing() {
    let server = Server::start().await;
    let mut c = server.client().await;
    let mut bad = small("s1");
    bad.width = 321;
    refused(
        c.create_session(bad).await,
        Code::InvalidArgument,
        "width: 321 must be even",
    );
    let mut bad = small("s1");
    bad.fps_num = 500;
    refused(
        c.create_session(bad).await,
        Code::InvalidArgument,
        "fps_num/fps_den",
    );
    let mut bad = small("s1");
    bad.sample_rate = 44_101;
    refused(
        c.create_session(bad).await,
        Code::InvalidArgument,
        "sample_rate: 44101 must be a multiple of 100",
    );
    let mut bad = small("s1");
    bad.latency_min_ms = 300;
    bad.latency_max_ms = 100;
    refused(
        c.create_session(bad).await,
        Code::InvalidArgument,
        "latency_max_ms: 100 is out of range 300..=5000",
    );
    let mut bad = small("s1");
    bad.layout = Some(pk("a", "b"));
    refused(c.create_session(bad).await, Code::NotFound, "input \"a\"");
    refused(
        c.create_session(small("bad/id")).await,
        Code::InvalidArgument,
        "session_id: contains '/'",
    );
    let list = c
        .list_sessions(pb::ListSessionsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        list.sessions.is_empty(),
        "refused creates left sessions behind: {list:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_session_applies_defaults_refuses_a_taken_id_and_generates_missing_ids() {
    let server = Server::start().await;
    let mut c = server.client().await;
    let s = c.create_session(small("s1")).await.unwrap().into_inner();
    assert_eq!(
        (s.session_id.as_str(), s.width, s.height, s.fps_num),
        ("s1", 320, 180, 15)
    );
    assert_eq!(
        (
            s.sample_rate,
            s.channels,
            s.latency_min_ms,
            s.latency_max_ms
        ),
        (48_000, 2, 20, 400)
    );
    refused(
        c.create_session(small("s1")).await,
        Code::AlreadyExists,
        "session \"s1\"",
    );
    let auto = c.create_session(small("")).await.unwrap().into_inner();
    assert!(
        auto.session_id.starts_with("s-") && auto.session_id.len() == 14,
        "{}",
        auto.session_id
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_beyond_the_server_limit_is_resource_exhausted() {
    let server = Server::start().await;
    let mut c = server.client().await;
    // The server's session limit (4 here) is RESOURCE_EXHAUSTED.
    for id in ["s1", "", "s3", "s4"] {
        c.create_session(small(id)).await.unwrap();
    }
    refused(
        c.create_session(small("s5")).await,
        Code::ResourceExhausted,
        "at most 4 sessions",
    );
    for id in ["s3", "s4"] {
        c.delete_session(pb::DeleteSessionRequest {
            session_id: id.into(),
        })
        .await
        .unwrap();
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_session_refuses_unknown_or_empty_ids_and_list_sessions_lists_all() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    let auto = c.create_session(small("")).await.unwrap().into_inner();
    refused(
        c.get_session(pb::GetSessionRequest {
            session_id: "nope".into(),
        })
        .await,
        Code::NotFound,
        "session \"nope\"",
    );
    refused(
        c.get_session(pb::GetSessionRequest {
            session_id: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "session_id: must not be empty",
    );
    assert_eq!(
        session_ids(&mut c).await,
        vec![auto.session_id.clone(), "s1".to_string()]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ids_are_invalid_argument_on_every_rpc_and_change_nothing() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    c.create_session(small("")).await.unwrap();
    add_inputs(&mut c, "s1", &["host-a"]).await;
    refused(
        c.get_stats(pb::GetStatsRequest {
            session_id: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "session_id: must not be empty",
    );
    refused(
        c.list_outputs(pb::ListOutputsRequest {
            session_id: "a b".into(),
        })
        .await,
        Code::InvalidArgument,
        "session_id: contains ' '",
    );
    refused(
        c.remove_output(pb::RemoveOutputRequest {
            session_id: "s1".into(),
            output_id: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "output_id: must not be empty",
    );
    refused(
        c.remove_image(pb::RemoveImageRequest {
            session_id: "s1".into(),
            image_id: "x/y".into(),
        })
        .await,
        Code::InvalidArgument,
        "image_id: contains '/'",
    );
    refused(
        c.remove_input(pb::RemoveInputRequest {
            session_id: "s1".into(),
            input_id: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "input_id: must not be empty",
    );
    refused(
        c.register_image(pb::RegisterImageRequest {
            session_id: "s1".into(),
            image_id: String::new(),
            source: Some(pb::register_image_request::Source::Data(png_bytes(
                2,
                2,
                [0, 0, 0, 255],
            ))),
        })
        .await,
        Code::InvalidArgument,
        "image_id: must not be empty",
    );
    refused(
        c.watch_events(pb::WatchEventsRequest {
            session_id: String::new(),
            after_seq: 0,
        })
        .await,
        Code::InvalidArgument,
        "session_id: must not be empty",
    );
    refused(
        c.get_frame(pb::GetFrameRequest {
            session_id: "a:b".into(),
            at_or_after_ms: None,
        })
        .await,
        Code::InvalidArgument,
        "session_id: contains ':'",
    );
    refused(
        c.delete_session(pb::DeleteSessionRequest {
            session_id: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "session_id: must not be empty",
    );
    assert_eq!(
        c.list_sessions(pb::ListSessionsRequest {})
            .await
            .unwrap()
            .into_inner()
            .sessions
            .len(),
        2
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_session_reports_its_frames_frees_its_inputs_and_refuses_a_second_delete() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    let auto = c.create_session(small("")).await.unwrap().into_inner();
    add_inputs(&mut c, "s1", &["host-a"]).await;
    assert!(server.manager.resolve("s1", "host-a").is_ok());
    wait_for_a_frame(&mut c, "s1").await;
    let d = c
        .delete_session(pb::DeleteSessionRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(d.frames > 0);
    refused(
        c.delete_session(pb::DeleteSessionRequest {
            session_id: "s1".into(),
        })
        .await,
        Code::NotFound,
        "session \"s1\"",
    );
    assert!(server.manager.resolve("s1", "host-a").is_err());
    c.delete_session(pb::DeleteSessionRequest {
        session_id: auto.session_id.clone(),
    })
    .await
    .unwrap();
    let list = c
        .list_sessions(pb::ListSessionsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(list.sessions.is_empty());
    server.stop().await;
}
