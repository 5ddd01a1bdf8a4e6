//! A fleet through a clustered broker: fenn processes as devices on a
//! three-node NATS cluster, rolled out to by `fenn fleet` as an operator
//! would. The suite runs a few devices (`FENN_FLEET_DEVICES`, default 6);
//! `tests/fleet.sh` runs the same tests with 50, and the benchmark.

// The figures `tests/fleet.sh` shows are printed to stderr.
#![allow(clippy::print_stderr)]

mod bench;
mod cluster;
mod devices;
mod refusals;

use crate::util::{TempDir, hello_wasm, tagged};
use cluster::{Cluster, free_port};
use devices::{Device, Key, Reports, active_on, operator, serving};
use serde_json::Value;
use std::time::Duration;

/// Devices in each test, and how many of them are away in one.
fn scale() -> (usize, usize) {
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let devices = number("FENN_FLEET_DEVICES", 6).max(3);
    (
        devices,
        number("FENN_FLEET_AWAY", devices / 3).min(devices - 2),
    )
}

/// Each device's peak resident memory, in KiB (`VmHWM`).
pub(crate) fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    (status.lines())
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The cluster, the key, `devices` devices of group `site` started on it
/// (each first on node i % 3), and a watcher of their reports on node 2.
struct Site {
    cluster: Cluster,
    key: Key,
    devices: Vec<Device>,
    reports: Reports,
    files: TempDir,
}

impl Site {
    fn start(devices: usize) -> Self {
        let cluster = Cluster::start();
        let key = Key::new();
        let mut started: Vec<Device> = Vec::new();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..devices)
                .map(|i| {
                    let (urls, public) = (cluster.urls(i % 3), key.public.clone());
                    scope.spawn(move || Device::start(&format!("d{i:03}"), "site", &urls, &public))
                })
                .collect();
            started = handles.into_iter().map(|h| h.join().unwrap()).collect();
        });
        let reports = Reports::watch(cluster.port(2));
        reports.wait(
            "every device's first report",
            Duration::from_secs(120),
            |r| r.len() == devices && r.values().all(|report| report["state"] == "active"),
        );
        let files = TempDir::new("fleet-files");
        files.write("hello.toml", "[[http]]\nroute = \"/hello\"\n");
        files.write("hello.json", r#"{"path": "/hello", "httpMethod": "GET"}"#);
        files.write("panic.json", r#"{"path": "/panic", "httpMethod": "GET"}"#);
        Self {
            cluster,
            key,
            devices: started,
            reports,
            files,
        }
    }

    /// A module file of hello, tagged `tag` (another hash each tag), and
    /// its hash.
    fn hello(&self, tag: u32) -> (String, String) {
        let wasm = tagged(&hello_wasm(), tag);
        let sha = fenn_fleet::chunks::sha256(&wasm);
        let path = self.files.write(&format!("hello-{tag}.wasm"), wasm);
        (path.display().to_string(), sha)
    }

    fn file(&self, name: &str) -> String {
        self.files.0.join(name).display().to_string()
    }

    /// `fenn fleet deploy hello MODULE` to the group, with its health
    /// check, as a command line of owned words.
    fn deploy_args(&self, module: &str, extra: &[&str]) -> Vec<String> {
        let (def, event) = (self.file("hello.toml"), self.file("hello.json"));
        let expect = self.devices.len().to_string();
        let mut args = vec![
            "deploy",
            "hello",
            module,
            "--function",
            &def,
            "--group",
            "site",
        ];
        args.extend(["--test-event", &event, "--expect", &expect]);
        if !extra.contains(&"--wave-timeout") {
            args.extend(["--wave-timeout", "120s"]);
        }
        args.extend(extra);
        args.into_iter().map(str::to_owned).collect()
    }

    /// Runs `fenn fleet` with `args` against the cluster.
    fn fleet(&self, args: &[String]) -> (bool, Value) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        operator(&self.key.file, &self.cluster.urls(0), &args)
    }

    /// `fenn fleet` with `args` on a thread of its own.
    fn fleet_in_background(&self, args: Vec<String>) -> std::thread::JoinHandle<(bool, Value)> {
        let (key, urls) = (self.key.file.clone(), self.cluster.urls(0));
        std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            operator(&key, &urls, &args)
        })
    }

    /// Waits until every device is active on deployment `id`.
    fn all_active_on(&self, id: u64, what: &str) {
        let n = self.devices.len();
        self.reports
            .wait(what, Duration::from_secs(180), |reports| {
                reports
                    .values()
                    .filter(|report| active_on(report, id))
                    .count()
                    >= n
            });
    }

    /// Every device's own log, for a failure's message.
    fn logs(&self) -> String {
        (self.devices.iter())
            .filter_map(|d| Some(format!("--- {}:\n{}", d.name, d.fenn.as_ref()?.log.text())))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every running device's gateway answers hello.
    fn every_gateway_says_hello(&self) {
        for device in self.devices.iter().filter(|d| d.fenn.is_some()) {
            device.says_hello();
        }
    }
}

fn id_of(answer: &Value) -> u64 {
    answer["deployment"].as_u64().unwrap()
}

#[test]
fn a_rollout_converges_and_devices_that_were_away_catch_up() {
    rollout_with_devices_away(false);
}

/// The same, with a broker node killed once the canary is active. Not in
/// the suite: on NATS 2.9, a device that moves to a surviving node is at
/// times not sent the retained desired state for minutes (seen under CPU
/// load); `tests/fleet.sh` runs it.
#[test]
#[ignore = "the fleet at scale: tests/fleet.sh runs it"]
fn a_rollout_converges_through_a_cluster_that_loses_a_node() {
    rollout_with_devices_away(true);
}

fn rollout_with_devices_away(lose_a_node: bool) {
    let (n, away) = scale();
    let mut site = Site::start(n);
    let (v1, _) = site.hello(1);
    let (ok, answer) = site.fleet(&site.deploy_args(&v1, &["--canary", "1", "--waves", "50,100"]));
    assert!(ok, "{answer}");
    assert_eq!(answer["converged"], n, "{answer}");
    let first = id_of(&answer);
    eprintln!(
        "fleet: {n} devices converged: p50 {} ms, p99 {} ms",
        answer["p50_ms"], answer["p99_ms"]
    );
    site.all_active_on(first, "every device on the first deployment");
    site.every_gateway_says_hello();

    // Some devices go away; the rollout starts; once its canary is active,
    // a broker node dies (devices on it move to the next node).
    for device in &mut site.devices[n - away..] {
        device.fenn.as_mut().unwrap().terminate();
        device.fenn = None;
    }
    let (v2, v2_sha) = site.hello(2);
    let rollout =
        site.fleet_in_background(site.deploy_args(&v2, &["--canary", "1", "--waves", "50,100"]));
    site.reports.wait(
        "the canary on the second deployment",
        Duration::from_secs(120),
        |r| {
            (r.values()).any(|report| {
                report["state"] == "active" && report["deployment"].as_u64() > Some(first)
            })
        },
    );
    if lose_a_node {
        site.cluster.kill_node(1);
    }
    let (ok, answer) = rollout.join().unwrap();
    assert!(ok, "{answer}\n{}", site.logs());
    let second = id_of(&answer);
    // A device on the lost node may look offline while it moves: the
    // rollout leaves it pending, as it does the away ones.
    let pending = answer["waves"].as_array().unwrap().last().unwrap()["pending"].clone();
    let pending: Vec<&str> = pending
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for device in &site.devices[n - away..] {
        assert!(
            pending.contains(&device.name.as_str()),
            "{} is pending: {answer}",
            device.name
        );
    }
    assert_eq!(
        answer["converged"].as_u64().unwrap() as usize + pending.len(),
        n,
        "{answer}"
    );
    eprintln!(
        "fleet: {} devices converged {}: p50 {} ms, p99 {} ms",
        n - away,
        if lose_a_node {
            "with a node lost"
        } else {
            "while some were away"
        },
        answer["p50_ms"],
        answer["p99_ms"]
    );

    // The away devices come back and converge from the retained state.
    for device in &mut site.devices[n - away..] {
        device.run();
    }
    site.all_active_on(
        second,
        "every device, the away ones too, on the second deployment",
    );
    let reports = site.reports.wait("reports", Duration::ZERO, |_| true);
    for report in reports.values() {
        assert_eq!(serving(report, "hello"), Some(v2_sha.as_str()), "{report}");
    }
    site.every_gateway_says_hello();
}

#[test]
fn a_broken_version_is_rolled_back_by_its_canary_and_stops_the_rollout() {
    let (n, _) = scale();
    let mut site = Site::start(n);
    let (v1, v1_sha) = site.hello(1);
    let (ok, answer) = site.fleet(&site.deploy_args(&v1, &["--canary", "0", "--waves", "100"]));
    assert!(ok, "{answer}");
    let first = id_of(&answer);
    site.all_active_on(first, "every device on the good version");

    // A version whose health check fails: its test event panics the guest.
    let broken = site.files.write(
        "broken.wasm",
        std::fs::read(crate::util::misbehave_wasm()).unwrap(),
    );
    let mut args = site.deploy_args(
        &broken.display().to_string(),
        &["--canary", "1", "--waves", "50,100"],
    );
    let test_event = args.iter().position(|a| a == "--test-event").unwrap() + 1;
    args[test_event] = site.file("panic.json");
    let (ok, answer) = site.fleet(&args);
    assert!(!ok, "{answer}");
    assert_eq!(answer["stopped"], true, "{answer}");
    let bad = id_of(&answer);
    let failed = &answer["waves"][0]["failed"];
    assert_eq!(failed.as_object().unwrap().len(), 1, "{answer}");
    assert!(
        failed["d000"]
            .as_str()
            .unwrap()
            .starts_with("rolled_back: health check"),
        "{answer}"
    );

    let reports = site
        .reports
        .wait("the canary's rollback", Duration::from_secs(60), |r| {
            r["d000"]["state"] == "rolled_back"
        });
    for (device, report) in &reports {
        assert_eq!(serving(report, "hello"), Some(v1_sha.as_str()), "{report}");
        assert_eq!(report["deployment"].as_u64(), Some(first), "{report}");
        if device != "d000" {
            assert_ne!(report["target"].as_u64(), Some(bad), "touched: {report}");
            assert_eq!(report["state"], "active", "{report}");
        }
    }
    site.every_gateway_says_hello();
    // The canary's own status (and console) says so too.
    let fleet = &site.devices[0].admin("/v1/status")["fleet"];
    assert_eq!(fleet["state"], "rolled_back", "{fleet}");
    assert!(
        fleet["reason"].as_str().unwrap().contains("health check"),
        "{fleet}"
    );

    // The group's desired state is the good one again: a device that
    // joins now converges to it.
    let urls = site.cluster.urls(0);
    site.devices
        .push(Device::start("d999", "site", &urls, &site.key.public));
    site.reports.wait(
        "the new device on the good version",
        Duration::from_secs(60),
        |r| r.get("d999").is_some_and(|report| active_on(report, first)),
    );
}
