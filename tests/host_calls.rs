//! Functions that act: a sensor pipeline built from the host calls as a
//! user writes it (functions/average, notify, counter), on a Mosquitto of
//! the test's own, through the real binary; its state and its messages
//! across kill -9; and each refusal with its message.

use crate::util::{Broker, Collector, Fenn, TempDir, client, wait_until};
use std::collections::BTreeSet;
use std::time::Duration;

/// QoS 1 messages fenn may hold unacknowledged: after a kill, at most
/// these come again, each one run twice (the at-least-once surplus).
const WINDOW: u64 = 8;

/// The pipeline's config: `average` keeps a running average per room and
/// publishes alerts, `notify` hands each alert to `counter`, which counts.
fn pipeline(port: u16, state: &std::path::Path) -> String {
    pipeline_with(port, state, "")
}

/// The pipeline with `extra` keys on each function (`concurrency = 1`).
fn pipeline_with(port: u16, state: &std::path::Path, extra: &str) -> String {
    format!(
        r#"
        [server]
        state_dir = "{state}"

        [mqtt]
        url = "mqtt://127.0.0.1:{port}"
        client_id = "fenn-pipeline"
        session_expiry = "1h"
        max_in_flight = {window}

        [[function]]
        name = "average"
        module = "{average}"
        {extra}
        kv = true
        publish = ["alerts/#"]
          [function.vars]
          THRESHOLD = "30"
          [[function.mqtt]]
          topic = "sensors/{{room}}/temp"

        [[function]]
        name = "notify"
        module = "{notify}"
        {extra}
        emit = ["counter"]
          [[function.mqtt]]
          topic = "alerts/#"

        [[function]]
        name = "counter"
        module = "{counter}"
        {extra}
        kv = true
          [[function.http]]
          route = "/count"
        "#,
        state = state.display(),
        window = WINDOW,
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

/// The counter's count; `None` while it is busy counting (503).
fn counted(fenn: &Fenn) -> Option<u64> {
    let response = client().get(fenn.url("/count")).send().unwrap();
    let busy = response.status() == 503;
    let body = response.text().unwrap();
    match body.parse() {
        Ok(count) => Some(count),
        Err(_) if busy => None,
        Err(_) => panic!("not a count: {body}"),
    }
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
        || (counted(&fenn) == Some(3)).then_some(()),
    );
}

#[test]
fn the_pipeline_loses_no_state_and_no_accepted_message_to_kill_9_in_a_burst() {
    const READINGS: u64 = 200;
    let broker = Broker::start_persistent();
    let alerts = Collector::start(broker.port, "alerts/#");
    let dir = TempDir::new("pipeline-kill");
    let state = dir.0.join("state");
    std::fs::create_dir_all(&state).unwrap();
    // One event at a time per function: runs go in the order messages
    // arrive, so the reading published last is counted last.
    let file = dir.write(
        "fenn.toml",
        pipeline_with(broker.port, &state, "concurrency = 1"),
    );
    let mut fenn = Fenn::with_config_file(&file, &[]);
    fenn.log.wait_for_count("MQTT subscribed", 2);
    let reading = || String::from("{\"celsius\": 40}");
    broker.publish_lines("sensors/attic/temp", 1, (0..READINGS).map(|_| reading()));
    alerts.wait_until(Duration::from_secs(60), "the burst under way", |m| {
        m.len() >= 20
    });
    fenn.kill_9();
    let fenn = Fenn::with_config_file(&file, &[]);
    fenn.log.wait_for_count("MQTT subscribed", 2);
    // The broker kept fenn's session: the readings it had not
    // acknowledged come again, then this one, last.
    broker.publish("sensors/last/temp", reading().as_bytes(), 1);
    let got = alerts.wait_until(Duration::from_secs(120), "the last reading's alert", |m| {
        m.iter().any(|(topic, _)| topic == "alerts/last")
    });
    let attic: Vec<_> = got
        .iter()
        .filter(|(topic, _)| topic == "alerts/attic")
        .cloned()
        .collect();
    let seen = counts(&attic);
    let runs = *seen.last().unwrap();
    // Every reading ran at least once; one the kill caught after its
    // increment ran again, with the next count (the at-least-once
    // surplus), at most the one in flight.
    assert!(
        (READINGS..=READINGS + 1).contains(&runs),
        "{runs} runs of {READINGS} readings"
    );
    // Every run that returned had its alert stored: the counts have no
    // gap, but for the run the kill cut between its increment and its
    // publish.
    let missing: Vec<u64> = (1..=runs).filter(|count| !seen.contains(count)).collect();
    assert!(missing.len() <= 1, "alerts missing for counts {missing:?}");
    // Each alert reached notify (fenn's session kept them while it was
    // down), whose emit was kept before the alert was acknowledged: the
    // counter counts each alert, those redelivered (at most the window)
    // twice.
    let alerts_sent = attic.len() as u64 + 1;
    let count = wait_until(
        "the counter to count every alert",
        Duration::from_secs(60),
        Duration::from_millis(50),
        || counted(&fenn).filter(|count| *count >= alerts_sent),
    );
    assert!(
        count <= alerts_sent + 1,
        "{count} counted for {alerts_sent} alerts"
    );
}
