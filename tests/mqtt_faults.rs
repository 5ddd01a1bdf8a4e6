//! The MQTT trigger when a message or the broker misbehaves.

use crate::util::{Broker, Collector, Fenn};
use std::time::Duration;

/// MQTT 3.1.1 cannot tell the broker fenn's size limit: an oversized QoS 1
/// message reaches fenn, which must answer it and go on, not drop the
/// connection (the broker would send it again after each reconnect, and
/// nothing queued behind it would ever be answered).
#[test]
fn over_mqtt_3_1_1_an_oversized_message_is_refused_and_those_behind_it_are_answered() {
    let broker = Broker::start();
    let results = Collector::start(broker.port, "results/+");
    let fenn = Fenn::with_config(&format!(
        r#"
        [mqtt]
        url = "mqtt://127.0.0.1:{}"
        version = "3.1.1"
        client_id = "fenn-oversized"
        max_payload = "16KiB"

        [[function]]
        name = "echo"
        module = "example:echo"
          [[function.mqtt]]
          topic = "sensors/{{room}}/temp"
          reply = "results/{{room}}"
        "#,
        broker.port
    ));
    fenn.log.wait_for("MQTT subscribed");
    // mosquitto_pub speaks 3.1.1 unless told otherwise.
    broker.publish("sensors/big/temp", &vec![b'x'; 100_000], 1);
    for n in 0..3 {
        broker.publish(
            &format!("sensors/room{n}/temp"),
            n.to_string().as_bytes(),
            1,
        );
    }
    let messages = results.wait_until(
        Duration::from_secs(20),
        "a reply to the oversized message and to the three behind it",
        |messages| messages.len() >= 4,
    );
    let (_, refused) = messages
        .iter()
        .find(|(topic, _)| topic == "results/big")
        .unwrap_or_else(|| panic!("no reply to the oversized message: {messages:?}"));
    assert!(
        refused.contains("message is 100016 bytes, over the size limit"),
        "{refused}"
    );
    for n in 0..3 {
        let topic = format!("results/room{n}");
        let (_, reply) = messages
            .iter()
            .find(|(t, _)| *t == topic)
            .unwrap_or_else(|| panic!("no reply on {topic}: {messages:?}"));
        assert!(reply.contains(&format!(r#""body":"{n}""#)), "{reply}");
    }
    assert_eq!(fenn.log.text().matches("MQTT connected").count(), 1);
}

/// The broker is away and the outbox full: cron results wait in memory
/// within a budget and past it are dropped, said so; a fast function on an
/// `overlap = "skip"` schedule keeps running (its result waiting is not a
/// run); and SIGTERM stops fenn within its grace, saying what was lost.
#[test]
fn with_the_outbox_full_cron_stays_bounded_keeps_running_and_fenn_stops_in_its_grace() {
    // Nothing listens here: fenn never connects.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut fenn = Fenn::with_config(&format!(
        r#"
        [server]
        shutdown_grace = "2s"

        [mqtt]
        url = "mqtt://127.0.0.1:{port}"
        outbox_size = "4KiB"

        [[function]]
        name = "hello"
        module = "example:hello"
          [[function.cron]]
          name = "fast"
          schedule = "every 10ms"
          overlap = "allow"
          publish = "samples/fast"
          [[function.cron]]
          name = "slow"
          schedule = "every 200ms"
          publish = "samples/slow"
        "#
    ));
    let log = fenn.log.wait_for("a result was dropped");
    let slow_runs = log.matches("cron run schedule=slow").count();
    fenn.log
        .wait_for_count("cron run schedule=slow", slow_runs + 3);
    let status = fenn.terminate();
    assert!(status.success(), "{status:?}");
    let log = fenn.log.text();
    assert!(log.contains("MQTT outbox: no room"), "{log}");
    assert!(log.contains("were not kept"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

/// A QoS 0 flood at a function that cannot keep up: past the read-ahead,
/// messages are dropped (QoS 0 allows it) and the log gives the total when
/// the function catches up and again when fenn stops.
#[test]
fn dropped_qos0_messages_are_totalled_in_the_log() {
    const SENT: usize = 3000;
    let broker = Broker::start();
    let mut fenn = Fenn::with_config(&format!(
        r#"
        [mqtt]
        url = "mqtt://127.0.0.1:{}"
        max_in_flight = 1

        [[function]]
        name = "misbehave"
        module = "{{misbehave}}"
        concurrency = 1
        fuel = 1_000_000_000_000
          [[function.mqtt]]
          topic = "jobs/{{what}}"
          qos = 0
        "#,
        broker.port
    ));
    fenn.log.wait_for("MQTT subscribed");
    // Each message keeps the function busy 1 ms: far slower than fenn
    // reads them, so the read-ahead fills and the rest are dropped.
    broker.publish_lines("jobs/sleep", 0, (0..SENT).map(|_| "1".to_owned()));
    // About 1 000 runs of 1 ms to catch up, on low-priority workers that a
    // busy machine may hold back: a generous limit.
    let log = fenn
        .log
        .wait_for_count_within("functions caught up", 1, Duration::from_secs(120));
    let total = |line: &str| -> usize {
        let at = line.find("total=").unwrap() + "total=".len();
        line[at..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let caught_up = log
        .lines()
        .find(|l| l.contains("functions caught up"))
        .unwrap();
    assert!(
        total(caught_up) > 0 && total(caught_up) < SENT,
        "{caught_up}"
    );
    assert!(fenn.terminate().success());
    let log = fenn.log.text();
    let in_all = log
        .lines()
        .find(|l| l.contains("QoS 0 messages dropped while functions were saturated, in all"))
        .unwrap_or_else(|| panic!("no total at shutdown:\n{log}"));
    // The last catch-up's running total is the total: nothing came after.
    let last = log
        .lines()
        .rfind(|l| l.contains("functions caught up"))
        .unwrap();
    assert_eq!(total(in_all), total(last), "{in_all}");
}

/// Two fenn devices whose replies feed each other's subscriptions: no one
/// config shows the loop, so each reply counts a hop (the MQTT 5 user
/// property `fenn-hops`) and the message that has gone round eight times
/// is refused, logged, instead of looping for ever.
#[test]
fn a_loop_between_two_devices_through_the_broker_ends_at_the_hop_limit() {
    let broker = Broker::start();
    let seen = Collector::start(broker.port, "loop/+/1");
    let device = |name: &str, topic: &str, reply: &str| {
        let fenn = Fenn::with_config(&format!(
            r#"
            [mqtt]
            url = "mqtt://127.0.0.1:{}"

            [[function]]
            name = "{name}"
            module = "example:hello"
              [[function.mqtt]]
              topic = "{topic}"
              reply = "{reply}"
            "#,
            broker.port
        ));
        fenn.log.wait_for("MQTT subscribed");
        fenn
    };
    let ping = device("ping", "loop/ping/{x}", "loop/pong/{x}");
    let pong = device("pong", "loop/pong/{x}", "loop/ping/{x}");
    broker.publish("loop/ping/1", b"serve", 1);
    // ping runs on hops 0, 2, 4, 6 and pong on 1, 3, 5, 7: the reply pong
    // sends on its eighth hop reaches ping, which refuses it.
    let log = ping.log.wait_for("was refused");
    let refused = log.lines().find(|l| l.contains("was refused")).unwrap();
    assert!(
        refused.contains("came through 8 fenn replies") && refused.contains("topic=loop/ping/1"),
        "{refused}"
    );
    let messages = seen.wait_until(
        Duration::from_secs(10),
        "the message and its 8 replies",
        |m| m.len() >= 9,
    );
    assert_eq!(messages.len(), 9, "{messages:?}");
    assert!(!pong.log.text().contains("was refused"));
}

/// MQTT 3.1.1, a retained message larger than fenn reads (four times
/// `max_payload`, at least 1 MiB): it breaks the connection each time the
/// broker sends it, after every reconnect. fenn says so once, and waits
/// longer before each reconnect instead of looping at full speed.
#[test]
fn a_retained_message_too_large_to_read_is_said_once_and_reconnects_slow_down() {
    let broker = Broker::start();
    broker.publish_with(&["-r"], "sensors/huge/temp", &vec![b'x'; 2 << 20], 1);
    let fenn = Fenn::with_config(&format!(
        r#"
        [mqtt]
        url = "mqtt://127.0.0.1:{}"
        version = "3.1.1"
        max_payload = "16KiB"

        [[function]]
        name = "echo"
        module = "example:echo"
          [[function.mqtt]]
          topic = "sensors/{{room}}/temp"
        "#,
        broker.port
    ));
    let said = "MQTT: the broker sends a message fenn cannot read again after every reconnect";
    let log = fenn.log.wait_for(said);
    let line = log.lines().find(|l| l.contains(said)).unwrap();
    assert!(
        line.contains("payload size limit exceeded: 2097173"),
        "{line}"
    );
    let (connects, warned) = (
        log.matches("MQTT connected").count(),
        log.matches("MQTT connection lost").count(),
    );
    // Two more rounds, said no more.
    let log = fenn.log.wait_for_count("MQTT connected", connects + 2);
    assert_eq!(log.matches(said).count(), 1, "{log}");
    assert_eq!(log.matches("MQTT connection lost").count(), warned, "{log}");
}
