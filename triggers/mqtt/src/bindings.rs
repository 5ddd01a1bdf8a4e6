//! The subscriptions a running MQTT trigger serves, and changing them
//! without a restart: [`MqttBindings`]'s `apply` swaps the routes messages are
//! matched against at once, and the trigger subscribes to the filters that
//! came and unsubscribes from those that went, on the live connection (the
//! session and the outbox stay).

use crate::MqttRoute;
use arc_swap::ArcSwap;
use fenn_runtime::Bindings;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;

/// The routes in force, read by every message without a lock.
pub(crate) type Routes = Arc<ArcSwap<Vec<MqttRoute>>>;

/// A handle that changes a running trigger's subscriptions.
#[derive(Debug, Clone)]
pub struct MqttBindings {
    routes: Routes,
    changed: Arc<watch::Sender<()>>,
}

impl MqttBindings {
    /// A handle for `routes`, and the end the trigger watches.
    pub(crate) fn new(routes: Vec<MqttRoute>) -> (Self, watch::Receiver<()>) {
        let (changed, watched) = watch::channel(());
        let bindings = Self {
            routes: Arc::new(ArcSwap::from_pointee(routes)),
            changed: Arc::new(changed),
        };
        (bindings, watched)
    }

    /// The routes in force.
    pub(crate) fn routes(&self) -> Routes {
        self.routes.clone()
    }
}

impl Bindings for MqttBindings {
    type Binding = MqttRoute;
    type Error = std::convert::Infallible;

    /// Serves `routes` from now on: a message that arrives after this
    /// returns is matched against them; the subscriptions follow.
    fn apply(&self, routes: Vec<MqttRoute>) -> Result<(), Self::Error> {
        self.routes.store(Arc::new(routes));
        self.changed.send_replace(());
        Ok(())
    }
}

/// The subscriptions `routes` need: each filter once, at the highest QoS
/// any of its routes asks for.
pub(crate) fn wanted(routes: &[MqttRoute]) -> BTreeMap<String, u8> {
    let mut filters = BTreeMap::new();
    for route in routes {
        let qos = filters.entry(route.filter.subscription()).or_insert(0);
        *qos = (*qos).max(route.qos);
    }
    filters
}

/// What to subscribe to (new filters, or a new QoS) and to unsubscribe
/// from, to go from `before` to `after`.
pub(crate) fn changes(
    before: &BTreeMap<String, u8>,
    after: &BTreeMap<String, u8>,
) -> (Vec<(String, u8)>, Vec<String>) {
    let subscribe = after
        .iter()
        .filter(|(filter, qos)| before.get(*filter) != Some(qos))
        .map(|(filter, qos)| (filter.clone(), *qos))
        .collect();
    let unsubscribe = before
        .keys()
        .filter(|filter| !after.contains_key(*filter))
        .cloned()
        .collect();
    (subscribe, unsubscribe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TopicFilter;

    fn route(filter: &str, qos: u8) -> MqttRoute {
        MqttRoute {
            filter: TopicFilter::parse(filter).unwrap(),
            qos,
            function: "f".into(),
            reply: None,
        }
    }

    #[test]
    fn new_filters_and_qos_are_subscribed_and_gone_ones_unsubscribed() {
        let before = wanted(&[route("a/{x}", 1), route("b/#", 0), route("c", 1)]);
        let after = wanted(&[
            route("a/{y}", 1),
            route("b/#", 1),
            route("d", 0),
            route("d", 1),
        ]);
        let (subscribe, unsubscribe) = changes(&before, &after);
        assert_eq!(subscribe, [("b/#".to_owned(), 1), ("d".to_owned(), 1)]);
        assert_eq!(unsubscribe, ["c"]);
        assert_eq!(changes(&after, &after), (Vec::new(), Vec::new()));
    }
}
