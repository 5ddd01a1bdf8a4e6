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
