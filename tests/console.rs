//! The web console in a real browser: Debian's Chromium, headless, driven
//! through chromedriver by Selenium (tests/console/drive.py, flows.py),
//! against the real binary. Screenshots go to a temporary directory, or to
//! `FENN_CONSOLE_SCREENSHOTS` (runtime/README.md's come from there).

use crate::util::admin::TOKEN;
use crate::util::{Managed, TempDir, wait_until};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// Runs `script` (in tests/console) with `args`, failing with what it
/// printed when a step of it fails.
fn drive(script: &str, args: &[&std::ffi::OsStr]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/console")
        .join(script);
    let output = std::process::Command::new("python3")
        .arg(path)
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 with selenium (tests/run installs it)");
    assert!(
        output.status.success(),
        "the browser run failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Where the screenshots go: `FENN_CONSOLE_SCREENSHOTS`, else `scratch`.
fn screenshots(scratch: &TempDir) -> PathBuf {
    std::env::var("FENN_CONSOLE_SCREENSHOTS").map_or_else(|_| scratch.0.clone(), PathBuf::from)
}

#[test]
fn a_person_logs_in_compiles_deploys_tests_follows_the_live_log_and_reads_the_history() {
    let functions = r#"
# Counts what it is sent, in its store.
[[function]]
name = "counter"
module = "COUNTER"
kv = true
http = [{ route = "/count" }]

[[function]]
name = "hello"
module = "example:hello"
http = [{ route = "/hello" }]
cron = [{ name = "heartbeat", schedule = "every 3600s" }]

# Answers with the event it received: the path parameters it was given.
[[function]]
name = "greet"
module = "example:echo"
http = [{ route = "/greet/{who}" }]
"#
    .replace("COUNTER", env!("FENN_GUEST_COUNTER"));
    let fenn = Managed::start(&functions);
    // One count in the store, for the page to show.
    let counted = crate::util::client()
        .post(fenn.fenn.url("/count"))
        .send()
        .unwrap();
    assert_eq!(counted.text().unwrap(), "1");
    let scratch = TempDir::new("console");
    // A module cut short: wasmi refuses it with its reason.
    let bad = scratch.write("broken.wasm", b"\0asm\x01\0\0\0\x01\x05");
    let shots = screenshots(&scratch);
    let (api, gateway) = (fenn.api(""), fenn.fenn.url(""));
    let sensor = std::ffi::OsStr::new(env!("FENN_GUEST_SENSOR"));
    drive(
        "drive.py",
        &[
            api.as_ref(),
            TOKEN.as_ref(),
            sensor,
            bad.as_ref(),
            shots.as_ref(),
            gateway.as_ref(),
        ],
    );
    // What the browser did is what the API now says.
    let (status, sensor) = fenn.call("GET", "/v1/functions/sensor", None);
    assert_eq!((status, &sensor["version"]), (200, &1.into()), "{sensor}");
    let (_, tests) = fenn.call("GET", "/v1/invocations?function=sensor&trigger=test", None);
    assert_eq!(tests["invocations"].as_array().unwrap().len(), 1, "{tests}");
    assert_eq!(tests["invocations"][0]["version"], 1, "{tests}");
}

/// A reading is checked, recorded and answered; `freeze` runs only on a
/// condition (which holds a tag, to be shown as text), `alarm` only when
/// the check fails.
const READING: &str = r#"
[[function]]
name = "sensor"
module = "example:sensor"

[[function]]
name = "echo"
module = "example:echo"

[[function]]
name = "hello"
module = "example:hello"

[[flow]]
name = "reading"
response = "reply"
  [[flow.http]]
  route = "/reading"
  methods = ["POST"]
  [[flow.step]]
  name = "check"
  function = "sensor"
  next = ["record", "freeze"]
  on_error = ["alarm"]
  when = { freeze = 'body.celsius < 0 || body.sensor == "<frost>"' }
  [[flow.step]]
  name = "record"
  function = "echo"
  next = ["reply"]
  [[flow.step]]
  name = "freeze"
  function = "hello"
  next = ["reply"]
  [[flow.step]]
  name = "alarm"
  function = "echo"
  [[flow.step]]
  name = "reply"
  function = "hello"
"#;

/// The id of the run of `reading` whose step `step` ended `state`, once
/// the runs kept hold one.
fn run_where(fenn: &Managed, step: &str, state: &str) -> String {
    let ended = |run: &&Value| {
        (run["steps"].as_array().into_iter().flatten())
            .any(|s| s["name"] == step && s["state"] == state)
    };
    let limit = Duration::from_secs(10);
    wait_until("the run", limit, Duration::from_millis(20), || {
        let (_, runs) = fenn.call("GET", "/v1/runs?flow=reading", None);
        let run = runs["runs"].as_array()?.iter().find(ended)?;
        run["run"].as_str().map(str::to_owned)
    })
}

#[test]
fn a_person_sees_a_flows_graph_and_a_runs_path_over_it_with_its_skipped_steps() {
    let fenn = Managed::start(READING);
    for celsius in [42, -5] {
        let answered = crate::util::client()
            .post(fenn.fenn.url("/reading"))
            .body(format!(r#"{{"celsius": {celsius}, "sensor": "porch"}}"#))
            .send()
            .unwrap();
        assert_eq!(answered.status(), 200);
    }
    let hot = run_where(&fenn, "freeze", "skipped");
    let cold = run_where(&fenn, "freeze", "done");
    let scratch = TempDir::new("console-flows");
    let (api, shots) = (fenn.api(""), screenshots(&scratch));
    drive(
        "flows.py",
        &[
            api.as_ref(),
            TOKEN.as_ref(),
            shots.as_ref(),
            hot.as_ref(),
            cold.as_ref(),
        ],
    );
    // The browser only read: the runs are as they were.
    let (_, runs) = fenn.call("GET", "/v1/runs?flow=reading", None);
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(2), "{runs}");
}
