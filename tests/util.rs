//! Starting `fenn` as a user would, on a free port, and talking to it.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The test guest that misbehaves on request (see functions/misbehave).
pub(crate) fn misbehave_wasm() -> &'static str {
    env!("FENN_GUEST_MISBEHAVE")
}

/// The `fenn` binary under test.
pub(crate) fn fenn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fenn"))
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
    fn drain(&self, mut from: impl Read + Send + 'static) {
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
        let (text, changed) = &*self.0;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut guard = text.lock().unwrap();
        while guard.matches(needle).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited 20 s for {count}x {needle:?} in:\n{guard}"
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

    fn start(config: Option<&PathBuf>, dir: Option<TempDir>, env: &[(&str, &str)]) -> Self {
        let mut command = fenn();
        command.envs(env.iter().copied());
        command.args(["serve", "--listen", "127.0.0.1:0"]);
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
        log.drain(child.stderr.take().unwrap());
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
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
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

/// A Mosquitto broker of the test's own, on a free port, stopped on drop.
pub(crate) struct Broker {
    child: Child,
    pub(crate) port: u16,
    dir: TempDir,
    _passwords: Option<TempDir>,
}

impl Broker {
    pub(crate) fn start() -> Self {
        Self::start_with("allow_anonymous true\n")
    }

    /// A broker that lets in only `user` with `password`.
    pub(crate) fn start_with_password(user: &str, password: &str) -> Self {
        let dir = TempDir::new("passwords");
        let file = dir.write("passwords", "");
        let made = Command::new("mosquitto_passwd")
            .args(["-b"])
            .arg(&file)
            .args([user, password])
            .status()
            .unwrap();
        assert!(made.success());
        let mut broker = Self::start_with(&format!(
            "allow_anonymous false\npassword_file {}\n",
            file.display()
        ));
        broker._passwords = Some(dir); // read again if the broker restarts
        broker
    }

    /// A broker that speaks only TLS and wants a client certificate signed
    /// by the test's CA (see [`Certificates`]).
    pub(crate) fn start_with_tls(certs: &Certificates) -> Self {
        Self::start_with(&format!(
            "allow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
            certs.path("ca.crt"),
            certs.path("server.crt"),
            certs.path("server.key")
        ))
    }

    fn start_with(access: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = TempDir::new("broker");
        dir.write("access.conf", access);
        let child = Self::spawn(&dir, port);
        Self {
            child,
            port,
            dir,
            _passwords: None,
        }
    }

    fn spawn(dir: &TempDir, port: u16) -> Child {
        let access = std::fs::read_to_string(dir.0.join("access.conf")).unwrap();
        let config = dir.write(
            "mosquitto.conf",
            format!("listener {port} 127.0.0.1\n{access}set_tcp_nodelay true\npersistence false\n"),
        );
        let program = ["mosquitto", "/usr/sbin/mosquitto"]
            .into_iter()
            .find(|program| Command::new(program).arg("-h").output().is_ok())
            .expect("mosquitto is installed (tests/run installs it)");
        let child = Command::new(program)
            .arg("-c")
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        child
    }

    /// Stops the broker (fenn sees the connection drop).
    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port.
    pub(crate) fn start_again(&mut self) {
        self.child = Self::spawn(&self.dir, self.port);
    }

    /// `mosquitto_rr`: publishes `message` to `topic` with a response topic
    /// and waits (at most `seconds`) for the reply; its payload, or None.
    pub(crate) fn request(&self, topic: &str, message: &str, seconds: u32) -> Option<String> {
        self.request_as("", "", topic, message, seconds)
    }

    /// [`Broker::request`] as `user` (none when empty).
    pub(crate) fn request_as(
        &self,
        user: &str,
        password: &str,
        topic: &str,
        message: &str,
        seconds: u32,
    ) -> Option<String> {
        let login: &[&str] = if user.is_empty() {
            &[]
        } else {
            &["-u", user, "-P", password]
        };
        self.request_with(login, topic, message, seconds)
    }

    /// [`Broker::request`] with more `mosquitto_rr` arguments (TLS, login),
    /// given last so that they override the defaults.
    pub(crate) fn request_with(
        &self,
        extra: &[&str],
        topic: &str,
        message: &str,
        seconds: u32,
    ) -> Option<String> {
        // -m, not -f: mosquitto_rr 2.0.11 sends an empty payload with -f.
        let output = Command::new("mosquitto_rr")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-t", topic])
            .args([
                "-e",
                &format!("replies/{topic}"),
                "-W",
                &seconds.to_string(),
            ])
            .args(["-m", message])
            .args(extra)
            .output()
            .unwrap();
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
}

impl Broker {
    /// `mosquitto_pub -f`: publishes `payload` (any size) to `topic`.
    pub(crate) fn publish(&self, topic: &str, payload: &[u8]) {
        let file = self.dir.write("payload", payload);
        let status = Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-t",
                topic,
                "-f",
            ])
            .arg(file)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA, a server certificate for localhost and 127.0.0.1, and a client
/// certificate, made with openssl for one test.
pub(crate) struct Certificates(TempDir);

impl Certificates {
    pub(crate) fn new() -> Self {
        let dir = TempDir::new("certs");
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(&dir.0)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "openssl {args:?}: {stderr}");
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let ca = [
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=fenn test CA",
        ];
        openssl(&[&["req", "-x509"][..], &ec, &ca].concat());
        // Extensions make X.509 v3 certificates, which rustls requires.
        dir.write(
            "server.ext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        dir.write("client.ext", "extendedKeyUsage=clientAuth\n");
        for (name, cn) in [("server", "localhost"), ("client", "fenn-test-client")] {
            let (key, csr, crt) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
            );
            let subject = format!("/CN={cn}");
            openssl(
                &[
                    &["req"][..],
                    &ec,
                    &["-keyout", &key, "-out", &csr, "-subj", &subject],
                ]
                .concat(),
            );
            let mut sign = vec![
                "x509", "-req", "-in", &csr, "-CA", "ca.crt", "-CAkey", "ca.key",
            ];
            sign.extend(["-CAcreateserial", "-out", &crt, "-days", "2"]);
            let ext = format!("{name}.ext");
            sign.extend(["-extfile", &ext]);
            openssl(&sign);
        }
        // Started as root, mosquitto drops to its own user before reading
        // its key: this throwaway test key must be readable by others.
        use std::os::unix::fs::PermissionsExt as _;
        let server_key = dir.0.join("server.key");
        std::fs::set_permissions(&server_key, std::fs::Permissions::from_mode(0o644)).unwrap();
        Self(dir)
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.0.0.join(name).display().to_string()
    }
}
