//! Flows deployed through the management API and the CLI, end to end:
//! served on their routes and schedules, replaced, rolled back and
//! deleted while fenn runs; each refusal with its status and message,
//! nothing changed by it; kept across restarts (runs cut by `kill -9`
//! resumed on the deployed flow), and one that no longer validates listed
//! but not served.

use crate::util::{Managed, TempDir, client, hello_wasm, wait_until};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// Deploys the step guest as `step`, in the store all its steps share.
fn deploy_step(fenn: &Managed) {
    let wasm = std::fs::read(env!("FENN_GUEST_STEP")).unwrap();
    let (status, answer) = fenn.deploy("step", &wasm, &json!({"kv": {"store": "flows"}}));
    assert_eq!(status, 201, "{answer}");
}

/// A chain of the step guest on `route`, its steps named as given.
fn chain(route: &str, steps: &[&str]) -> Value {
    let steps: Vec<Value> = (steps.iter().enumerate())
        .map(|(at, name)| {
            let next: Vec<&str> = steps.get(at + 1).into_iter().copied().collect();
            json!({"name": name, "function": "step", "next": next})
        })
        .collect();
    json!({"http": [{"route": route}], "step": steps})
}

/// `POST path` on the gateway with `body`: (status, answer as JSON).
fn post(fenn: &Managed, path: &str, body: &str) -> (u16, Value) {
    let response = client()
        .post(fenn.fenn.url(path))
        .body(body.to_owned())
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The step that answered `path`.
fn answered_by(fenn: &Managed, path: &str) -> String {
    let (status, body) = post(fenn, path, r#"{"n": 1}"#);
    assert_eq!(status, 200, "{body}");
    body["step"].as_str().unwrap().to_owned()
}

#[test]
fn a_deployed_flow_serves_its_route_a_new_version_and_a_rollback_change_it_and_delete_ends_it() {
    let fenn = Managed::start("");
    deploy_step(&fenn);
    let v1 = chain("/pipe", &["first", "second"]);
    let (status, answer) = fenn.deploy_flow("pipe", &v1);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer, json!({"name": "pipe", "version": 1, "steps": 2}));
    let (status, body) = post(&fenn, "/pipe", r#"{"n": 7}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["step"], "second", "{body}");
    assert_eq!(body["input"]["step"], "first", "{body}");
    assert_eq!(body["input"]["input"], json!({"n": 7}), "{body}");
    let (_, listed) = fenn.call("GET", "/v1/flows", None);
    let flows = listed["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1, "{listed}");
    assert_eq!(flows[0]["origin"], "deployed", "{listed}");
    assert_eq!(flows[0]["version"], 1, "{listed}");
    // Its run may not have ended yet: it goes on after it has answered.
    assert!(flows[0]["running"].is_u64(), "{listed}");
    assert_eq!(flows[0]["max_runs"], 64, "{listed}");
    assert_eq!(
        flows[0]["bindings"],
        json!([{"kind": "http", "summary": "ANY /pipe"}])
    );
    // A flow is not a function.
    let (_, functions) = fenn.call("GET", "/v1/functions", None);
    assert_eq!(functions["functions"].as_array().unwrap().len(), 1);
    let (_, one) = fenn.call("GET", "/v1/flows/pipe", None);
    assert_eq!(one["definition"], v1, "{one}");
    assert_eq!(
        one["graph"],
        json!({
            "steps": [
                {"name": "first", "function": "step", "start": true},
                {"name": "second", "function": "step", "start": false},
            ],
            "edges": [{"from": "first", "to": "second", "kind": "next", "when": null}],
            "response": "second",
        })
    );
    let v2 = chain("/pipe", &["first", "second", "third"]);
    let (status, answer) = fenn.deploy_flow("pipe", &v2);
    assert_eq!((status, answer["version"].as_u64()), (201, Some(2)));
    assert_eq!(answered_by(&fenn, "/pipe"), "third");
    let (status, answer) = fenn.call("POST", "/v1/flows/pipe/rollback", None);
    assert_eq!((status, answer["version"].as_u64()), (200, Some(1)));
    assert_eq!(answered_by(&fenn, "/pipe"), "second");
    let to_v2 = Some(json!({"version": 2}));
    assert_eq!(fenn.call("POST", "/v1/flows/pipe/rollback", to_v2).0, 200);
    assert_eq!(answered_by(&fenn, "/pipe"), "third");
    let (status, answer) = fenn.call(
        "POST",
        "/v1/flows/pipe/rollback",
        Some(json!({"version": 9})),
    );
    assert_eq!(status, 404, "{answer}");
    assert_eq!(
        answer["error"],
        "flow 'pipe' keeps no version 9 (it keeps 1, 2)"
    );
    let (_, one) = fenn.call("GET", "/v1/flows/pipe", None);
    assert_eq!(one["versions"].as_array().unwrap().len(), 2, "{one}");
    assert_eq!(
        (one["version"].as_u64(), &one["definition"]),
        (Some(2), &v2)
    );
    let (status, answer) = fenn.call("DELETE", "/v1/flows/pipe", None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(post(&fenn, "/pipe", "{}").0, 404);
    let (_, listed) = fenn.call("GET", "/v1/flows", None);
    assert_eq!(listed, json!({"flows": []}));
    assert_eq!(fenn.call("GET", "/v1/flows/pipe", None).0, 404);
    // No flow runs it now: the function goes.
    assert_eq!(fenn.call("DELETE", "/v1/functions/step", None).0, 200);
}

#[test]
fn a_deployed_flows_schedule_runs_it_until_the_flow_is_deleted() {
    let fenn = Managed::start("");
    deploy_step(&fenn);
    let definition = json!({
        "cron": [{"name": "tick", "schedule": "every 1s"}],
        "step": [{"name": "only", "function": "step"}],
    });
    assert_eq!(fenn.deploy_flow("ticker", &definition).0, 201);
    let runs = |flow: &str| {
        let path = format!("/v1/runs?flow={flow}&limit=1000");
        let (_, runs) = fenn.call("GET", &path, None);
        runs["runs"].as_array().unwrap().len()
    };
    let wait_for_runs = |flow: &str, count: usize| {
        wait_until(
            &format!("{count} runs of {flow} on its schedule"),
            Duration::from_secs(20),
            Duration::from_millis(100),
            || (runs(flow) >= count).then_some(()),
        );
    };
    wait_for_runs("ticker", 1);
    let (status, taken) = fenn.deploy_flow("other", &definition);
    assert_eq!(status, 409, "{taken}");
    assert_eq!(
        taken["error"],
        "cron schedule 'tick' already belongs to function 'ticker'"
    );
    assert_eq!(fenn.call("DELETE", "/v1/flows/ticker", None).0, 200);
    // The schedule is free again, for another flow; while two more of its
    // ticks pass, the deleted flow runs no more (a run under way at the
    // delete has ended by the first).
    assert_eq!(fenn.deploy_flow("other", &definition).0, 201);
    wait_for_runs("other", 1);
    let deleted = runs("ticker");
    wait_for_runs("other", 3);
    assert_eq!(runs("ticker"), deleted, "the deleted flow's schedule fired");
}

/// A config function on `/hello` and a config flow running it.
const CONFIG: &str = r#"
[[function]]
name = "hello"
module = "example:hello"
  [[function.http]]
  route = "/hello"

[[flow]]
name = "fixed"
  [[flow.http]]
  route = "/fixed"
  [[flow.step]]
  name = "only"
  function = "hello"
"#;

/// `errors` of a 422 holds `expected`.
fn refused_with(answer: &Value, expected: &str) {
    let errors = answer["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|error| error == expected),
        "{expected} not in {answer}"
    );
}

#[test]
fn each_refusal_of_a_flow_names_its_reason_and_changes_nothing() {
    let fenn = Managed::start(CONFIG);
    assert_eq!(fenn.deploy("greet", &hello_wasm(), &json!({})).0, 201);
    let good = json!({"http": [{"route": "/good"}], "step": [{"name": "a", "function": "greet"}]});
    assert_eq!(fenn.deploy_flow("good", &good).0, 201);
    let cases = [
        (
            json!({"http": [{"route": "/bad"}], "step": [{"name": "a", "function": "greet", "next": ["b"]}]}),
            "definition: step[0].next: step 'a': no step named 'b'",
        ),
        (
            json!({"deadline": "soon", "step": [{"name": "a", "function": "greet"}]}),
            "definition: deadline: 'soon' is not a duration (write it as 500ms, 2s, 1m or 1h)",
        ),
        (
            json!({"step": [{"name": "a", "function": "nothing"}]}),
            "definition: step[0].function: step 'a': no function named 'nothing'",
        ),
        (
            json!({"step": [{"name": "a", "function": "greet"}], "http": [{"route": "no-slash"}]}),
            "definition: http[0].route: route 'no-slash': must start with '/'",
        ),
    ];
    for (definition, expected) in &cases {
        let (status, answer) = fenn.deploy_flow("bad", definition);
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"], "the definition is refused", "{answer}");
        refused_with(&answer, expected);
    }
    let conflicts = [
        (
            fenn.deploy_flow("hello", &good),
            "'hello' is a function's name: functions and flows share names",
        ),
        (
            fenn.deploy_flow("greet", &good),
            "'greet' is a function's name: functions and flows share names",
        ),
        (
            fenn.deploy("good", &hello_wasm(), &json!({})),
            "'good' is a flow's name: functions and flows share names",
        ),
        (
            fenn.deploy("fixed", &hello_wasm(), &json!({})),
            "'fixed' is a flow's name: functions and flows share names",
        ),
        (
            fenn.deploy_flow("clash", &json!({"http": [{"route": "/hello"}], "step": [{"name": "a", "function": "greet"}]})),
            "route '/hello': method * is already served by function 'hello'",
        ),
        (
            fenn.deploy_flow("fixed", &good),
            "flow 'fixed' comes from the config file: change it there",
        ),
        (
            fenn.call("DELETE", "/v1/flows/fixed", None),
            "flow 'fixed' comes from the config file: change it there",
        ),
        (
            fenn.call("POST", "/v1/flows/fixed/rollback", None),
            "flow 'fixed' comes from the config file: change it there",
        ),
        (
            fenn.call("DELETE", "/v1/functions/greet", None),
            "function 'greet' runs steps of flow 'good': change or delete it first",
        ),
        (
            fenn.call("POST", "/v1/flows/good/rollback", None),
            "flow 'good' keeps no version before the one it serves",
        ),
    ];
    for ((status, answer), expected) in &conflicts {
        assert_eq!(*status, 409, "{answer}");
        assert_eq!(answer["error"], *expected, "{answer}");
    }
    let (status, answer) = fenn.call("DELETE", "/v1/flows/nope", None);
    assert_eq!(
        (status, &answer["error"]),
        (404, &json!("no deployed flow 'nope'"))
    );
    let (status, answer) = fenn.call("PUT", "/v1/flows/a%2Fb", Some(json!({"definition": good})));
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("is not a flow name")
    );
    let (status, _) = fenn.call("PUT", "/v1/flows/bad", Some(json!({"step": []})));
    assert_eq!(status, 400);
    // Nothing changed: what served still serves, and only that.
    let (_, listed) = fenn.call("GET", "/v1/flows", None);
    let names: Vec<(&str, &str)> = (listed["flows"].as_array().unwrap().iter())
        .map(|flow| {
            (
                flow["name"].as_str().unwrap(),
                flow["origin"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("fixed", "config"), ("good", "deployed")]);
    assert_eq!(fenn.get("/good?name=Ada"), (200, "Hello, Ada!".into()));
    assert_eq!(fenn.get("/fixed?name=Bo"), (200, "Hello, Bo!".into()));
    assert_eq!(fenn.get("/hello?name=Cy"), (200, "Hello, Cy!".into()));
    assert_eq!(fenn.get("/bad").0, 404);
    let (_, fixed) = fenn.call("GET", "/v1/flows/fixed", None);
    assert_eq!(
        (&fixed["origin"], &fixed["definition"]),
        (&json!("config"), &Value::Null)
    );
    assert_eq!(fixed["graph"]["steps"][0]["function"], "hello", "{fixed}");
}

#[test]
fn a_deployed_flow_survives_a_restart_and_one_that_no_longer_validates_is_listed_not_served() {
    let mut fenn = Managed::start("");
    deploy_step(&fenn);
    assert_eq!(
        fenn.deploy_flow("kept", &chain("/kept", &["one", "two"])).0,
        201
    );
    fenn.restart(false);
    let announced = fenn
        .fenn
        .stdout
        .wait_for("(fenn flow ls shows their triggers)");
    assert!(
        announced.contains(": kept (version 1) (fenn flow ls"),
        "{announced}"
    );
    assert_eq!(answered_by(&fenn, "/kept"), "two");
    // The config file now serves the flow's route: the flow is not served.
    let file = fenn.dir.0.join("fenn.toml");
    let config = std::fs::read_to_string(&file).unwrap()
        + "[[function]]\nname = \"other\"\nmodule = \"example:hello\"\n[[function.http]]\nroute = \"/kept\"\n";
    std::fs::write(&file, config).unwrap();
    fenn.restart(false);
    let announced = fenn
        .fenn
        .stdout
        .wait_for("(fenn flow ls shows their triggers)");
    assert!(
        announced.contains(": kept (version 1, NOT SERVED: see the log)"),
        "{announced}"
    );
    assert_eq!(fenn.get("/kept?name=Di"), (200, "Hello, Di!".into()));
    let (_, listed) = fenn.call("GET", "/v1/flows", None);
    let reason = listed["flows"][0]["not_served"].as_str().unwrap();
    assert!(
        reason.starts_with("deployed flow 'kept' (version 1, ")
            && reason.ends_with("route '/kept': method * is already served by function 'other'"),
        "{listed}"
    );
    assert!(fenn.fenn.log.text().contains(reason));
    let (_, one) = fenn.call("GET", "/v1/flows/kept", None);
    assert_eq!(
        (&one["not_served"], &one["graph"]),
        (&json!(reason), &Value::Null)
    );
    // A new version on a free route mends it.
    let (status, answer) = fenn.deploy_flow("kept", &chain("/kept2", &["one", "two"]));
    assert_eq!(
        (status, answer["version"].as_u64()),
        (201, Some(2)),
        "{answer}"
    );
    assert_eq!(answered_by(&fenn, "/kept2"), "two");
    let (_, listed) = fenn.call("GET", "/v1/flows", None);
    assert_eq!(listed["flows"][0]["not_served"], Value::Null, "{listed}");
}

/// The keys of the steps' shared store under `prefix`.
fn keys(fenn: &Managed, prefix: &str) -> BTreeSet<String> {
    let path = format!("/v1/functions/step/kv?prefix={prefix}&limit=1000");
    let (status, listed) = fenn.call("GET", &path, None);
    assert_eq!(status, 200, "{listed}");
    (listed["keys"].as_array().unwrap().iter())
        .map(|key| key.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn runs_of_a_deployed_flow_cut_by_kill_9_resume_after_the_restart() {
    let mut fenn = Managed::start("");
    deploy_step(&fenn);
    let mut definition = chain("/slow", &["first", "second", "third"]);
    definition["max_runs"] = json!(16);
    assert_eq!(fenn.deploy_flow("slow", &definition).0, 201);
    let url = fenn.fenn.url("/slow?spin=1000000&keep=third");
    let senders: Vec<_> = (0..16)
        .map(|n| {
            let url = url.clone();
            std::thread::spawn(move || {
                let _ = client().post(url).body(format!(r#"{{"n":{n}}}"#)).send();
            })
        })
        .collect();
    wait_until(
        "a run to finish",
        Duration::from_secs(60),
        Duration::from_millis(20),
        || (!keys(&fenn, "done/").is_empty()).then_some(()),
    );
    fenn.restart(true);
    for sender in senders {
        sender.join().unwrap();
    }
    let started: BTreeSet<String> = (keys(&fenn, "runs/first/").iter())
        .filter_map(|key| key.strip_prefix("runs/first/").map(String::from))
        .collect();
    wait_until(
        "every run to end",
        Duration::from_secs(120),
        Duration::from_millis(50),
        || {
            let done: BTreeSet<String> = (keys(&fenn, "done/").iter())
                .filter_map(|key| key.strip_prefix("done/").map(String::from))
                .collect();
            (done == started).then_some(())
        },
    );
    assert!(fenn.fenn.log.text().contains("resuming a run"));
}

#[test]
fn the_cli_deploys_lists_rolls_back_and_removes_flows() {
    let fenn = Managed::start("[[function]]\nname = \"hello\"\nmodule = \"example:hello\"\n");
    let files = TempDir::new("flow-definitions");
    let toml = files.write(
        "greet.toml",
        "[[http]]\nroute = \"/greet\"\n[[step]]\nname = \"greet\"\nfunction = \"hello\"\n",
    );
    let json = files.write(
        "greet.json",
        r#"{"http": [{"route": "/greet2"}], "step": [{"name": "greet", "function": "hello"}]}"#,
    );
    let (ok, out, err) = fenn.cli(&["flow", "deploy", "greet", toml.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), "deployed flow greet version 1 (1 step)");
    assert_eq!(fenn.get("/greet?name=Ada"), (200, "Hello, Ada!".into()));
    let (ok, out, err) = fenn.cli(&["flow", "deploy", "greet", json.to_str().unwrap()]);
    assert!(ok && out.contains("version 2"), "{out}{err}");
    assert_eq!(fenn.get("/greet").0, 404);
    assert_eq!(fenn.get("/greet2?name=Bo"), (200, "Hello, Bo!".into()));
    let (ok, out, err) = fenn.cli(&["flow", "ls"]);
    assert!(ok, "{err}");
    // RUNNING: the run may go on after it has answered.
    let line = out.lines().find(|line| line.starts_with("greet ")).unwrap();
    assert!(
        line.starts_with("greet                deployed  2        ")
            && line.ends_with(" ANY /greet2"),
        "{out}"
    );
    let (ok, out, err) = fenn.cli(&["flow", "rollback", "greet"]);
    assert!(
        ok && out.trim() == "flow greet now serves version 1",
        "{out}{err}"
    );
    assert_eq!(fenn.get("/greet?name=Cy"), (200, "Hello, Cy!".into()));
    let (ok, out, err) = fenn.cli(&["flow", "rollback", "greet", "--version", "2"]);
    assert!(
        ok && out.trim() == "flow greet now serves version 2",
        "{out}{err}"
    );
    let (ok, out, _) = fenn.cli(&["flow", "ls", "--json"]);
    assert!(ok);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed["flows"][0]["version"], 2, "{listed}");
    let bad = files.write("bad.toml", "[[step]]\nname = \"a\"\nfunction = \"nope\"\n");
    let (ok, out, err) = fenn.cli(&["flow", "deploy", "bad", bad.to_str().unwrap()]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("422 Unprocessable Entity: the definition is refused\n  definition: step[0].function: step 'a': no function named 'nope'"),
        "{err}"
    );
    let (ok, out, err) = fenn.cli(&["flow", "rm", "greet"]);
    assert!(ok && out.trim() == "deleted flow greet", "{out}{err}");
    assert_eq!(fenn.get("/greet2").0, 404);
    let (ok, out, _) = fenn.cli(&["flow", "rm", "greet", "--json"]);
    assert!(!ok);
    let answer: Value = serde_json::from_str(&out).unwrap();
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains("404 Not Found: no deployed flow 'greet'"),
        "{error}"
    );
    let (ok, _, err) = fenn.cli(&["flow", "rm", "bad name"]);
    assert!(
        !ok && err.contains("'bad name' is not a flow name"),
        "{err}"
    );
}
