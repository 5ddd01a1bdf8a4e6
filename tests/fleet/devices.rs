//! The test's fleet: fenn processes as devices (each its own config and
//! state directory, its gateway and management API on free ports, its
//! brokers the cluster's nodes starting at a node of its own), the
//! operator's key, `fenn fleet` run as an operator would, and a watcher of
//! the devices' retained reports to wait on.

use crate::util::{Fenn, TempDir, admin::TOKEN, fenn};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One device: its directory outlives its processes.
pub(crate) struct Device {
    pub(crate) name: String,
    pub(crate) dir: TempDir,
    pub(crate) fenn: Option<Fenn>,
}

impl Device {
    /// Writes its config and starts it.
    pub(crate) fn start(name: &str, group: &str, brokers: &[String], public_key: &str) -> Self {
        let dir = TempDir::new("device");
        let brokers: Vec<String> = brokers.iter().map(|url| format!("\"{url}\"")).collect();
        dir.write(
            "fenn.toml",
            format!(
                "[server]\nstate_dir = \"state\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\nmax_module_size = \"4MiB\"\n\n\
                 [fleet]\nbrokers = [{}]\ndevice = \"{name}\"\ngroups = [\"{group}\"]\ntrusted_keys = [\"{public_key}\"]\nkeep_alive = \"5s\"\n",
                brokers.join(", ")
            ),
        );
        let mut device = Self {
            name: name.to_owned(),
            dir,
            fenn: None,
        };
        device.run();
        device
    }

    /// Starts its fenn (again).
    pub(crate) fn run(&mut self) {
        let config = self.dir.0.join("fenn.toml");
        self.fenn = Some(Fenn::with_config_file(
            &config,
            &[("FENN_ADMIN_TOKEN", TOKEN)],
        ));
    }

    /// Its management API's `GET path`, as JSON.
    pub(crate) fn admin(&self, path: &str) -> Value {
        let fenn = self.fenn.as_ref().unwrap();
        let stdout = fenn.stdout.wait_for("management API listening on http://");
        let line = stdout
            .lines()
            .find(|l| l.starts_with("management API listening on"))
            .unwrap();
        let address = line.rsplit("http://").next().unwrap().trim();
        let response = (crate::util::client().get(format!("http://{address}{path}")))
            .bearer_auth(TOKEN)
            .send()
            .unwrap();
        response.json().unwrap()
    }

    /// Its gateway answers `/hello` with the hello function's greeting.
    pub(crate) fn says_hello(&self) {
        let said = self.get("/hello").unwrap_or_default();
        assert!(
            said.contains("Hello"),
            "{}: /hello answered {said:?}",
            self.name
        );
    }

    /// What its gateway answers at `path`, or None when it does not serve it.
    pub(crate) fn get(&self, path: &str) -> Option<String> {
        let fenn = self.fenn.as_ref()?;
        let response = crate::util::client().get(fenn.url(path)).send().ok()?;
        response
            .status()
            .is_success()
            .then(|| response.text().unwrap_or_default())
    }
}

/// The operator's signing key and its public half.
pub(crate) struct Key {
    pub(crate) file: PathBuf,
    pub(crate) public: String,
    _dir: TempDir,
}

impl Key {
    /// A new key, made with `fenn fleet keygen`.
    pub(crate) fn new() -> Self {
        let dir = TempDir::new("key");
        let file = dir.0.join("fleet.pem");
        let output = fenn()
            .args(["fleet", "keygen", "--out"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        let public = text.split_whitespace().last().unwrap().to_owned();
        Self {
            file,
            public,
            _dir: dir,
        }
    }
}

/// `fenn fleet ARGS --json` against `brokers` with `key`: whether it
/// succeeded, and its JSON answer.
pub(crate) fn operator(key: &std::path::Path, brokers: &[String], args: &[&str]) -> (bool, Value) {
    let output = fenn()
        .args(["fleet"])
        .args(args)
        .args(["--json", "--settle", "1s", "--broker", &brokers.join(",")])
        .arg("--key")
        .arg(key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answer =
        serde_json::from_str(stdout.lines().last().unwrap_or("null")).unwrap_or(Value::Null);
    assert!(
        answer.is_object(),
        "fenn fleet {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), answer)
}

type Seen = Arc<(Mutex<BTreeMap<String, Value>>, Condvar)>;

/// Every device's latest report, as the broker hands them out, and every
/// desired state published.
pub(crate) struct Reports {
    seen: Seen,
    pub(crate) desired: Arc<Mutex<Vec<Vec<u8>>>>,
    pub(crate) client: Client,
}

impl Reports {
    /// Subscribes on node port `port` to every device's report.
    pub(crate) fn watch(port: u16) -> Self {
        let id = format!("reports-{}-{}", std::process::id(), super::free_port());
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(2 << 20, 2 << 20);
        let (client, mut connection) = Client::new(options, 64);
        let seen = Seen::default();
        let desired = Arc::new(Mutex::new(Vec::new()));
        let (shared, subscriber, published) = (seen.clone(), client.clone(), desired.clone());
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ =
                            subscriber.subscribe("fenn/fleet/devices/+/reported", QoS::AtMostOnce);
                        let _ =
                            subscriber.subscribe("fenn/fleet/groups/+/desired", QoS::AtMostOnce);
                    }
                    Ok(Event::Incoming(Packet::Publish(publish)))
                        if publish.topic.ends_with("/desired") =>
                    {
                        published.lock().unwrap().push(publish.payload.to_vec());
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let Ok(report) = serde_json::from_slice::<Value>(&publish.payload) else {
                            continue;
                        };
                        let device = report["device"].as_str().unwrap_or_default().to_owned();
                        let (map, changed) = &*shared;
                        map.lock().unwrap().insert(device, report);
                        changed.notify_all();
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        });
        Self {
            seen,
            desired,
            client,
        }
    }

    /// Waits until `done` holds for the reports; fails the test after
    /// `limit`, saying it waited for `what`.
    pub(crate) fn wait(
        &self,
        what: &str,
        limit: Duration,
        done: impl Fn(&BTreeMap<String, Value>) -> bool,
    ) -> BTreeMap<String, Value> {
        let (map, changed) = &*self.seen;
        let deadline = Instant::now() + limit;
        let mut guard = map.lock().unwrap();
        while !done(&guard) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited {limit:?} for {what}; reports:\n{guard:#?}"
            );
            guard = changed.wait_timeout(guard, left).unwrap().0;
        }
        guard.clone()
    }
}

/// Whether `report` is active on deployment `id`.
pub(crate) fn active_on(report: &Value, id: u64) -> bool {
    report["state"] == "active" && report["deployment"].as_u64() == Some(id)
}

/// The module hash `report` says `function` serves.
pub(crate) fn serving<'a>(report: &'a Value, function: &str) -> Option<&'a str> {
    report["functions"][function]["sha256"].as_str()
}
