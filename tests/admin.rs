//! The management API end to end: the real binary, deployed over its API
//! and its CLI, called over HTTP, a real Mosquitto and a cron schedule.

use crate::util::{Broker, Collector, Managed, TempDir, echo_wasm, hello_wasm, wait_until};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

fn mqtt_section(broker: &Broker) -> String {
    format!("[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n", broker.port)
}

#[test]
fn a_deployed_function_serves_http_mqtt_and_cron_and_deleting_it_stops_all_three() {
    let broker = Broker::start_with_counters();
    let fenn = Managed::start(&mqtt_section(&broker));
    let ticks = Collector::start(broker.port, "deployed/#");
    let files = TempDir::new("definition");
    let wasm = files.write("echo.wasm", echo_wasm());
    let definition = files.write(
        "echo.toml",
        "timeout = \"2s\"\n[[http]]\nroute = \"/dep/{id}\"\n[[mqtt]]\ntopic = \"dep/in\"\nreply = \"dep/out\"\n[[cron]]\nname = \"dep-tick\"\nschedule = \"every 1s\"\npublish = \"deployed/tick\"\n",
    );
    let (ok, out, err) = fenn.cli(&[
        "deploy",
        "dep",
        wasm.to_str().unwrap(),
        "--function",
        definition.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("deployed dep version 1 (sha256 "), "{out}");
    let (status, body) = fenn.get("/dep/7");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""pathParameters":{"id":"7"}"#), "{body}");
    // The subscription is made on the live connection as the deploy
    // answers; the broker confirms it a moment later.
    let reply = wait_until(
        "an MQTT reply",
        Duration::from_secs(30),
        Duration::ZERO,
        || broker.request("dep/in", "hi", 2),
    );
    assert!(reply.contains(r#""x-fenn-trigger":"mqtt""#), "{reply}");
    ticks.wait_until(Duration::from_secs(20), "a cron result", |m| {
        m.iter()
            .any(|(topic, payload)| topic == "deployed/tick" && payload.contains("\"cron\""))
    });
    let (ok, out, err) = fenn.cli(&["rm", "dep"]);
    assert!(ok && out.trim() == "deleted dep", "{out}{err}");
    assert_eq!(fenn.get("/dep/7").0, 404);
    // A clock that is still deployed shows the deleted schedule has
    // stopped: three of its ticks pass and no tick of the deleted one
    // comes after the first.
    let (status, answer) = fenn.deploy(
        "clock",
        &hello_wasm(),
        &json!({"cron": [{"name": "clock", "schedule": "every 1s", "publish": "deployed/clock"}]}),
    );
    assert_eq!(status, 201, "{answer}");
    let count = |m: &[(String, String)], topic: &str| m.iter().filter(|(t, _)| t == topic).count();
    let first = ticks.wait_until(Duration::from_secs(20), "a clock tick", |m| {
        count(m, "deployed/clock") >= 1
    });
    let deleted_ticks = count(&first, "deployed/tick");
    let later = ticks.wait_until(Duration::from_secs(20), "three clock ticks", |m| {
        count(m, "deployed/clock") >= 3
    });
    assert_eq!(
        count(&later, "deployed/tick"),
        deleted_ticks,
        "the deleted schedule fired"
    );
    // The subscription is gone from the broker: at a tick when no reader
    // of the count is connected, it counts the collector's one (two were
    // fenn's kept); and a message gets no reply.
    let (_, listed) = fenn.call("GET", "/v1/functions", None);
    assert_eq!(listed["functions"].as_array().unwrap().len(), 1, "{listed}");
    wait_until(
        "fenn's subscription to go",
        Duration::from_secs(30),
        Duration::from_millis(300),
        || (broker.subscriptions() == Some(1)).then_some(()),
    );
    assert_eq!(broker.request("dep/in", "hi", 2), None);
}

#[test]
fn a_redeploy_under_steady_load_fails_no_request_and_every_later_request_gets_the_new_version() {
    let fenn = Managed::start("");
    let route = json!({"http": [{"route": "/v"}]});
    assert_eq!(fenn.deploy("v", &hello_wasm(), &route).0, 201);
    let url = fenn.fenn.url("/v?name=load");
    // Each client counts its answers before the deploy answered and after;
    // the test waits on those counts, not on time.
    let answered: Arc<OnceLock<Instant>> = Arc::default();
    let (before, after) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (url, stop, answered) = (url.clone(), stop.clone(), answered.clone());
            let (before, after) = (before.clone(), after.clone());
            std::thread::spawn(move || {
                let client = crate::util::client();
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let response = client.get(&url).send().unwrap();
                    seen.push((sent, response.status().as_u16(), response.text().unwrap()));
                    match answered.get() {
                        Some(at) if sent > *at => after.fetch_add(1, Ordering::Relaxed),
                        Some(_) => 0,
                        None => before.fetch_add(1, Ordering::Relaxed),
                    };
                }
                seen
            })
        })
        .collect();
    let wait_for = |count: &AtomicUsize, what: &str| {
        wait_until(what, Duration::from_secs(30), Duration::ZERO, || {
            (count.load(Ordering::Relaxed) >= 40).then_some(())
        });
    };
    wait_for(&before, "answers before the deploy");
    let (status, answer) = fenn.deploy("v", &echo_wasm(), &route);
    let _ = answered.set(Instant::now());
    let answered = *answered.get().unwrap();
    assert_eq!(
        (status, answer["version"].as_u64()),
        (201, Some(2)),
        "{answer}"
    );
    wait_for(&after, "requests sent after the deploy answered");
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<_> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let old = |body: &str| body == "Hello, load!";
    let new = |body: &str| body.contains(r#""x-fenn-trigger":"http""#);
    assert!(seen.iter().any(|(_, _, body)| old(body)));
    assert!(seen.iter().any(|(_, _, body)| new(body)));
    for (sent, status, body) in &seen {
        assert_eq!(*status, 200, "{body}");
        assert!(old(body) || new(body), "{body}");
        if *sent > answered {
            assert!(
                new(body),
                "sent after the deploy answered, served by the old version"
            );
        }
    }
}

#[test]
fn rollback_serves_an_earlier_version_and_a_restart_keeps_what_was_deployed() {
    let mut fenn = Managed::start("");
    let route = json!({"http": [{"route": "/r", "methods": ["GET"]}]});
    assert_eq!(fenn.deploy("r", &hello_wasm(), &route).0, 201);
    assert_eq!(
        fenn.deploy("r", &echo_wasm(), &json!({"http": [{"route": "/r2"}]}))
            .0,
        201
    );
    assert_eq!(fenn.get("/r").0, 404);
    let (ok, out, err) = fenn.cli(&["rollback", "r"]);
    assert!(ok && out.trim() == "r now serves version 1", "{out}{err}");
    assert_eq!(fenn.get("/r?name=Ada"), (200, "Hello, Ada!".into()));
    assert_eq!(fenn.get("/r2").0, 404);
    let (ok, out, err) = fenn.cli(&["rollback", "r"]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("409 Conflict: function 'r' keeps no version before the one it serves"),
        "{err}"
    );
    fenn.restart(false);
    let announced = fenn.fenn.stdout.wait_for("(fenn ls shows their triggers)");
    assert!(
        announced.contains(": r (version 1) (fenn ls"),
        "{announced}"
    );
    assert_eq!(fenn.get("/r?name=Bo"), (200, "Hello, Bo!".into()));
    let (ok, out, _) = fenn.cli(&["ls", "--json"]);
    assert!(ok);
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed["functions"][0]["version"], 1, "{listed}");
    let (_, one) = fenn.call("GET", "/v1/functions/r", None);
    assert_eq!(one["versions"].as_array().unwrap().len(), 2, "{one}");
    assert_eq!(one["definition"], route, "{one}");
    let (ok, out, err) = fenn.cli(&["rollback", "r", "2"]);
    assert!(ok, "{out}{err}");
    assert!(fenn.get("/r2").1.contains("x-fenn-trigger"));
    let (ok, out, err) = fenn.cli(&["ls"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("r                    deployed  2        ANY /r2"),
        "{out}"
    );
}

#[test]
fn the_test_event_answers_with_the_response_logs_fuel_and_duration() {
    let fenn = Managed::start("");
    let wasm = crate::util::misbehave_wasm();
    let (status, answer) = fenn.deploy("m", &std::fs::read(wasm).unwrap(), &json!({}));
    assert_eq!(status, 201, "{answer}");
    let event = json!({"path": "/logflood", "httpMethod": "GET", "queryParameters": {"n": "2"}});
    let (status, answer) = fenn.call("POST", "/v1/functions/m/invoke", Some(event));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["response"]["body"], "logged", "{answer}");
    assert_eq!(answer["logs"].as_array().unwrap().len(), 2, "{answer}");
    assert!(answer["fuel_used"].as_u64().unwrap() > 0, "{answer}");
    assert!(answer["duration_ms"].as_f64().unwrap() > 0.0, "{answer}");
    let (ok, out, err) = fenn.cli(&["invoke", "m", "--remote"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("\"statusCode\": 200") && out.contains("fuel used: "),
        "{out}"
    );
}

#[test]
fn the_cli_names_what_is_wrong_and_prints_failures_as_json_when_asked() {
    let fenn = Managed::start("");
    let (ok, out, err) = fenn.cli(&["rm", "bad name"]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("'bad name' is not a function name"), "{err}");
    let (ok, out, _) = fenn.cli(&["rm", "nope", "--json"]);
    assert!(!ok);
    let answer: serde_json::Value = serde_json::from_str(&out).unwrap();
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains("404 Not Found: no deployed function 'nope'"),
        "{error}"
    );
    let output = crate::util::fenn()
        .args(["ls", "--remote", &format!("http://{}", fenn.admin)])
        .env("FENN_ADMIN_TOKEN", "not-the-token-0123456789")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        err.contains("FENN_ADMIN_TOKEN is not the token this fenn was started with"),
        "{err}"
    );
}
