//! Functions that act: a sensor pipeline built from the host calls as a
//! user writes it (functions/average, notify, counter), on a Mosquitto of
//! the test's own, through the real binary; its state and its messages
//! across kill -9; and each refusal with its message.

use crate::util::{Broker, Collector, Fenn, TempDir, client, wait_until};
use std::collections::BTreeSet;
use std::time::Duration;

/// The pipeline's config: `average` keeps a running average per room and
/// publishes alerts, `notify` hands each alert to `counter`, which counts.
fn pipeline(port: u16, state: &std::path::Path) -> String {
    format!(
        r#"
        [server]
        state_dir = "{state}"

        [mqtt]
        url = "mqtt://127.0.0.1:{port}"
        client_id = "fenn-pipeline"
        session_expiry = "1h"

        [[function]]
        name = "average"
        module = "{average}"
        kv = true
        publish = ["alerts/#"]
          [function.vars]
          THRESHOLD = "30"
          [[function.mqtt]]
          topic = "sensors/{{room}}/temp"

        [[function]]
        name = "notify"
        module = "{notify}"
        emit = ["counter"]
          [[function.mqtt]]
          topic = "alerts/#"

        [[function]]
        name = "counter"
        module = "{counter}"
        kv = true
          [[function.http]]
          route = "/count"
        "#,
        state = state.display(),
        average = env!("FENN_GUEST_AVERAGE"),
        notify = env!("FENN_GUEST_NOTIFY"),
        counter = env!("FENN_GUEST_COUNTER"),
    )
}

fn json(payload: &str) -> serde_json::Value {
    serde_json::from_str(payload).unwrap_or_else(|_| panic!("not an alert: {payload}"))
}

/// The counts the alerts carry.
fn counts(alerts: &[(String, String)]) -> BTreeSet<u64> {
    alerts
        .iter()
        .map(|(_, payload)| json(payload)["count"].as_u64().unwrap())
        .collect()
}

fn counted(fenn: &Fenn) -> u64 {
    let body = client()
        .get(fenn.url("/count"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    body.parse()
        .unwrap_or_else(|_| panic!("not a count: {body}"))
}

#[test]
fn a_sensor_pipeline_keeps_state_publishes_alerts_and_counts_them() {
    let broker = Broker::start();
    let alerts = Collector::start(broker.port, "alerts/#");
    let state = TempDir::new("pipeline-state");
    let fenn = Fenn::with_config(&pipeline(broker.port, &state.0));
    fenn.log.wait_for_count("MQTT subscribed", 2);
    // Readings of 20 and 40: the running average passes 30 only from the
    // fourth reading on (20, 40, 40 → 33).
    for reading in [20, 40, 40, 40, 40] {
        broker.publish(
            "sensors/kitchen/temp",
            format!("{{\"celsius\": {reading}}}").as_bytes(),
            1,
        );
    }
    let got = alerts.wait_until(Duration::from_secs(30), "three alerts", |m| m.len() >= 3);
    assert_eq!(counts(&got), BTreeSet::from([3, 4, 5]), "{got:?}");
    let first = json(&got.iter().find(|(_, p)| json(p)["count"] == 3).unwrap().1);
    assert_eq!(first["room"], "kitchen");
    assert_eq!(first["average"], 33);
    assert!(got.iter().all(|(topic, _)| topic == "alerts/kitchen"));
    // Every alert reached notify, which emitted it to counter.
    wait_until(
        "counter to count three alerts",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || (counted(&fenn) == 3).then_some(()),
    );
}
