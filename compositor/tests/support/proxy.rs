//! A loopback TCP proxy whose client-to-server direction can be throttled to a tiny rate while
//! the connection stays open: a destination that is slow but alive (a congested CDN ingest).
//!
//! Threads: one acceptor, and two copy threads per connection (client → upstream, throttled;
//! upstream → client, full speed). Rates are bytes per second. Everything stops on drop (the
//! sockets are shut down, so no thread outlives the test by more than its 100 ms poll).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The proxy; see the module doc.
pub struct ThrottleProxy {
    /// Port it listens on (127.0.0.1).
    pub port: u16,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Client → upstream limit, bytes/s; 0 = unlimited.
    rate: AtomicU64,
    /// Client → upstream bytes forwarded.
    forwarded: AtomicU64,
    stop: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
}

impl ThrottleProxy {
    /// Listens on an ephemeral port and forwards every connection to `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> ThrottleProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.stop.load(Ordering::Acquire) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                {
                    let mut conns = s.conns.lock().unwrap();
                    conns.push(client.try_clone().unwrap());
                    conns.push(server.try_clone().unwrap());
                }
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let sh = s.clone();
                std::thread::spawn(move || copy(client, server, &sh, true));
                let sh = s.clone();
                std::thread::spawn(move || copy(s2, c2, &sh, false));
            }
        });
        ThrottleProxy { port, shared }
    }

    /// Limits client → upstream to `bytes_per_sec` (None: unlimited).
    pub fn set_rate(&self, bytes_per_sec: Option<u64>) {
        self.shared
            .rate
            .store(bytes_per_sec.unwrap_or(0), Ordering::Release);
    }

    /// Client → upstream bytes forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::Relaxed)
    }
}

impl Drop for ThrottleProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for c in self.shared.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        // Wake the acceptor.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn copy(mut from: TcpStream, mut to: TcpStream, shared: &Shared, throttled: bool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = vec![0u8; 64 * 1024];
    while !shared.stop.load(Ordering::Acquire) {
        let rate = if throttled {
            shared.rate.load(Ordering::Acquire)
        } else {
            0
        };
        // Throttled: small reads (1/20 s worth), then sleep what they cost at the rate.
        let want = if rate == 0 {
            buf.len()
        } else {
            (rate / 20).clamp(1, buf.len() as u64) as usize
        };
        let started = Instant::now();
        match from.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
                if throttled {
                    shared.forwarded.fetch_add(n as u64, Ordering::Relaxed);
                }
                if rate > 0 {
                    let cost = Duration::from_secs_f64(n as f64 / rate as f64);
                    if let Some(rest) = cost.checked_sub(started.elapsed()) {
                        std::thread::sleep(rest);
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
