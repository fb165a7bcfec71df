//! The input RPCs of the gRPC control API end to end (see `grpc_support`): AddInput (WHIP URL
//! and token), UpdateInput (label; gain and mute once audio flows; placeholder image, visible
//! in the rendered frame) and RemoveInput, each refusal with its exact status and the session
//! unchanged after it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grpc_support;

use std::time::{Duration, Instant};

use compositor_webrtc::ingest::IngestDirectory;
use grpc_support::*;
use pb::register_image_request::Source;
use proto::v1 as pb;
use tonic::Code;

/// An UpdateInput of input "host-a" in session "s1".
fn upd(label: Option<&str>, vol: Option<f32>, mute: Option<bool>) -> pb::UpdateInputRequest {
    pb::UpdateInputRequest {
        session_id: "s1".into(),
        input_id: "host-a".into(),
        label: label.map(str::to_owned),
        volume_db: vol,
        mute,
        placeholder_image_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_input_returns_its_whip_url_and_a_distinct_token_the_whip_side_resolves() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    let a = c
        .add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "host-a".into(),
            label: "Host A".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.whip_url, "http://203.0.113.5:8080/whip/s1/host-a");
    assert_eq!(a.bearer_token.len(), 32);
    assert_eq!(a.input.as_ref().unwrap().label, "Host A");
    // The WHIP side resolves the same slot and token.
    let slot = server.manager.resolve("s1", "host-a").unwrap();
    assert_eq!(slot.token, a.bearer_token);
    assert!(server.manager.resolve("s1", "ghost").is_err());
    let b = c
        .add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "host-b".into(),
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(a.bearer_token, b.bearer_token);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_input_refuses_taken_or_malformed_ids_and_unknown_sessions_changing_nothing() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    add_inputs(&mut c, "s1", &["host-a", "host-b"]).await;
    let before = session_state(&mut c, "s1").await;
    refused(
        c.add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "host-a".into(),
            label: String::new(),
        })
        .await,
        Code::AlreadyExists,
        "input \"host-a\"",
    );
    refused(
        c.add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "a b".into(),
            label: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "input_id: contains ' '",
    );
    refused(
        c.add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "x".repeat(129),
            label: String::new(),
        })
        .await,
        Code::InvalidArgument,
        "input_id: is 129 bytes; at most 128 allowed",
    );
    refused(
        c.add_input(pb::AddInputRequest {
            session_id: "s1".into(),
            input_id: "c".into(),
            label: "bad\u{7}".into(),
        })
        .await,
        Code::InvalidArgument,
        "label: must not contain control characters",
    );
    refused(
        c.add_input(pb::AddInputRequest {
            session_id: "zz".into(),
            input_id: "c".into(),
            label: String::new(),
        })
        .await,
        Code::NotFound,
        "session \"zz\"",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused AddInput changed the session"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_input_sets_the_label_and_refuses_bad_gain_missing_audio_images_or_inputs() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    add_inputs(&mut c, "s1", &["host-a", "host-b"]).await;
    let i = c
        .update_input(upd(Some("Alice"), None, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(i.label, "Alice");
    let before = session_state(&mut c, "s1").await;
    refused(
        c.update_input(upd(Some("Bob"), Some(f32::NAN), None)).await,
        Code::InvalidArgument,
        "volume_db: must be a finite number",
    );
    refused(
        c.update_input(upd(None, Some(30.0), None)).await,
        Code::InvalidArgument,
        "volume_db: 30 is out of range -60..=24",
    );
    // No audio from the host yet: the mixer does not know the input.
    refused(
        c.update_input(upd(Some("Bob"), Some(-6.0), None)).await,
        Code::FailedPrecondition,
        "has no audio yet",
    );
    let mut ph = upd(None, None, None);
    ph.placeholder_image_id = Some("logo".into());
    refused(c.update_input(ph).await, Code::NotFound, "image \"logo\"");
    let mut ph = upd(None, None, None);
    ph.placeholder_image_id = Some("a/b".into());
    refused(
        c.update_input(ph).await,
        Code::InvalidArgument,
        "placeholder_image_id: contains '/'",
    );
    let mut ghost = upd(Some("x"), None, None);
    ghost.input_id = "ghost".into();
    refused(
        c.update_input(ghost).await,
        Code::NotFound,
        "input \"ghost\"",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused UpdateInput changed the session"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_input_gain_and_mute_apply_once_audio_flows_and_show_in_the_mixer_stats() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    add_inputs(&mut c, "s1", &["host-a"]).await;
    // Once audio flows (fed through the ingest directory, as WHIP will), gain and mute work.
    let sender = server.manager.resolve("s1", "host-a").unwrap();
    let feeder = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(4) {
            let pts = sender.session.session_time(Instant::now());
            let block = compositor_core::frame::AudioBlock {
                pts,
                sample_rate: 48_000,
                channels: 2,
                samples: vec![0.1; 960 * 2],
            };
            if sender.sender.send_audio(block).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    let i = loop {
        match c
            .update_input(upd(Some("Bob"), Some(-6.0), Some(true)))
            .await
        {
            Ok(r) => break r.into_inner(),
            Err(e) if e.code() == Code::FailedPrecondition && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("UpdateInput with audio flowing: {e:?}"),
        }
    };
    assert_eq!((i.label.as_str(), i.volume_db, i.mute), ("Bob", -6.0, true));
    feeder.join().unwrap();
    // The mixer reports the gain and mute it applies to the input.
    let st = c
        .get_stats(pb::GetStatsRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let ia = st
        .inputs
        .iter()
        .find(|i| i.input_id == "host-a")
        .expect("host-a stats");
    assert!(ia.audio_in > 0, "{ia:?}");
    let au = ia.audio.as_ref().expect("mixer figures for host-a");
    assert_eq!((au.gain_db, au.muted), (-6.0, true));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_input_placeholder_image_fills_the_tile_of_a_silent_input_until_cleared() {
    const PH_GREEN: [u8; 3] = [40, 180, 60];
    const PLAIN: [u8; 3] = [40, 40, 48];
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    add_inputs(&mut c, "s1", &["host-a"]).await;
    let reg = |id: &str, source: Option<Source>| pb::RegisterImageRequest {
        session_id: "s1".into(),
        image_id: id.into(),
        source,
    };
    let rm = |id: &str| pb::RemoveImageRequest {
        session_id: "s1".into(),
        image_id: id.into(),
    };
    // A grid of host-a alone over an image background.
    c.register_image(reg(
        "bg",
        Some(Source::Data(png_bytes(16, 16, [0, 0, 255, 255]))),
    ))
    .await
    .unwrap();
    let mut with_bg = grid(&["host-a"]);
    with_bg.background = Some(pb::Background {
        color: None,
        image_id: "bg".into(),
    });
    c.set_layout(set_layout("s1", with_bg)).await.unwrap();

    // host-a has sent no video: its tile (the whole 320x180 canvas, a grid of one 16:9 tile)
    // shows the plain placeholder until a placeholder image is set.
    c.register_image(reg(
        "ph",
        Some(Source::Data(png_bytes(64, 64, [40, 180, 60, 255]))),
    ))
    .await
    .unwrap();
    let set_ph = |id: &str| {
        let mut r = upd(None, None, None);
        r.placeholder_image_id = Some(id.into());
        r
    };
    let media_ms = |s: pb::Session| s.media_time_ms;
    let now = media_ms(
        c.get_session(pb::GetSessionRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner(),
    );
    let (_, img) = frame_at(&mut c, "s1", now + 1).await;
    near(
        patch(&img, 160, 90),
        PLAIN,
        "host-a before its placeholder image",
    );
    let i = c.update_input(set_ph("ph")).await.unwrap().into_inner();
    assert_eq!(i.placeholder_image_id, "ph");
    let s = session_state(&mut c, "s1").await;
    let a = s.inputs.iter().find(|i| i.input_id == "host-a").unwrap();
    assert_eq!(a.placeholder_image_id, "ph");
    let now = media_ms(
        c.get_session(pb::GetSessionRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner(),
    );
    let (_, img) = frame_at(&mut c, "s1", now + 1).await;
    near(
        patch(&img, 160, 90),
        PH_GREEN,
        "host-a shows its placeholder image",
    );
    near(patch(&img, 20, 20), PH_GREEN, "host-a's whole tile");
    let before = session_state(&mut c, "s1").await;
    refused(
        c.remove_image(rm("ph")).await,
        Code::FailedPrecondition,
        "placeholder of input \"host-a\"",
    );
    refused(
        c.update_input(set_ph("nope")).await,
        Code::NotFound,
        "image \"nope\"",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused placeholder changes changed the session"
    );
    let i = c.update_input(set_ph("")).await.unwrap().into_inner();
    assert_eq!(i.placeholder_image_id, "");
    let now = media_ms(
        c.get_session(pb::GetSessionRequest {
            session_id: "s1".into(),
        })
        .await
        .unwrap()
        .into_inner(),
    );
    let (_, img) = frame_at(&mut c, "s1", now + 1).await;
    near(
        patch(&img, 160, 90),
        PLAIN,
        "host-a after clearing its placeholder image",
    );
    c.remove_image(rm("ph")).await.unwrap();
    let s = session_state(&mut c, "s1").await;
    assert_eq!(s.image_ids, vec!["bg".to_string()]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_input_refuses_inputs_in_the_layout_or_unknown_then_frees_the_whip_slot() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    add_inputs(&mut c, "s1", &["host-a", "host-b"]).await;
    c.set_layout(set_layout("s1", pk("host-a", "host-b")))
        .await
        .unwrap();
    let before = session_state(&mut c, "s1").await;
    refused(
        c.remove_input(pb::RemoveInputRequest {
            session_id: "s1".into(),
            input_id: "host-b".into(),
        })
        .await,
        Code::FailedPrecondition,
        "in the current layout",
    );
    refused(
        c.remove_input(pb::RemoveInputRequest {
            session_id: "s1".into(),
            input_id: "ghost".into(),
        })
        .await,
        Code::NotFound,
        "input \"ghost\"",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused RemoveInput changed the session"
    );
    c.set_layout(set_layout("s1", grid(&["host-a"])))
        .await
        .unwrap();
    c.remove_input(pb::RemoveInputRequest {
        session_id: "s1".into(),
        input_id: "host-b".into(),
    })
    .await
    .unwrap();
    assert!(server.manager.resolve("s1", "host-b").is_err());
    let s = session_state(&mut c, "s1").await;
    assert_eq!(
        s.inputs
            .iter()
            .map(|i| i.input_id.as_str())
            .collect::<Vec<_>>(),
        vec!["host-a"]
    );
    server.stop().await;
}
