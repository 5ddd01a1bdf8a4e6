//! Starting `fenn` as a user would, on a free port, and talking to it;
//! a Mosquitto of the test's own ([`Broker`]) and a subscriber that
//! survives its restarts ([`Collector`]).

pub(crate) mod admin;
mod broker;
mod collector;

pub(crate) use admin::{Managed, echo_wasm, hello_wasm, tagged};
pub(crate) use broker::{Broker, Certificates};
pub(crate) use collector::Collector;

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Asks `probe` until it answers, pausing `pause` between asks, and
/// returns the answer; fails the test after `limit`, naming `what` it
/// waited for. For states only a poll can see (a broker's subscription
/// count, a file, an answer that needs a subscription made elsewhere);
/// where an event says it, tests wait on the event instead.
pub(crate) fn wait_until<T>(
    what: &str,
    limit: Duration,
    pause: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(pause);
    }
}

/// The test guest that misbehaves on request (see functions/misbehave).
pub(crate) fn misbehave_wasm() -> &'static str {
    env!("FENN_GUEST_MISBEHAVE")
}

/// The `fenn` binary under test: this build's, or for a benchmark that
/// compares builds the one `FENN_BENCH_BIN` names.
pub(crate) fn fenn() -> Command {
    match std::env::var_os("FENN_BENCH_BIN") {
        Some(binary) => Command::new(binary),
        None => Command::new(env!("CARGO_BIN_EXE_fenn")),
    }
}

/// A temporary directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("fenn-test-{name}-{}-{unique}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Text a child process writes, shared with the thread that reads it.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<(Mutex<String>, Condvar)>);

impl Captured {
    /// Reads `from` into the text, on a thread of its own, until it ends.
    pub(crate) fn drain(&self, mut from: impl Read + Send + 'static) {
        let captured = self.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = from.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let (text, changed) = &*captured.0;
                text.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
                changed.notify_all();
            }
        });
    }

    pub(crate) fn text(&self) -> String {
        self.0.0.lock().unwrap().clone()
    }

    /// Waits until the text contains `needle`, and returns it; fails the
    /// test after 20 s.
    pub(crate) fn wait_for(&self, needle: &str) -> String {
        self.wait_for_count(needle, 1)
    }

    /// Waits until the text contains `needle` `count` times, and returns
    /// it; fails the test after 20 s.
    pub(crate) fn wait_for_count(&self, needle: &str, count: usize) -> String {
        self.wait_for_count_within(needle, count, Duration::from_secs(20))
    }

    /// Whether the text contains `needle` within `limit` (waiting on
    /// each change, not polling).
    pub(crate) fn shows_within(&self, needle: &str, limit: Duration) -> bool {
        let (text, changed) = &*self.0;
        let deadline = Instant::now() + limit;
        let mut guard = text.lock().unwrap();
        while !guard.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = changed.wait_timeout(guard, left).unwrap().0;
        }
        true
    }

    /// Waits until `done` holds for the text, and returns it; fails the
    /// test after `limit`, saying it waited for `what`.
    pub(crate) fn wait_until(
        &self,
        what: &str,
        limit: Duration,
        done: impl Fn(&str) -> bool,
    ) -> String {
        let (text, changed) = &*self.0;
        let deadline = Instant::now() + limit;
        let mut guard = text.lock().unwrap();
        while !done(&guard) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "waited {limit:?} for {what} in:\n{guard}");
            guard = changed.wait_timeout(guard, left).unwrap().0;
        }
        guard.clone()
    }

    /// [`Captured::wait_for_count`], failing the test after `limit`.
    pub(crate) fn wait_for_count_within(
        &self,
        needle: &str,
        count: usize,
        limit: Duration,
    ) -> String {
        let (text, changed) = &*self.0;
        let deadline = Instant::now() + limit;
        let mut guard = text.lock().unwrap();
        while guard.matches(needle).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited {limit:?} for {count}x {needle:?} in:\n{guard}"
            );
            guard = changed.wait_timeout(guard, left).unwrap().0;
        }
        guard.clone()
    }
}

/// A running `fenn serve`, killed on drop.
pub(crate) struct Fenn {
    child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) stdout: Captured,
    pub(crate) log: Captured,
    _dir: Option<TempDir>,
    /// Its stderr, when the test holds it open and reads nothing.
    pub(crate) unread: Option<std::process::ChildStderr>,
}

/// What a test does with fenn's stderr.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stderr {
    /// Read into [`Fenn::log`].
    Read,
    /// Held open and never read, as a stuck log shipper.
    HeldUnread,
    /// Closed at the start, as a log reader that went away.
    Closed,
}

impl Fenn {
    /// `fenn serve` with the bundled examples.
    pub(crate) fn examples() -> Self {
        Self::start(None, None, &[])
    }

    /// `fenn serve --config` with this config text (the misbehaving guest's
    /// path is available as `{misbehave}`).
    pub(crate) fn with_config(config: &str) -> Self {
        Self::with_config_env(config, &[])
    }

    /// Like [`Fenn::with_config`], with environment variables set.
    pub(crate) fn with_config_env(config: &str, env: &[(&str, &str)]) -> Self {
        let dir = TempDir::new("serve");
        let file = dir.write("fenn.toml", config.replace("{misbehave}", misbehave_wasm()));
        Self::start(Some(&file), Some(dir), env)
    }

    /// `fenn serve --config FILE`, the file and its directory the caller's.
    pub(crate) fn with_config_file(file: &std::path::Path, env: &[(&str, &str)]) -> Self {
        Self::start(Some(&file.to_owned()), None, env)
    }

    /// Like [`Fenn::with_config_file`], the gateway on `listen` (such as
    /// `[::]:0`, for IPv4 and IPv6 clients).
    pub(crate) fn with_config_file_on(
        file: &std::path::Path,
        env: &[(&str, &str)],
        listen: &str,
    ) -> Self {
        Self::start_on(Some(&file.to_owned()), None, env, listen)
    }

    fn start(config: Option<&PathBuf>, dir: Option<TempDir>, env: &[(&str, &str)]) -> Self {
        Self::start_on(config, dir, env, "127.0.0.1:0")
    }

    fn start_on(
        config: Option<&PathBuf>,
        dir: Option<TempDir>,
        env: &[(&str, &str)],
        listen: &str,
    ) -> Self {
        Self::spawn(config, dir, env, listen, Stderr::Read)
    }

    /// Like [`Fenn::with_config_file`], with its stderr read, held
    /// unread or closed as `stderr` says.
    pub(crate) fn with_config_file_stderr(
        file: &std::path::Path,
        env: &[(&str, &str)],
        stderr: Stderr,
    ) -> Self {
        Self::spawn(Some(&file.to_owned()), None, env, "127.0.0.1:0", stderr)
    }

    fn spawn(
        config: Option<&PathBuf>,
        dir: Option<TempDir>,
        env: &[(&str, &str)],
        listen: &str,
        stderr: Stderr,
    ) -> Self {
        let mut command = fenn();
        command.envs(env.iter().copied());
        command.args(["serve", "--listen", listen]);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let mut child = command
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("FENN_CONFIG")
            .env_remove("FENN_LISTEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fenn");
        let (stdout, log) = (Captured::default(), Captured::default());
        stdout.drain(child.stdout.take().unwrap());
        let pipe = child.stderr.take().unwrap();
        let unread = match stderr {
            Stderr::Read => {
                log.drain(pipe);
                None
            }
            Stderr::HeldUnread => Some(pipe),
            Stderr::Closed => None,
        };
        let announced = stdout.wait_for("\n");
        let addr = announced
            .split("listening on http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("fenn did not start: {announced}\n{}", log.text()));
        Self {
            child,
            addr,
            stdout,
            log,
            _dir: dir,
            unread,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops fenn as its service manager would (SIGTERM) and waits, at
    /// most 30 s, for it to exit.
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        let terminated = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(terminated.success());
        self.wait_exit(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("fenn did not stop:\n{}", self.log.text()))
    }

    /// Kills fenn with SIGKILL, as a crash or a power cut would stop it,
    /// and reaps it.
    pub(crate) fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for fenn to exit, polling at most `limit`.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Fenn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process, in KiB.
pub(crate) fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Asserts that fenn still serves the bundled hello at `/hello`.
pub(crate) fn hello_works(fenn: &Fenn) {
    let response = client().get(fenn.url("/hello?name=Ada")).send().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().unwrap(), "Hello, Ada!");
}

/// An HTTP client with a generous timeout (tests assert on fenn's own).
pub(crate) fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Runs `fenn` with `args` to completion: (exit success, stdout, stderr).
pub(crate) fn run(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = fenn()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
