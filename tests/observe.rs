//! Seeing what runs: every invocation in the history with its log lines,
//! the live stream and `fenn logs --follow`, and `/metrics` as Prometheus's
//! own checker reads it, moving as events run.

use crate::util::admin::TOKEN;
use crate::util::{Broker, Captured, Managed, client, misbehave_wasm, wait_until};
use serde_json::Value;
use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The misbehaving guest on `/m/{what}`, and `extra` config.
fn start(extra: &str) -> Managed {
    let function = format!(
        "[[function]]\nname = \"misbehave\"\nmodule = \"{}\"\nmemory = \"32MiB\"\nfuel = 100000000\nhttp = [{{ route = \"/m/{{what}}\" }}]\n",
        misbehave_wasm()
    );
    Managed::start(&format!("{function}{extra}"))
}

fn invocations(fenn: &Managed, query: &str) -> Vec<Value> {
    let (status, answer) = fenn.call("GET", &format!("/v1/invocations?{query}"), None);
    assert_eq!(status, 200, "{answer}");
    answer["invocations"].as_array().unwrap().clone()
}

#[test]
fn every_invocation_is_kept_with_its_log_lines_and_a_mark_where_they_were_cut() {
    let cron = "[[function]]\nname = \"tick\"\nmodule = \"example:hello\"\ncron = [{ name = \"tick\", schedule = \"every 1s\" }]\n";
    let fenn = start(cron);
    for what in ["forge", "panic", "biglog"] {
        fenn.get(&format!("/m/{what}"));
    }
    let (status, answer) = fenn.call(
        "GET",
        "/v1/invocations?function=misbehave&limit=99999999999999999999999",
        None,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["limit"], 1000, "an absurd limit is clamped");
    let all = answer["invocations"].as_array().unwrap();
    let sources: Vec<&str> = all.iter().map(|r| r["source"].as_str().unwrap()).collect();
    assert_eq!(
        sources,
        ["/m/biglog", "/m/panic", "/m/forge"],
        "newest first"
    );
    assert!(
        all.iter()
            .all(|r| r["trigger"] == "http" && r["function"] == "misbehave")
    );
    assert!(all.iter().all(|r| r["fuelUsed"].as_u64().unwrap() > 0));
    assert!(
        all.iter()
            .all(|r| r["peakMemory"].as_u64().unwrap() >= 65536)
    );

    let failed = invocations(&fenn, "function=misbehave&status=error");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        (&failed[0]["status"], &failed[0]["statusCode"]),
        (&"trap".into(), &502.into())
    );
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("asked to panic"),
        "{}",
        failed[0]
    );

    // One invocation, with its lines: escaped, and a 10 MiB line cut.
    let (_, forged) = fenn.call("GET", &format!("/v1/invocations/{}", all[2]["id"]), None);
    assert_eq!(forged["logs"][0]["level"], "warn", "{forged}");
    assert!(
        forged["logs"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("innocent\\n"),
        "{forged}"
    );
    let (_, big) = fenn.call("GET", &format!("/v1/invocations/{}", all[0]["id"]), None);
    assert_eq!(big["logsCut"], true, "{}", &big.to_string()[..300]);
    assert!(big["logs"][0]["message"].as_str().unwrap().len() <= 1024);
    let (status, _) = fenn.call("GET", "/v1/invocations/12345", None);
    assert_eq!(status, 404);
    let (status, bad) = fenn.call("GET", "/v1/invocations?limit=ten", None);
    assert_eq!(status, 400, "{bad}");

    // Cron's runs are invocations like any other (waits on the record).
    let tick = wait_until(
        "a cron run in the history",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || invocations(&fenn, "function=tick&trigger=cron").pop(),
    );
    assert_eq!(
        (&tick["source"], &tick["method"]),
        (&"tick".into(), &"SCHEDULE".into())
    );

    let (ok, out, err) = fenn.cli(&["logs", "misbehave", "--limit", "2"]);
    assert!(ok, "{err}");
    assert!(!out.contains("/m/forge"), "only the last two:\n{out}");
    let panic = out.find("GET /m/panic -> 502 trap").expect(&out);
    let big = out.find("GET /m/biglog -> 200 ok").expect(&out);
    assert!(panic < big, "oldest first:\n{out}");
    assert!(out.contains("  error panicked: asked to panic"), "{out}");
    assert!(out.contains("(log lines cut)"), "{out}");
    let (ok, _, err) = fenn.cli(&["logs", "nosuch"]);
    assert!(!ok && err.contains("404"), "{err}");
    // Without a name: every function's.
    let (ok, out, err) = fenn.cli(&["logs", "--limit", "1000"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(" misbehave v") && out.contains("cron SCHEDULE tick"),
        "{out}"
    );
}

#[test]
fn the_stream_and_fenn_logs_follow_show_invocations_as_they_end() {
    let fenn = start("");
    // The stream's first line says it is subscribed: nothing after is missed.
    let response = client()
        .get(fenn.api("/v1/invocations/stream?function=misbehave"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut lines = BufReader::new(response)
        .lines()
        .map(Result::unwrap)
        .filter(|line| !line.is_empty());
    assert_eq!(lines.next().unwrap(), ": subscribed");
    fenn.get("/m/forge");
    assert_eq!(lines.next().unwrap(), "event: invocation");
    let data = lines.next().unwrap();
    let record: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(record["source"], "/m/forge");
    assert_eq!(record["logs"][0]["level"], "warn");

    fenn.get("/m/before");
    let mut follow = crate::util::fenn()
        .args(["logs", "misbehave", "--follow"])
        .env("FENN_REMOTE", fenn.api(""))
        .env("FENN_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = Captured::default();
    out.drain(follow.stdout.take().unwrap());
    out.wait_for("GET /m/before -> 200 ok");
    // It subscribes after printing the history: invoke until a new
    // invocation shows, each wait ended by the line itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut shown = false;
    for n in 0.. {
        fenn.get(&format!("/m/live{n}"));
        if out.shows_within("GET /m/live", Duration::from_millis(500)) {
            shown = true;
            break;
        }
        if Instant::now() > deadline {
            break;
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(shown, "no live invocation shown:\n{}", out.text());
}

#[test]
fn streams_are_few_at_once_and_end_when_fenn_stops() {
    let admin = "shutdown_grace = \"120s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n";
    let mut fenn = Managed::start_in(crate::util::TempDir::new("streams"), admin);
    // Streams are few at once, so that they leave the listener to the
    // API and health checks; one closed makes room for another.
    let open = |fenn: &Managed| {
        client()
            .get(fenn.api("/v1/invocations/stream"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
    };
    let mut others: Vec<_> = (0..4).map(|_| open(&fenn)).collect();
    assert!(others.iter().all(|r| r.status() == 200));
    let refused = open(&fenn);
    assert_eq!(refused.status(), 503, "a fifth stream");
    assert_eq!(
        client().get(fenn.api("/healthz")).send().unwrap().status(),
        200
    );
    drop(refused);
    others.pop();
    let last = wait_until(
        "a closed stream's place to come back",
        Duration::from_secs(30),
        Duration::ZERO,
        || Some(open(&fenn)).filter(|again| again.status() == 200),
    );
    // Stopping ends the open streams at once, not after the grace (120 s
    // here; terminate gives up after 30).
    let readers: Vec<_> = others
        .into_iter()
        .chain([last])
        .map(|stream| std::thread::spawn(move || BufReader::new(stream).lines().count()))
        .collect();
    assert!(fenn.fenn.terminate().success());
    for reader in readers {
        reader.join().unwrap();
    }
    assert!(
        !fenn.fenn.log.text().contains("grace ran out"),
        "{}",
        fenn.fenn.log.text()
    );
}

/// The value of the sample `series` (a name with its labels as the
/// exposition writes them), or 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().unwrap())
}

fn scrape(fenn: &Managed) -> String {
    let text = fenn.metrics();
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; tests/run installs it)");
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    text
}

#[test]
fn metrics_pass_promtool_and_move_as_events_run() {
    let broker = Broker::start();
    let fenn = start(&format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n",
        broker.port
    ));
    let ok = "fenn_invocations_total{function=\"misbehave\",trigger=\"http\",status=\"ok\"}";
    let trap = "fenn_invocations_total{function=\"misbehave\",trigger=\"http\",status=\"trap\"}";
    let routed = "fenn_http_requests_total{route=\"/m/{what}\",code=\"200\"}";
    let failed = "fenn_http_requests_total{route=\"/m/{what}\",code=\"502\"}";
    let unmatched = "fenn_http_requests_total{route=\"(unmatched)\",code=\"404\"}";
    let durations = "fenn_invocation_duration_seconds_count{function=\"misbehave\"}";
    let before = scrape(&fenn);
    for what in ["ok", "work", "forge"] {
        assert_eq!(fenn.get(&format!("/m/{what}")).0, 200);
    }
    assert_eq!(fenn.get("/m/panic").0, 502);
    assert_eq!(fenn.get("/nowhere/at/all").0, 404);
    // Readiness says when MQTT is connected; the gauge says the same.
    let ready = || client().get(fenn.api("/readyz")).send().unwrap().status() == 200;
    wait_until(
        "the MQTT connection",
        Duration::from_secs(30),
        Duration::from_millis(20),
        || ready().then_some(()),
    );
    let after = scrape(&fenn);
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(moved(ok), 3.0, "{after}");
    assert_eq!(moved(trap), 1.0, "{after}");
    assert_eq!(moved(routed), 3.0, "{after}");
    assert_eq!(moved(failed), 1.0, "{after}");
    assert_eq!(moved(unmatched), 1.0, "{after}");
    assert_eq!(moved(durations), 4.0, "{after}");
    assert!(
        sample(&after, "fenn_fuel_used_total{function=\"misbehave\"}") > 1e6,
        "{after}"
    );
    assert_eq!(sample(&after, "fenn_mqtt_connected"), 1.0, "{after}");
    assert!(
        sample(&after, "process_resident_memory_bytes") > 1e6,
        "{after}"
    );
    assert!(sample(&after, "process_open_fds") > 3.0, "{after}");
    assert!(
        !after.contains("/nowhere") && !after.contains("/m/ok"),
        "raw paths are no labels"
    );

    // A scrape during a flood of events answers, and stays small.
    let flood: Vec<_> = (0..4)
        .map(|_| {
            let url = fenn.fenn.url("/m/ok");
            std::thread::spawn(move || {
                let client = client();
                for _ in 0..150 {
                    assert_eq!(client.get(&url).send().unwrap().status(), 200);
                }
            })
        })
        .collect();
    for _ in 0..5 {
        assert!(scrape(&fenn).len() < 64 << 10);
    }
    for thread in flood {
        thread.join().unwrap();
    }
    let flooded = scrape(&fenn);
    assert_eq!(sample(&flooded, ok) - sample(&after, ok), 600.0);

    // Without the token: 401 and nothing else, everywhere.
    for path in [
        "/metrics",
        "/v1/invocations",
        "/v1/invocations/stream",
        "/v1/invocations/1",
    ] {
        let response = client()
            .get(fenn.api(path))
            .bearer_auth("wrong-token-0123456789")
            .send()
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(
            response.text().unwrap(),
            r#"{"error":"unauthorized"}"#,
            "{path}"
        );
    }
}
