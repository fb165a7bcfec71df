//! Helpers for the end-to-end tests in `tests/tests/`: locating the built `compositor`
//! binary, temporary output folders, running the binary with a time limit, and reading media
//! back with `ffprobe` / `ffmpeg`.
//!
//! # How the tests find the `compositor` binary
//!
//! Stable cargo only sets `CARGO_BIN_EXE_<name>` for binaries of the *same* package as the
//! integration test, and the binary lives in the `compositor` package, so these tests look it
//! up instead ([`compositor_bin`]):
//!
//! 1. `COMPOSITOR_BIN`, if set, names the binary to use as is (nothing is built).
//! 2. Otherwise the test executable's own location tells the target folder and the profile:
//!    tests run from `<target>/<profile-dir>/deps/<test>-<hash>`, so the binary built with the
//!    same profile is `<target>/<profile-dir>/compositor` (`release` for `--release`, `debug`
//!    for the default `test`/`dev` profiles).
//! 3. Once per test process, `cargo build -p compositor --bin compositor` is run for that
//!    profile and target folder (`$CARGO` if cargo set it, else `cargo` on `PATH`), so the
//!    binary is never stale relative to the sources; when it is up to date this is a no-op of
//!    about a second. `cargo test` releases its build lock before running tests, so the nested
//!    build does not deadlock (it may wait for other cargo commands sharing the target folder).
//!    If cargo cannot be run but the binary exists, the existing binary is used with a warning.
//!
//! `scripts/test.sh` builds the release binary first and runs `cargo test --workspace
//! --release`, so in CI step 3 finds nothing to do.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `<target>/<profile-dir>`: the folder that holds the running test executable's `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let deps = exe
        .parent()
        .unwrap_or_else(|| panic!("test executable {} has no parent", exe.display()));
    if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent()
            .unwrap_or_else(|| panic!("{} has no parent", deps.display()))
            .to_path_buf()
    } else {
        // Not run by cargo from `deps/` (e.g. copied elsewhere): use the executable's folder.
        deps.to_path_buf()
    }
}

/// The cargo target folder the running tests were built into (`<workspace>/target` unless
/// `CARGO_TARGET_DIR` or a `--target` triple moved it).
pub fn target_dir() -> PathBuf {
    let profile = profile_dir();
    match profile.parent() {
        Some(p) => p.to_path_buf(),
        None => profile,
    }
}

/// Cargo arguments selecting the profile whose output folder is `dir_name`.
fn profile_args(dir_name: &str) -> Vec<String> {
    match dir_name {
        "release" => vec!["--release".into()],
        // `cargo test` without `--release` uses the `test` profile, whose output folder is
        // `debug/` like the `dev` profile that `cargo build` uses.
        "debug" => vec![],
        other => vec!["--profile".into(), other.into()],
    }
}

/// Path of the `compositor` binary built with the same profile as the running tests, built
/// (or brought up to date) once per process. See the crate documentation for the lookup rules.
///
/// Panics with a readable message if the binary cannot be found or built.
pub fn compositor_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("COMPOSITOR_BIN") {
            let bin = PathBuf::from(bin);
            assert!(
                bin.is_file(),
                "COMPOSITOR_BIN={} is not a file",
                bin.display()
            );
            return bin;
        }
        let profile = profile_dir();
        let bin = profile.join(format!("compositor{}", std::env::consts::EXE_SUFFIX));
        let dir_name = profile
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // `<target>/<triple>/<profile>` when the tests were built with `--target`.
        let (target, triple) = {
            let parent = target_dir();
            let is_triple = parent
                .file_name()
                .is_some_and(|n| n.to_string_lossy().matches('-').count() >= 2)
                && parent.parent().is_some_and(|g| g.join("CACHEDIR.TAG").exists());
            if is_triple {
                let triple = parent
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned());
                (
                    parent.parent().map(Path::to_path_buf).unwrap_or(parent),
                    triple,
                )
            } else {
                (parent, None)
            }
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("Cargo.toml");
        let mut cmd = Command::new(&cargo);
        cmd.arg("build")
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(&manifest)
            .args(["-p", "compositor", "--bin", "compositor"])
            .args(profile_args(&dir_name))
            .env("CARGO_TARGET_DIR", &target);
        if let Some(t) = &triple {
            cmd.args(["--target", t]);
        }
        eprintln!(
            "e2e: bringing {} up to date ({:?} build {})",
            bin.display(),
            cargo,
            profile_args(&dir_name).join(" ")
        );
        match cmd.status() {
            Ok(s) if s.success() => {}
            Ok(s) => panic!("building the compositor binary failed ({s})"),
            Err(e) if bin.is_file() => {
                eprintln!(
                    "e2e: warning: cannot run cargo ({e}); using the existing {}, which may be stale",
                    bin.display()
                );
            }
            Err(e) => panic!(
                "cannot run cargo to build {} ({e}); build it first or set COMPOSITOR_BIN",
                bin.display()
            ),
        }
        assert!(
            bin.is_file(),
            "{} does not exist after building",
            bin.display()
        );
        bin
    })
    .clone()
}

/// A fresh, empty output folder under `<target>/tmp/e2e/`, removed on drop unless the test
/// is failing (then it is kept, and its path printed, for inspection).
#[derive(Debug)]
pub struct TempOut {
    path: PathBuf,
}

impl TempOut {
    /// Creates `<target>/tmp/e2e/<name>-<pid>` (emptied first if it exists). Integration
    /// tests may pass `env!("CARGO_TARGET_TMPDIR")` through [`TempOut::new_in`] instead.
    pub fn new(name: &str) -> Self {
        Self::new_in(&target_dir().join("tmp"), name)
    }

    /// Creates `<base>/e2e/<name>-<pid>` (emptied first if it exists).
    pub fn new_in(base: &Path, name: &str) -> Self {
        let path = base
            .join("e2e")
            .join(format!("{name}-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .unwrap_or_else(|e| panic!("cannot empty {}: {e}", path.display()));
        }
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self { path }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the folder.
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for TempOut {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("e2e: keeping {} for inspection", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Kills (SIGKILL on Unix) and reaps the child on drop, so a failing test never leaves a
/// compositor process behind.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Kills the child now (SIGKILL on Unix) and waits for it; returns its exit status.
    pub fn kill(&mut self) -> std::io::Result<ExitStatus> {
        // `kill` fails only if the child was already reaped; `wait` still reports it then.
        let _ = self.0.kill();
        self.0.wait()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished command left behind.
#[derive(Debug)]
pub struct RunOutput {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

fn drain(r: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut s);
        }
        String::from_utf8_lossy(&s).into_owned()
    })
}

/// Runs `compositor <args>` to completion, capturing stdout and stderr; panics (after killing
/// it) if it runs longer than `limit`.
pub fn run_compositor(args: &[&str], limit: Duration) -> RunOutput {
    let bin = compositor_bin();
    let started = Instant::now();
    let child = Command::new(&bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let mut guard = ChildGuard(child);
    let out = drain(guard.0.stdout.take());
    let err = drain(guard.0.stderr.take());
    let status = loop {
        match guard.0.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() > limit => {
                let _ = guard.kill();
                let stderr = err.join().unwrap_or_default();
                panic!(
                    "compositor {args:?} still running after {limit:?}; killed. stderr:\n{stderr}"
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("waiting for compositor: {e}"),
        }
    };
    let elapsed = started.elapsed();
    RunOutput {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed,
    }
}

/// Runs an external tool and returns its stdout; panics with its stderr on failure, or with a
/// hint to run `scripts/setup.sh` if the tool is not installed.
pub fn tool_output(tool: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}); scripts/setup.sh installs it"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn path_str(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", path.display()))
}

/// `ffprobe -v error -print_format json -show_format -show_streams <path>`, parsed.
pub fn ffprobe_json(path: &Path) -> serde_json::Value {
    let out = tool_output(
        "ffprobe",
        &[
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            path_str(path),
        ],
    );
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("ffprobe output is not JSON: {e}"))
}

/// The `streams` of an [`ffprobe_json`] answer whose `codec_type` is `kind` (`"video"`,
/// `"audio"`, …).
pub fn streams_of<'a>(probe: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    probe["streams"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|s| s["codec_type"].as_str() == Some(kind))
                .collect()
        })
        .unwrap_or_default()
}

/// A JSON value that ffprobe prints either as a number or as a numeric string, as `f64`.
pub fn json_f64(v: &serde_json::Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// The container duration in seconds (`format.duration`).
pub fn format_duration(probe: &serde_json::Value) -> f64 {
    json_f64(&probe["format"]["duration"])
        .unwrap_or_else(|| panic!("no format.duration in {probe:#}"))
}

/// Number of video frames of the first video stream that ffprobe actually decodes
/// (`ffprobe -count_frames -select_streams v:0 -show_entries stream=nb_read_frames`).
pub fn count_decoded_frames(path: &Path) -> u64 {
    let out = tool_output(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-print_format",
            "json",
            path_str(path),
        ],
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("ffprobe output: {e}"));
    json_f64(&v["streams"][0]["nb_read_frames"])
        .unwrap_or_else(|| panic!("no nb_read_frames in {v:#}")) as u64
}

/// One decoded video frame at `seconds` as packed RGB24 (`ffmpeg -ss <t> -i <path>
/// -frames:v 1 -f rawvideo -pix_fmt rgb24 -`); the caller knows the size.
pub fn decode_frame_rgb(path: &Path, seconds: f64) -> Vec<u8> {
    tool_output(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-ss",
            &format!("{seconds}"),
            "-i",
            path_str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
    )
}

/// Mean R, G, B over the pixels of the `x0..x1` × `y0..y1` rectangle of a packed RGB24 image
/// of width `width`.
pub fn mean_rgb(rgb: &[u8], width: u32, (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> [f64; 3] {
    let mut sum = [0f64; 3];
    let mut n = 0f64;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * width + x) * 3) as usize;
            if let Some(px) = rgb.get(i..i + 3) {
                for (s, &c) in sum.iter_mut().zip(px) {
                    *s += f64::from(c);
                }
                n += 1.0;
            }
        }
    }
    assert!(n > 0.0, "empty or out-of-range rectangle");
    sum.map(|s| s / n)
}

/// Size of the file at `path`, 0 if it does not exist (yet).
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
