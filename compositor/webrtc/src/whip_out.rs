//! WHIP egress (RFC 9725 client): publishes the composite to a WHIP endpoint with str0m.
//!
//! One attempt: bind a UDP socket on the interface that routes to the endpoint, offer one
//! send-only video (H.264 or VP8, as the encode makes) and one send-only Opus track, `POST` the
//! offer (`application/sdp`, optional bearer token), expect `201 Created` with an answer and a
//! `Location`, then drive the `Rtc` on this worker thread: packets from the output's queue are
//! written once ICE + DTLS are up (video from a keyframe on), PLI/FIR asks the encode for a
//! keyframe, and on removal the resource is `DELETE`d.
//!
//! Invariants: only this thread touches the `Rtc` and the socket; timestamps are rebased to the
//! first keyframe and converted to 90 kHz (video) and 48 kHz (Opus) RTP time; the token never
//! reaches a log. Plain `http://` endpoints only (TLS is not wired yet).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind as RtcKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tracing::{info, warn};

use compositor_media::output::packets::{
    DestinationError, MediaKind, PacketDestination, PacketLink, PacketView,
};
use compositor_media::output::{OutputTarget, VideoCodec};

/// WHIP egress as the output hub's packet destination for `OutputTarget::Whip`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WhipEgress;

impl PacketDestination for WhipEgress {
    fn serves(&self, target: &OutputTarget) -> bool {
        matches!(target, OutputTarget::Whip { .. })
    }

    fn run(
        &self,
        target: &OutputTarget,
        link: &PacketLink<'_>,
        attempt: &mut u32,
    ) -> Result<(), DestinationError> {
        match target {
            OutputTarget::Whip { url, token } => publish(link, attempt, url, token.as_deref()),
            _ => Err(DestinationError::fatal("not a WHIP target")),
        }
    }
}

/// How long the HTTP exchange and the ICE/DTLS set-up may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed `http://host:port/path` URL.
struct HttpUrl {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<HttpUrl, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| "only http:// WHIP endpoints are supported".to_string())?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse::<u16>()
                .map_err(|_| "bad port in the WHIP URL".to_string())?,
        ),
        None => (authority.to_string(), 80),
    };
    if host.is_empty() {
        return Err("no host in the WHIP URL".into());
    }
    Ok(HttpUrl {
        host,
        port,
        path: path.to_string(),
    })
}

/// Status, lower-cased headers and body of an HTTP response.
type HttpResponse = (u16, Vec<(String, String)>, String);

/// One HTTP/1.1 request (`Connection: close`); returns status, headers, body.
fn http(
    method: &str,
    url: &HttpUrl,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<HttpResponse, String> {
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("resolve {}: {e}", url.host))?
        .next()
        .ok_or_else(|| format!("resolve {}: no address", url.host))?;
    let mut s = TcpStream::connect_timeout(&addr, SETUP_TIMEOUT)
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = s.set_read_timeout(Some(SETUP_TIMEOUT));
    let _ = s.set_write_timeout(Some(SETUP_TIMEOUT));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n",
        url.host, url.port
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    match body {
        Some(b) => req.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )),
        None => req.push_str("Content-Length: 0\r\n\r\n"),
    }
    s.write_all(req.as_bytes())
        .map_err(|e| format!("send the request: {e}"))?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)
        .map_err(|e| format!("read the response: {e}"))?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| "malformed HTTP status line".to_string())?;
    let mut headers = Vec::new();
    let mut len: Option<usize> = None;
    loop {
        line.clear();
        r.read_line(&mut line)
            .map_err(|e| format!("read the headers: {e}"))?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "content-length" {
                len = v.parse().ok();
            }
            headers.push((k, v));
        }
        if headers.len() > 100 {
            return Err("too many HTTP headers".into());
        }
    }
    let mut body = Vec::new();
    match len {
        Some(n) if n <= 1 << 20 => {
            body.resize(n, 0);
            r.read_exact(&mut body)
                .map_err(|e| format!("read the body: {e}"))?;
        }
        Some(_) => return Err("answer too large".into()),
        None => {
            r.take(1 << 20)
                .read_to_end(&mut body)
                .map_err(|e| format!("read the body: {e}"))?;
        }
    }
    Ok((status, headers, String::from_utf8_lossy(&body).to_string()))
}

/// The local address that routes to `remote` (no packet is sent).
fn local_ip_towards(remote: SocketAddr) -> Result<std::net::IpAddr, String> {
    let probe = UdpSocket::bind(if remote.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })
    .map_err(|e| e.to_string())?;
    probe.connect(remote).map_err(|e| e.to_string())?;
    Ok(probe.local_addr().map_err(|e| e.to_string())?.ip())
}

/// UDP host candidates (address, port) in an SDP.
fn remote_candidates(sdp: &str) -> Vec<SocketAddr> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=candidate:"))
        .filter_map(|c| {
            let f: Vec<&str> = c.split_whitespace().collect();
            if f.len() < 6 || !f[2].eq_ignore_ascii_case("udp") {
                return None;
            }
            let ip: std::net::IpAddr = f[4].parse().ok()?;
            Some(SocketAddr::new(ip, f[5].parse().ok()?))
        })
        .take(32)
        .collect()
}

/// Which of our candidates a datagram from `source` reached (the socket listens on all).
fn arrived_on(locals: &[SocketAddr], source: SocketAddr) -> SocketAddr {
    if let Ok(ip) = local_ip_towards(source)
        && let Some(a) = locals.iter().find(|a| a.ip() == ip)
    {
        return *a;
    }
    locals[0]
}

/// The egress of one attempt: Ok = stopped on request.
fn publish(
    link: &PacketLink<'_>,
    attempt: &mut u32,
    url: &str,
    token: Option<&str>,
) -> Result<(), DestinationError> {
    let codec = link.codec();
    let url = parse_url(url).map_err(DestinationError::fatal)?;
    let server = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| DestinationError::retry(format!("resolve {}: {e}", url.host)))?
        .next()
        .ok_or_else(|| DestinationError::retry("no address for the WHIP host"))?;
    // One socket on every interface; host candidates for the interfaces that route to the
    // endpoint and (below) to each of its candidates. Loopback endpoints are common in tests,
    // and ICE agents such as libnice never offer loopback candidates themselves.
    let socket = UdpSocket::bind(if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })
    .map_err(|e| DestinationError::retry(e.to_string()))?;
    let port = socket
        .local_addr()
        .map_err(|e| DestinationError::retry(e.to_string()))?
        .port();
    let mut locals: Vec<SocketAddr> = Vec::new();
    let ip = local_ip_towards(server).map_err(DestinationError::retry)?;
    locals.push(SocketAddr::new(ip, port));
    let mut cfg = RtcConfig::new().clear_codecs().enable_opus(true, false);
    cfg = match codec {
        VideoCodec::H264 => cfg.enable_h264(true),
        VideoCodec::Vp8 => cfg.enable_vp8(true),
    };
    let mut rtc: Rtc = cfg.build(Instant::now());
    let cand =
        Candidate::host(locals[0], "udp").map_err(|e| DestinationError::fatal(e.to_string()))?;
    rtc.add_local_candidate(cand);
    let mut api = rtc.sdp_api();
    let vmid = api.add_media(
        RtcKind::Video,
        Direction::SendOnly,
        Some("composite".into()),
        Some("video".into()),
        None,
    );
    let amid = api.add_media(
        RtcKind::Audio,
        Direction::SendOnly,
        Some("composite".into()),
        Some("audio".into()),
        None,
    );
    let (offer, pending) = api
        .apply()
        .ok_or_else(|| DestinationError::fatal("no SDP offer to make"))?;
    // We take the DTLS client role (`setup:active`): the endpoint then asks for our (ECDSA)
    // certificate, which every stack accepts, rather than us asking for one it may not have.
    let offer_sdp = offer
        .to_sdp_string()
        .replace("a=setup:actpass", "a=setup:active");
    let (status, headers, body) =
        http("POST", &url, &url.path, token, Some(&offer_sdp)).map_err(DestinationError::retry)?;
    if status != 201 {
        let retry = !matches!(status, 400 | 401 | 403 | 404 | 405 | 415);
        let message = format!("WHIP endpoint answered {status}");
        return Err(DestinationError {
            message,
            retryable: retry,
        });
    }
    let location = headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.clone());
    let answer = SdpAnswer::from_sdp_string(&body)
        .map_err(|e| DestinationError::fatal(format!("bad SDP answer: {e}")))?;
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| DestinationError::fatal(format!("answer not accepted: {e}")))?;
    for remote in remote_candidates(&body) {
        if remote.is_ipv4() != server.is_ipv4() {
            continue;
        }
        if let Ok(ip) = local_ip_towards(remote) {
            let a = SocketAddr::new(ip, port);
            if !locals.contains(&a)
                && let Ok(c) = Candidate::host(a, "udp")
            {
                rtc.add_local_candidate(c);
                locals.push(a);
            }
        }
    }
    let result = drive(link, attempt, &mut rtc, &socket, &locals, vmid, amid, codec);
    if let Some(loc) = location {
        let path = if loc.starts_with('/') {
            loc
        } else if let Ok(u) = parse_url(&loc) {
            u.path
        } else {
            format!("{}/{}", url.path.trim_end_matches('/'), loc)
        };
        match http("DELETE", &url, &path, token, None) {
            Ok((s, _, _)) if (200..300).contains(&s) => {}
            Ok((s, _, _)) => warn!(output = %link.id(), status = s, "WHIP DELETE refused"),
            Err(e) => warn!(output = %link.id(), error = %e, "WHIP DELETE failed"),
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn drive(
    link: &PacketLink<'_>,
    attempt: &mut u32,
    rtc: &mut Rtc,
    socket: &UdpSocket,
    locals: &[SocketAddr],
    vmid: Mid,
    amid: Mid,
    codec: VideoCodec,
) -> Result<(), DestinationError> {
    let started = Instant::now();
    let mut connected = false;
    let mut need_key = true;
    let mut offset: Option<u64> = None;
    let mut buf = vec![0u8; 2000];
    let want = match codec {
        VideoCodec::H264 => Codec::H264,
        VideoCodec::Vp8 => Codec::Vp8,
    };
    let err = |e: &dyn std::fmt::Display| DestinationError::retry(e.to_string());
    loop {
        // Everything str0m wants to do now.
        let timeout = loop {
            match rtc.poll_output().map_err(|e| err(&e))? {
                Output::Timeout(t) => break t,
                Output::Transmit(t) => {
                    let _ = socket.send_to(&t.contents, t.destination);
                }
                Output::Event(Event::Connected) => {
                    connected = true;
                    *attempt = 0;
                    link.request_keyframe();
                    link.set_connected();
                    info!(output = %link.id(), "WHIP egress connected");
                }
                Output::Event(Event::KeyframeRequest(_)) => link.request_keyframe(),
                Output::Event(Event::IceConnectionStateChange(
                    IceConnectionState::Disconnected,
                )) => {
                    return Err(DestinationError::retry("ICE disconnected"));
                }
                Output::Event(_) => {}
            }
        };
        if link.stopping() {
            rtc.disconnect();
            return Ok(());
        }
        if !connected && started.elapsed() > SETUP_TIMEOUT {
            return Err(DestinationError::retry("ICE/DTLS did not connect in time"));
        }
        // Media from the queue (never more than what is there now).
        link.drain(|packet, gap| {
            if !connected {
                return Ok(false);
            }
            if gap {
                need_key = true;
                link.request_keyframe();
            }
            if need_key {
                if packet.kind != MediaKind::Video || !packet.keyframe {
                    return Ok(false);
                }
                need_key = false;
            }
            write(rtc, packet, &mut offset, vmid, amid, want).map_err(DestinationError::retry)?;
            Ok(true)
        })?;
        // Network input, waiting at most until str0m's next timeout (and 5 ms, for media).
        let wait = timeout
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(1), Duration::from_millis(5));
        let _ = socket.set_read_timeout(Some(wait));
        let input = match socket.recv_from(&mut buf) {
            Ok((n, source)) => match buf[..n].try_into() {
                Ok(contents) => Input::Receive(
                    Instant::now(),
                    Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: arrived_on(locals, source),
                        contents,
                    },
                ),
                Err(_) => Input::Timeout(Instant::now()),
            },
            Err(_) => Input::Timeout(Instant::now()),
        };
        rtc.handle_input(input).map_err(|e| err(&e))?;
    }
}

fn write(
    rtc: &mut Rtc,
    packet: PacketView<'_>,
    offset: &mut Option<u64>,
    vmid: Mid,
    amid: Mid,
    want: Codec,
) -> Result<(), String> {
    let Some(pts) = packet.pts.map(|t| t.as_nanos() as u64) else {
        return Ok(());
    };
    let off = *offset.get_or_insert(pts);
    let Some(t) = pts.checked_sub(off) else {
        return Ok(());
    };
    let (mid, codec, freq) = match packet.kind {
        MediaKind::Video => (vmid, want, Frequency::NINETY_KHZ),
        MediaKind::Audio => (amid, Codec::Opus, Frequency::FORTY_EIGHT_KHZ),
    };
    let Some(writer) = rtc.writer(mid) else {
        return Ok(());
    };
    let Some(pt) = writer
        .payload_params()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
    else {
        return Err(format!("the endpoint did not accept {codec:?}"));
    };
    let ticks = (u128::from(t) * u128::from(freq.get()) / 1_000_000_000) as u64;
    writer
        .write(
            pt,
            Instant::now(),
            MediaTime::new(ticks, freq),
            packet.data.to_vec(),
        )
        .map_err(|e| format!("write: {e}"))
}
