//! Changing a running MQTT trigger's subscriptions, the trigger driven as
//! a library against a real Mosquitto and Mosquitto's own clients.

use crate::util::{Broker, wait_until};
use fenn_abi::{Event, Response};
use fenn_mqtt::{MqttRoute, MqttSettings, MqttTrigger, ReplyTemplate, TopicFilter, Version};
use fenn_runtime::Bindings as _;
use std::sync::Arc;
use std::time::Duration;

/// Answers with the function's name, so a reply says which route took it.
struct Named;

impl fenn_runtime::FunctionHost for Named {
    async fn invoke(&self, function: &str, _event: Event) -> Result<Response, fenn_runtime::Error> {
        Ok(Response::ok(function))
    }
}

/// Asks until a reply comes (a subscription is made asynchronously).
fn request_until_answered(broker: &Broker, topic: &str) -> String {
    let what = format!("a reply on {topic}");
    wait_until(&what, Duration::from_secs(30), Duration::ZERO, || {
        broker.request(topic, "x", 1)
    })
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
    let broker = Broker::start_with_counters();
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
    assert_eq!(request_until_answered(&broker, "old/topic"), "old");
    bindings.apply(vec![route("new/topic", "new")]).unwrap();
    assert_eq!(request_until_answered(&broker, "new/topic"), "new");
    // The old filter is unsubscribed: at a tick when no reader of the
    // count is connected, the broker counts fenn's one subscription (two
    // were the old one kept); and a request there gets no reply.
    wait_until(
        "the old subscription to go",
        Duration::from_secs(30),
        Duration::from_millis(300),
        || (broker.subscriptions() == Some(1)).then_some(()),
    );
    assert_eq!(broker.request("old/topic", "x", 2), None);
    let _ = stop.send(());
    runtime.block_on(running).unwrap();
}
