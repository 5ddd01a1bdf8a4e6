//! The WASI guests of functions/wasi, hello and sensor in C, Zig,
//! AssemblyScript and Rust, through fenn over each trigger: an HTTP route,
//! an MQTT topic answered on its reply topic, a cron schedule that
//! publishes its result; the sensor's warning in the history. Each answers
//! as the Rust SDK's examples do.

use crate::util::{Broker, Collector, Managed, client};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const LANGUAGES: [&str; 4] = ["c", "zig", "assemblyscript", "rust"];

/// How long a test waits for what fenn does, however loaded the machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// The eight guests, built once per test process by functions/wasi/build.sh
/// (which fails naming a missing toolchain; tests/run installs them).
fn guests() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasi-guests");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("functions/wasi/build.sh");
        let built = Command::new("bash").arg(script).arg(&out).output().unwrap();
        assert!(
            built.status.success(),
            "building the WASI guests failed:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
        out
    })
}

/// Each guest as function `<language>-<name>`: on the routes `/<function>`
/// and `/<function>/{max}`, on the MQTT filter `in/<function>/{max}`
/// replying on `out/<function>/{max}`, and each second on a schedule that
/// publishes to `cron/<function>`.
fn config(broker: &Broker) -> String {
    let mut config = format!("[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n", broker.port);
    for language in LANGUAGES {
        for (name, body) in [
            ("hello", ""),
            ("sensor", r#"{"celsius": 31, "sensor": "attic"}"#),
        ] {
            let function = format!("{language}-{name}");
            let module = guests().join(format!("{function}.wasm"));
            config += &format!(
                r#"
[[function]]
name = "{function}"
module = "{module}"
http = [{{ route = "/{function}" }}, {{ route = "/{function}/{{max}}" }}]
  [[function.mqtt]]
  topic = "in/{function}/{{max}}"
  reply = "out/{function}/{{max}}"
  [[function.cron]]
  name = "{function}"
  schedule = "every 1s"
  body = '{body}'
  publish = "cron/{function}"
"#,
                module = module.display()
            );
        }
    }
    config
}

fn serve(broker: &Broker) -> Managed {
    let fenn = Managed::start(&config(broker));
    fenn.fenn.log.wait_for("MQTT subscribed");
    fenn
}

/// `POST path` with `body` on the gateway: (status, content type, body).
fn post(
    fenn: &Managed,
    path: &str,
    body: impl Into<reqwest::blocking::Body>,
) -> (u16, String, String) {
    let response = client()
        .post(fenn.fenn.url(path))
        .body(body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().unwrap())
}

/// Asserts that `answer` is the sensor's JSON with this sensor, these
/// numbers (celsius, fahrenheit, threshold: compared as numbers, so `30`
/// and `30.0` are the same) and this alert.
fn assert_reading(answer: &str, sensor: Option<&str>, numbers: [f64; 3], alert: bool, what: &str) {
    let got: Value = serde_json::from_str(answer).unwrap_or_else(|_| panic!("{what}: {answer}"));
    let got_numbers = ["celsius", "fahrenheit", "threshold"].map(|key| got[key].as_f64());
    assert_eq!(
        (got["sensor"].as_str(), got_numbers, got["alert"].as_bool()),
        (sensor, numbers.map(Some), Some(alert)),
        "{what}: {answer}"
    );
}

#[test]
fn each_language_s_hello_answers_over_http_as_the_rust_sdk_s_does() {
    let broker = Broker::start();
    let fenn = serve(&broker);
    for language in LANGUAGES {
        let path = format!("/{language}-hello");
        for (query, body, expected) in [
            ("?name=Ada", "", "Hello, Ada!"),
            ("", "", "Hello, world!"),
            (
                "?name=Jason",
                "requested the API",
                "Jason requested the API",
            ),
        ] {
            let (status, _, answer) = post(&fenn, &format!("{path}{query}"), body);
            assert_eq!((status, answer.as_str()), (200, expected), "{language}");
        }
    }
}

#[test]
fn each_language_s_sensor_answers_over_http_as_the_rust_sdk_s_does() {
    let broker = Broker::start();
    let fenn = serve(&broker);
    for language in LANGUAGES {
        let path = format!("/{language}-sensor");
        let (status, content_type, body) =
            post(&fenn, &path, r#"{"celsius": 21.5, "sensor": "kitchen"}"#);
        assert_eq!(
            (status, content_type.as_str()),
            (200, "application/json"),
            "{language}: {body}"
        );
        assert_reading(&body, Some("kitchen"), [21.5, 70.7, 30.0], false, language);
        // The threshold from the path, then from the query (which wins).
        let (status, _, body) = post(&fenn, &format!("{path}/20"), r#"{"fahrenheit": 70.7}"#);
        assert_eq!(status, 200, "{language}: {body}");
        assert_reading(&body, None, [21.5, 70.7, 20.0], true, language);
        let (_, _, body) = post(&fenn, &format!("{path}/20?max=25.5"), r#"{"celsius": 26}"#);
        assert_reading(&body, None, [26.0, 78.8, 25.5], true, language);
        assert_refusals(&fenn, language);
    }
}

/// The sensor's 400s and 422 over HTTP.
fn assert_refusals(fenn: &Managed, language: &str) {
    let path = format!("/{language}-sensor");
    let (status, _, body) = post(fenn, &format!("{path}?max=hot"), r#"{"celsius": 1}"#);
    assert_eq!(
        (status, body.as_str()),
        (400, "max must be a number"),
        "{language}"
    );
    for not_a_reading in ["hot", "", "[21.5]", r#"{"celsius": "21.5"}"#] {
        let (status, _, body) = post(fenn, &path, not_a_reading);
        assert_eq!(status, 400, "{language}, {not_a_reading:?}: {body}");
        assert!(body.starts_with("not a reading: "), "{language}: {body}");
    }
    // Not UTF-8: the event carries it in base64, which the sensor decodes.
    let (status, _, body) = post(
        fenn,
        &path,
        b"{\"celsius\": 1, \"sensor\": \"\xff\"}".to_vec(),
    );
    assert_eq!(status, 400, "{language}: {body}");
    let (status, _, body) = post(fenn, &path, r#"{"sensor": "hall"}"#);
    assert_eq!(
        (status, body.as_str()),
        (400, "a reading needs celsius or fahrenheit"),
        "{language}"
    );
    let (status, _, body) = post(fenn, &path, r#"{"celsius": 2000}"#);
    assert_eq!(status, 422, "{language}: {body}");
    assert!(
        body.ends_with("°C is not a plausible reading"),
        "{language}: {body}"
    );
}

#[test]
fn each_language_s_guests_answer_mqtt_messages_on_the_reply_topic() {
    let broker = Broker::start();
    let replies = Collector::start(broker.port, "out/#");
    let _fenn = serve(&broker);
    for language in LANGUAGES {
        broker.publish(&format!("in/{language}-hello/x"), b"from MQTT", 1);
        broker.publish(
            &format!("in/{language}-sensor/20"),
            br#"{"celsius": 21.5}"#,
            1,
        );
        broker.publish(
            &format!("in/{language}-sensor/hot"),
            br#"{"celsius": 21.5}"#,
            1,
        );
    }
    let topics: Vec<String> = LANGUAGES
        .iter()
        .flat_map(|l| ["hello/x", "sensor/20", "sensor/hot"].map(|t| format!("out/{l}-{t}")))
        .collect();
    let messages = replies.wait_until(PATIENCE, "a reply to every message", |messages| {
        topics
            .iter()
            .all(|topic| messages.iter().any(|(t, _)| t == topic))
    });
    let reply = |topic: &str| {
        let found = messages.iter().find(|(t, _)| t == topic);
        found.map(|(_, payload)| payload.as_str()).unwrap()
    };
    for language in LANGUAGES {
        assert_eq!(reply(&format!("out/{language}-hello/x")), "world from MQTT");
        let sensor = reply(&format!("out/{language}-sensor/20"));
        assert_reading(sensor, None, [21.5, 70.7, 20.0], true, language);
        assert_eq!(
            reply(&format!("out/{language}-sensor/hot")),
            "max must be a number"
        );
    }
}

#[test]
fn each_language_s_guests_run_on_a_schedule_and_the_sensor_s_warning_is_in_the_history() {
    let broker = Broker::start();
    let results = Collector::start(broker.port, "cron/#");
    let fenn = serve(&broker);
    let topics: Vec<String> = LANGUAGES
        .iter()
        .flat_map(|l| ["hello", "sensor"].map(|n| format!("cron/{l}-{n}")))
        .collect();
    let messages = results.wait_until(PATIENCE, "a result of every schedule", |messages| {
        topics
            .iter()
            .all(|topic| messages.iter().any(|(t, _)| t == topic))
    });
    for language in LANGUAGES {
        let result = |name: &str| {
            let topic = format!("cron/{language}-{name}");
            let found = messages.iter().find(|(t, _)| *t == topic);
            found.map(|(_, payload)| payload.clone()).unwrap()
        };
        assert_eq!(result("hello"), "Hello, world!", "{language}");
        let sensor = result("sensor");
        assert_reading(&sensor, Some("attic"), [31.0, 87.8, 30.0], true, language);
        assert_warning_logged(&fenn, &format!("{language}-sensor"));
    }
}

/// Waits for a cron run of `function` in the history, and asserts that its
/// log has the sensor's warning (a `warn:` line on the guest's stderr).
fn assert_warning_logged(fenn: &Managed, function: &str) {
    let query = format!("/v1/invocations?function={function}&trigger=cron");
    let id = crate::util::wait_until(
        "a cron run in the history",
        PATIENCE,
        Duration::from_millis(50),
        || {
            let (_, answer) = fenn.call("GET", &query, None);
            answer["invocations"]
                .as_array()?
                .first()
                .map(|run| run["id"].clone())
        },
    );
    let (status, run) = fenn.call("GET", &format!("/v1/invocations/{id}"), None);
    assert_eq!(status, 200, "{run}");
    let logs = run["logs"].as_array().unwrap();
    assert!(
        logs.iter().any(|line| line["level"] == "warn"
            && line["message"] == "reading 31 °C is over 30 °C"),
        "{function}: {run}"
    );
}
