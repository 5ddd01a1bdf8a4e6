//! A Mosquitto of the test's own on a free port, with Mosquitto's clients.

use super::TempDir;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

    /// A broker that keeps sessions and queued messages across its
    /// restarts ([`Broker::restart`]).
    pub(crate) fn start_persistent() -> Self {
        let mut broker = Self::start_with("allow_anonymous true\n");
        let store = broker.dir.0.join("store/");
        std::fs::create_dir_all(&store).unwrap();
        // Started as root, Mosquitto drops to its own user to write there.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&broker.dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o777)).unwrap();
        broker.dir.write(
            "access.conf",
            format!(
                "allow_anonymous true\npersistence true\npersistence_location {}\n",
                store.display()
            ),
        );
        broker.stop();
        broker.start_again();
        broker
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

    /// The broker's count of subscriptions, as a broker started
    /// [`with counters`](Broker::start_with_counters) publishes it each
    /// second (the reader's own subscription may be counted or not).
    pub(crate) fn subscriptions(&self) -> Option<u64> {
        let output = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-t",
                "$SYS/broker/subscriptions/count",
                "-C",
                "1",
                "-W",
                "5",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    }

    /// A broker that publishes its `$SYS` counters every second.
    pub(crate) fn start_with_counters() -> Self {
        Self::start_with("allow_anonymous true\nsys_interval 1\n")
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
            format!(
                // Room for long queues: a soak or a benchmark's stream.
                "listener {port} 127.0.0.1\n{access}set_tcp_nodelay true\nmax_queued_messages 100000\n{}",
                if access.contains("persistence") {
                    ""
                } else {
                    "persistence false\n"
                }
            ),
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

    /// Stops the broker as its service would (SIGTERM: a persistent one
    /// writes its store) and starts it again on the same port.
    pub(crate) fn restart(&mut self) {
        self.stop_gracefully();
        self.start_again();
    }

    /// Stops the broker with SIGTERM and waits for it to exit.
    pub(crate) fn stop_gracefully(&mut self) {
        let terminated = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(terminated.success());
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
    /// `mosquitto_pub -f` (MQTT 3.1.1): publishes `payload` (any size) to
    /// `topic` at `qos`; a QoS 1 message is acknowledged by the broker when
    /// this returns.
    pub(crate) fn publish(&self, topic: &str, payload: &[u8], qos: u8) {
        self.publish_with(&[], topic, payload, qos);
    }

    /// [`Broker::publish`] with more `mosquitto_pub` arguments (`-r`).
    pub(crate) fn publish_with(&self, extra: &[&str], topic: &str, payload: &[u8], qos: u8) {
        let file = self.dir.write("payload", payload);
        let status = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-q", &qos.to_string(), "-t", topic, "-f"])
            .arg(file)
            .args(extra)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// `mosquitto_pub -l` (MQTT 3.1.1): one message per line at `qos`, all
    /// sent (a QoS 1 one acknowledged by the broker) when this returns.
    pub(crate) fn publish_lines(&self, topic: &str, qos: u8, lines: impl Iterator<Item = String>) {
        use std::io::Write as _;
        let mut publisher = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-t", topic, "-q", &qos.to_string(), "-l"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = publisher.stdin.take().unwrap();
        for line in lines {
            writeln!(stdin, "{line}").unwrap();
        }
        drop(stdin);
        assert!(publisher.wait().unwrap().success());
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
