//! What fenn serves: every function with its bindings, from the config
//! file or deployed, and the one check that two functions' bindings do
//! not collide (nor make an MQTT loop, replies feeding subscriptions back
//! to where they started). A pure value: a change builds a new catalog (or says what
//! collides), and the triggers are handed its bindings.

use crate::config::{Config, Definition};
use fenn_cron::CronSpec;
use fenn_http::{RouteSpec, RouteTable};
use fenn_mqtt::MqttRoute;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a function comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The config file: changed by editing it, read-only to the API.
    Config,
    /// The management API's store.
    Deployed,
}

/// A function's bindings.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) origin: Origin,
    pub(crate) routes: Vec<RouteSpec>,
    pub(crate) mqtt: Vec<MqttRoute>,
    pub(crate) schedules: Vec<CronSpec>,
}

impl Entry {
    /// A deployed function's entry.
    pub(crate) fn deployed(definition: &Definition) -> Self {
        Self {
            origin: Origin::Deployed,
            routes: definition.routes.clone(),
            mqtt: definition.mqtt.clone(),
            schedules: definition.schedules.clone(),
        }
    }
}

/// Every function served, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    entries: BTreeMap<String, Arc<Entry>>,
}

impl Catalog {
    /// The config file's functions.
    pub(crate) fn from_config(config: &Config) -> Self {
        let entries = config
            .functions
            .iter()
            .map(|function| {
                let name = &function.name;
                let entry = Entry {
                    origin: Origin::Config,
                    routes: filtered(&config.route_specs, |s| &s.function == name),
                    mqtt: filtered(&config.mqtt_routes, |r| &r.function == name),
                    schedules: filtered(&config.schedules, |s| &s.function == name),
                };
                (name.clone(), Arc::new(entry))
            })
            .collect();
        Self { entries }
    }

    /// Where `name` comes from, if it is served.
    pub(crate) fn origin(&self, name: &str) -> Option<Origin> {
        self.entries.get(name).map(|entry| entry.origin)
    }

    /// Every function and its bindings, by name.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries
            .iter()
            .map(|(name, entry)| (name.as_str(), &**entry))
    }

    /// `name`'s bindings, if it is served.
    pub(crate) fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name).map(|entry| &**entry)
    }

    /// The catalog with `entry` as `name` (added, or in place of the one
    /// before), or what collides with another function's bindings.
    pub(crate) fn with(&self, name: &str, entry: Entry) -> Result<Self, String> {
        for (other, theirs) in self.entries.iter().filter(|(other, _)| *other != name) {
            for route in &entry.mqtt {
                let filter = route.filter.subscription();
                if theirs
                    .mqtt
                    .iter()
                    .any(|r| r.filter.subscription() == filter)
                {
                    return Err(format!(
                        "MQTT topic '{}' is already subscribed by function '{other}'",
                        route.filter.as_written()
                    ));
                }
            }
            for schedule in &entry.schedules {
                if theirs.schedules.iter().any(|s| s.name == schedule.name) {
                    return Err(format!(
                        "cron schedule '{}' already belongs to function '{other}'",
                        schedule.name
                    ));
                }
            }
        }
        // The new routes go last, so that a collision names the function
        // that holds the route, not the newcomer.
        let others = self.without(name);
        // Without subscriptions of its own, the newcomer makes no loop.
        if !entry.mqtt.is_empty() {
            let mqtt: Vec<MqttRoute> = others
                .mqtt()
                .into_iter()
                .chain(entry.mqtt.iter().cloned())
                .collect();
            if let Some(found) = fenn_mqtt::find_loop(&mqtt) {
                return Err(found.to_string());
            }
        }
        let specs = others
            .routes()
            .into_iter()
            .chain(entry.routes.iter().cloned());
        RouteTable::new(specs).map_err(|error| others.name_holder(&error))?;
        let mut next = self.clone();
        next.entries.insert(name.to_owned(), Arc::new(entry));
        Ok(next)
    }

    /// A route collision as a person reads it: a template that overlaps
    /// another names the function that serves the other.
    fn name_holder(&self, error: &fenn_http::route::RouteError) -> String {
        let fenn_http::route::RouteError::Template { reason, .. } = error else {
            return error.to_string();
        };
        let holder = self.entries.iter().find_map(|(name, entry)| {
            let route = entry
                .routes
                .iter()
                .find(|r| reason.ends_with(&format!(": {}", r.route)))?;
            Some((name, &route.route))
        });
        match holder {
            Some((name, route)) => format!("{error} (served by function '{name}' as {route})"),
            None => error.to_string(),
        }
    }

    /// The catalog without `name`.
    pub(crate) fn without(&self, name: &str) -> Self {
        let mut next = self.clone();
        next.entries.remove(name);
        next
    }

    /// Every HTTP route, config functions' first, as they were declared.
    pub(crate) fn routes(&self) -> Vec<RouteSpec> {
        self.collect(|entry| &entry.routes)
    }

    /// Every MQTT subscription.
    pub(crate) fn mqtt(&self) -> Vec<MqttRoute> {
        self.collect(|entry| &entry.mqtt)
    }

    /// Every cron schedule.
    pub(crate) fn schedules(&self) -> Vec<CronSpec> {
        self.collect(|entry| &entry.schedules)
    }

    fn collect<T: Clone>(&self, part: impl Fn(&Entry) -> &Vec<T>) -> Vec<T> {
        let config = self.entries.values().filter(|e| e.origin == Origin::Config);
        let deployed = self
            .entries
            .values()
            .filter(|e| e.origin == Origin::Deployed);
        config
            .chain(deployed)
            .flat_map(|e| part(e).clone())
            .collect()
    }
}

fn filtered<T: Clone>(items: &[T], keep: impl Fn(&T) -> bool) -> Vec<T> {
    items.iter().filter(|item| keep(item)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Context, definition};
    use serde_json::json;

    fn entry(name: &str, value: &serde_json::Value) -> Entry {
        let context = Context {
            has_mqtt: true,
            has_state: true,
            buffer_bytes: 64 << 20,
            gateway: crate::config::PolicyNames::default(),
        };
        Entry::deployed(&definition(name, value, &context, "m".into()).unwrap())
    }

    #[test]
    fn a_binding_taken_by_another_function_is_named_and_nothing_changes() {
        let catalog = Catalog::default()
            .with("a", entry("a", &json!({"http": [{"route": "/a"}], "mqtt": [{"topic": "s/{room}"}], "cron": [{"name": "tick", "schedule": "every 5s"}]})))
            .unwrap();
        // Whichever name sorts first, the holder is named.
        for newcomer in ["0", "b"] {
            let route = catalog.with(
                newcomer,
                entry(newcomer, &json!({"http": [{"route": "/a"}]})),
            );
            assert!(
                route
                    .unwrap_err()
                    .contains("already served by function 'a'")
            );
        }
        let with_c = catalog
            .with("c", entry("c", &json!({"http": [{"route": "/c/{x}"}]})))
            .unwrap();
        let overlap = with_c.with("b", entry("b", &json!({"http": [{"route": "/c/{y}"}]})));
        let overlap = overlap.unwrap_err();
        assert!(
            overlap.contains("(served by function 'c' as /c/{x})"),
            "{overlap}"
        );
        let topic = catalog.with("b", entry("b", &json!({"mqtt": [{"topic": "s/+"}]})));
        assert_eq!(
            topic.unwrap_err(),
            "MQTT topic 's/+' is already subscribed by function 'a'"
        );
        let schedule = catalog.with(
            "b",
            entry(
                "b",
                &json!({"cron": [{"name": "tick", "schedule": "every 9s"}]}),
            ),
        );
        assert_eq!(
            schedule.unwrap_err(),
            "cron schedule 'tick' already belongs to function 'a'"
        );
        assert_eq!(catalog.routes().len(), 1);
        // A loop through two functions is named, whichever comes second.
        let ping = catalog
            .with(
                "ping",
                entry(
                    "ping",
                    &json!({"mqtt": [{"topic": "atk/pa/{x}", "reply": "atk/pb/{x}"}]}),
                ),
            )
            .unwrap();
        let pong = ping.with(
            "pong",
            entry(
                "pong",
                &json!({"mqtt": [{"topic": "atk/pb/{x}", "reply": "atk/pa/{x}"}]}),
            ),
        );
        assert_eq!(
            pong.unwrap_err(),
            "mqtt loop: ping (atk/pa/{x}) -> pong (atk/pb/{x}) -> ping (atk/pa/{x})"
        );
        let own = catalog.with("a2", entry("a2", &json!({"mqtt": [{"topic": "q/{x}", "reply": "r/{x}"}, {"topic": "r/{x}", "reply": "q/{x}"}]})));
        assert_eq!(
            own.unwrap_err(),
            "mqtt loop: a2 (q/{x}) -> a2 (r/{x}) -> a2 (q/{x})"
        );
        // A new version of the same function may keep its own bindings.
        let again = catalog
            .with(
                "a",
                entry("a", &json!({"http": [{"route": "/a"}, {"route": "/b"}]})),
            )
            .unwrap();
        assert_eq!(again.routes().len(), 2);
        assert!(again.mqtt().is_empty() && again.schedules().is_empty());
        assert!(again.without("a").routes().is_empty());
    }
}
