//! Changing a running MQTT trigger's subscriptions, against a real
//! Mosquitto on a free port and Mosquitto's own request/reply client.

// Test code: an unwrap that fails is a failed test.
#![allow(clippy::unwrap_used)]

use fenn_abi::{Event, Response};
use fenn_mqtt::{MqttRoute, MqttSettings, MqttTrigger, ReplyTemplate, TopicFilter, Version};
use fenn_runtime::Bindings as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Answers with the function's name, so a reply says which route took it.
struct Named;

impl fenn_runtime::FunctionHost for Named {
    async fn invoke(&self, function: &str, _event: Event) -> Result<Response, fenn_runtime::Error> {
        Ok(Response::ok(function))
    }
}

/// Mosquitto on a free port, stopped on drop.
struct Broker {
    child: Child,
    port: u16,
    config: std::path::PathBuf,
}

impl Broker {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = std::env::temp_dir().join(format!("fenn-bindings-{port}.conf"));
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nsys_interval 1\n"
            ),
        )
        .unwrap();
        let program = ["mosquitto", "/usr/sbin/mosquitto"]
            .into_iter()
            .find(|program| Command::new(program).arg("-h").output().is_ok())
            .expect("mosquitto is installed (tests/run installs it)");
        let child = Command::new(program)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Self {
            child,
            port,
            config,
        }
    }

    /// One request with a reply topic, waiting `seconds` for the reply.
    fn request(&self, topic: &str, seconds: u32) -> Option<String> {
        let output = Command::new("mosquitto_rr")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q", "1"])
            .args(["-t", topic, "-e", &format!("{topic}/reply"), "-m", "x"])
            .args(["-W", &seconds.to_string()])
            .output()
            .unwrap();
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// The broker's count of subscriptions, as it publishes it each second
    /// (this reader's own included).
    fn subscriptions(&self) -> Option<u64> {
        let output = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-t",
                "$SYS/broker/subscriptions/count",
                "-C",
                "1",
                "-W",
                "5",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    }

    /// Asks until a reply comes (a subscription is made asynchronously).
    fn request_until_answered(&self, topic: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(reply) = self.request(topic, 1) {
                return reply;
            }
            assert!(Instant::now() < deadline, "no reply on {topic}");
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}

fn route(topic: &str, function: &str) -> MqttRoute {
    let filter = TopicFilter::parse(topic).unwrap();
    MqttRoute {
        reply: Some(ReplyTemplate::new(&format!("{topic}/fallback"), &filter).unwrap()),
        filter,
        qos: 1,
        function: function.into(),
    }
}

#[test]
fn subscriptions_follow_a_new_set_of_routes_on_the_live_connection() {
    let broker = Broker::start();
    let settings = MqttSettings {
        host: "127.0.0.1".into(),
        port: broker.port,
        client_id: format!("fenn-bindings-{}", broker.port),
        credentials: None,
        keep_alive: Duration::from_secs(30),
        max_in_flight: 8,
        max_packet_bytes: 1 << 20,
        shutdown_grace: Duration::from_secs(1),
        tls: None,
        version: Version::V5,
        session_expiry: None,
        outbox_dir: None,
        outbox_bytes: 1 << 20,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let trigger = runtime
        .block_on(async {
            MqttTrigger::new(settings, vec![route("old/topic", "old")], Arc::new(Named))
        })
        .unwrap();
    let bindings = trigger.bindings();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = runtime.spawn(trigger.run(async {
        let _ = stopped.await;
    }));
    assert_eq!(broker.request_until_answered("old/topic"), "old");
    bindings.apply(vec![route("new/topic", "new")]).unwrap();
    assert_eq!(broker.request_until_answered("new/topic"), "new");
    // The old filter is unsubscribed: at a tick when no reader of the
    // count is connected, the broker counts fenn's one subscription (two
    // were the old one kept); and a request there gets no reply.
    let deadline = Instant::now() + Duration::from_secs(30);
    while broker.subscriptions() != Some(1) {
        assert!(Instant::now() < deadline, "the old subscription stayed");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(broker.request("old/topic", 2), None);
    let _ = stop.send(());
    runtime.block_on(running).unwrap();
}
