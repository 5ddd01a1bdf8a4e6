//! Flows through the real binary: a diamond of steps (fan-out, a branch
//! behind a condition, an error edge, a join) answering HTTP requests and
//! MQTT messages, each join holding exactly its own run's parts; the run
//! as one trace in the management API; runs resumed after `kill -9`
//! without a completed step running again; and each refusal of a flow's
//! shape, with its message.

use crate::util::{Broker, Collector, Managed, client, run, wait_until};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A count from the environment (the long runs of `tests/flows-long`),
/// else `default`.
fn scale(variable: &str, default: u64) -> u64 {
    std::env::var(variable)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The step guest, in a store shared by all its steps, and `flows`.
fn config(flows: &str) -> String {
    format!(
        r#"
        [[function]]
        name = "step"
        module = "{step}"
        concurrency = 256
        kv = {{ store = "flows", max_keys = 100000 }}
        {flows}
        "#,
        step = env!("FENN_GUEST_STEP"),
    )
}

/// `parse` fans out to `a`, `b` (only when the input's `hot` is true)
/// and `c`; `b`'s failure goes to `alarm`; `join` answers with the parts
/// that arrived.
const DIAMOND: &str = r#"
    [[flow]]
    name = "diamond"
    response = "join"
    max_runs = 64
      [[flow.http]]
      route = "/diamond"
      [[flow.step]]
      name = "parse"
      function = "step"
      next = ["a", "b", "c"]
      when = { b = "body.input.hot == true" }
      [[flow.step]]
      name = "a"
      function = "step"
      next = ["join"]
      [[flow.step]]
      name = "b"
      function = "step"
      next = ["join"]
      on_error = ["alarm"]
      [[flow.step]]
      name = "c"
      function = "step"
      next = ["join"]
      [[flow.step]]
      name = "alarm"
      function = "step"
      [[flow.step]]
      name = "join"
      function = "step"
"#;

/// What a run of the diamond should join: `a` and `c`, and `b` when the
/// input is hot and `b` does not fail.
fn expected_parts(hot: bool, b_fails: bool) -> BTreeSet<String> {
    let mut parts: BTreeSet<String> = ["a", "c"].map(String::from).into();
    if hot && !b_fails {
        parts.insert("b".into());
    }
    parts
}

/// Checks one join's answer: its parts, each of its own run, carrying
/// the input `n`; returns the run's id.
fn check_join(body: &Value, n: u64, hot: bool, b_fails: bool) -> String {
    assert_eq!(body["step"], "join", "{body}");
    let run = body["run"].as_str().unwrap().to_owned();
    let parts = body["input"].as_object().unwrap();
    let names: BTreeSet<String> = parts.keys().cloned().collect();
    assert_eq!(names, expected_parts(hot, b_fails), "run {run}: {body}");
    for (name, part) in parts {
        let part = &part["body"];
        assert_eq!(part["step"], name.as_str(), "{body}");
        assert_eq!(part["run"], run.as_str(), "a part of another run: {body}");
        assert_eq!(part["input"]["run"], run.as_str(), "{body}");
        assert_eq!(part["input"]["input"]["n"], n, "{body}");
    }
    run
}

#[test]
fn a_diamond_over_http_joins_its_own_parts_and_takes_each_branch_only_when_it_should() {
    let fenn = Managed::start(&config(DIAMOND));
    let requests = scale("FENN_FLOWS_EVENTS", 240);
    let threads = scale("FENN_FLOWS_IN_FLIGHT", 8);
    let failed_runs = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let (fenn, failed_runs) = (&fenn, &failed_runs);
            scope.spawn(move || {
                let client = client();
                for n in (thread..requests).step_by(threads as usize) {
                    let (hot, b_fails) = (n % 2 == 0, n % 6 == 0);
                    let fail = if b_fails { "&fail=b" } else { "" };
                    let url = fenn.fenn.url(&format!("/diamond?spin=3000{fail}"));
                    let response = client
                        .post(url)
                        .body(format!(r#"{{"hot":{hot},"n":{n}}}"#))
                        .send()
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    let body: Value = response.json().unwrap();
                    let run = check_join(&body, n, hot, b_fails);
                    if hot && b_fails {
                        failed_runs.lock().unwrap().push(run);
                    }
                }
            });
        }
    });
    // A run whose `b` failed took the error edge: the trace shows `b`
    // failed, `alarm` done, and every step's invocation with its run.
    let failed_runs = failed_runs.into_inner().unwrap();
    let b_failed = (0..requests).filter(|n| n % 6 == 0).count();
    assert_eq!(failed_runs.len(), b_failed);
    // The newest: the history keeps a function's last 1,000 invocations.
    let newest = failed_runs.last().unwrap();
    let (status, trace) = fenn.call("GET", &format!("/v1/runs/{newest}"), None);
    assert_eq!(status, 200, "{trace}");
    assert_eq!(trace["status"], "ok", "the failure was handled: {trace}");
    let states: BTreeMap<&str, &str> = (trace["steps"].as_array().unwrap().iter())
        .map(|step| {
            (
                step["name"].as_str().unwrap(),
                step["state"].as_str().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("a", "done"),
        ("alarm", "done"),
        ("b", "failed"),
        ("c", "done"),
        ("join", "done"),
        ("parse", "done"),
    ];
    assert_eq!(states, expected.into(), "{trace}");
    let invoked: BTreeSet<&str> = (trace["invocations"].as_array().unwrap().iter())
        .map(|record| record["flow"]["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        invoked,
        ["a", "alarm", "b", "c", "join", "parse"].into(),
        "{trace}"
    );
    // `fenn logs --run` prints the same trace, a line a step.
    let (ok, out, err) = fenn.cli(&["logs", "--run", newest]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out
        .lines()
        .filter(|line| line.contains(" flow diamond "))
        .collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert!(
        lines.iter().any(
            |line| line.contains(&format!("run {newest} step b attempt 1"))
                && line.contains("-> 500 ok")
        ),
        "{out}"
    );
    // A cold run skipped `b` and says why.
    let (_, runs) = fenn.call("GET", "/v1/runs?flow=diamond&limit=500", None);
    let runs = runs["runs"].as_array().unwrap();
    let cold = runs
        .iter()
        .find(|run| run["steps"][2]["state"] == "skipped")
        .unwrap();
    assert_eq!(
        cold["steps"][2]["note"], "body.input.hot == true did not hold on 'parse'",
        "{cold}"
    );
    let metrics = fenn.metrics();
    assert!(
        metrics.contains(&format!(
            r#"fenn_flow_runs_total{{flow="diamond",status="ok"}} {requests}"#
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            r#"fenn_flow_steps_total{{flow="diamond",step="alarm",state="done"}} {b_failed}"#
        )),
        "{metrics}"
    );
}

#[test]
fn a_diamond_over_mqtt_replies_with_each_runs_own_parts() {
    let broker = Broker::start();
    let flows = DIAMOND.replace(
        "      [[flow.http]]\n      route = \"/diamond\"",
        "      [[flow.mqtt]]\n      topic = \"diamond/in/{n}\"\n      reply = \"diamond/out/{n}\"\n      qos = 1",
    );
    let mqtt = format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nclient_id = \"fenn-flows\"\nmax_in_flight = 16\n",
        broker.port
    );
    let replies = Collector::start(broker.port, "diamond/out/#");
    let fenn = Managed::start(&format!("{mqtt}{}", config(&flows)));
    fenn.fenn.log.wait_for("MQTT subscribed");
    let messages: u64 = 120;
    for n in 0..messages {
        broker.publish(
            &format!("diamond/in/{n}"),
            format!(r#"{{"hot":{},"n":{n}}}"#, n % 3 == 0).as_bytes(),
            1,
        );
    }
    let got = replies.wait_until(Duration::from_secs(60), "a reply to each message", |m| {
        m.len() as u64 >= messages
    });
    let mut seen = BTreeSet::new();
    for (topic, payload) in &got {
        let n: u64 = topic.rsplit('/').next().unwrap().parse().unwrap();
        let body: Value = serde_json::from_str(payload).unwrap();
        check_join(&body, n, n % 3 == 0, false);
        assert!(seen.insert(n), "two replies to message {n}");
    }
    assert_eq!(seen.len() as u64, messages);
}

/// A flow of `first`, `second` and `third` in a chain; `third` keeps its
/// answer as `done/{run}`.
const CHAIN: &str = r#"
    [[flow]]
    name = "chain"
    max_runs = 16
      [[flow.http]]
      route = "/chain"
      [[flow.step]]
      name = "first"
      function = "step"
      next = ["second"]
      [[flow.step]]
      name = "second"
      function = "step"
      next = ["third"]
      [[flow.step]]
      name = "third"
      function = "step"
"#;

/// The keys of the shared store under `prefix`.
fn keys(fenn: &Managed, prefix: &str) -> Vec<String> {
    let (status, listed) = fenn.call(
        "GET",
        &format!("/v1/functions/step/kv?prefix={prefix}&limit=1000"),
        None,
    );
    assert_eq!(status, 200, "{listed}");
    (listed["keys"].as_array().unwrap().iter())
        .map(|key| key.as_str().unwrap().to_owned())
        .collect()
}

/// The value of `key` in the shared store.
fn value(fenn: &Managed, key: &str) -> String {
    let path = format!("/v1/functions/step/kv/{}", key.replace('/', "%2F"));
    let (status, got) = fenn.call("GET", &path, None);
    assert_eq!(status, 200, "{key}: {got}");
    got["value"].as_str().unwrap().to_owned()
}

#[test]
fn runs_cut_by_kill_9_resume_and_no_completed_step_runs_again() {
    let mut fenn = Managed::start(&config(CHAIN));
    let (crashes, runs) = (scale("FENN_FLOWS_CRASHES", 1), scale("FENN_FLOWS_RUNS", 24));
    for crash in 0..crashes {
        // Each round's keys under a prefix of its own: a listing holds
        // at most 1,000 keys.
        let prefix = format!("r{crash}/");
        let url = fenn
            .fenn
            .url(&format!("/chain?spin=400000&keep=third&prefix={prefix}"));
        // Runs in flight when fenn is killed: their clients lose the answer.
        let senders: Vec<_> = (0..runs.min(24))
            .map(|sender| {
                let url = url.clone();
                std::thread::spawn(move || {
                    let client = client();
                    for n in (sender..runs).step_by(24) {
                        if client
                            .post(&url)
                            .body(format!(r#"{{"n":{n}}}"#))
                            .send()
                            .is_err()
                        {
                            return;
                        }
                    }
                })
            })
            .collect();
        // Killed at a point the round chose: once some of its runs ended.
        let at = 3 + (crash * 97) % (runs / 2).max(1);
        wait_until(
            "some runs to finish",
            Duration::from_secs(120),
            Duration::from_millis(20),
            || (keys(&fenn, &format!("{prefix}done/")).len() as u64 >= at).then_some(()),
        );
        fenn.restart(true);
        for sender in senders {
            sender.join().unwrap();
        }
        check_round(&fenn, &prefix);
    }
    assert!(fenn.fenn.log.text().contains("resuming a run"));
}

/// Every run of a round whose first step ran ends, and each step's count
/// in the store is the one the run's answer carries: no step ran again
/// once its outcome was kept (a step cut mid-run runs again, and then its
/// second count is the one kept).
fn check_round(fenn: &Managed, prefix: &str) {
    let ids = |what: &str| -> BTreeSet<String> {
        let under = format!("{prefix}{what}");
        (keys(fenn, &under).iter())
            .filter_map(|key| key.strip_prefix(&under).map(String::from))
            .collect()
    };
    // Read again at each look: a run kept before its first step ran
    // counts its first step once it resumes.
    let waited = std::time::Instant::now();
    let done = loop {
        let done = ids("done/");
        let started = ids("runs/first/");
        if done == started && started.len() >= 3 {
            break done;
        }
        let missing: Vec<&String> = started.difference(&done).collect();
        let extra: Vec<&String> = done.difference(&started).collect();
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "runs that did not end: {missing:?}; ended, not started: {extra:?}\n{}",
            fenn.fenn.log.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    for run in &done {
        let kept = value(fenn, &format!("{prefix}done/{run}"));
        let answer: Value = serde_json::from_str(&kept).unwrap();
        let mut part = &answer;
        for step in ["third", "second", "first"] {
            assert_eq!(part["step"], step, "{answer}");
            let counted: u64 = value(fenn, &format!("{prefix}runs/{step}/{run}"))
                .parse()
                .unwrap();
            assert_eq!(
                part["count"], counted,
                "run {run}, step {step} ran again: {answer}"
            );
            part = &part["input"];
        }
    }
}

/// A step of flow `f` running `hello`, with `extra` keys.
fn step(name: &str, extra: &str) -> String {
    format!("[[flow.step]]\nname = \"{name}\"\nfunction = \"hello\"\n{extra}\n")
}

#[test]
fn each_refusal_of_a_flows_shape_names_its_reason_and_its_steps() {
    let dir = crate::util::TempDir::new("flow-refusals");
    let a_to_b = step("a", "next = [\"b\"]");
    let cases = [
        (
            format!(
                "{}{}",
                step("a", "next = [\"b\"]"),
                step("b", "next = [\"a\"]")
            ),
            "flow[0].step[0].next: steps feed each other in a cycle: a -> b -> a",
        ),
        (
            format!("{a_to_b}[[flow.step]]\nname = \"b\"\nfunction = \"nothing\"\n"),
            "flow[0].step[1].function: step 'b': no function named 'nothing'",
        ),
        (
            format!("{a_to_b}{}{}", step("b", ""), step("c", "next = [\"b\"]")),
            "flow[0].step[2]: no path reaches step 'c'",
        ),
        (
            format!("{a_to_b}{}", step("b", "join = { timeout = \"1s\" }")),
            "flow[0].step[1].join: step 'b' has 1 input(s): a join needs at least two",
        ),
        (
            format!(
                "{}{}",
                step("a", "next = [\"b\"]\nwhen = { b = \"status >\" }"),
                step("b", "")
            ),
            "flow[0].step[0].when.b: condition 'status >' does not parse",
        ),
        (
            format!(
                "response = \"b\"\n{}{}{}",
                step(
                    "a",
                    "next = [\"b\", \"c\"]\nwhen = { b = \"status == 200\" }"
                ),
                step("b", ""),
                step("c", "")
            ),
            "flow[0].response: response step 'b' may not run: a run can end before it ('a' feeds it only when status == 200)",
        ),
    ];
    for (at, (steps, message)) in cases.iter().enumerate() {
        let text = format!(
            "[[function]]\nname = \"hello\"\nmodule = \"example:hello\"\n[[flow]]\nname = \"f\"\n{steps}"
        );
        let file = dir.write(&format!("case{at}.toml"), &text);
        let (ok, _, err) = run(&["serve", "--config", file.to_str().unwrap()], None);
        assert!(!ok, "case {at} served:\n{text}");
        assert!(err.contains(message), "case {at}:\n{text}\n{err}");
    }
}

/// One run at a time; `first` fails, waits 3 s and runs once more (its
/// failure then goes to `second`, which answers).
const SLOW: &str = r#"
[[flow]]
name = "slow"
max_runs = 1
response = "second"
  [[flow.http]]
  route = "/slow"
  [[flow.step]]
  name = "first"
  function = "step"
  next = ["second"]
  on_error = ["second"]
  [flow.step.retry]
  attempts = 2
  backoff = "3s"
  jitter = false
  [[flow.step]]
  name = "second"
  function = "step"
"#;

/// The versions of `run`'s invocations, by step and attempt.
fn versions(fenn: &Managed, run: &str) -> Vec<(String, u64, u64)> {
    let (status, found) = fenn.call("GET", &format!("/v1/invocations?run={run}"), None);
    assert_eq!(status, 200, "{found}");
    let mut versions: Vec<(String, u64, u64)> = (found["invocations"].as_array().unwrap().iter())
        .map(|record| {
            let step = record["flow"]["step"].as_str().unwrap().to_owned();
            let attempt = record["flow"]["attempt"].as_u64().unwrap();
            (step, attempt, record["version"].as_u64().unwrap())
        })
        .collect();
    versions.sort();
    versions
}

#[test]
fn a_flow_at_its_runs_in_flight_answers_503_and_a_run_keeps_its_versions_across_a_deploy() {
    use crate::util::tagged;
    let mut fenn = Managed::start("");
    let step = std::fs::read(env!("FENN_GUEST_STEP")).unwrap();
    let definition = serde_json::json!({"kv": {"store": "flows"}});
    assert_eq!(fenn.deploy("step", &step, &definition).0, 201);
    // The flow is the config file's; its function, the deployed one.
    let file = fenn.dir.0.join("fenn.toml");
    let config = std::fs::read_to_string(&file).unwrap() + SLOW;
    std::fs::write(&file, config).unwrap();
    fenn.restart(false);
    let url = fenn.fenn.url("/slow?fail=first");
    let first = std::thread::spawn(move || client().post(url).send().unwrap());
    // Its first attempt failed: it waits to retry.
    let run = wait_until(
        "the first attempt",
        Duration::from_secs(30),
        Duration::from_millis(10),
        || {
            let (_, found) = fenn.call("GET", "/v1/invocations?function=step", None);
            let invocations = found["invocations"].as_array().unwrap().clone();
            invocations
                .first()
                .map(|record| record["flow"]["run"].as_str().unwrap().to_owned())
        },
    );
    // At its one run in flight, the flow refuses the next request.
    let refused = client().post(fenn.fenn.url("/slow")).send().unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    // A new version, deployed while the run waits, is not the run's.
    assert_eq!(fenn.deploy("step", &tagged(&step, 2), &definition).0, 201);
    assert_eq!(
        versions(&fenn, &run),
        [("first".into(), 1, 1)],
        "the retry has not run yet"
    );
    let answered = first.join().unwrap();
    assert_eq!(answered.status(), 200);
    let body: Value = answered.json().unwrap();
    assert_eq!(body["step"], "second", "{body}");
    assert_eq!(body["input"]["first"]["body"]["error"], "status", "{body}");
    let expected = [
        ("first".to_owned(), 1, 1),
        ("first".to_owned(), 2, 1),
        ("second".to_owned(), 1, 1),
    ];
    assert_eq!(versions(&fenn, &run), expected);
    // The next run is on the new version.
    let next: Value = client()
        .post(fenn.fenn.url("/slow"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let run = next["run"].as_str().unwrap();
    assert_eq!(
        versions(&fenn, run),
        [("first".into(), 1, 2), ("second".into(), 1, 2)]
    );
}

#[test]
fn a_stalled_step_under_load_holds_fenn_to_its_bounds_and_the_rest_keeps_serving() {
    use crate::util::{hello_works, rss_kib};
    let flows = r#"
        [[function]]
        name = "hello"
        module = "example:hello"
        http = [{ route = "/hello" }]

        [[function]]
        name = "slow"
        module = "STEP"
        timeout = "500ms"
        fuel = 100000000000
        concurrency = 64
        kv = { store = "flows" }

        [[flow]]
        name = "stalled"
        max_runs = 8
          [[flow.http]]
          route = "/stalled"
          [[flow.step]]
          name = "first"
          function = "step"
          next = ["stuck"]
          [[flow.step]]
          name = "stuck"
          function = "slow"

        [[flow]]
        name = "quick"
          [[flow.http]]
          route = "/quick"
          [[flow.step]]
          name = "only"
          function = "step"
    "#
    .replace("STEP", env!("FENN_GUEST_STEP"));
    let fenn = Managed::start(&config(&flows));
    let quick = |fenn: &Managed| {
        let response = client().get(fenn.fenn.url("/quick")).send().unwrap();
        assert_eq!(response.status(), 200);
    };
    quick(&fenn);
    let rss = rss_kib(fenn.fenn.pid());
    let statuses = std::sync::Mutex::new(BTreeMap::<u16, usize>::new());
    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| {
                let client = client();
                for _ in 0..6 {
                    let url = fenn.fenn.url("/stalled?stall=stuck");
                    let status = client.get(url).send().unwrap().status().as_u16();
                    *statuses.lock().unwrap().entry(status).or_default() += 1;
                }
            });
        }
        // Meanwhile the other flow and the functions answer.
        for _ in 0..10 {
            quick(&fenn);
            hello_works(&fenn.fenn);
        }
    });
    let statuses = statuses.into_inner().unwrap();
    // Each run that got in ended at its stalled step's deadline (504);
    // the rest found the flow at its 8 runs in flight (503).
    assert_eq!(
        statuses.keys().copied().collect::<Vec<u16>>(),
        [503, 504],
        "{statuses:?}"
    );
    let grown = rss_kib(fenn.fenn.pid()).saturating_sub(rss);
    assert!(grown < 32 << 10, "fenn grew by {grown} KiB");
    // Every run ends, and gives its place back.
    wait_until(
        "the runs to end",
        Duration::from_secs(30),
        Duration::from_millis(10),
        || {
            let (_, status) = fenn.call("GET", "/v1/status", None);
            (status["flows"]["stalled"]["running"] == 0).then_some(())
        },
    );
}
