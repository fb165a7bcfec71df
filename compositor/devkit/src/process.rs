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
