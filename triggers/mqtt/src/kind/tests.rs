//! `[mqtt]` and `[[function.mqtt]]` through the registry's seam: settings
//! from the tables, bindings from JSON, the set's checks, the sink check
//! and the running trigger's report.

use super::*;
use crate::Version;
use fenn_runtime::Limits;
use fenn_runtime::trigger::{Common, Metric, Table};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The setup `[mqtt]` (None: absent) gives, and the errors found.
fn setup_in(section: Option<Value>, dir: &Path) -> (Arc<dyn TriggerSetup>, Vec<KeyError>) {
    let mut sections = Table::new();
    if let Some(section) = section {
        sections.insert("mqtt".into(), section);
    }
    let server = Table::new();
    let common = Common {
        config_dir: dir,
        state_dir: None,
        shutdown_grace: Duration::from_secs(7),
    };
    let tables = Tables {
        sections: &sections,
        server: &server,
        common: &common,
    };
    let mut errors = Vec::new();
    let setup = MqttKind.settings(&tables, &mut errors);
    (setup, errors)
}

fn setup(section: Option<Value>) -> (Arc<dyn TriggerSetup>, Vec<KeyError>) {
    setup_in(section, Path::new("/etc/fenn"))
}

/// The broker's settings, the section being valid.
fn valid(section: Value) -> MqttSetup {
    let (setup, errors) = setup(Some(section));
    assert_eq!(errors, []);
    let setup = setup.as_any().downcast_ref::<MqttSetup>().unwrap();
    MqttSetup {
        present: true,
        broker: setup.broker.clone(),
    }
}

/// The keys in error.
fn keys(section: Value) -> Vec<String> {
    let (_, errors) = setup(Some(section));
    errors.into_iter().map(|error| error.key).collect()
}

/// `function`'s bindings.
fn bind(
    setup: &dyn TriggerSetup,
    function: &str,
    raw: Value,
) -> Vec<Result<Arc<dyn Binding>, BindingError>> {
    let limits = Limits::default();
    let info = FunctionInfo {
        name: function,
        limits: &limits,
        apps: &[],
    };
    let Value::Array(raw) = raw else {
        panic!("bindings are an array: {raw}");
    };
    setup.bindings(&info, &raw, &Sinks::new())
}

/// Every function's bindings, in order, all valid.
fn set(setup: &dyn TriggerSetup, functions: &[(&str, Value)]) -> Vec<Arc<dyn Binding>> {
    let bound = functions
        .iter()
        .flat_map(|(f, raw)| bind(setup, f, raw.clone()));
    bound.map(Result::unwrap).collect()
}

const URL: &str = "mqtt://broker.local:1884";

#[test]
fn mqtt_subscriptions_are_validated_naming_the_key() {
    let broker = valid(json!({"url": URL}));
    let settings = broker.settings().unwrap();
    assert_eq!(
        (settings.host.as_str(), settings.port),
        ("broker.local", 1884)
    );
    assert_eq!(settings.shutdown_grace, Duration::from_secs(7));
    assert_eq!(settings.outbox_dir, None);
    let sub = json!([{"topic": "sensors/{room}/temp", "reply": "sensors/{room}/temp/result"}]);
    let bound = bind(&broker, "echo", sub.clone()).remove(0).unwrap();
    let route = bound.as_any().downcast_ref::<MqttRoute>().unwrap();
    assert_eq!(route.filter.subscription(), "sensors/+/temp");
    assert_eq!(route.qos, 1);
    let looping = json!([{"topic": "sensors/{room}/temp", "reply": "sensors/{room}/temp"}]);
    let refused = bind(&broker, "echo", looping).remove(0).unwrap_err();
    assert_eq!(refused.field, "reply");
    let bad = json!([{"topic": "sensors/#/temp"}]);
    assert_eq!(
        bind(&broker, "echo", bad).remove(0).unwrap_err().field,
        "topic"
    );
    let unknown = json!([{"topic": "a", "qos": 2, "retain": true}]);
    let refused = bind(&broker, "echo", unknown).remove(0).unwrap_err();
    assert_eq!(refused.field, "retain");
    assert!(
        refused.reason.starts_with("unknown field `retain`"),
        "{refused}"
    );
    let refused = if cfg!(feature = "tls") {
        "mqtt.ca_file"
    } else {
        "mqtt.url"
    };
    assert_eq!(keys(json!({"url": "mqtts://broker.local"})), [refused]);
    let old = valid(json!({"url": URL, "version": "3.1.1"}));
    assert_eq!(old.settings().unwrap().version, Version::V311);
    assert_eq!(
        keys(json!({"url": URL, "version": "3.1"})),
        ["mqtt.version"]
    );
    let embedded = json!({"url": URL, "version": "3.1.1", "embedded": true});
    assert_eq!(keys(embedded), ["mqtt.embedded"]);
    let (no_broker, errors) = setup(None);
    assert!(errors.is_empty() && !no_broker.enabled() && no_broker.sink().is_none());
    let refused = bind(&*no_broker, "echo", sub).remove(0).unwrap_err();
    assert_eq!(
        (refused.field.as_str(), refused.reason.as_str()),
        ("", NO_BROKER)
    );
}

#[test]
fn the_embedded_broker_listens_on_loopback_only() {
    for url in ["mqtt://127.0.0.1:1883", "mqtt://[::1]:1883"] {
        let broker = valid(json!({"url": url, "embedded": true}));
        assert!(broker.embedded().is_some(), "{url}");
    }
    let (_, errors) = setup(Some(
        json!({"url": "mqtt://0.0.0.0:1883", "embedded": true}),
    ));
    assert_eq!(errors[0].key, "mqtt.embedded");
    assert!(
        errors[0]
            .reason
            .starts_with("the embedded broker is for trying fenn and listens on loopback only"),
        "{errors:?}"
    );
}

#[test]
fn each_key_in_error_is_named_and_a_section_in_error_still_has_its_subscriptions_read() {
    let section = json!({"url": "http://broker", "keep_alive": "2x", "max_in_flight": 0});
    assert_eq!(
        keys(section.clone()),
        ["mqtt.url", "mqtt.keep_alive", "mqtt.max_in_flight"]
    );
    let (setup, _) = setup(Some(section));
    assert!(setup.enabled() && setup.announce().is_empty());
    assert!(bind(&*setup, "f", json!([{"topic": "a/b"}]))[0].is_ok());
    // Keys and types are named as the file writes them.
    let (_, errors) = self::setup(Some(json!({"url": URL, "max_in_flight": "many"})));
    assert_eq!(errors[0].key, "mqtt.max_in_flight");
    let (_, errors) = self::setup(Some(json!({"url": URL, "urll": URL})));
    assert_eq!(errors[0].key, "mqtt.urll");
    assert!(
        errors[0].reason.starts_with("unknown field `urll`"),
        "{errors:?}"
    );
    assert_eq!(keys(json!({"url": "mqtt://:1883"})), ["mqtt.url"]);
    assert_eq!(keys(json!({"url": "mqtt://a:port"})), ["mqtt.url"]);
}

#[cfg(not(feature = "tls"))]
#[test]
fn a_build_without_tls_refuses_mqtts_naming_the_feature() {
    let (_, errors) = setup_in(Some(json!({"url": "mqtts://broker"})), Path::new("."));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].key, "mqtt.url");
    assert!(
        errors[0].reason.contains("the cargo feature `tls`"),
        "{:?}",
        errors[0]
    );
}

#[cfg(feature = "tls")]
#[test]
fn tls_files_are_read_relative_to_the_config() {
    let dir = std::env::temp_dir().join(format!("fenn-mqtt-kind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), "CA").unwrap();
    let half = json!({"url": "mqtts://broker", "ca_file": "ca.pem", "client_cert": "ca.pem"});
    let (_, errors) = setup_in(Some(half), &dir);
    assert_eq!(errors[0].key, "mqtt.client_key");
    let section = json!({"url": "mqtts://broker", "ca_file": "ca.pem"});
    let (setup_ok, errors) = setup_in(Some(section), &dir);
    assert_eq!(errors, []);
    let broker = setup_ok.as_any().downcast_ref::<MqttSetup>().unwrap();
    let settings = broker.settings().unwrap();
    assert_eq!(settings.tls.as_ref().unwrap().ca, b"CA");
    assert_eq!(settings.port, 8883);
    assert_eq!(setup_ok.announce(), ["MQTT broker mqtts://broker:8883"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_filter_taken_by_another_function_or_a_loop_refuses_the_set() {
    let broker = valid(json!({"url": URL}));
    let mine = json!([{"topic": "s/{room}"}, {"topic": "s/{x}"}]);
    // One function may subscribe a filter twice.
    assert_eq!(broker.check(&set(&broker, &[("a", mine.clone())])), Ok(()));
    let theirs = json!([{"topic": "t"}, {"topic": "s/+"}]);
    let collision = broker.check(&set(&broker, &[("a", mine), ("b", theirs)]));
    assert_eq!(
        collision,
        Err(Collision {
            at: 3,
            field: String::new(),
            reason: "MQTT topic 's/+' is already subscribed by function 'a'".into(),
        })
    );
    let functions = [
        ("logger", json!([{"topic": "logs/#"}])),
        (
            "ping",
            json!([{"topic": "atk/pa/{x}", "reply": "atk/pb/{x}"}]),
        ),
        (
            "pong",
            json!([{"topic": "atk/pb/{x}", "reply": "atk/pa/{x}"}]),
        ),
    ];
    let collision = broker.check(&set(&broker, &functions)).unwrap_err();
    assert_eq!((collision.at, collision.field.as_str()), (1, "reply"));
    assert_eq!(
        collision.reason,
        "mqtt loop: ping (atk/pa/{x}) -> pong (atk/pb/{x}) -> ping (atk/pa/{x})"
    );
    let own = json!([{"topic": "q/{x}", "reply": "r/{x}"}, {"topic": "r/{x}", "reply": "q/{x}"}]);
    let collision = broker.check(&set(&broker, &[("a2", own)])).unwrap_err();
    assert_eq!(
        collision.reason,
        "mqtt loop: a2 (q/{x}) -> a2 (r/{x}) -> a2 (q/{x})"
    );
}

#[test]
fn a_subscription_shows_as_its_filter_and_results_go_to_plain_topics_only() {
    let broker = valid(json!({"url": "mqtt://127.0.0.1:1883", "embedded": true}));
    let raw = json!([{"topic": "s/+"}, {"topic": "sensors/{room}", "reply": "out/{room}"}]);
    let bound = set(&broker, &[("echo", raw)]);
    assert_eq!(bound[0].view(), json!("s/+"));
    assert_eq!(bound[0].summary(), "mqtt s/+");
    assert_eq!(bound[0].announce(), ["MQTT", "s/+", ""]);
    assert_eq!(
        bound[1].announce(),
        ["MQTT", "sensors/{room}", " (replies to out/{room})"]
    );
    assert_eq!(bound[1].function(), "echo");
    assert_eq!(
        broker.announce(),
        ["MQTT broker mqtt://127.0.0.1:1883 (embedded unless one already listens there)"]
    );
    let sink = broker.sink().unwrap();
    assert_eq!(sink.check("results/tick"), Ok(()));
    assert_eq!(
        sink.check("results/#"),
        Err("'results/#' is not a topic to publish to (no wildcards)".into())
    );
}

#[test]
fn the_started_trigger_reports_its_link_and_follows_its_subscriptions() {
    let broker = valid(json!({"url": URL}));
    let bound = set(
        &broker,
        &[("echo", json!([{"topic": "sensors/{room}/temp"}]))],
    );
    let sinks = BTreeMap::new();
    let host = Host {
        dispatcher: Arc::new(fenn_runtime::Dispatcher::new(1, 1 << 20)),
        bindings: bound,
        listener: None,
        sinks: &sinks,
    };
    let running = broker.start(host).unwrap();
    assert_eq!(running.trigger.kind(), "mqtt");
    assert!(running.sink.is_some() && running.address.is_none());
    let report = &running.report;
    assert_eq!(report.readiness(), Some(("disconnected", false)));
    assert_eq!(
        report.status(),
        Some(json!({"connected": false, "reconnects": 0}))
    );
    assert_eq!(
        report.hints(),
        [
            "try: mosquitto_rr -h broker.local -p 1884 -t sensors/room/temp -e replies/fenn -m '{\"celsius\":31}'"
        ]
    );
    let names: Vec<&str> = report.metrics().iter().map(name).collect();
    assert_eq!(
        names,
        [
            "fenn_mqtt_connected",
            "fenn_mqtt_reconnects",
            "fenn_mqtt_outbox_records",
            "fenn_mqtt_outbox_bytes",
            "fenn_mqtt_dropped_qos0",
            "fenn_mqtt_refused_hops",
            "fenn_mqtt_results_lost",
        ]
    );
    running.apply.apply(&[]).unwrap();
    assert!(report.hints().is_empty());
}

fn name(metric: &Metric) -> &'static str {
    match metric {
        Metric::Counter { name, .. }
        | Metric::Gauge { name, .. }
        | Metric::Histogram { name, .. } => name,
    }
}
