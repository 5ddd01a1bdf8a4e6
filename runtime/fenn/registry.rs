//! The registry: every trigger fenn has, each its own crate. Config, the
//! catalog, the management API, the metrics and `serve` loop over these
//! and name none of them; a new trigger is one line here.

use fenn_config::Registry;
use fenn_runtime::trigger::TriggerKind;

/// The registered kinds, in the order they start and are shown: a kind
/// whose results another takes (MQTT's, for cron's `publish`) starts
/// before it.
pub static KINDS: &[&dyn TriggerKind] = &[
    &fenn_http::kind::HttpKind,
    &fenn_mqtt::kind::MqttKind,
    &fenn_cron::kind::CronKind,
];

/// What configs are read against: the kinds and the bundled examples.
pub fn registry() -> Registry {
    Registry {
        kinds: KINDS,
        examples: &crate::examples::NAMES,
    }
}

/// The registered kinds' names, in order.
pub fn names() -> Vec<&'static str> {
    KINDS.iter().map(|kind| kind.kind()).collect()
}

/// What the history and the metrics name as an invocation's trigger: the
/// registered kinds, and the steps of flows.
pub fn invoked_by() -> Vec<&'static str> {
    let mut names = names();
    names.push(fenn_runtime::flow::input::TRIGGER);
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn kinds_their_sections_and_their_server_keys_are_each_owned_once() {
        let mut names = BTreeSet::new();
        // fenn's own top-level keys, and the words /readyz and /v1/status
        // put beside each kind's.
        let mut sections: BTreeSet<&str> = [
            "server",
            "function",
            "admin",
            "ready",
            "functions",
            "history_bytes",
            "flows",
            "fleet",
        ]
        .into();
        let mut server_keys: BTreeSet<&str> =
            ["shutdown_grace", "workers", "guest_memory", "state_dir"].into();
        for kind in KINDS {
            assert!(names.insert(kind.kind()), "{} twice", kind.kind());
            assert!(sections.insert(kind.kind()) || kind.sections().contains(&kind.kind()));
            for section in kind.sections().iter().filter(|s| **s != kind.kind()) {
                assert!(sections.insert(section), "{section} owned twice");
            }
            for key in kind.server_keys() {
                assert!(server_keys.insert(key), "server.{key} owned twice");
            }
        }
    }
}
