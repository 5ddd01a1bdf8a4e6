//! The MQTT trigger as it runs, as the rest of fenn sees it: started from
//! its settings ([`start`], the embedded broker first when it is on), its
//! subscriptions changed ([`MqttApply`]), and its metrics, readiness,
//! status and hints ([`MqttReport`]).

use crate::link::Link;
use crate::{MqttBindings, MqttRoute, MqttSettings, MqttStats, MqttTrigger, Publisher};
use fenn_runtime::Bindings as _;
use fenn_runtime::trigger::{Apply, Binding, Host, Metric, Report, Running, kind::clamp};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::watch;

/// Starts the embedded broker when `embedded` says where, then builds the
/// trigger for `host`'s bindings.
pub(super) fn start(
    settings: &MqttSettings,
    embedded: Option<SocketAddr>,
    host: Host<'_>,
) -> Result<Running, String> {
    if let Some(address) = embedded {
        embedded_broker(address, settings.max_packet_bytes)?;
    }
    let routes = routes(&host.bindings)?;
    let services = host.dispatcher.services().clone();
    let trigger = MqttTrigger::new(settings.clone(), routes, host.dispatcher)
        .map_err(|error| format!("cannot open the MQTT outbox: {error}"))?;
    // Functions publish through the same publisher, waiting on the async
    // runtime that runs this trigger from their worker threads (started
    // outside one, as a unit test does, there is nothing to wait on).
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let from_functions =
            crate::from_functions::FunctionPublisher::new(trigger.publisher(), runtime);
        services.bind_publish(Arc::new(from_functions));
    }
    let report = MqttReport {
        link: trigger.link(),
        stats: trigger.stats(),
        publisher: trigger.publisher(),
        bindings: trigger.bindings(),
        broker: (settings.host.clone(), settings.port),
    };
    Ok(Running {
        apply: Box::new(MqttApply(trigger.bindings())),
        report: Arc::new(report),
        sink: Some(Arc::new(trigger.publisher())),
        trigger: Box::new(trigger),
        address: None,
    })
}

/// The subscriptions among `bindings`.
fn routes(bindings: &[Arc<dyn Binding>]) -> Result<Vec<MqttRoute>, String> {
    bindings
        .iter()
        .map(|binding| {
            binding
                .as_any()
                .downcast_ref::<MqttRoute>()
                .cloned()
                .ok_or_else(|| format!("{binding:?} is not an MQTT subscription"))
        })
        .collect()
}

/// Changes a running MQTT trigger's subscriptions.
struct MqttApply(MqttBindings);

impl Apply for MqttApply {
    fn apply(&self, bindings: &[Arc<dyn Binding>]) -> Result<(), String> {
        let routes = routes(bindings)?;
        self.0.apply(routes).map_err(|never| match never {})
    }
}

/// What a running MQTT trigger tells the management API.
struct MqttReport {
    link: watch::Receiver<Link>,
    stats: Arc<MqttStats>,
    publisher: Publisher,
    bindings: MqttBindings,
    /// The broker's host and port.
    broker: (String, u16),
}

impl Report for MqttReport {
    fn metrics(&self) -> Vec<Metric> {
        let link = *self.link.borrow();
        let stats = &self.stats;
        let gauge = |name, help, value| Metric::Gauge { name, help, value };
        let counter = |name, help, value| Metric::Counter {
            name,
            help,
            series: vec![(Vec::new(), value)],
        };
        vec![
            gauge(
                "fenn_mqtt_connected",
                "1 while fenn is connected to the MQTT broker",
                i64::from(link.up),
            ),
            counter(
                "fenn_mqtt_reconnects",
                "Connections to the broker made after the first",
                link.epoch.saturating_sub(1),
            ),
            gauge(
                "fenn_mqtt_outbox_records",
                "Results waiting in the outbox for the broker",
                clamp(stats.outbox_records.load(Ordering::Relaxed)),
            ),
            gauge(
                "fenn_mqtt_outbox_bytes",
                "Bytes of the results waiting in the outbox",
                clamp(stats.outbox_bytes.load(Ordering::Relaxed)),
            ),
            counter(
                "fenn_mqtt_dropped_qos0",
                "QoS 0 messages dropped while the functions were saturated",
                stats.dropped_qos0.load(Ordering::Relaxed),
            ),
            counter(
                "fenn_mqtt_refused_hops",
                "Messages not run: they came through too many fenn replies (a loop through the broker)",
                stats.refused_hops.load(Ordering::Relaxed),
            ),
            counter(
                "fenn_mqtt_results_lost",
                "Results dropped or lost before the broker or the outbox had them",
                self.publisher.lost(),
            ),
        ]
    }

    /// Ready while connected to the broker.
    fn readiness(&self) -> Option<(&'static str, bool)> {
        Some(if self.link.borrow().up {
            ("connected", true)
        } else {
            ("disconnected", false)
        })
    }

    fn status(&self) -> Option<Value> {
        let link = *self.link.borrow();
        Some(json!({"connected": link.up, "reconnects": link.epoch.saturating_sub(1)}))
    }

    /// A `mosquitto_rr` that calls the first subscription.
    fn hints(&self) -> Vec<String> {
        let routes = self.bindings.routes().load_full();
        let Some(route) = routes.first() else {
            return Vec::new();
        };
        let (host, port) = &self.broker;
        let topic = route.filter.as_written().replace(['{', '}'], "");
        vec![format!(
            "try: mosquitto_rr -h {host} -p {port} -t {topic} -e replies/fenn -m '{{\"celsius\":31}}'"
        )]
    }
}

/// Starts the embedded broker, or says why there is none.
#[cfg(feature = "embedded-broker")]
fn embedded_broker(address: SocketAddr, max_packet_bytes: u32) -> Result<(), String> {
    use crate::embedded::{self, Embedded};
    match embedded::start(address, max_packet_bytes as usize)
        .map_err(|error| format!("cannot start the embedded MQTT broker on {address}: {error}"))?
    {
        Embedded::Started => {
            tracing::info!(%address, "embedded MQTT broker (MQTT 5) listening");
        }
        Embedded::AlreadyThere => {
            tracing::info!(%address, "an MQTT broker already listens there: fenn uses it");
        }
    }
    Ok(())
}

/// Without the `embedded-broker` build, fenn connects to the address and
/// waits for a broker there.
#[cfg(not(feature = "embedded-broker"))]
fn embedded_broker(address: SocketAddr, _max_packet_bytes: u32) -> Result<(), String> {
    tracing::warn!(%address, "mqtt.embedded: this fenn was built without the embedded broker (cargo feature embedded-broker); it connects to mqtt://{address} and retries until a broker listens there");
    Ok(())
}
