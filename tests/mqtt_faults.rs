//! The MQTT trigger when a message or the broker misbehaves.

use crate::util::{Broker, Collector, Fenn};
use std::process::Command;
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
    let port = broker.port.to_string();
    let publish = |topic: &str, payload: &[u8]| {
        let file = std::env::temp_dir().join(format!("fenn-oversized-{}", std::process::id()));
        std::fs::write(&file, payload).unwrap();
        let status = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-q", "1", "-t", topic, "-f"])
            .arg(&file)
            .status()
            .unwrap();
        let _ = std::fs::remove_file(&file);
        assert!(status.success());
    };
    publish("sensors/big/temp", &vec![b'x'; 100_000]);
    for n in 0..3 {
        publish(&format!("sensors/room{n}/temp"), n.to_string().as_bytes());
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
        refused.contains("message is 100016 bytes, over the limit of"),
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
