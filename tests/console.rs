//! The web console in a real browser: Debian's Chromium, headless, driven
//! through chromedriver by Selenium (tests/console/drive.py),
//! against the real binary. Screenshots go to a temporary directory, or to
//! `FENN_CONSOLE_SCREENSHOTS` (runtime/README.md's come from there).

use crate::util::admin::TOKEN;
use crate::util::{Managed, TempDir};
use std::path::PathBuf;

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
