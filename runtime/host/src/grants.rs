//! What a function may reach beyond its event, as its definition grants
//! it: variables and secrets, a key-value store, MQTT topics to publish
//! to, functions to emit events to. A module that imports a call its
//! grants do not cover is refused at deploy ([`Grants::check_import`]).
//!
//! Plain values, no I/O: the host calls ask them.

use fenn_abi::calls;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most variables and secrets a function may have.
pub const MAX_VARS: usize = 256;
/// The largest variable or secret, in bytes.
pub const MAX_VAR_BYTES: usize = 64 << 10;

/// A function's grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Variables and secrets by name.
    pub vars: BTreeMap<String, Var>,
    /// Its key-value store, when it has one.
    pub kv: Option<KvGrant>,
    /// MQTT topic filters it may publish to (`+` and `#` wildcards).
    pub publish: Vec<String>,
    /// Functions it may emit events to.
    pub emit: Vec<String>,
}

/// A variable's value; a secret's is never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Var {
    /// The value.
    pub value: Arc<str>,
    /// Whether it is a secret: left out of every view and log line.
    pub secret: bool,
}

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.secret {
            f.write_str("Var(secret)")
        } else {
            write!(f, "Var({:?})", self.value)
        }
    }
}

/// A function's key-value store: its namespace and quotas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvGrant {
    /// The namespace it reads and writes: the function's name, or a
    /// shared store's.
    pub store: Arc<str>,
    /// Keys the namespace may hold.
    pub max_keys: u64,
    /// Bytes of keys and values the namespace may hold.
    pub max_bytes: u64,
    /// The largest value, in bytes.
    pub max_value: usize,
}

/// The largest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;

impl KvGrant {
    /// The defaults for a function's own store.
    pub fn own(function: &str) -> Self {
        Self {
            store: function.into(),
            max_keys: 10_000,
            max_bytes: 16 << 20,
            max_value: 64 << 10,
        }
    }
}

impl Grants {
    /// Every call granted (the store a namespace of its own, any topic,
    /// no function to emit to but a name none has): for checking or
    /// running a module without its definition, where only the ABI is
    /// checked and the calls answer that their services are not there.
    pub fn any() -> Self {
        Self {
            vars: BTreeMap::new(),
            kv: Some(KvGrant::own("check")),
            publish: vec!["#".into()],
            emit: vec![String::new()],
        }
    }

    /// Whether a module may import `name` from the host module, and if not,
    /// the grant it lacks. Logging, the clock, variables and the last
    /// error are every function's.
    ///
    /// # Errors
    ///
    /// The grant to add to the function's definition.
    pub fn check_import(&self, name: &str) -> Result<(), String> {
        let kv = [
            calls::IMPORT_KV_GET,
            calls::IMPORT_KV_SET,
            calls::IMPORT_KV_DELETE,
            calls::IMPORT_KV_LIST,
            calls::IMPORT_KV_INCR,
            calls::IMPORT_KV_CAS,
        ];
        if kv.contains(&name) && self.kv.is_none() {
            return Err(format!(
                "imports the key-value store (fenn.{name}) without the grant: set `kv = true` in the function's definition"
            ));
        }
        if name == calls::IMPORT_PUBLISH && self.publish.is_empty() {
            return Err(
                "imports fenn.publish without the grant: list the topics it may publish to in `publish = [\"...\"]`".into(),
            );
        }
        if name == calls::IMPORT_EMIT && self.emit.is_empty() {
            return Err(
                "imports fenn.emit without the grant: list the functions it may emit to in `emit = [\"...\"]`".into(),
            );
        }
        Ok(())
    }

    /// Whether publishing to `topic` is granted.
    pub fn may_publish(&self, topic: &str) -> bool {
        self.publish
            .iter()
            .any(|filter| topic_matches(filter, topic))
    }

    /// Whether emitting to `function` is granted.
    pub fn may_emit(&self, function: &str) -> bool {
        self.emit.iter().any(|granted| granted == function)
    }
}

/// Whether an MQTT topic filter (`+` one level, `#` the rest) matches a
/// topic. A topic with a wildcard of its own matches nothing.
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    if topic.contains(['+', '#']) || topic.is_empty() {
        return false;
    }
    let mut levels = topic.split('/');
    for part in filter.split('/') {
        match (part, levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (part, Some(level)) if part == level => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_filters_match_as_mqtt_says() {
        let cases = [
            ("alerts/#", "alerts/kitchen", true),
            ("alerts/#", "alerts/kitchen/temp", true),
            ("alerts/#", "alerts", true),
            ("alerts/+", "alerts/kitchen", true),
            ("alerts/+", "alerts/kitchen/temp", false),
            ("alerts/+/temp", "alerts/attic/temp", true),
            ("alerts/kitchen", "alerts/kitchen", true),
            ("alerts/kitchen", "alerts/attic", false),
            ("alerts/kitchen", "alerts/kitchen/x", false),
            ("alerts/#", "other/kitchen", false),
            ("alerts/#", "alerts/+", false),
            ("#", "", false),
        ];
        for (filter, topic, expected) in cases {
            assert_eq!(topic_matches(filter, topic), expected, "{filter} {topic}");
        }
    }

    #[test]
    fn an_import_without_its_grant_names_the_grant() {
        let none = Grants::default();
        assert!(none.check_import("log").is_ok());
        assert!(none.check_import(calls::IMPORT_VAR).is_ok());
        let kv = none.check_import(calls::IMPORT_KV_SET).unwrap_err();
        assert!(kv.contains("kv = true"), "{kv}");
        let publish = none.check_import(calls::IMPORT_PUBLISH).unwrap_err();
        assert!(publish.contains("publish = ["), "{publish}");
        let emit = none.check_import(calls::IMPORT_EMIT).unwrap_err();
        assert!(emit.contains("emit = ["), "{emit}");
        let all = Grants {
            kv: Some(KvGrant::own("f")),
            publish: vec!["a/#".into()],
            emit: vec!["g".into()],
            ..Grants::default()
        };
        for name in [
            calls::IMPORT_KV_CAS,
            calls::IMPORT_PUBLISH,
            calls::IMPORT_EMIT,
        ] {
            assert!(all.check_import(name).is_ok());
        }
        assert!(all.may_publish("a/b") && !all.may_publish("b/a"));
        assert!(all.may_emit("g") && !all.may_emit("h"));
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let secret = Var {
            value: "hunter2".into(),
            secret: true,
        };
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
