//! A UDP relay between one WebRTC publisher and the server that impairs the
//! publisher→server direction the way a network does: a share of RTP/RTCP datagrams lost
//! (never ICE or DTLS), and a delay with jitter that keeps the datagrams' order. The
//! server→publisher direction passes at once. Loss is a deterministic pseudo-random choice
//! (xorshift), so runs repeat.
//!
//! Threads: one per direction plus one that releases delayed datagrams; all stop on drop
//! (their sockets poll every 50 ms). Loopback or the machine's own addresses only.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

/// What the relay does to publisher→server datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Impairment {
    /// Mean one-way delay added.
    pub delay: Duration,
    /// Uniform jitter around `delay` (±).
    pub jitter: Duration,
}

/// The relay; see the module doc.
#[derive(Debug)]
pub struct UdpRelay {
    /// Where the publisher sends (the server's address as the publisher sees it).
    pub addr: SocketAddr,
    /// Share of publisher→server RTP/RTCP datagrams dropped, percent (0..=100); may be
    /// changed while it runs.
    pub loss_percent: Arc<AtomicU64>,
    /// Datagrams dropped so far.
    pub dropped: Arc<AtomicU64>,
    /// Publisher→server datagrams forwarded so far.
    pub forwarded: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

type Queue = Arc<(Mutex<VecDeque<(Instant, Vec<u8>)>>, Condvar)>;

fn xorshift(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

impl UdpRelay {
    /// A relay on `ip` (an ephemeral port) in front of `server`.
    pub fn start(ip: IpAddr, server: SocketAddr, imp: Impairment) -> anyhow::Result<Self> {
        let front = UdpSocket::bind((ip, 0)).context("relay front socket")?;
        let back = UdpSocket::bind((ip, 0)).context("relay back socket")?;
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(50)))?;
        }
        let addr = front.local_addr()?;
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let loss_percent = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let forwarded = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let queue: Queue = Arc::default();
        let mut threads = Vec::new();
        {
            let front = front.try_clone()?;
            let (client, loss, dropped, stop, queue) = (
                client.clone(),
                loss_percent.clone(),
                dropped.clone(),
                stop.clone(),
                queue.clone(),
            );
            threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = front.recv_from(&mut buf) else {
                        continue;
                    };
                    let now = Instant::now();
                    *client.lock().unwrap_or_else(PoisonError::into_inner) = Some(from);
                    let r = xorshift(&mut rng);
                    let p = loss.load(Ordering::Relaxed);
                    // Only RTP/RTCP (first byte 128..=191) is dropped, never ICE/DTLS.
                    let is_rtp = (128..=191).contains(&buf[0]);
                    if p > 0 && is_rtp && r % 100 < p {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let u = (r >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                    let d = imp.delay.as_secs_f64() + imp.jitter.as_secs_f64() * u;
                    let due = (now + Duration::from_secs_f64(d.max(0.0))).max(last);
                    last = due;
                    let (q, cv) = &*queue;
                    q.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push_back((due, buf[..n].to_vec()));
                    cv.notify_one();
                }
            }));
        }
        {
            let back = back.try_clone()?;
            let (stop, queue, forwarded) = (stop.clone(), queue.clone(), forwarded.clone());
            threads.push(std::thread::spawn(move || {
                let (q, cv) = &*queue;
                let mut g = q.lock().unwrap_or_else(PoisonError::into_inner);
                while !stop.load(Ordering::Relaxed) {
                    let wait = match g.front() {
                        None => Duration::from_millis(50),
                        Some((due, _)) => due.saturating_duration_since(Instant::now()),
                    };
                    if !wait.is_zero() {
                        g = cv
                            .wait_timeout(g, wait)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0;
                        continue;
                    }
                    if let Some((_, data)) = g.pop_front() {
                        let _ = back.send_to(&data, server);
                        forwarded.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        {
            let (client, stop) = (client.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, _)) = back.recv_from(&mut buf) else {
                        continue;
                    };
                    let to = *client.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(c) = to {
                        let _ = front.send_to(&buf[..n], c);
                    }
                }
            }));
        }
        Ok(UdpRelay {
            addr,
            loss_percent,
            dropped,
            forwarded,
            stop,
            threads,
        })
    }
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
