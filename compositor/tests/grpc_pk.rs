//! The PK RPCs end to end (see `grpc_support`): StartPk switches to the PK layout and runs the
//! match, UpdatePkScore adds once per idempotency key, GetStats and WatchEvents show the
//! phase and scores, EndPk and CancelPk, and every refusal with its exact status and the
//! match unchanged after it. Also SetMixer's refusals and a label drawn as a name tag.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grpc_support;

use grpc_support::*;
use pb::update_pk_score_request::Change;
use proto::v1 as pb;
use tonic::Code;

fn team(ids: &[&str]) -> pb::PkTeam {
    pb::PkTeam {
        input_ids: ids.iter().map(|s| s.to_string()).collect(),
        color: None,
    }
}

fn start(teams: Vec<pb::PkTeam>, battle_ms: u32) -> pb::StartPkRequest {
    pb::StartPkRequest {
        session_id: "s1".into(),
        teams,
        battle_ms,
        punishment_ms: 0,
        intro_ms: Some(0),
        result_ms: Some(1000),
        ..Default::default()
    }
}

fn score(input: &str, change: Change, key: &str) -> pb::UpdatePkScoreRequest {
    pb::UpdatePkScoreRequest {
        session_id: "s1".into(),
        input_id: input.into(),
        change: Some(change),
        idempotency_key: key.into(),
    }
}

async fn pk_state(c: &mut Client) -> pb::PkState {
    c.get_stats(pb::GetStatsRequest {
        session_id: "s1".into(),
    })
    .await
    .unwrap()
    .into_inner()
    .pk
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_match_over_grpc_with_every_refusal() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    add_inputs(&mut c, "s1", &["a", "b"]).await;
    c.set_layout(set_layout("s1", grid(&["a", "b"])))
        .await
        .unwrap();
    wait_for_a_frame(&mut c, "s1").await;
    let mut events = c
        .watch_events(pb::WatchEventsRequest {
            session_id: "s1".into(),
            after_seq: 0,
        })
        .await
        .unwrap()
        .into_inner();

    // No match yet: a score is FAILED_PRECONDITION, EndPk and CancelPk too.
    refused(
        c.update_pk_score(score("a", Change::Add(5), "")).await,
        Code::FailedPrecondition,
        "no PK match",
    );
    refused(
        c.end_pk(pb::EndPkRequest {
            session_id: "s1".into(),
        })
        .await,
        Code::FailedPrecondition,
        "no PK match",
    );
    // Bad starts change nothing.
    refused(
        c.start_pk(start(vec![team(&["a"]), team(&["ghost"])], 60_000))
            .await,
        Code::NotFound,
        "ghost",
    );
    refused(
        c.start_pk(start(vec![team(&["a"])], 60_000)).await,
        Code::InvalidArgument,
        "teams",
    );
    refused(
        c.start_pk(start(vec![team(&["a"]), team(&["b"])], 100))
            .await,
        Code::InvalidArgument,
        "battle_ms",
    );
    refused(
        c.start_pk(start(vec![team(&["a"]), team(&["a"])], 60_000))
            .await,
        Code::InvalidArgument,
        "twice",
    );
    assert_eq!(pk_state(&mut c).await.phase, "idle");

    // Start: the battle runs (no intro), the layout is PK.
    let st = c
        .start_pk(start(vec![team(&["a"]), team(&["b"])], 60_000))
        .await
        .unwrap()
        .into_inner();
    assert!(st.phase == "battle" || st.phase == "idle", "{st:?}");
    refused(
        c.start_pk(start(vec![team(&["a"]), team(&["b"])], 60_000))
            .await,
        Code::FailedPrecondition,
        "already running",
    );
    // Scores: add, a retried key counts once, set; refusals.
    let r = c
        .update_pk_score(score("a", Change::Add(300), "gift-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(r.applied);
    let r = c
        .update_pk_score(score("a", Change::Add(300), "gift-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.applied, "the same key again changes nothing");
    c.update_pk_score(score("b", Change::Set(100), ""))
        .await
        .unwrap();
    refused(
        c.update_pk_score(score("ghost", Change::Add(1), "")).await,
        Code::NotFound,
        "ghost",
    );
    refused(
        c.update_pk_score(score("a", Change::Add(-1), "")).await,
        Code::InvalidArgument,
        "negative",
    );
    refused(
        c.update_pk_score(score("a", Change::Set(i64::MAX), ""))
            .await,
        Code::InvalidArgument,
        "out of range",
    );
    refused(
        c.update_pk_score(score("a", Change::Add(999_999_999_999), ""))
            .await,
        Code::InvalidArgument,
        "exceed",
    );
    refused(
        c.update_pk_score(pb::UpdatePkScoreRequest {
            change: None,
            ..score("a", Change::Add(1), "")
        })
        .await,
        Code::InvalidArgument,
        "change",
    );
    let st = pk_state(&mut c).await;
    assert_eq!(st.phase, "battle");
    assert_eq!((st.left_score, st.right_score), (300, 100));
    assert!(st.left_ms > 50_000 && st.left_ms <= 60_000, "{st:?}");

    // The frame shows the PK bar (left red over 75 % of the width at the top).
    let ms_now = c
        .get_stats(pb::GetStatsRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .media_time_ms;
    let (_, img2) = frame_at(&mut c, "s1", ms_now + 500).await;
    // 320 px wide, the split at 240; the 14 px bar's bottom rows are clear of the digits.
    let p = img2.get_pixel(200, 12).0;
    let q = img2.get_pixel(262, 12).0;
    assert!(p[0] > 180 && p[2] < 140, "left of the split red: {p:?}");
    assert!(q[2] > 180 && q[0] < 100, "right of the split blue: {q:?}");

    // End early → result (left wins), then idle after 1 s and the grid comes back.
    c.end_pk(pb::EndPkRequest {
        session_id: "s1".into(),
    })
    .await
    .unwrap();
    let mut seen = Vec::new();
    while !seen.iter().any(|(p, _): &(String, String)| p == "idle") {
        for ev in next_events(&mut events, 1).await {
            if let Some(pb::event::Kind::PkPhaseChanged(p)) = ev.kind {
                seen.push((p.phase, p.outcome));
            }
        }
    }
    assert_eq!(
        seen,
        vec![
            ("battle".to_owned(), String::new()),
            ("result".to_owned(), "left".to_owned()),
            ("idle".to_owned(), String::new()),
        ]
    );
    refused(
        c.cancel_pk(pb::CancelPkRequest {
            session_id: "s1".into(),
        })
        .await,
        Code::FailedPrecondition,
        "no PK match",
    );

    // Mixer: unknown inputs and contradictory fields are refused.
    refused(
        c.set_mixer(pb::SetMixerRequest {
            session_id: "s1".into(),
            solo_input_ids: vec!["ghost".into()],
            ..Default::default()
        })
        .await,
        Code::NotFound,
        "ghost",
    );
    refused(
        c.set_mixer(pb::SetMixerRequest {
            session_id: "s1".into(),
            ducking: Some(pb::Ducking {
                trigger_input_id: "a".into(),
                depth_db: 90.0,
                attack_ms: 10.0,
                release_ms: 10.0,
            }),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "depth_db",
    );
    // Close the event stream first: a graceful stop waits for open streams.
    drop(events);
    server.stop().await;
}
