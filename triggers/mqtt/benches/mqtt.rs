//! The MQTT trigger against plain rumqttc, on one Mosquitto of its own, in
//! the same run so the machine's noise hits both:
//!
//! - throughput: N messages of 100 bytes published as fast as the broker
//!   takes them, counted at the far end: through fenn's `hello` (message
//!   in, reply out) against a plain rumqttc subscriber of the same stream,
//!   and against a plain rumqttc relay (message in, the same message out:
//!   the broker's work of fenn's path, without a function); QoS 0 and 1;
//! - round trip: request → reply, one at a time, p50/p99: through `hello`
//!   (MQTT 5 response topic), against the broker alone (a client receiving
//!   its own message) and a plain rumqttc responder (the same two hops
//!   fenn makes, without a function); and a guest's own publish (the host
//!   call, functions/relay) to a subscriber's receipt;
//! - a burst of BURST QoS 1 messages through `hello`: fenn's CPU time a
//!   message, and its RSS idle, right after the burst and ten seconds
//!   later.
//!
//! `cargo bench --bench mqtt` (needs `mosquitto`; `tests/run` installs it).
//! `FENN_BENCH_BIN=path/to/fenn` measures another build (the commit before
//! a change, built into its own target directory), against the same
//! baselines.

#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const MESSAGES: usize = 20_000;
const ROUND_TRIPS: usize = 2_000;
const ROUNDS: usize = 3;
const BURST: usize = 40_000;

// The test suite's Mosquitto and fenn starters, shared rather than copied.
#[allow(dead_code, unused_imports)]
#[path = "../../../tests/util/mod.rs"]
mod util;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let broker = util::Broker::start();
    let fenn = util::Fenn::with_config(&fenn_config(broker.port));
    fenn.log
        .wait_for_count("MQTT subscribed", 3 + usize::from(this_build()));
    let idle = rss_kib(fenn.pid());
    runtime.block_on(bench(broker.port));
    runtime.block_on(burst(broker.port, fenn.pid(), idle));
}

/// BURST QoS 1 messages through `hello`, and fenn's memory before, right
/// after and ten seconds after.
async fn burst(port: u16, pid: u32, idle: u64) {
    let cpu = cpu_ticks(pid);
    let rate = stream(port, "bench/q1/in", "bench/q1/out", QoS::AtLeastOnce, BURST).await;
    let after = rss_kib(pid);
    let cpu = (cpu_ticks(pid) - cpu) as f64 * 1e6 / ticks_per_second() / BURST as f64;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let later = rss_kib(pid);
    println!(
        "burst of {BURST} QoS 1 messages through fenn hello: {rate:.0} msg/s, fenn's CPU {cpu:.1} us a message"
    );
    println!(
        "RSS: idle {idle} KiB | right after the burst {after} KiB | 10 s later {later} KiB ({:.2}x idle)",
        later as f64 / idle as f64
    );
}

/// CPU time process `pid` used so far (user and system), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // After the command name in parentheses: utime and stime are the
    // 12th and 13th fields.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> f64 {
    let output = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

/// The resident set of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}

async fn bench(port: u16) {
    println!("{MESSAGES} messages of 100 B per run, median of {ROUNDS} runs; one local Mosquitto");
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let (mut plain, mut relayed, mut fenn) = (Vec::new(), Vec::new(), Vec::new());
        let (relay_in, relay_out) = (
            format!("relay/q{}/in", qos as u8),
            format!("relay/q{}/out", qos as u8),
        );
        relay(port, &relay_in, &relay_out, qos).await;
        for _ in 0..ROUNDS {
            let topic = format!("plain/q{}", qos as u8);
            plain.push(stream(port, &topic, &topic, qos, MESSAGES).await);
            relayed.push(stream(port, &relay_in, &relay_out, qos, MESSAGES).await);
            let (into, out) = (
                format!("bench/q{}/in", qos as u8),
                format!("bench/q{}/out", qos as u8),
            );
            fenn.push(stream(port, &into, &out, qos, MESSAGES).await);
        }
        let (plain, relayed, fenn) = (median(plain), median(relayed), median(fenn));
        println!(
            "QoS {}: plain subscriber {plain:>7.0} msg/s | plain relay {relayed:>7.0} msg/s | fenn hello {fenn:>7.0} msg/s | fenn/subscriber {:.2}x, fenn/relay {:.2}x",
            qos as u8,
            fenn / plain,
            fenn / relayed
        );
    }
    let own = round_trips(port, "loop/self", "loop/self", false).await;
    let responder = round_trips(port, "loop/plain", "loop/plain/reply", true).await;
    let fenn = round_trips(port, "bench/rr", "bench/rr/reply", false).await;
    let published = if this_build() {
        round_trips(port, "bench/relay", "relay/out", false).await
    } else {
        Vec::new()
    };
    println!("round trip, {ROUND_TRIPS} one at a time (QoS 1), p50 / p99:");
    println!("  broker alone (own message back)  {}", percentiles(&own));
    println!(
        "  plain rumqttc responder (2 hops) {}",
        percentiles(&responder)
    );
    println!("  through fenn hello (2 hops)      {}", percentiles(&fenn));
    if !published.is_empty() {
        println!(
            "  a guest's publish (host call)    {}",
            percentiles(&published)
        );
    }
    println!(
        "  fenn p50 / broker alone {:.2}x, / plain responder {:.2}x",
        p(&fenn, 0.5) / p(&own, 0.5),
        p(&fenn, 0.5) / p(&responder, 0.5)
    );
    if !published.is_empty() {
        println!(
            "  a guest's publish p50 / plain responder {:.2}x, / fenn's reply {:.2}x",
            p(&published, 0.5) / p(&responder, 0.5),
            p(&published, 0.5) / p(&fenn, 0.5)
        );
    }
}

/// Publishes `messages` to `into` and counts them (or their replies) on
/// `out`; messages per second from the first publish to the last arrival
/// (QoS 0 messages that a saturated fenn drops are not counted).
async fn stream(port: u16, into: &str, out: &str, qos: QoS, messages: usize) -> f64 {
    let (consumer, mut arrivals) = connect(port).await;
    consumer.subscribe(out, qos).await.unwrap();
    wait_subscribed(&mut arrivals).await;
    let (publisher, _ignored) = connect(port).await;
    let payload = Bytes::from(vec![b'x'; 100]);
    let started = Instant::now();
    let into = into.to_owned();
    tokio::spawn(async move {
        for _ in 0..messages {
            publisher
                .publish(into.clone(), qos, false, payload.clone())
                .await
                .unwrap();
        }
    });
    let (mut count, mut last) = (0, started);
    while count < messages {
        match tokio::time::timeout(Duration::from_secs(5), arrivals.recv()).await {
            Ok(Some(Arrival::Message(_))) => {
                count += 1;
                last = Instant::now();
            }
            Ok(Some(Arrival::Subscribed)) => {}
            _ => break,
        }
    }
    let rate = count as f64 / (last - started).as_secs_f64();
    if count < messages {
        println!("  ({out}: {count} of {messages} arrived; QoS 0 may drop)");
    }
    let _ = consumer.disconnect().await;
    rate
}

/// A plain rumqttc client that republishes every message on `into` to
/// `out`, at the same QoS.
async fn relay(port: u16, into: &str, out: &str, qos: QoS) {
    let (client, mut arrivals) = connect(port).await;
    client.subscribe(into, qos).await.unwrap();
    wait_subscribed(&mut arrivals).await;
    let out = out.to_owned();
    tokio::spawn(async move {
        while let Some(arrival) = arrivals.recv().await {
            if let Arrival::Message(message) = arrival {
                let _ = client
                    .publish(out.clone(), qos, false, message.payload)
                    .await;
            }
        }
    });
}

/// Times ROUND_TRIPS requests one after another, in microseconds.
async fn round_trips(port: u16, topic: &str, reply: &str, responder: bool) -> Vec<f64> {
    if responder {
        let (client, mut requests) = connect(port).await;
        client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
        wait_subscribed(&mut requests).await;
        tokio::spawn(async move {
            while let Some(arrival) = requests.recv().await {
                if let Arrival::Message(request) = arrival {
                    let properties = request.properties.unwrap_or_default();
                    let answer = PublishProperties {
                        correlation_data: properties.correlation_data,
                        ..PublishProperties::default()
                    };
                    let to = properties.response_topic.unwrap_or_default();
                    let body = format!("world {}", String::from_utf8_lossy(&request.payload));
                    let _ = client
                        .publish_with_properties(to, QoS::AtLeastOnce, false, body, answer)
                        .await;
                }
            }
        });
    }
    let (client, mut replies) = connect(port).await;
    client.subscribe(reply, QoS::AtLeastOnce).await.unwrap();
    wait_subscribed(&mut replies).await;
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for n in 0..ROUND_TRIPS {
        let properties = PublishProperties {
            response_topic: Some(reply.to_owned()),
            correlation_data: Some(Bytes::from(n.to_string())),
            ..PublishProperties::default()
        };
        let started = Instant::now();
        client
            .publish_with_properties(topic, QoS::AtLeastOnce, false, "request", properties)
            .await
            .unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(5), replies.recv()).await {
                Ok(Some(Arrival::Message(_))) => break,
                Ok(Some(Arrival::Subscribed)) => {}
                _ => panic!("no reply on {reply}"),
            }
        }
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let _ = client.disconnect().await;
    times
}

enum Arrival {
    Subscribed,
    Message(Box<Publish>),
}

async fn connect(port: u16) -> (AsyncClient, mpsc::UnboundedReceiver<Arrival>) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = format!(
        "bench-{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options.set_max_packet_size(Some(1 << 20));
    let mut network = options.network_options();
    network.set_tcp_nodelay(true);
    options.set_network_options(network);
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    let (tell, arrivals) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let _ = tell.send(Arrival::Message(Box::new(publish)));
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = tell.send(Arrival::Subscribed);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    (client, arrivals)
}

async fn wait_subscribed(arrivals: &mut mpsc::UnboundedReceiver<Arrival>) {
    while let Some(arrival) = arrivals.recv().await {
        if matches!(arrival, Arrival::Subscribed) {
            return;
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn p(times: &[f64], quantile: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() as f64 * quantile) as usize).min(sorted.len() - 1)]
}

fn percentiles(times: &[f64]) -> String {
    format!("{:>7.0} us / {:>7.0} us", p(times, 0.5), p(times, 0.99))
}

/// Whether the binary is this build's: another (`FENN_BENCH_BIN`, an
/// older commit) may not have the host calls the relay guest imports.
fn this_build() -> bool {
    std::env::var_os("FENN_BENCH_BIN").is_none()
}

fn fenn_config(port: u16) -> String {
    let relay = if this_build() {
        format!(
            r#"
# A guest that publishes what it receives through the host call: a
# subscriber's receipt against the reply fenn itself publishes.
[[function]]
name = "relay"
module = "{}"
publish = ["relay/out"]
vars = {{ TOPIC = "relay/out" }}
  [[function.mqtt]]
  topic = "bench/relay"
"#,
            env!("FENN_GUEST_RELAY")
        )
    } else {
        String::new()
    };
    format!(
        r#"
[mqtt]
url = "mqtt://127.0.0.1:{port}"

[[function]]
name = "hello"
module = "example:hello"
  [[function.mqtt]]
  topic = "bench/q0/in"
  qos = 0
  reply = "bench/q0/out"
  [[function.mqtt]]
  topic = "bench/q1/in"
  reply = "bench/q1/out"
  [[function.mqtt]]
  topic = "bench/rr"
{relay}"#
    )
}
