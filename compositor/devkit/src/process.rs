//! Child processes that tests and benchmarks start (servers, browsers, ingests): killed and
//! reaped when their guard drops, so a failing test leaves nothing running.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) and reaped on drop. `None` once it ended or was handed
/// back with [`ChildGuard::take`].
#[derive(Debug)]
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    /// Guards `child`.
    pub fn new(child: Child) -> Self {
        ChildGuard(Some(child))
    }

    /// The child, while it runs.
    pub fn child(&mut self) -> Option<&mut Child> {
        self.0.as_mut()
    }

    /// Hands the child back unguarded (the caller waits for it).
    pub fn take(&mut self) -> Option<Child> {
        self.0.take()
    }

    /// Kills it now (SIGKILL) and waits.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Interrupts it (SIGINT) and waits up to `t`, then kills.
    pub fn interrupt(&mut self, t: Duration) {
        if let Some(c) = self.0.as_mut() {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let end = Instant::now() + t;
            while Instant::now() < end {
                if let Ok(Some(_)) = c.try_wait() {
                    self.0 = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `compositor serve` started by a test on ephemeral ports: its guard and the addresses it
/// printed on its first stdout line (`{"grpc":"…","http":"…"}`).
#[derive(Debug)]
pub struct ServeChild {
    /// Kills the server on drop.
    pub guard: ChildGuard,
    /// Bound gRPC address (host:port).
    pub grpc: String,
    /// Bound HTTP address (host:port).
    pub http: String,
}

/// Starts `bin serve --grpc-bind 127.0.0.1:0 --http-bind {http_bind} --token {token}` with
/// `envs`, stderr discarded, and reads the bound addresses.
pub fn spawn_serve(
    bin: &str,
    http_bind: &str,
    token: &str,
    envs: &[(&str, String)],
) -> anyhow::Result<ServeChild> {
    use std::io::BufRead as _;
    let mut cmd = Command::new(bin);
    cmd.args([
        "serve",
        "--grpc-bind",
        "127.0.0.1:0",
        "--http-bind",
        http_bind,
    ])
    .args(["--token", token])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("serve: no stdout"))?;
    let guard = ChildGuard::new(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let addrs: serde_json::Value = serde_json::from_str(&line)
        .map_err(|e| anyhow::anyhow!("serve's address line {line:?}: {e}"))?;
    let addr = |k: &str| {
        addrs[k]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("serve's address line lacks {k}: {line:?}"))
    };
    Ok(ServeChild {
        grpc: addr("grpc")?,
        http: addr("http")?,
        guard,
    })
}

/// Runs `bin ctl --addr http://{grpc} --token {token} {args}` and parses its JSON reply
/// (Null for a reply that is not JSON); an error carries ctl's stderr.
pub fn ctl_json(
    bin: &str,
    grpc: &str,
    token: &str,
    args: &[&str],
) -> anyhow::Result<serde_json::Value> {
    let out = Command::new(bin)
        .args(["ctl", "--addr", &format!("http://{grpc}"), "--token", token])
        .args(args)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "ctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_str(&String::from_utf8_lossy(&out.stdout))
        .unwrap_or(serde_json::Value::Null))
}
