//! What fenn serves: every function and flow with its bindings (they
//! share one name space), from the config file or deployed, and the one check that two functions' bindings do
//! not collide (each trigger's own check over every function's bindings
//! of its kind: routes that overlap, a topic subscribed twice, MQTT replies
//! feeding subscriptions back to where they started). A pure value: a
//! change builds a new catalog (or says what collides), and the triggers
//! are handed its bindings.

use fenn_config::{BindingSet, Config, FlowConfig, FunctionConfig, Setups};
use fenn_runtime::trigger::Binding;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a function comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The config file: changed by editing it, read-only to the API.
    Config,
    /// The management API's store.
    Deployed,
}

/// A function's or a flow's bindings.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The config file, or a deploy.
    pub origin: Origin,
    /// Its bindings, by trigger kind.
    pub bindings: BindingSet,
    /// Whether it is a flow's, not a function's.
    pub flow: bool,
}

impl Entry {
    /// A deployed function's entry.
    pub fn deployed(function: &FunctionConfig) -> Self {
        Self {
            origin: Origin::Deployed,
            bindings: function.bindings.clone(),
            flow: false,
        }
    }

    /// A deployed flow's entry.
    pub fn deployed_flow(flow: &FlowConfig) -> Self {
        Self {
            origin: Origin::Deployed,
            bindings: flow.bindings.clone(),
            flow: true,
        }
    }
}

/// Every function served, by name, and the triggers that check them.
#[derive(Debug, Clone)]
pub struct Catalog {
    entries: BTreeMap<String, Arc<Entry>>,
    setups: Arc<Setups>,
}

impl Catalog {
    /// The config file's functions and flows.
    pub fn from_config(config: &Config) -> Self {
        let functions =
            (config.functions.iter()).map(|function| (&function.name, &function.bindings, false));
        let flows = (config.flows.iter()).map(|flow| (&flow.name, &flow.bindings, true));
        let entries = functions
            .chain(flows)
            .map(|(name, bindings, flow)| {
                let entry = Entry {
                    origin: Origin::Config,
                    bindings: bindings.clone(),
                    flow,
                };
                (name.clone(), Arc::new(entry))
            })
            .collect();
        Self {
            entries,
            setups: config.setups.clone(),
        }
    }

    /// Every registered trigger's settings.
    pub fn setups(&self) -> &Arc<Setups> {
        &self.setups
    }

    /// Where `name` comes from, if it is served.
    pub fn origin(&self, name: &str) -> Option<Origin> {
        self.entries.get(name).map(|entry| entry.origin)
    }

    /// Every function and flow and its bindings, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries
            .iter()
            .map(|(name, entry)| (name.as_str(), &**entry))
    }

    /// `name`'s bindings, if it is served.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name).map(|entry| &**entry)
    }

    /// The catalog with `entry` as `name` (added, or in place of the one
    /// before), or what collides with another function's bindings.
    pub fn with(&self, name: &str, entry: Entry) -> Result<Self, String> {
        // The new bindings go last, so that a collision names the
        // function that holds the binding, not the newcomer.
        let others = self.without(name);
        for setup in self.setups.iter() {
            let kind = setup.kind();
            let mine = entry.bindings.of(kind);
            if mine.is_empty() {
                continue;
            }
            let all: Vec<Arc<dyn Binding>> = others
                .bindings(kind)
                .into_iter()
                .chain(mine.iter().cloned())
                .collect();
            setup.check(&all).map_err(|collision| collision.reason)?;
        }
        let mut next = self.clone();
        next.entries.insert(name.to_owned(), Arc::new(entry));
        Ok(next)
    }

    /// The catalog without `name`.
    pub fn without(&self, name: &str) -> Self {
        let mut next = self.clone();
        next.entries.remove(name);
        next
    }

    /// Every binding of `kind`, config functions' first, as they were
    /// declared.
    pub fn bindings(&self, kind: &str) -> Vec<Arc<dyn Binding>> {
        let config = self.entries.values().filter(|e| e.origin == Origin::Config);
        let deployed = self
            .entries
            .values()
            .filter(|e| e.origin == Origin::Deployed);
        config
            .chain(deployed)
            .flat_map(|e| e.bindings.of(kind).iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fenn_config::definition;
    use serde_json::json;

    fn setups() -> Arc<Setups> {
        let mqtt = "[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\n";
        let state = Some(std::path::Path::new("/var/lib/fenn"));
        let registry = fenn_config::Registry {
            kinds: &[
                &fenn_http::HttpKind,
                &fenn_mqtt::MqttKind,
                &fenn_cron::CronKind,
            ],
            examples: &[],
        };
        fenn_config::from_sections(mqtt, state, registry).unwrap()
    }

    fn entry(name: &str, value: &serde_json::Value) -> Entry {
        Entry::deployed(&definition(name, value, &setups(), "m".into()).unwrap())
    }

    fn catalog() -> Catalog {
        Catalog {
            entries: BTreeMap::new(),
            setups: setups(),
        }
    }

    #[test]
    fn a_binding_taken_by_another_function_is_named_and_nothing_changes() {
        let catalog = catalog()
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
        assert_eq!(catalog.bindings("http").len(), 1);
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
        assert_eq!(again.bindings("http").len(), 2);
        assert!(again.bindings("mqtt").is_empty() && again.bindings("cron").is_empty());
        assert!(again.without("a").bindings("http").is_empty());
    }
}
