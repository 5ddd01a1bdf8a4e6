//! Every refusal of the host calls, with the message a guest can log, and
//! a guest that abuses them (functions/hostile): fenn stays within its
//! bounds and keeps serving the others.

use crate::util::{Broker, Fenn, TempDir, client, hello_works, rss_kib, run, wait_until};
use serde_json::Value;
use std::time::Duration;

/// `hostile` with every grant, a small store, and hello beside it.
fn hostile(port: u16, state: &std::path::Path) -> String {
    format!(
        r#"
        [server]
        state_dir = "{state}"

        [mqtt]
        url = "mqtt://127.0.0.1:{port}"

        [[function]]
        name = "hostile"
        module = "{hostile}"
        publish = ["hostile/#"]
        emit = ["hostile"]
          [function.kv]
          max_keys = 10
          [[function.http]]
          route = "/{{*abuse}}"

        [[function]]
        name = "hello"
        module = "example:hello"
          [[function.http]]
          route = "/hello"
        "#,
        state = state.display(),
        hostile = env!("FENN_GUEST_HOSTILE"),
    )
}

fn abuse(fenn: &Fenn, path: &str) -> Value {
    let body = client().get(fenn.url(path)).send().unwrap().text().unwrap();
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body}"))
}

#[test]
fn each_refusal_names_its_reason_and_fenn_keeps_serving() {
    let broker = Broker::start();
    let state = TempDir::new("hostile-state");
    let fenn = Fenn::with_config(&hostile(broker.port, &state.0));
    fenn.log.wait_for("MQTT connected");
    let rss = rss_kib(fenn.pid());

    // The loop of emits ends at the hop limit: the first run and eight
    // emitted ones, the ninth emit refused.
    let emitted = client()
        .get(fenn.url("/emit-self"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(emitted, "emitted at depth 1");
    let refused = wait_until(
        "the loop to end",
        Duration::from_secs(30),
        Duration::from_millis(20),
        || {
            let text = client()
                .get(fenn.url("/refused"))
                .send()
                .unwrap()
                .text()
                .unwrap();
            text.contains("hops").then_some(text)
        },
    );
    assert!(
        refused.starts_with("9 the chain that led here is 8 hops long"),
        "{refused}"
    );

    let looped = abuse(&fenn, "/publish-loop");
    assert_eq!(looped["calls"], 100, "{looped}");
    assert_eq!(looped["code"], fenn_abi::calls::LIMIT);
    assert!(
        looped["message"]
            .as_str()
            .unwrap()
            .contains("over 100 messages")
    );

    let filled = abuse(&fenn, "/fill");
    // Two of the ten keys hold the loop's depth and refusal.
    assert_eq!(filled["calls"], 8, "{filled}");
    assert_eq!(filled["code"], fenn_abi::calls::QUOTA);
    assert!(
        filled["message"]
            .as_str()
            .unwrap()
            .contains("at most 10 keys")
    );

    let huge = abuse(&fenn, "/huge-value");
    assert_eq!(huge["code"], fenn_abi::calls::TOO_LARGE, "{huge}");
    assert!(
        huge["message"]
            .as_str()
            .unwrap()
            .contains("over the limit of 65536")
    );

    let denied = abuse(&fenn, "/denied");
    assert_eq!(denied["code"], fenn_abi::calls::DENIED, "{denied}");
    assert!(
        (denied["message"].as_str().unwrap())
            .contains("publishing to 'elsewhere/out' is not granted")
    );

    let unknown = client().get(fenn.url("/unknown-var")).send().unwrap();
    assert_eq!(unknown.status(), 404);

    hello_works(&fenn);
    // Nothing the guest asked for stayed in fenn's memory.
    let grown = rss_kib(fenn.pid()).saturating_sub(rss);
    assert!(grown < 32 << 10, "fenn grew by {grown} KiB");
}

#[test]
fn a_module_that_imports_a_call_it_is_not_granted_is_refused_naming_the_grant() {
    let dir = TempDir::new("not-granted");
    let config = dir.write(
        "fenn.toml",
        format!(
            "[server]\nstate_dir = \"{}\"\n[[function]]\nname = \"average\"\nmodule = \"{}\"\npublish = [\"alerts/#\"]\n",
            dir.0.display(),
            env!("FENN_GUEST_AVERAGE")
        ),
    );
    let (ok, _, err) = run(&["serve", "--config", config.to_str().unwrap()], None);
    assert!(!ok);
    assert!(err.contains("function[0]"), "{err}");
    assert!(
        err.contains("set `kv = true` in the function's definition"),
        "{err}"
    );
    // A store without a state directory is refused too, naming the key.
    let config = dir.write(
        "nostate.toml",
        format!(
            "[[function]]\nname = \"counter\"\nmodule = \"{}\"\nkv = true\n",
            env!("FENN_GUEST_COUNTER")
        ),
    );
    let (ok, _, err) = run(&["serve", "--config", config.to_str().unwrap()], None);
    assert!(!ok);
    assert!(
        err.contains("function[0].kv: a key-value store needs server.state_dir"),
        "{err}"
    );
    // `fenn check` has no definition: it checks the ABI and lists the calls.
    let (ok, out, err) = run(&["check", env!("FENN_GUEST_AVERAGE")], None);
    assert!(ok, "{err}");
    assert!(out.contains("fenn.kv_incr"), "{out}");
}

#[test]
fn a_deployed_functions_store_is_listed_read_and_deleted_through_the_api_and_the_cli() {
    use crate::util::Managed;
    use serde_json::json;
    let fenn = Managed::start("");
    let counter = std::fs::read(env!("FENN_GUEST_COUNTER")).unwrap();
    let definition = json!({"kv": true, "http": [{"route": "/count"}]});
    // Without the grant, the deploy is refused naming it.
    let (status, refused) =
        fenn.deploy("counter", &counter, &json!({"http": [{"route": "/count"}]}));
    assert_eq!(status, 422, "{refused}");
    assert!(refused.to_string().contains("kv = true"), "{refused}");
    assert_eq!(fenn.deploy("counter", &counter, &definition).0, 201);
    for expected in ["1", "2", "3"] {
        let (status, body) = fenn.call(
            "POST",
            "/v1/functions/counter/invoke",
            Some(json!({"path": "/count", "httpMethod": "POST"})),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["response"]["body"], expected, "{body}");
    }
    // The history shows each invocation's calls, and the metrics count them.
    let (_, history) = fenn.call("GET", "/v1/invocations?function=counter", None);
    let calls = &history["invocations"][0]["hostCalls"];
    assert_eq!(calls[0]["call"], "kv_incr", "{history}");
    assert_eq!(
        (calls[0]["count"].clone(), calls[0]["failed"].clone()),
        (json!(1), json!(0))
    );
    let metrics = fenn.metrics();
    assert!(
        metrics
            .contains(r#"fenn_host_calls_total{function="counter",call="kv_incr",result="ok"} 3"#),
        "{metrics}"
    );
    let (ok, out, err) = fenn.cli(&["kv", "ls", "counter"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "notifications");
    let (ok, out, err) = fenn.cli(&["kv", "get", "counter", "notifications"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "3");
    let (status, listed) = fenn.call("GET", "/v1/functions/counter/kv?prefix=x", None);
    assert_eq!((status, listed["keys"].clone()), (200, json!([])));
    let (ok, out, err) = fenn.cli(&["kv", "rm", "counter", "notifications"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "deleted notifications");
    let (status, missing) = fenn.call("GET", "/v1/functions/counter/kv/notifications", None);
    assert_eq!(status, 404, "{missing}");
    let (status, _) = fenn.call("GET", "/v1/functions/nobody/kv", None);
    assert_eq!(status, 404);
}
