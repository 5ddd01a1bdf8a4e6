//! The MQTT trigger in fenn's registry: [`MqttKind`] reads `[mqtt]` and
//! `[[function.mqtt]]` from the tables the config passes through, and
//! [`MqttSetup`] checks the subscriptions, tells cron where results may be
//! published, and starts the trigger.
//!
//! # Layout
//!
//! - `broker`: `[mqtt]` as written, validated into [`MqttSettings`].
//! - `pem`: the TLS files it names, read within bounds.
//! - `running`: the trigger started, its subscriptions changed, and what
//!   it reports (metrics, readiness, status).

mod broker;
mod running;

use crate::topic::is_plain_topic;
use crate::{MqttRoute, MqttSettings, RawSubscription, find_loop};
use fenn_runtime::trigger::kind::parse;
use fenn_runtime::trigger::{
    Binding, BindingError, Collision, FunctionInfo, Host, KeyError, Running, SinkCheck, Sinks,
    Tables, TriggerKind, TriggerSetup,
};
use serde_json::Value;
use std::any::Any;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Why a subscription or a `publish` is refused without `[mqtt]`.
pub const NO_BROKER: &str = "needs an [mqtt] section naming the broker";

/// The MQTT trigger's kind: `[mqtt]` and `[[function.mqtt]]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MqttKind;

impl TriggerKind for MqttKind {
    fn kind(&self) -> &'static str {
        "mqtt"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["mqtt"]
    }

    /// `[mqtt]`; absent, there is no MQTT.
    fn settings(&self, tables: &Tables<'_>, errors: &mut Vec<KeyError>) -> Arc<dyn TriggerSetup> {
        let setup = match tables.sections.get("mqtt") {
            None => MqttSetup::default(),
            Some(section) => MqttSetup {
                present: true,
                broker: broker::read(section, tables.common, errors),
            },
        };
        Arc::new(setup)
    }
}

/// `[mqtt]`, validated: the broker, and where the embedded one listens.
#[derive(Default)]
pub struct MqttSetup {
    /// The section is there (its subscriptions are read even when it is
    /// in error).
    present: bool,
    /// None when absent or in error.
    broker: Option<(MqttSettings, Option<SocketAddr>)>,
}

impl std::fmt::Debug for MqttSetup {
    /// Without the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let broker = self.settings().map(|s| format!("{}:{}", s.host, s.port));
        f.debug_struct("MqttSetup")
            .field("present", &self.present)
            .field("broker", &broker)
            .field("embedded", &self.embedded())
            .finish()
    }
}

impl MqttSetup {
    /// How to reach the broker; None without `[mqtt]`, or with it in error.
    pub fn settings(&self) -> Option<&MqttSettings> {
        self.broker.as_ref().map(|(settings, _)| settings)
    }

    /// `mqtt.embedded`: where the embedded broker listens, when it is on.
    pub fn embedded(&self) -> Option<SocketAddr> {
        self.broker.as_ref().and_then(|(_, embedded)| *embedded)
    }
}

impl TriggerSetup for MqttSetup {
    fn kind(&self) -> &'static str {
        "mqtt"
    }

    /// With an `[mqtt]` section only.
    fn enabled(&self) -> bool {
        self.present
    }

    fn bindings(
        &self,
        function: &FunctionInfo<'_>,
        raw: &[Value],
        _sinks: &Sinks,
    ) -> Vec<Result<Arc<dyn Binding>, BindingError>> {
        let binding = |value: &Value| -> Result<Arc<dyn Binding>, BindingError> {
            if !self.present {
                return Err(BindingError::new("", NO_BROKER));
            }
            let route = parse::<RawSubscription>(value)?.validate(function.name)?;
            Ok(Arc::new(route))
        };
        raw.iter().map(binding).collect()
    }

    /// A filter subscribed by two functions, or replies that feed each
    /// other's subscriptions in a loop.
    fn check(&self, bindings: &[Arc<dyn Binding>]) -> Result<(), Collision> {
        let routes: Vec<(usize, &MqttRoute)> = bindings
            .iter()
            .enumerate()
            .filter_map(|(at, binding)| Some((at, binding.as_any().downcast_ref()?)))
            .collect();
        let mut holders: HashMap<String, &str> = HashMap::new();
        for (at, route) in &routes {
            let holder = holders
                .entry(route.filter.subscription())
                .or_insert(&route.function);
            if *holder != route.function {
                return Err(Collision {
                    at: *at,
                    field: String::new(),
                    reason: format!(
                        "MQTT topic '{}' is already subscribed by function '{holder}'",
                        route.filter.as_written()
                    ),
                });
            }
        }
        let owned: Vec<MqttRoute> = routes.iter().map(|(_, route)| (*route).clone()).collect();
        match find_loop(&owned) {
            None => Ok(()),
            Some(cycle) => Err(Collision {
                at: cycle.routes.first().map_or(0, |first| routes[*first].0),
                field: "reply".into(),
                reason: cycle.to_string(),
            }),
        }
    }

    /// Topics, for cron's `publish`.
    fn sink(&self) -> Option<Arc<dyn SinkCheck>> {
        self.present.then(|| Arc::new(Topics) as Arc<dyn SinkCheck>)
    }

    /// `MQTT broker mqtt://host:port`.
    fn announce(&self) -> Vec<String> {
        let Some(settings) = self.settings() else {
            return Vec::new();
        };
        let embedded = if self.embedded().is_some() {
            " (embedded unless one already listens there)"
        } else {
            ""
        };
        let scheme = if settings.tls.is_some() {
            "mqtts"
        } else {
            "mqtt"
        };
        vec![format!(
            "MQTT broker {scheme}://{}:{}{embedded}",
            settings.host, settings.port
        )]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    /// The embedded broker when it is on, then the trigger, with its
    /// publisher as the result sink.
    fn start(&self, host: Host<'_>) -> Result<Running, String> {
        let Some((settings, embedded)) = &self.broker else {
            return Err("[mqtt] is missing or in error: no MQTT trigger to start".into());
        };
        running::start(settings, *embedded, host)
    }
}

/// Topics results may be published to: plain ones, no wildcards.
struct Topics;

impl SinkCheck for Topics {
    fn check(&self, topic: &str) -> Result<(), String> {
        if is_plain_topic(topic) {
            Ok(())
        } else {
            Err(format!(
                "'{topic}' is not a topic to publish to (no wildcards)"
            ))
        }
    }
}

impl Binding for MqttRoute {
    fn function(&self) -> &str {
        &self.function
    }

    /// The filter as written.
    fn view(&self) -> Value {
        Value::String(self.filter.as_written().to_owned())
    }

    /// `mqtt s/+`.
    fn summary(&self) -> String {
        format!("mqtt {}", self.filter.as_written())
    }

    fn announce(&self) -> [String; 3] {
        let reply = self
            .reply
            .as_ref()
            .map(|reply| format!(" (replies to {})", reply.as_written()))
            .unwrap_or_default();
        ["MQTT".into(), self.filter.as_written().to_owned(), reply]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests;
