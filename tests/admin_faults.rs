//! The management API under bad input, races, storms and kill -9: a clear
//! error, and nothing served or stored changes.

use crate::util::admin::TOKEN;
use crate::util::{Broker, Managed, echo_wasm, hello_wasm, rss_kib, tagged};
use serde_json::{Value, json};

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap()
}

/// An ABI v1 module whose start function is `start`'s body.
fn with_start(start: &str) -> Vec<u8> {
    wat(&format!(
        r#"(module (memory (export "memory") 1)
             (func (export "fenn_abi_v1"))
             (func (export "fenn_alloc") (param i32) (result i32) i32.const 0)
             (func (export "fenn_handle") (param i32 i32) (result i64) i64.const 0)
             (func $start {start}) (start $start))"#
    ))
}

/// Asserts the answer is `status` and its error contains `reason`.
fn refused(answer: (u16, Value), status: u16, reason: &str) {
    let (got, body) = answer;
    let text = body.to_string();
    assert_eq!(got, status, "{text}");
    assert!(text.contains(reason), "expected {reason:?} in {text}");
}

#[test]
fn bad_modules_definitions_and_names_are_refused_with_their_reason_and_change_nothing() {
    let broker = Broker::start();
    let config = format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n[[function]]\nname = \"cfg\"\nmodule = \"example:hello\"\n[[function.http]]\nroute = \"/cfg\"\n",
        broker.port
    );
    let fenn = Managed::start(&config);
    let good = json!({"http": [{"route": "/good"}], "mqtt": [{"topic": "atk/pa/{x}", "reply": "atk/pb/{x}"}]});
    assert_eq!(fenn.deploy("good", &hello_wasm(), &good).0, 201);
    let (_, before) = fenn.call("GET", "/v1/functions", None);
    let hello = hello_wasm();
    let cases: Vec<(&str, Vec<u8>, Value, u16, &str)> = vec![
        (
            "good",
            b"not wasm at all".to_vec(),
            good.clone(),
            422,
            "not a WebAssembly module",
        ),
        (
            "good",
            vec![0; (1 << 20) + 1],
            good.clone(),
            413,
            "over admin.max_module_size",
        ),
        ("good", wat("(module)"), good.clone(), 422, "fenn_abi_v1"),
        (
            "good",
            wat(
                r#"(module (import "env" "open" (func)) (memory (export "memory") 1) (func (export "fenn_abi_v1")) (func (export "fenn_alloc") (param i32) (result i32) i32.const 0) (func (export "fenn_handle") (param i32 i32) (result i64) i64.const 0))"#,
            ),
            good.clone(),
            422,
            "env",
        ),
        (
            "good",
            wat(&format!(
                r#"(module (memory (export "memory") 1) (func (export "fenn_abi_v1"))
                     (func (export "fenn_alloc") (param i32) (result i32) i32.const 0)
                     (func (export "fenn_handle") (param i32 i32) (result i64) {}i64.const 0{}))"#,
                "(block ".repeat(10_001),
                ")".repeat(10_001)
            )),
            good.clone(),
            422,
            "nests blocks deeper than fenn's limit",
        ),
        (
            "good",
            with_start("(loop $l (br $l))"),
            good,
            422,
            "does not finish within",
        ),
        (
            "good",
            hello.clone(),
            json!({"timeoot": "2s"}),
            422,
            "timeoot: unknown field",
        ),
        (
            "good",
            hello.clone(),
            json!({"cron": [{"name": "c", "schedule": "0 25 * * *"}]}),
            422,
            "cron[0].schedule",
        ),
        (
            "good",
            hello.clone(),
            json!({"mqtt": [{"topic": "a/#/b"}]}),
            422,
            "mqtt[0].topic",
        ),
        (
            "good",
            hello.clone(),
            json!({"mqtt": [{"topic": "a/{x}", "reply": "a/{x}"}]}),
            422,
            "mqtt[0].reply",
        ),
        (
            "other",
            hello.clone(),
            json!({"mqtt": [{"topic": "atk/pb/{x}", "reply": "atk/pa/{x}"}]}),
            409,
            "mqtt loop: good (atk/pa/{x}) -> other (atk/pb/{x}) -> good (atk/pa/{x})",
        ),
        (
            "other",
            hello.clone(),
            json!({"http": [{"route": (0..26).map(|i| format!("/{{p{i}}}")).collect::<String>()}]}),
            422,
            "26 parameters: a route names at most 25",
        ),
        (
            "other",
            hello.clone(),
            json!({"mqtt": [{"topic": "q/{x}", "reply": "r/{x}"}, {"topic": "r/{x}", "reply": "q/{x}"}]}),
            409,
            "mqtt loop: other (q/{x}) -> other (r/{x}) -> other (q/{x})",
        ),
        (
            "good",
            hello.clone(),
            json!({"name": "other"}),
            422,
            "the URL names the function",
        ),
        (
            "other",
            hello.clone(),
            json!({"http": [{"route": "/good"}]}),
            409,
            "already served by function 'good'",
        ),
        (
            "other",
            hello.clone(),
            json!({"http": [{"route": "/cfg"}]}),
            409,
            "already served by function 'cfg'",
        ),
        (
            "cfg",
            hello.clone(),
            json!({}),
            409,
            "comes from the config file",
        ),
        (
            "a%2Fb",
            hello.clone(),
            json!({}),
            400,
            "not a function name",
        ),
        ("a%0Ab", hello, json!({}), 400, "not a function name"),
    ];
    for (name, wasm, definition, status, reason) in cases {
        refused(fenn.deploy(name, &wasm, &definition), status, reason);
    }
    // `..` as the name, sent as written (an HTTP client library would
    // resolve it away).
    for name in ["..", "%2E%2E"] {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(fenn.admin).unwrap();
        let request = format!(
            "DELETE /v1/functions/{name} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
            crate::util::admin::TOKEN
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("is not a function name"), "{answer}");
    }
    let huge = json!({"http": [{"route": format!("/{}", "x".repeat(70_000))}]});
    refused(
        fenn.deploy("good", &hello_wasm(), &huge),
        413,
        "over the most fenn keeps",
    );
    refused(
        fenn.call("PUT", "/v1/functions/good", Some(json!({"module": "%%%"}))),
        400,
        "not base64",
    );
    refused(
        fenn.call("PUT", "/v1/functions/good", Some(json!({"modul": ""}))),
        400,
        "unknown field",
    );
    refused(
        fenn.call("DELETE", "/v1/functions/cfg", None),
        409,
        "comes from the config file",
    );
    refused(
        fenn.call("DELETE", "/v1/functions/nope", None),
        404,
        "no deployed function 'nope'",
    );
    refused(
        fenn.call(
            "POST",
            "/v1/functions/good/rollback",
            Some(json!({"version": 9})),
        ),
        404,
        "keeps no version 9",
    );
    refused(
        fenn.call(
            "POST",
            "/v1/functions/nope/invoke",
            Some(json!({"path": "/", "httpMethod": "GET"})),
        ),
        404,
        "no function 'nope'",
    );
    refused(
        fenn.call(
            "POST",
            "/v1/functions/good/invoke",
            Some(json!({"pth": "/"})),
        ),
        400,
        "unknown field 'pth'",
    );
    // A wrong or missing token: 401 and nothing else.
    for header in [
        None,
        Some("Bearer wrong-token-0123456789"),
        Some("Basic dGVzdA=="),
    ] {
        let mut request = crate::util::client().get(fenn.api("/v1/functions"));
        if let Some(value) = header {
            request = request.header("authorization", value);
        }
        let response = request.send().unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.text().unwrap(), r#"{"error":"unauthorized"}"#);
    }
    let (_, after) = fenn.call("GET", "/v1/functions", None);
    assert_eq!(after, before);
    assert_eq!(fenn.get("/good?name=Ada"), (200, "Hello, Ada!".into()));
    let modules = std::fs::read_dir(fenn.dir.0.join("state/functions/modules")).unwrap();
    assert_eq!(modules.count(), 1, "a refused module was kept");
}

#[test]
fn concurrent_deploys_of_one_name_are_serialized() {
    let fenn = std::sync::Arc::new(Managed::start(""));
    let deploys: Vec<_> = (0..8u32)
        .map(|n| {
            let fenn = fenn.clone();
            std::thread::spawn(move || {
                let guest = if n % 2 == 0 {
                    hello_wasm()
                } else {
                    echo_wasm()
                };
                let wasm = tagged(&guest, n);
                let (status, answer) =
                    fenn.deploy("same", &wasm, &json!({"http": [{"route": "/same"}]}));
                assert_eq!(status, 201, "{answer}");
                (
                    answer["version"].as_u64().unwrap(),
                    answer["sha256"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect();
    let mut versions: Vec<(u64, String)> = deploys.into_iter().map(|d| d.join().unwrap()).collect();
    versions.sort();
    let numbers: Vec<u64> = versions.iter().map(|v| v.0).collect();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
    let (_, one) = fenn.call("GET", "/v1/functions/same", None);
    assert_eq!(one["version"], 8, "{one}");
    let kept: Vec<&str> = one["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(
        kept,
        versions[3..]
            .iter()
            .map(|v| v.1.as_str())
            .collect::<Vec<_>>()
    );
    let modules = std::fs::read_dir(fenn.dir.0.join("state/functions/modules")).unwrap();
    assert_eq!(modules.count(), 5);
}

#[test]
fn a_deploy_storm_leaves_memory_and_the_store_where_they_were() {
    let fenn = Managed::start("");
    let definition =
        json!({"http": [{"route": "/storm"}], "cron": [{"name": "storm", "schedule": "@daily"}]});
    let deploy = |n: u32| {
        let (status, answer) = fenn.deploy("storm", &tagged(&echo_wasm(), n), &definition);
        assert_eq!(status, 201, "{answer}");
    };
    (0..40).for_each(deploy);
    let settled = rss_kib(fenn.fenn.pid());
    (40..340).for_each(deploy);
    let after = rss_kib(fenn.fenn.pid());
    assert!(
        after < settled + 16 * 1024,
        "grew from {settled} KiB to {after} KiB over 300 deploys"
    );
    let modules = std::fs::read_dir(fenn.dir.0.join("state/functions/modules")).unwrap();
    assert_eq!(
        modules.count(),
        5,
        "versions beyond the five kept stay on disk"
    );
    assert!(fenn.get("/storm").1.contains("x-fenn-trigger"));
}

#[test]
fn kill_9_during_deploys_leaves_one_consistent_version_that_ls_agrees_with() {
    let mut fenn = Managed::start("");
    // Odd versions are hello, even ones echo: an answer tells which
    // parity serves, and `fenn ls` must name a version of that parity.
    let route = json!({"http": [{"route": "/k"}]});
    for round in 0..20u64 {
        let (_, one) = fenn.call("GET", "/v1/functions/k", None);
        let newest = one["versions"].as_array().into_iter().flatten();
        let mut next = newest
            .filter_map(|v| v["version"].as_u64())
            .max()
            .unwrap_or(0)
            + 1;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let deploying = {
            let api = fenn.api("/v1/functions/k");
            let (route, stop) = (route.clone(), stop.clone());
            std::thread::spawn(move || {
                let client = crate::util::client();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let wasm = if next % 2 == 1 {
                        hello_wasm()
                    } else {
                        echo_wasm()
                    };
                    let body = crate::util::admin::deployment(&tagged(&wasm, next as u32), &route);
                    let sent = client
                        .put(&api)
                        .bearer_auth(crate::util::admin::TOKEN)
                        .body(body)
                        .send();
                    match sent {
                        Ok(response) if response.status() == 201 => next += 1,
                        Ok(response) => panic!("{}", response.text().unwrap()),
                        Err(_) => return,
                    }
                }
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20 + round * 7 % 150));
        fenn.restart(true);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        deploying.join().unwrap();
        let (ok, out, err) = fenn.cli(&["ls", "--json"]);
        assert!(ok, "{err}");
        let listed: Value = serde_json::from_str(&out).unwrap();
        let (status, body) = fenn.get("/k?name=k");
        match listed["functions"][0]["version"].as_u64() {
            None => assert_eq!(status, 404, "round {round}: nothing listed, {body} served"),
            Some(version) => {
                assert_eq!(status, 200, "round {round}: {body}");
                let hello = body == "Hello, k!";
                assert_eq!(
                    hello,
                    version % 2 == 1,
                    "round {round}: version {version} listed, {body} served"
                );
            }
        }
        let leftovers = std::fs::read_dir(fenn.dir.0.join("state/functions")).unwrap();
        assert!(
            leftovers
                .flatten()
                .all(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
        );
    }
}

#[test]
fn deploys_past_max_functions_are_refused_until_one_is_deleted() {
    let admin = "[admin]\nlisten = \"127.0.0.1:0\"\nmax_functions = 2\n";
    let fenn = Managed::start_in(crate::util::TempDir::new("admin-max"), admin);
    for name in ["a", "b"] {
        assert_eq!(fenn.deploy(name, &hello_wasm(), &json!({})).0, 201);
    }
    refused(
        fenn.deploy("c", &hello_wasm(), &json!({})),
        409,
        "admin.max_functions",
    );
    // A new version of a deployed function is not another function.
    assert_eq!(fenn.deploy("a", &echo_wasm(), &json!({})).0, 201);
    assert_eq!(fenn.call("DELETE", "/v1/functions/b", None).0, 200);
    assert_eq!(fenn.deploy("c", &hello_wasm(), &json!({})).0, 201);
}

#[test]
fn a_body_that_never_arrives_gives_its_upload_place_back_at_the_body_read_timeout() {
    use std::io::{Read as _, Write as _};
    let admin = "body_read_timeout = \"1s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n";
    let fenn = Managed::start_in(crate::util::TempDir::new("admin-slow"), admin);
    // Both upload places taken by clients that announce a body and send none.
    let stalled: Vec<_> = (0..2)
        .map(|n| {
            let mut stream = std::net::TcpStream::connect(fenn.admin).unwrap();
            let request = format!(
                "PUT /v1/functions/slow{n} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-length: 1000\r\n\r\n",
                crate::util::admin::TOKEN
            );
            stream.write_all(request.as_bytes()).unwrap();
            stream
        })
        .collect();
    for mut stream in stalled {
        // The whole answer: fenn closes a connection whose body it gave up on.
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("did not arrive within 1s"), "{answer}");
    }
    assert_eq!(fenn.deploy("after", &hello_wasm(), &json!({})).0, 201);
}

#[test]
fn a_test_event_shows_the_start_of_a_large_body() {
    let fenn = Managed::start("");
    let wasm = std::fs::read(crate::util::misbehave_wasm()).unwrap();
    assert_eq!(fenn.deploy("m", &wasm, &json!({})).0, 201);
    let event = json!({"path": "/control", "httpMethod": "GET", "queryParameters": {"kb": "200"}});
    let (status, answer) = fenn.call("POST", "/v1/functions/m/invoke", Some(event));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["body_truncated"], true);
    assert_eq!(answer["body_bytes"], 200 * 1024);
    assert_eq!(
        answer["response"]["body"].as_str().unwrap().len(),
        64 * 1024
    );
}

#[test]
fn a_deployed_function_the_config_now_collides_with_is_not_served_but_listed_and_removable() {
    let mut fenn = Managed::start("");
    let route = |path: &str| json!({"http": [{"route": path}]});
    assert_eq!(fenn.deploy("x", &echo_wasm(), &route("/x")).0, 201);
    assert_eq!(fenn.deploy("y", &echo_wasm(), &route("/y")).0, 201);
    // The config file now serves /x itself.
    fenn.dir.write(
        "fenn.toml",
        "[server]\nstate_dir = \"state\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[[function]]\nname = \"cfg\"\nmodule = \"example:hello\"\n[[function.http]]\nroute = \"/x\"\n",
    );
    fenn.restart(false);
    assert_eq!(fenn.get("/x?name=Ada"), (200, "Hello, Ada!".into()));
    assert!(fenn.get("/y").1.contains("x-fenn-trigger"));
    let announced = fenn.fenn.stdout.wait_for("(fenn ls shows their triggers)");
    assert!(
        announced.contains("x (version 1, NOT SERVED"),
        "{announced}"
    );
    let (ok, out, err) = fenn.cli(&["ls"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("NOT SERVED: deployed function 'x'")
            && out.contains("already served by function 'cfg'"),
        "{out}"
    );
    let (ok, out, err) = fenn.cli(&["rm", "x"]);
    assert!(ok && out.trim() == "deleted x", "{out}{err}");
    let (_, listed) = fenn.call("GET", "/v1/functions", None);
    let names: Vec<&str> = listed["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cfg", "y"], "{listed}");
    assert_eq!(fenn.get("/x?name=Bo"), (200, "Hello, Bo!".into()));
}

#[test]
fn a_second_fenn_on_the_same_state_dir_refuses_to_start_naming_the_first() {
    let fenn = Managed::start("");
    let output = crate::util::fenn()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(fenn.dir.0.join("fenn.toml"))
        .env("FENN_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let holder = format!("is in use by another fenn (pid {})", fenn.fenn.pid());
    assert!(stderr.contains(&holder), "{stderr}");
    // The first one goes on serving its deploys.
    assert_eq!(fenn.deploy("x", &hello_wasm(), &json!({})).0, 201);
}

#[test]
fn a_corrupt_manifest_is_set_aside_and_the_config_functions_still_serve() {
    let mut fenn = Managed::start(
        "[[function]]\nname = \"cfg\"\nmodule = \"example:hello\"\n[[function.http]]\nroute = \"/cfg\"\n",
    );
    let route = json!({"http": [{"route": "/x"}]});
    assert_eq!(fenn.deploy("x", &echo_wasm(), &route).0, 201);
    let functions = fenn.dir.0.join("state/functions");
    std::fs::write(
        functions.join("manifest.json"),
        r#"{"format": 1, "functions": {"x": {"current": "one"}}}"#,
    )
    .unwrap();
    fenn.restart(false);
    assert_eq!(fenn.get("/cfg?name=Ada"), (200, "Hello, Ada!".into()));
    let (ok, out, err) = fenn.cli(&["ls"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("NOT SERVED: deployed function 'x': the store's manifest could not be read"),
        "{out}"
    );
    let log = fenn
        .fenn
        .log
        .wait_for("the store's manifest cannot be read");
    assert!(log.contains("not a manifest fenn wrote"), "{log}");
    let aside: Vec<_> = std::fs::read_dir(&functions)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir() && path.file_name().unwrap() != "modules")
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(aside[0].join("manifest.json").is_file());
    assert_eq!(
        std::fs::read_dir(aside[0].join("modules")).unwrap().count(),
        1
    );
    // Deployed again, it serves.
    assert_eq!(fenn.deploy("x", &echo_wasm(), &route).0, 201);
    assert!(fenn.get("/x").1.contains("x-fenn-trigger"));
}

/// An ABI v1 module answering "ok" that declares close to every count
/// limit: half a millisecond of instantiation an event, which fuel does not
/// meter.
fn heavy_to_instantiate() -> Vec<u8> {
    let mut text = String::from(
        r#"(module (memory (export "memory") 1) (table 10000 funcref)
             (data (i32.const 60000) "\01{\"statusCode\":200,\"body\":\"ok\"}")
             (func (export "fenn_abi_v1"))
             (func (export "fenn_alloc") (param i32) (result i32) i32.const 1024)
             (func $h (export "fenn_handle") (param i32 i32) (result i64) i64.const 257698037760031)"#,
    );
    for i in 0..19_993 {
        text.push_str(&format!("(func $f{i})"));
    }
    for i in 0..992 {
        text.push_str(&format!("(export \"e{i}\" (func $h))"));
        text.push_str("(global (mut i32) (i32.const 0))");
    }
    for s in 0..1_000 {
        text.push_str(&format!(
            "(elem (i32.const {}) {})",
            s * 10,
            "$h ".repeat(10)
        ));
    }
    for i in 0..9_000 {
        text.push_str(&format!("(data (i32.const {}) \"x\")", 2048 + i));
    }
    text.push(')');
    wat(&text)
}

#[test]
fn a_module_heavy_to_instantiate_is_deployed_to_start_on_a_worker_and_says_so() {
    let fenn = Managed::start("");
    let wasm = heavy_to_instantiate();
    let (status, answer) = fenn.deploy("heavy", &wasm, &json!({"http": [{"route": "/heavy"}]}));
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["instantiation"]["on_worker"], true, "{answer}");
    assert!(
        answer["instantiation"]["ms"].as_f64().unwrap() > 0.0,
        "{answer}"
    );
    assert_eq!(fenn.get("/heavy"), (200, "ok".into()));
    let (_, hello) = fenn.deploy("hello", &hello_wasm(), &json!({}));
    assert_eq!(hello["instantiation"]["on_worker"], false, "{hello}");
    let module = fenn.dir.write("heavy.wasm", &wasm);
    let (ok, out, err) = fenn.cli(&["check", module.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("ms (each event starts on a worker thread)"),
        "{out}"
    );
}
