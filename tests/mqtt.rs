//! The MQTT trigger against a real Mosquitto that each test starts on a
//! free port, with Mosquitto's own clients as the other side.

use crate::util::{Broker, Certificates, Fenn, wait_until};
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

fn serve(broker: &Broker, functions: &str) -> Fenn {
    let fenn = Fenn::with_config(&format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n{functions}",
        broker.port
    ));
    fenn.log.wait_for("MQTT subscribed");
    fenn
}

const ECHO: &str = r#"
    [[function]]
    name = "echo"
    module = "example:echo"
      [[function.mqtt]]
      topic = "sensors/{room}/temp"
      reply = "results/{room}"
"#;

#[test]
fn mosquitto_rr_gets_the_reply_with_the_event_the_function_saw() {
    let broker = Broker::start();
    let _fenn = serve(&broker, ECHO);
    let reply = broker
        .request("sensors/kitchen/temp", "21.5", 10)
        .expect("a reply");
    let event: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(event["path"], "sensors/kitchen/temp");
    assert_eq!(event["httpMethod"], "PUBLISH");
    assert_eq!(event["pathParameters"]["room"], "kitchen");
    assert_eq!(event["body"], "21.5");
    assert_eq!(event["headers"]["x-fenn-trigger"], "mqtt");
    assert_eq!(
        event["headers"]["x-fenn-response-topic"],
        "replies/sensors/kitchen/temp"
    );
}

#[test]
fn without_a_response_topic_the_reply_goes_to_the_configured_topic() {
    let broker = Broker::start();
    let _fenn = serve(&broker, ECHO);
    let port = broker.port.to_string();
    // stdbuf: mosquitto_sub's stdout is block-buffered into a pipe.
    let mut subscriber = Command::new("stdbuf")
        .args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            "results/+",
            "-v",
            "-C",
            "1",
            "-W",
            "10",
            "-d",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(subscriber.stdout.take().unwrap()).lines();
    // -d prints the SUBACK: from then on the subscription is in place.
    for line in lines.by_ref() {
        if line.unwrap().contains("SUBACK") {
            break;
        }
    }
    let published = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            "sensors/attic/temp",
            "-m",
            "30",
        ])
        .status()
        .unwrap();
    assert!(published.success());
    let delivered = lines
        .map(Result::unwrap)
        .find(|line| line.starts_with("results/"))
        .expect("the reply on results/attic");
    assert!(delivered.starts_with("results/attic {"), "{delivered}");
    assert!(delivered.contains(r#""room":"attic""#), "{delivered}");
    let _ = subscriber.wait();
}

#[test]
fn a_poison_message_is_answered_with_an_error_and_the_trigger_keeps_serving() {
    let broker = Broker::start();
    let fenn = serve(
        &broker,
        r#"
        [[function]]
        name = "misbehave"
        module = "{misbehave}"
          [[function.mqtt]]
          topic = "jobs/{what}"
        "#,
    );
    let reply = broker
        .request("jobs/panic", "", 10)
        .expect("an error reply");
    assert_eq!(reply, r#"{"message":"function failed"}"#);
    assert!(
        fenn.log
            .wait_for("MQTT message failed")
            .contains("asked to panic")
    );
    assert_eq!(broker.request("jobs/ok", "", 10).as_deref(), Some("ok"));
}

#[test]
fn after_the_broker_restarts_fenn_reconnects_and_resubscribes() {
    let mut broker = Broker::start();
    let fenn = serve(&broker, ECHO);
    assert!(broker.request("sensors/hall/temp", "1", 10).is_some());
    broker.stop();
    fenn.log.wait_for("MQTT connection lost");
    broker.start_again();
    // Reconnecting takes a backoff delay: ask until answered, bounded. The
    // reply to "1" may come again (at least once), so wait for the one to "2".
    let reply = wait_until(
        "a reply after the broker came back",
        std::time::Duration::from_secs(30),
        std::time::Duration::ZERO,
        || {
            let reply = broker.request("sensors/hall/temp", "2", 2);
            reply.filter(|r| r.contains(r#""body":"2""#))
        },
    );
    assert!(reply.contains(r#""body":"2""#), "{reply}");
    assert!(fenn.log.text().matches("MQTT subscribed").count() >= 2);
}

#[test]
fn a_message_over_the_size_limit_is_dropped_by_the_broker_and_fenn_keeps_serving() {
    let broker = Broker::start();
    let fenn = Fenn::with_config(&format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nmax_payload = \"64KiB\"\n{ECHO}",
        broker.port
    ));
    fenn.log.wait_for("MQTT subscribed");
    // 40 KiB: above rumqttc's own 10 KiB default, within the limit.
    let large = "x".repeat(40 << 10);
    let reply = broker
        .request("sensors/big/temp", &large, 10)
        .expect("a reply");
    assert!(reply.contains(&large), "the large message was handled");
    // 200 KiB: over the limit. The broker drops it; fenn stays connected.
    broker.publish("sensors/huge/temp", &vec![b'y'; 200 << 10], 0);
    assert_eq!(
        broker
            .request("sensors/small/temp", "1", 10)
            .map(|reply| reply.contains(r#""body":"1""#)),
        Some(true)
    );
    assert!(
        !fenn.log.text().contains("MQTT connection lost"),
        "{}",
        fenn.log.text()
    );
}

#[test]
fn two_instances_on_one_shared_subscription_split_the_stream_and_answer_every_job() {
    let broker = Broker::start();
    // Each instance runs a different function on the same shared filter,
    // so every reply says which instance answered it.
    let shared = |function: &str, module: &str| {
        format!(
            "[[function]]\nname = \"{function}\"\nmodule = \"{module}\"\n  \
             [[function.mqtt]]\n  topic = \"$share/fleet/jobs/{{id}}\"\n"
        )
    };
    let _hello = serve(&broker, &shared("hello", "example:hello"));
    let _echo = serve(&broker, &shared("echo", "example:echo"));
    let (mut by_hello, mut by_echo) = (0, 0);
    for id in 0..40 {
        let reply = broker
            .request(&format!("jobs/{id}"), "job", 10)
            .unwrap_or_else(|| panic!("job {id} was not answered"));
        if reply.starts_with("Hello") || reply.starts_with("world job") {
            by_hello += 1;
        } else if reply.contains(r#""httpMethod":"PUBLISH""#) {
            by_echo += 1;
        } else {
            panic!("unexpected reply {reply}");
        }
    }
    assert_eq!(by_hello + by_echo, 40, "every job answered");
    assert!(
        by_hello > 0 && by_echo > 0,
        "split: hello {by_hello}, echo {by_echo}"
    );
}

#[test]
fn wrong_credentials_are_retried_with_backoff_and_right_ones_connect() {
    let broker = Broker::start_with_password("device", "s3cret");
    let config = format!("[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n{ECHO}", broker.port);
    let started = std::time::Instant::now();
    let refused = Fenn::with_config_env(
        &config,
        &[
            ("FENN_MQTT_USERNAME", "device"),
            ("FENN_MQTT_PASSWORD", "guess"),
        ],
    );
    let log = refused
        .log
        .wait_for_count("MQTT: cannot connect to the broker", 3);
    assert!(
        log.contains("NotAuthorized") || log.contains("not authorized"),
        "{log}"
    );
    // Backoff: at least 250 ms, then 500 ms, before the third attempt.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    assert!(!log.contains("MQTT subscribed"));
    let accepted = Fenn::with_config_env(
        &config,
        &[
            ("FENN_MQTT_USERNAME", "device"),
            ("FENN_MQTT_PASSWORD", "s3cret"),
        ],
    );
    accepted.log.wait_for("MQTT subscribed");
    let reply = broker.request_as("device", "s3cret", "sensors/lab/temp", "5", 10);
    assert!(reply.is_some_and(|reply| reply.contains(r#""room":"lab""#)));
}

#[test]
fn mutual_tls_with_certificates_the_test_makes() {
    let certs = Certificates::new();
    let broker = Broker::start_with_tls(&certs);
    let tls = |client: bool| {
        let mut config = format!(
            "[mqtt]\nurl = \"mqtts://localhost:{}\"\nca_file = \"{}\"\n",
            broker.port,
            certs.path("ca.crt")
        );
        if client {
            config += &format!(
                "client_cert = \"{}\"\nclient_key = \"{}\"\n",
                certs.path("client.crt"),
                certs.path("client.key")
            );
        }
        config + ECHO
    };
    // Without a client certificate the broker refuses, and fenn retries.
    let refused = Fenn::with_config(&tls(false));
    refused
        .log
        .wait_for_count("MQTT: cannot connect to the broker", 2);
    assert!(!refused.log.text().contains("MQTT subscribed"));
    // With one, it connects over TLS and answers.
    let accepted = Fenn::with_config(&tls(true));
    accepted.log.wait_for("MQTT subscribed");
    let (ca, cert, key) = (
        certs.path("ca.crt"),
        certs.path("client.crt"),
        certs.path("client.key"),
    );
    let client_tls = [
        "--cafile",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "-h",
        "localhost",
    ];
    let reply = broker
        .request_with(&client_tls, "sensors/vault/temp", "7", 10)
        .unwrap_or_else(|| panic!("no reply over TLS:\n{}", accepted.log.text()));
    assert!(reply.contains(r#""room":"vault""#), "{reply}");
}

#[cfg(feature = "embedded-broker")]
#[test]
fn the_embedded_broker_serves_requests_and_cron_results_with_nothing_else_running() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let fenn = Fenn::with_config(&format!(
        r#"
        [mqtt]
        url = "mqtt://127.0.0.1:{port}"
        embedded = true
        {ECHO}
          [[function.cron]]
          name = "beat"
          schedule = "every 200ms"
          publish = "fenn/beat"
        "#
    ));
    fenn.log.wait_for("MQTT subscribed");
    assert!(
        fenn.log
            .text()
            .contains("embedded MQTT broker (MQTT 5) listening")
    );
    assert!(
        fenn.stdout
            .text()
            .contains(&format!("MQTT broker mqtt://127.0.0.1:{port}"))
    );
    let reply = Command::new("mosquitto_rr")
        .args(["-h", "127.0.0.1", "-p", &port, "-t", "sensors/den/temp"])
        .args(["-e", "replies/den", "-m", "19", "-W", "10"])
        .output()
        .unwrap();
    assert!(reply.status.success(), "no reply from the embedded broker");
    let event: serde_json::Value = serde_json::from_slice(&reply.stdout).unwrap();
    assert_eq!(event["pathParameters"]["room"], "den");
    let beat = Command::new("mosquitto_sub")
        .args(["-V", "5", "-h", "127.0.0.1", "-p", &port, "-t", "fenn/beat"])
        .args(["-C", "1", "-W", "10"])
        .output()
        .unwrap();
    assert!(beat.status.success(), "no cron result on fenn/beat");
    let event: serde_json::Value = serde_json::from_slice(&beat.stdout).unwrap();
    assert_eq!(event["httpMethod"], "SCHEDULE");
}

#[test]
fn over_mqtt_3_1_1_qos1_messages_are_answered_on_the_reply_topic() {
    const JOBS: usize = 50;
    let broker = Broker::start();
    let results = crate::util::Collector::start(broker.port, "results/+");
    let fenn = Fenn::with_config(&format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nversion = \"3.1.1\"\n{ECHO}",
        broker.port
    ));
    fenn.log.wait_for("MQTT subscribed");
    let port = broker.port.to_string();
    // More than Mosquitto's in-flight window (20): without fenn's acks
    // the rest would never be sent to it.
    for n in 0..JOBS {
        // mosquitto_pub speaks 3.1.1 unless told otherwise.
        let published = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-q", "1"])
            .args(["-t", &format!("sensors/room{n}/temp"), "-m", &n.to_string()])
            .status()
            .unwrap();
        assert!(published.success());
    }
    let messages = results.wait_until(
        std::time::Duration::from_secs(20),
        "a reply to every message",
        |messages| messages.len() >= JOBS,
    );
    for n in 0..JOBS {
        let (_, payload) = messages
            .iter()
            .find(|(topic, _)| *topic == format!("results/room{n}"))
            .unwrap_or_else(|| panic!("no reply for room{n}: {messages:?}"));
        let event: serde_json::Value = serde_json::from_str(payload).unwrap();
        assert_eq!(event["body"], n.to_string());
        assert_eq!(event["headers"]["x-fenn-qos"], "1");
    }
}

/// The remaining length of an MQTT packet, as MQTT encodes it.
fn remaining_length(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return out;
        }
    }
}

#[test]
fn a_topic_that_is_not_utf8_is_refused_by_the_broker_and_fenn_keeps_serving() {
    use std::io::{Read as _, Write as _};
    let broker = Broker::start();
    let fenn = serve(&broker, ECHO);
    // A raw MQTT 5 client: CONNECT, then PUBLISH to sensors/\xff\xfe/temp,
    // which no MQTT library would send.
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", broker.port)).unwrap();
    raw.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let connect = b"\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x03raw";
    raw.write_all(&[&[0x10][..], &remaining_length(connect.len()), connect].concat())
        .unwrap();
    let mut connack = [0u8; 4];
    raw.read_exact(&mut connack).unwrap();
    assert_eq!(connack[0], 0x20, "CONNACK");
    let topic = b"sensors/\xff\xfe/temp";
    let mut publish = (topic.len() as u16).to_be_bytes().to_vec();
    publish.extend_from_slice(topic);
    publish.extend_from_slice(b"\x0021");
    raw.write_all(&[&[0x30][..], &remaining_length(publish.len()), &publish].concat())
        .unwrap();
    // The broker closes the connection of a client that sends one.
    let mut rest = Vec::new();
    assert!(
        raw.read_to_end(&mut rest).is_ok(),
        "the broker did not close the connection"
    );
    let reply = broker
        .request("sensors/hall/temp", "22", 10)
        .expect("fenn still answers");
    assert!(reply.contains(r#""room":"hall""#), "{reply}");
    let log = fenn.log.text();
    assert!(!log.contains("MQTT connection lost"), "{log}");
}

#[test]
fn a_result_too_large_for_mqtt_is_answered_with_an_error_and_fenn_stays_connected() {
    let broker = Broker::start();
    let replies = crate::util::Collector::start(broker.port, "replies/big");
    let fenn = Fenn::with_config(&format!(
        "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nmax_payload = \"64KiB\"\n{ECHO}",
        broker.port
    ));
    fenn.log.wait_for("MQTT subscribed");
    // 96 KiB that is not UTF-8 fits the 64 KiB + 64 KiB packet limit; the
    // echo carries it as base64 (128 KiB), which does not.
    let payload: Vec<u8> = (0..96 << 10).map(|n| (n % 7) as u8 | 0x80).collect();
    let file = crate::util::TempDir::new("big");
    let path = file.write("payload", &payload);
    let port = broker.port.to_string();
    let published = Command::new("mosquitto_pub")
        .args(["-V", "5", "-h", "127.0.0.1", "-p", &port, "-q", "1"])
        .args([
            "-t",
            "sensors/big/temp",
            "-D",
            "publish",
            "response-topic",
            "replies/big",
            "-f",
        ])
        .arg(&path)
        .status()
        .unwrap();
    assert!(published.success());
    let messages = replies.wait_until(
        std::time::Duration::from_secs(20),
        "the error reply",
        |messages| !messages.is_empty(),
    );
    assert_eq!(
        messages[0].1,
        r#"{"message":"function returned an invalid response"}"#
    );
    // The reply is published before the reason is logged: wait for it.
    fenn.log.wait_for("too large to publish");
    assert_eq!(
        broker
            .request("sensors/small/temp", "1", 10)
            .map(|reply| reply.contains(r#""body":"1""#)),
        Some(true)
    );
    assert!(!fenn.log.text().contains("MQTT connection lost"));
}

#[test]
fn a_busy_function_makes_mqtt_messages_wait_for_a_slot_instead_of_losing_them() {
    let broker = Broker::start();
    let fenn = serve(
        &broker,
        r#"
        [[function]]
        name = "misbehave"
        module = "{misbehave}"
        concurrency = 1
        fuel = 1_000_000_000_000
          [[function.mqtt]]
          topic = "jobs/{n}/{what}"
          [[function.http]]
          route = "/m/{what}"
        "#,
    );
    let stop = std::sync::atomic::AtomicBool::new(false);
    let replies: Vec<Option<String>> = std::thread::scope(|scope| {
        // HTTP traffic on the same function: refused at once when busy, as
        // HTTP clients expect; it must not take the MQTT messages' turns away.
        let http = scope.spawn(|| {
            let client = crate::util::client();
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let status = client.get(fenn.url("/m/ok")).send().unwrap().status();
                assert!(status == 200 || status == 503, "{status}");
                answered += 1;
            }
            answered
        });
        let requests: Vec<_> = (0..8)
            .map(|n| {
                let broker = &broker;
                scope.spawn(move || {
                    broker.request_with(&["-q", "1"], &format!("jobs/{n}/sleep"), "30", 20)
                })
            })
            .collect();
        let replies = requests.into_iter().map(|r| r.join().unwrap()).collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(http.join().unwrap() > 0);
        replies
    });
    for reply in replies {
        assert_eq!(reply.as_deref(), Some("slept"), "{}", fenn.log.text());
    }
}
