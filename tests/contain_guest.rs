//! Containment of guests: what a function's output, logs, CPU and memory
//! can do to fenn, each crossed as an attacker would and answered as a
//! client sees it, with fenn still serving everything else.

use crate::util::{Fenn, TempDir, client, hello_works, misbehave_wasm, run};

const GUESTS: &str = r#"
    [server]
    workers = 2
    guest_memory = "24MiB"

    [[function]]
    name = "misbehave"
    module = "{misbehave}"
    timeout = "5s"
    fuel = 10_000_000_000
    memory = "4MiB"
    max_response = "1MiB"
      [[function.http]]
      route = "/m/{what}"
      [[function.http]]
      route = "/e/{what}"
      response = "envelope"

    [[function]]
    name = "greedy"
    module = "{misbehave}"
    memory = "32MiB"
      [[function.http]]
      route = "/greedy/{what}"

    [[function]]
    name = "runaway"
    module = "{misbehave}"
    timeout = "400ms"
    fuel = 1_000_000_000_000
    memory = "2MiB"
      [[function.http]]
      route = "/runaway/{what}"

    [[function]]
    name = "hello"
    module = "example:hello"
      [[function.http]]
      route = "/hello"
"#;

fn get(fenn: &Fenn, path: &str) -> (u16, String) {
    let response = client().get(fenn.url(path)).send().unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

#[test]
fn a_guest_answering_25000_headers_gets_a_502_and_fenn_keeps_serving() {
    let fenn = Fenn::with_config(GUESTS);
    let (status, body) = get(&fenn, "/m/headers?n=25000");
    assert_eq!(status, 502, "{body}");
    assert_eq!(
        body,
        r#"{"message":"function returned an invalid response"}"#
    );
    let log = fenn.log.wait_for("25000 headers");
    assert!(
        log.lines()
            .any(|l| l.contains("25000 headers, over the limit of 64") && l.contains("misbehave")),
        "{log}"
    );
    assert_eq!(get(&fenn, "/m/headers?n=64").0, 200);
    hello_works(&fenn);
}

#[test]
fn a_json_array_body_is_kept_as_text_and_held_to_max_response() {
    let fenn = Fenn::with_config(GUESTS);
    let response = client()
        .get(fenn.url("/m/jsonarray?kb=512"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    // Sent in pieces, still with its length.
    assert_eq!(response.headers()["content-length"], "524291");
    let body = response.text().unwrap();
    assert_eq!(body.len(), 1 + 512 * 1024 + 2);
    assert!(body.starts_with("[0,0,") && body.ends_with(",0]"));
    let (status, _) = get(&fenn, "/m/jsonarray?kb=1100");
    assert_eq!(status, 502);
    fenn.log.wait_for("over max_response (1048576 bytes)");
    hello_works(&fenn);
}

#[test]
fn an_envelope_that_escaping_would_multiply_is_held_to_max_response() {
    let fenn = Fenn::with_config(GUESTS);
    // 16 KiB of control bytes: 112 KiB as an envelope, well within 1 MiB.
    let response = client().get(fenn.url("/e/control?kb=16")).send().unwrap();
    assert_eq!(response.status(), 200);
    let envelope: serde_json::Value = response.json().unwrap();
    let message: serde_json::Value =
        serde_json::from_str(envelope["custom"]["message"].as_str().unwrap()).unwrap();
    assert_eq!(message["body"].as_str().unwrap().len(), 16 * 1024);
    // 512 KiB of them would be 3.5 MiB: refused, not built.
    let response = client().get(fenn.url("/e/control?kb=512")).send().unwrap();
    assert_eq!(response.status(), 502);
    fenn.log.wait_for("in its envelope is over max_response");
    hello_works(&fenn);
}

#[test]
fn guest_logs_are_capped_per_event_and_cannot_forge_a_line() {
    let fenn = Fenn::with_config(GUESTS);
    assert_eq!(get(&fenn, "/m/logflood?n=1000"), (200, "logged".into()));
    let log = fenn.log.wait_for("dropped guest log lines");
    let kept = log.lines().filter(|l| l.contains("xxxxxxxxxx")).count();
    assert_eq!(
        kept,
        16,
        "16 KiB of 1 KiB lines:\n{}",
        &log[..log.len().min(2000)]
    );
    assert!(
        log.lines()
            .any(|l| l.contains("dropped=984") && l.contains("misbehave")),
        "{log}"
    );
    assert_eq!(get(&fenn, "/m/forge"), (200, "forged".into()));
    let log = fenn.log.wait_for("forged line");
    assert!(log.contains("innocent\\n2026-01-01"), "{log}");
    assert!(
        !log.lines()
            .any(|l| l.starts_with("2026-01-01T00:00:00.000000Z")),
        "a guest forged a line:\n{log}"
    );
}

#[test]
fn the_guest_memory_budget_answers_503_instead_of_running_out_of_memory() {
    let fenn = Fenn::with_config(GUESTS);
    // 32 MiB for one guest, 24 MiB for all: the bomb meets the budget.
    let (status, body) = get(&fenn, "/greedy/bomb");
    assert_eq!(
        (status, body.as_str()),
        (503, r#"{"message":"server is busy, retry later"}"#)
    );
    fenn.log
        .wait_for("memory budget of all running guests is spent");
    // The bomb's memory was given back: the next event runs.
    hello_works(&fenn);
    assert_eq!(get(&fenn, "/greedy/fine"), (200, "ok".into()));
}

#[test]
fn runaway_guests_keep_to_their_worker_share_and_others_keep_succeeding() {
    let fenn = Fenn::with_config(GUESTS);
    let stop = std::sync::atomic::AtomicBool::new(false);
    /// Stops the attackers however the test ends, so a failure cannot hang it.
    struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    std::thread::scope(|scope| {
        let stopping = StopOnDrop(&stop);
        let attackers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut answered = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let (status, _) = get(&fenn, "/runaway/loop");
                        assert!(status == 504 || status == 503, "{status}");
                        answered += 1;
                    }
                    answered
                })
            })
            .collect();
        // Wait until runaway guests hold their share of the workers.
        fenn.log.wait_for_count("ran past its deadline", 2);
        // A function that needs a worker (about 20 ms of CPU) still gets one.
        for _ in 0..10 {
            assert_eq!(get(&fenn, "/m/sleep?ms=20"), (200, "slept".into()));
            hello_works(&fenn);
        }
        drop(stopping);
        for attacker in attackers {
            assert!(attacker.join().unwrap() > 0);
        }
    });
}

#[test]
fn a_module_declaring_3000_exports_is_refused_at_deploy_naming_them() {
    let dir = TempDir::new("exports");
    let exports: String = (0..3_000)
        .map(|i| format!("(export \"e{i}\" (func $h))"))
        .collect();
    let wat = format!(
        r#"(module (memory (export "memory") 1)
             (func (export "fenn_abi_v1"))
             (func (export "fenn_alloc") (param i32) (result i32) i32.const 0)
             (func $h (export "fenn_handle") (param i32 i32) (result i64) i64.const 0)
             {exports})"#
    );
    let module = dir.write("exports.wasm", wat::parse_str(wat).unwrap());
    let (ok, _, stderr) = run(&["check", module.to_str().unwrap()], None);
    assert!(!ok);
    assert!(
        stderr.contains("it declares 3004 exports, over fenn's limit of 1000"),
        "{stderr}"
    );
    assert!(run(&["check", misbehave_wasm()], None).0);
}
