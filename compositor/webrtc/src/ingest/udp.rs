//! The UDP loop: one tokio task owns the one UDP socket and every [`Peer`]; datagrams are
//! routed with `Rtc::accepts`; peers are driven on their own timeouts (at least every
//! [`super::peer::HOUSEKEEPING`]). The HTTP side talks to it through a bounded command channel.
//!
//! Invariants: only this task touches peers; the registry (shared with HTTP and stats) is
//! updated here when a peer leaves, so "no peer left behind" can be checked from outside.
//! Received datagrams are given to str0m with `destination` = the advertised address (what the
//! host's ICE candidate says), so NATs and relays in between do not confuse ICE.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::Input;
use str0m::net::{Protocol, Receive};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::peer::Peer;
use super::registry::Registry;

/// What the HTTP side asks of the loop.
#[derive(Debug)]
pub enum LoopCommand {
    /// Start driving a negotiated peer.
    Add(Box<Peer>),
    /// End a peer (DELETE, replaced); replies whether it existed.
    Remove {
        /// Resource id.
        resource: String,
        /// `HostLeft` reason.
        reason: String,
        /// Reply.
        done: Option<oneshot::Sender<bool>>,
    },
    /// Close every peer and end the loop.
    Shutdown(oneshot::Sender<()>),
}

/// Runs until [`LoopCommand::Shutdown`] or until every command sender is gone.
pub async fn run(
    socket: UdpSocket,
    advertised: SocketAddr,
    mut commands: mpsc::Receiver<LoopCommand>,
    registry: Arc<Registry>,
) {
    let mut peers: Vec<Peer> = Vec::new();
    let mut buf = vec![0u8; 2048];
    let remove = |peers: &mut Vec<Peer>, resource: &str, reason: &str| -> bool {
        match peers.iter().position(|p| p.key.resource == resource) {
            Some(i) => {
                let p = peers.swap_remove(i);
                registry.remove(&p.key.resource);
                p.leave(reason);
                true
            }
            None => false,
        }
    };
    loop {
        let now = Instant::now();
        let mut next = now + Duration::from_millis(200);
        let mut gone = Vec::new();
        for (i, p) in peers.iter_mut().enumerate() {
            match p.drive(now, &socket) {
                Ok(t) => next = next.min(t),
                Err(reason) => gone.push((i, reason)),
            }
        }
        for (i, reason) in gone.into_iter().rev() {
            let p = peers.swap_remove(i);
            registry.remove(&p.key.resource);
            p.leave(&reason);
        }
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, source)) => {
                    let now = Instant::now();
                    let Some(data) = buf.get(..n) else { continue };
                    let Ok(receive) = Receive::new(Protocol::Udp, source, advertised, data) else {
                        continue;
                    };
                    let input = Input::Receive(now, receive);
                    let mut failed = None;
                    match peers.iter_mut().position(|p| p.accepts(&input)) {
                        Some(i) => {
                            if let Some(p) = peers.get_mut(i) {
                                p.note_remote(source);
                                if let Err(reason) = p.input(input) {
                                    failed = Some((i, reason));
                                }
                            }
                        }
                        None => tracing::trace!(%source, "datagram for no peer"),
                    }
                    if let Some((i, reason)) = failed {
                        let p = peers.swap_remove(i);
                        registry.remove(&p.key.resource);
                        p.leave(&reason);
                    }
                }
                Err(e) => tracing::debug!("udp recv: {e}"),
            },
            cmd = commands.recv() => match cmd {
                Some(LoopCommand::Add(p)) => peers.push(*p),
                Some(LoopCommand::Remove { resource, reason, done }) => {
                    let existed = remove(&mut peers, &resource, &reason);
                    if let Some(d) = done {
                        let _ = d.send(existed);
                    }
                }
                Some(LoopCommand::Shutdown(done)) => {
                    for p in peers.drain(..) {
                        registry.remove(&p.key.resource);
                        p.leave("server shutdown");
                    }
                    let _ = done.send(());
                    return;
                }
                None => {
                    for p in peers.drain(..) {
                        registry.remove(&p.key.resource);
                        p.leave("server shutdown");
                    }
                    return;
                }
            },
            _ = tokio::time::sleep_until(next.into()) => {}
        }
    }
}
