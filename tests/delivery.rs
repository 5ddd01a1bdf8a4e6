//! At-least-once delivery over MQTT: results reach the broker across its
//! restarts, and wait in the outbox, in order, while it is away, across a
//! restart of fenn too. A persistent Mosquitto of the test's own, and a
//! subscriber with a persistent session, stand for the rest of the fleet.

use crate::util::{Broker, Collector, Fenn, TempDir};
use std::collections::HashSet;
use std::time::Duration;

fn json(payload: &str) -> serde_json::Value {
    serde_json::from_str(payload).unwrap_or_else(|_| panic!("not the echo's JSON: {payload}"))
}

#[test]
fn thousands_of_qos1_messages_across_broker_restarts_each_get_a_result() {
    const CHUNKS: usize = 4;
    const JOBS: usize = 1000;
    let mut broker = Broker::start_persistent();
    let results = Collector::start(broker.port, "done/#");
    let fenn = Fenn::with_config(&format!(
        r#"
        [mqtt]
        url = "mqtt://127.0.0.1:{}"
        client_id = "fenn-soak"

        [[function]]
        name = "echo"
        module = "example:echo"
          [[function.mqtt]]
          topic = "jobs/{{batch}}"
          reply = "done/{{batch}}"
        "#,
        broker.port
    ));
    fenn.log.wait_for("MQTT subscribed");
    let answered = |messages: &[(String, String)]| -> HashSet<u64> {
        messages
            .iter()
            .map(|(_, payload)| json(payload)["body"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    // Each chunk is queued for fenn's session, and the broker restarts
    // while fenn works through it.
    for chunk in 0..CHUNKS {
        let first = chunk * JOBS;
        broker.publish_lines("jobs/soak", 1, (first..first + JOBS).map(|n| n.to_string()));
        results.wait_until(Duration::from_secs(60), "results of this chunk", |m| {
            let ids = answered(m);
            ids.iter().filter(|&&id| id >= first as u64).count() >= JOBS / 5
        });
        broker.restart();
    }
    let messages = results.wait_until(Duration::from_secs(120), "a result for every job", |m| {
        answered(m).len() == CHUNKS * JOBS
    });
    let all: HashSet<u64> = (0..(CHUNKS * JOBS) as u64).collect();
    assert_eq!(answered(&messages), all);
    // fenn may log the last loss after the last result arrived: wait for it.
    fenn.log.wait_for_count("MQTT connection lost", CHUNKS);
    for (topic, payload) in &messages {
        assert_eq!(topic, "done/soak");
        assert_eq!(json(payload)["path"], "jobs/soak");
    }
}

#[test]
fn results_made_while_the_broker_is_down_arrive_in_order_when_it_returns_even_after_fenn_restarts()
{
    let mut broker = Broker::start_persistent();
    let samples = Collector::start(broker.port, "samples");
    let state = TempDir::new("outbox-state");
    let config = format!(
        r#"
        [server]
        state_dir = "{}"

        [mqtt]
        url = "mqtt://127.0.0.1:{}"
        client_id = "fenn-sampler"

        [[function]]
        name = "echo"
        module = "example:echo"
          [[function.cron]]
          name = "sample"
          schedule = "every 100ms"
          publish = "samples"
        "#,
        state.0.display(),
        broker.port
    );
    let planned_in_log = |log: &str| -> Vec<String> {
        log.lines()
            .filter(|line| line.contains("cron run"))
            .filter_map(|line| line.split("planned=").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    };
    let planned_in_messages = |messages: &[(String, String)]| -> Vec<String> {
        messages
            .iter()
            .map(|(_, payload)| {
                json(payload)["headers"]["x-fenn-planned-time"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let mut first = Fenn::with_config(&config);
    samples.wait_until(Duration::from_secs(20), "samples while connected", |m| {
        m.len() >= 3
    });
    broker.stop_gracefully();
    let log = first.log.wait_for("MQTT connection lost");
    let runs = log.matches("cron run").count();
    first.log.wait_for_count("cron run", runs + 10);
    assert!(first.terminate().success());
    let mut made = planned_in_log(&first.log.text());
    // Started again, still without a broker: the outbox is read back,
    // and new results join it behind the old.
    let second = Fenn::with_config(&config);
    second
        .log
        .wait_for("MQTT outbox: results from before wait for the broker");
    second.log.wait_for_count("cron run", 5);
    made.extend(planned_in_log(&second.log.text()));
    assert!(made.len() >= runs + 15, "{made:?}");
    broker.start_again();
    let received = samples.wait_until(
        Duration::from_secs(30),
        "every result made while the broker was away",
        |messages| {
            let got: HashSet<String> = planned_in_messages(messages).into_iter().collect();
            made.iter().all(|planned| got.contains(planned))
        },
    );
    let order = planned_in_messages(&received);
    assert!(
        order.windows(2).all(|pair| pair[0] <= pair[1]),
        "delivered out of order: {order:?}"
    );
}
