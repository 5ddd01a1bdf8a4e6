//! The subscriptions a running MQTT trigger serves, and changing them
//! without a restart: [`MqttBindings`]'s `apply` swaps the routes messages are
//! matched against at once, and the trigger subscribes to the filters that
//! came and unsubscribes from those that went, on the live connection (the
//! session and the outbox stay).

use crate::MqttRoute;
use crate::session::Client;
use arc_swap::ArcSwap;
use fenn_runtime::Bindings;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

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
    /// returns is matched against them (one already waiting keeps the
    /// routes it arrived under); the subscriptions follow.
    fn apply(&self, routes: Vec<MqttRoute>) -> Result<(), Self::Error> {
        self.routes.store(Arc::new(routes));
        self.changed.send_replace(());
        Ok(())
    }
}

/// A change the subscription task makes, in the order asked.
#[derive(Debug)]
pub(crate) enum Subscription {
    /// A new connection: drop what the persistent session still holds of
    /// filters given up while disconnected, then subscribe to every one
    /// wanted.
    Connected {
        wanted: BTreeMap<String, u8>,
        stale: BTreeSet<String>,
    },
    /// The routes changed on the live connection.
    Change {
        subscribe: Vec<(String, u8)>,
        gone: Vec<String>,
    },
}

/// Makes the subscription changes one after the other, so that a later
/// change never overtakes an earlier one; ends when the trigger does.
pub(crate) async fn subscriber(client: Client, mut changes: mpsc::UnboundedReceiver<Subscription>) {
    while let Some(change) = changes.recv().await {
        let (subscribe, gone): (Vec<(String, u8)>, Vec<String>) = match change {
            Subscription::Connected { wanted, stale } => {
                (wanted.into_iter().collect(), stale.into_iter().collect())
            }
            Subscription::Change { subscribe, gone } => (subscribe, gone),
        };
        for filter in gone {
            match client.unsubscribe(filter.clone()).await {
                Ok(()) => tracing::info!(%filter, "MQTT unsubscribed"),
                Err(error) => tracing::warn!(%filter, %error, "MQTT: could not unsubscribe"),
            }
        }
        for (filter, qos) in subscribe {
            match client.subscribe(filter.clone(), qos).await {
                Ok(()) => tracing::info!(%filter, qos, "MQTT subscribed"),
                Err(error) => tracing::warn!(%filter, %error, "MQTT: could not subscribe"),
            }
        }
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
