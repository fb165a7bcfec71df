//! WHIP HTTP endpoint (RFC 9725): every refusal answers the right status and leaves nothing
//! behind (no peer registered, no host event, nothing in the slot); a valid offer gets 201 +
//! Location + an ICE-lite answer; DELETE ends it; a second publish replaces the first; a
//! peer that never completes ICE is freed after the ICE timeout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod whip_support;

use std::time::Duration;

use compositor_core::session::SessionEvent;
use compositor_webrtc::ingest::WhipConfig;
use whip_support::{Harness, TOKEN};

const FP: &str = "sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99";

fn offer(audio_codec: &str, video_codec: &str) -> String {
    let mut s = String::new();
    s.push_str("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    s.push_str("a=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\n");
    let (apt, artp) = match audio_codec {
        "opus" => (111, "opus/48000/2"),
        _ => (0, "PCMU/8000"),
    };
    let (vpt, vrtp) = match video_codec {
        "VP8" => (96, "VP8/90000"),
        _ => (34, "H263/90000"),
    };
    for (mid, kind, pt, rtp, ssrc) in [(0, "audio", apt, artp, 1111), (1, "video", vpt, vrtp, 2222)]
    {
        s.push_str(&format!(
            "m={kind} 9 UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\n"
        ));
        s.push_str(
            "a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n",
        );
        s.push_str(&format!(
            "a=fingerprint:{FP}\r\na=setup:actpass\r\na=mid:{mid}\r\n"
        ));
        s.push_str("a=sendonly\r\na=rtcp-mux\r\n");
        s.push_str(&format!("a=rtpmap:{pt} {rtp}\r\n"));
        if kind == "video" {
            s.push_str(&format!(
                "a=rtcp-fb:{pt} nack\r\na=rtcp-fb:{pt} nack pli\r\n"
            ));
        }
        s.push_str(&format!("a=ssrc:{ssrc} cname:test\r\n"));
    }
    s
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

fn request(
    h: &Harness,
    method: &str,
    path: &str,
    token: Option<&str>,
    ctype: Option<&str>,
    body: String,
) -> Reply {
    let url = format!("{}{path}", h.base);
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    h.rt.block_on(async move {
        let mut req = reqwest::Client::new().request(method, url).body(body);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(c) = ctype {
            req = req.header("Content-Type", c);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.unwrap();
        Reply {
            status,
            headers,
            body,
        }
    })
}

fn host_events(h: &Harness) -> Vec<SessionEvent> {
    h.events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                SessionEvent::HostJoined { .. }
                    | SessionEvent::HostLeft { .. }
                    | SessionEvent::MediaStarted { .. }
            )
        })
        .collect()
}

fn assert_nothing_left(h: &Harness, case: &str) {
    assert_eq!(h.server.peer_count(), 0, "{case}: a peer was left behind");
    assert!(h.server.stats().is_empty(), "{case}: stats show a host");
    assert!(
        host_events(h).is_empty(),
        "{case}: host events {:?}",
        host_events(h)
    );
}

#[test]
fn every_refusal_has_its_status_and_allocates_nothing() {
    let mut h = Harness::start(WhipConfig {
        max_body_bytes: 4096,
        ..WhipConfig::default()
    });
    let good = offer("opus", "VP8");
    let sdp = Some("application/sdp");

    let r = request(
        &h,
        "POST",
        "/whip/nope/host",
        Some(TOKEN),
        sdp,
        good.clone(),
    );
    assert_eq!(r.status, 404, "unknown session: {}", r.body);
    assert_nothing_left(&h, "unknown session");

    let r = request(
        &h,
        "POST",
        "/whip/s1/nobody",
        Some(TOKEN),
        sdp,
        good.clone(),
    );
    assert_eq!(r.status, 404, "unknown input: {}", r.body);
    assert_nothing_left(&h, "unknown input");

    let r = request(&h, "POST", "/whip/s1/host", None, sdp, good.clone());
    assert_eq!(r.status, 401, "no token");
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_nothing_left(&h, "no token");

    let r = request(
        &h,
        "POST",
        "/whip/s1/host",
        Some("wrong-token!"),
        sdp,
        good.clone(),
    );
    assert_eq!(r.status, 401, "wrong token");
    assert_nothing_left(&h, "wrong token");

    let r = request(
        &h,
        "POST",
        "/whip/s1/host",
        Some(TOKEN),
        Some("text/plain"),
        good.clone(),
    );
    assert_eq!(r.status, 415, "content type");
    assert_nothing_left(&h, "content type");

    let mut big = good.clone();
    while big.len() <= 4096 {
        big.push_str("a=x-padding:0123456789abcdef0123456789abcdef\r\n");
    }
    let r = request(&h, "POST", "/whip/s1/host", Some(TOKEN), sdp, big);
    assert_eq!(r.status, 413, "body over the limit");
    assert_nothing_left(&h, "too large");

    let r = request(
        &h,
        "POST",
        "/whip/s1/host",
        Some(TOKEN),
        sdp,
        "hello".into(),
    );
    assert_eq!(r.status, 400, "garbage");
    assert_nothing_left(&h, "garbage");

    let r = request(
        &h,
        "POST",
        "/whip/s1/host",
        Some(TOKEN),
        sdp,
        offer("pcmu", "H263"),
    );
    assert_eq!(r.status, 400, "no codec we decode");
    assert!(r.body.contains("no codec we decode"), "{}", r.body);
    assert!(
        r.body.contains("PCMU") && r.body.contains("H263"),
        "{}",
        r.body
    );
    assert_nothing_left(&h, "codecs");

    let r = request(&h, "OPTIONS", "/whip/s1/host", None, None, String::new());
    assert_eq!(r.status, 204, "preflight");
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    let allow = r.headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allow.contains("Authorization") && allow.contains("Content-Type"));
    assert!(
        r.headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("Location")
    );
    assert_nothing_left(&h, "options");

    let r = request(
        &h,
        "DELETE",
        "/whip/s1/host/0123",
        Some(TOKEN),
        None,
        String::new(),
    );
    assert_eq!(r.status, 404, "delete unknown");
    let r = request(
        &h,
        "PATCH",
        "/whip/s1/host/0123",
        Some(TOKEN),
        Some("application/trickle-ice-sdpfrag"),
        "a=end-of-candidates\r\n".into(),
    );
    assert_eq!(r.status, 405, "patch");
    assert_nothing_left(&h, "delete/patch");

    // Nothing reached the slot either.
    let st = h.handle.stats();
    let (_, input) = st.inputs.iter().find(|(id, _)| id == "host").unwrap();
    assert_eq!((input.video_in, input.audio_in), (0, 0));
    h.shutdown();
}

#[test]
fn publish_delete_replace_and_ice_timeout() {
    let mut h = Harness::start(WhipConfig {
        ice_timeout: Duration::from_millis(700),
        ..WhipConfig::default()
    });
    let sdp = Some("application/sdp");
    let r = request(
        &h,
        "POST",
        "/whip/s1/host",
        Some(TOKEN),
        sdp,
        offer("opus", "VP8"),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/sdp");
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    let location = r.headers["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/whip/s1/host/"), "{location}");
    assert!(r.body.contains("a=ice-lite"), "{}", r.body);
    let udp = h.server.udp_addr();
    assert!(
        r.body
            .contains(&format!("{} {} typ host", udp.ip(), udp.port())),
        "answer lacks our candidate {udp}: {}",
        r.body
    );
    assert!(
        r.body.contains("VP8/90000") && r.body.contains("opus/48000"),
        "{}",
        r.body
    );
    assert_eq!(h.server.peer_count(), 1);

    // DELETE needs the token; then the peer is gone and the host has left.
    let r = request(&h, "DELETE", &location, Some("nope"), None, String::new());
    assert_eq!(r.status, 401);
    assert_eq!(h.server.peer_count(), 1);
    let r = request(&h, "DELETE", &location, Some(TOKEN), None, String::new());
    assert_eq!(r.status, 200);
    assert_eq!(h.server.peer_count(), 0);
    assert!(h.events().contains(&SessionEvent::HostLeft {
        id: "host".into(),
        reason: "deleted".into()
    }));
    let r = request(&h, "DELETE", &location, Some(TOKEN), None, String::new());
    assert_eq!(r.status, 404, "already deleted");

    // A second publish to the same input replaces the first.
    let a = request(
        &h,
        "POST",
        "/whip/s1/host",
        Some(TOKEN),
        sdp,
        offer("opus", "VP8"),
    );
    let b = request(
        &h,
        "POST",
        "/whip/s1/host",
        Some(TOKEN),
        sdp,
        offer("opus", "VP8"),
    );
    assert_eq!((a.status, b.status), (201, 201));
    assert_ne!(a.headers["location"], b.headers["location"]);
    h.wait_for(Duration::from_secs(2), "the first peer replaced", |h| {
        h.events().contains(&SessionEvent::HostLeft {
            id: "host".into(),
            reason: "replaced".into(),
        })
    });
    assert_eq!(h.server.peer_count(), 1);
    let old = request(
        &h,
        "DELETE",
        a.headers["location"].to_str().unwrap(),
        Some(TOKEN),
        None,
        String::new(),
    );
    assert_eq!(old.status, 404, "the replaced resource is gone");

    // Nobody connects: the ICE timeout frees the peer.
    h.wait_for(Duration::from_secs(3), "ICE timeout", |h| {
        h.server.peer_count() == 0
    });
    assert!(h.events().contains(&SessionEvent::HostLeft {
        id: "host".into(),
        reason: "ice/dtls timeout".into()
    }));
    h.shutdown();
}

#[test]
fn host_limit_answers_503_but_a_reconnect_replaces() {
    let mut h = Harness::start(WhipConfig {
        max_peers: 1,
        ..WhipConfig::default()
    });
    let sender = h.handle.add_input("guest").unwrap();
    h.directory.slots.lock().unwrap().insert(
        ("s1".into(), "guest".into()),
        compositor_webrtc::ingest::IngestSlot {
            token: TOKEN.into(),
            sender,
            session: h.handle.clone(),
        },
    );
    let sdp = Some("application/sdp");
    let a = request(
        &h,
        "POST",
        "/whip/s1/host",
        Some(TOKEN),
        sdp,
        offer("opus", "VP8"),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let g = request(
        &h,
        "POST",
        "/whip/s1/guest",
        Some(TOKEN),
        sdp,
        offer("opus", "VP8"),
    );
    assert_eq!(g.status, 503, "over the host limit: {}", g.body);
    assert_eq!(h.server.peer_count(), 1);
    let b = request(
        &h,
        "POST",
        "/whip/s1/host",
        Some(TOKEN),
        sdp,
        offer("opus", "VP8"),
    );
    assert_eq!(b.status, 201, "a reconnect replaces: {}", b.body);
    h.wait_for(Duration::from_secs(2), "the first peer replaced", |h| {
        h.events().contains(&SessionEvent::HostLeft {
            id: "host".into(),
            reason: "replaced".into(),
        })
    });
    assert_eq!(h.server.peer_count(), 1);
    h.shutdown();
}
