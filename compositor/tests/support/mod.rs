//! Helpers of the output tests: real servers on loopback (nginx-rtmp, GStreamer receivers)
//! run as child processes killed on drop, ffprobe read-back, event waits; a throttling TCP
//! proxy ([`proxy`]) and a webrtcbin WHIP endpoint ([`whip_server`]).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod proxy;
pub mod whip_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compositor_core::session::{EventLog, SessionEvent};
use compositor_devkit::stream::LiveOptions;
use compositor_media::output::{EncoderSettings, OutputSpec, OutputTarget};
use layouts::Size;

pub use compositor_devkit::process::ChildGuard;

/// A free TCP/UDP port on loopback (bound then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    // Make sure the UDP side is free as well (SRT).
    let _u = std::net::UdpSocket::bind(("127.0.0.1", p)).ok();
    p
}

/// A fresh temp folder under the target dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// nginx with the RTMP module, listening on `port`, application `live`, recording every
/// published stream under `dir/rec`.
pub struct Nginx {
    pub dir: PathBuf,
    pub port: u16,
    guard: ChildGuard,
}

impl Nginx {
    pub fn start(dir: &Path, port: u16) -> Nginx {
        Self::start_with(dir, port, None)
    }

    /// Also terminates TLS on `tls_port` (nginx's stream module, a self-signed certificate
    /// for CN=localhost made here) in front of the RTMP port: an RTMPS ingest.
    pub fn start_tls(dir: &Path, port: u16, tls_port: u16) -> Nginx {
        Self::start_with(dir, port, Some(tls_port))
    }

    fn start_with(dir: &Path, port: u16, tls_port: Option<u16>) -> Nginx {
        let rec = dir.join("rec");
        std::fs::create_dir_all(&rec).unwrap();
        let stream = match tls_port {
            None => String::new(),
            Some(tls) => {
                let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
                let st = Command::new("openssl")
                    .args([
                        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    ])
                    .args(["-subj", "/CN=localhost", "-keyout"])
                    .arg(&key)
                    .arg("-out")
                    .arg(&cert)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("openssl runs");
                assert!(st.success(), "openssl made no certificate");
                format!(
                    "stream {{ server {{ listen 127.0.0.1:{tls} ssl; ssl_certificate {c}; \
                     ssl_certificate_key {k}; proxy_pass 127.0.0.1:{port}; }} }}\n",
                    c = cert.display(),
                    k = key.display()
                )
            }
        };
        let stream_module = if tls_port.is_some() {
            "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n"
        } else {
            ""
        };
        let conf = format!(
            "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n{stream_module}\
             daemon off;\nmaster_process off;\n\
             pid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             rtmp {{ server {{ listen 127.0.0.1:{port}; chunk_size 4096;\n\
               application live {{ live on; record all; record_path {r}; record_unique on; }}\n\
             }} }}\n{stream}",
            d = dir.display(),
            r = rec.display(),
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("/usr/sbin/nginx")
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx runs (scripts/setup.sh installs nginx-light + libnginx-mod-rtmp)");
        let n = Nginx {
            dir: dir.to_path_buf(),
            port,
            guard: ChildGuard(Some(child)),
        };
        let end = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            || tls_port.is_some_and(|t| std::net::TcpStream::connect(("127.0.0.1", t)).is_err())
        {
            assert!(
                Instant::now() < end,
                "nginx did not listen: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    }

    pub fn url(&self) -> String {
        format!("rtmp://127.0.0.1:{}/live", self.port)
    }

    /// SIGKILL, like a crash.
    pub fn kill(&mut self) {
        self.guard.kill();
    }

    /// Recorded FLV files, oldest first.
    pub fn recordings(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.dir.join("rec"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "flv"))
            .collect();
        v.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        v
    }

    /// Asserts nginx recorded exactly one stream, H.264 `w`×`h` + AAC; returns how many
    /// video frames of it decode.
    pub fn single_recording_frames(&self, w: u32, h: u32) -> u64 {
        let recs = self.recordings();
        assert_eq!(recs.len(), 1, "{recs:?}");
        let rec = recs[0].to_str().unwrap();
        assert_h264_aac(rec, w, h);
        decoded_frames(rec)
    }
}

/// ffprobe `entries` of `path` (or URL) in `default=nw=1` form.
pub fn probe(path: &str, entries: &str, extra: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(extra)
        .args(["-show_entries", entries, "-of", "default=nw=1", path])
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe {path} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Asserts H.264 at `w`x`h` and 30 fps plus AAC audio in `path`.
pub fn assert_h264_aac(path: &str, w: u32, h: u32) {
    let s = probe(
        path,
        "stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate",
        &[],
    );
    assert!(s.contains("codec_name=h264"), "{path}: {s}");
    assert!(s.contains("codec_name=aac"), "{path}: {s}");
    assert!(s.contains("codec_type=audio"), "{path}: {s}");
    assert!(
        s.contains(&format!("width={w}")) && s.contains(&format!("height={h}")),
        "{path}: {s}"
    );
    // MP4/TS state the nominal rate; FLV carries millisecond timestamps, so there compare
    // the measured average (a session that had to skip a late tick under load lowers it a
    // little: that is counted by the session, not an output fault).
    let fps = s
        .lines()
        .filter_map(|l| l.strip_prefix("avg_frame_rate="))
        .filter_map(|r| {
            let (a, b) = r.split_once('/')?;
            let (a, b): (f64, f64) = (a.parse().ok()?, b.parse().ok()?);
            (b > 0.0 && a > 0.0).then(|| a / b)
        })
        .next();
    let fps = fps.unwrap_or_else(|| panic!("{path}: no frame rate: {s}"));
    assert!(
        s.contains("r_frame_rate=30/1") || (fps - 30.0).abs() < 1.0,
        "{path}: {fps} fps: {s}"
    );
}

/// Decoded video frames in `path` (full decode).
pub fn decoded_frames(path: &str) -> u64 {
    let s = probe(
        path,
        "stream=nb_read_frames",
        &["-select_streams", "v:0", "-count_frames"],
    );
    s.lines()
        .find_map(|l| l.trim().strip_prefix("nb_read_frames="))
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|_| panic!("{path}: {s}"))
}

/// Video packet pts (seconds) of `path`, in file order.
pub fn video_pts(path: &str) -> Vec<f64> {
    probe(path, "packet=pts_time", &["-select_streams", "v:0"])
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pts_time=")?.parse().ok())
        .collect()
}

/// Waits until an event matching `pred` appears (after sequence `after`); returns its
/// sequence number and the time it took.
pub fn wait_event(
    events: &EventLog,
    after: u64,
    timeout: Duration,
    pred: impl Fn(&SessionEvent) -> bool,
) -> Option<(u64, Duration)> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some((seq, _)) = events.since(after).into_iter().find(|(_, e)| pred(e)) {
            return Some((seq, start.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Live options for tests: small canvas, cheap encoder, 1 s keyframes.
pub fn live_options(size: Size) -> LiveOptions {
    LiveOptions {
        size,
        duration: None,
        encoder: EncoderSettings {
            video_kbps: 1200,
            preset: "ultrafast".into(),
            keyframe_interval: 30,
            ..EncoderSettings::default()
        },
        gpus: Default::default(),
        host_size: Some(Size::new(320, 180)),
        ..LiveOptions::default()
    }
}

/// Tests in one binary run one at a time (each is a real-time session on a 2-core box).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// An MP4 recording output with the session's encoder.
pub fn mp4(id: &str, path: &Path) -> OutputSpec {
    OutputSpec {
        id: id.into(),
        target: OutputTarget::Mp4 {
            path: path.to_path_buf(),
        },
        encoder: None,
    }
}

/// Matches the `OutputConnected` event of output `id`.
pub fn connected(id: &str) -> impl Fn(&SessionEvent) -> bool + '_ {
    move |e| matches!(e, SessionEvent::OutputConnected { id: i } if i == id)
}

/// Largest step between consecutive video pts of `pts` (seconds); asserts they increase.
pub fn largest_gap(pts: &[f64]) -> f64 {
    assert!(pts.windows(2).all(|w| w[1] > w[0]), "pts not increasing");
    pts.windows(2).map(|w| w[1] - w[0]).fold(0.0f64, f64::max)
}
