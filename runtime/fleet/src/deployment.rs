//! A deployment: the functions a group or a device is to serve, each by
//! its module's content hash, with the test event its health check sends;
//! what it replaces, for `fenn fleet rollback`; and its id, which only
//! moves forward.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most functions one deployment names.
pub const MAX_FUNCTIONS: usize = 100;
/// Bytes of a module's chunk: at most this, so that a chunk fits the
/// default payload limit of every broker fenn is tested on (NATS: 1 MiB).
pub const MAX_CHUNK: u32 = 1 << 20;
/// The least a chunk may be, so that a module is not split into millions.
pub const MIN_CHUNK: u32 = 1 << 10;

/// What a group or a device is to serve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Only moves forward: a device refuses one not newer than the last it
    /// had from the same topic (a replay).
    pub id: u64,
    /// The fleet's topic prefix: one signed for another fleet (staging's,
    /// say, with the same key) is refused.
    pub prefix: String,
    /// Who applies it.
    pub target: Target,
    /// The functions, each at one module.
    pub functions: Vec<Function>,
    /// What the deployment before it named: what a rollback restores.
    #[serde(default)]
    pub previous: Vec<Function>,
    /// Bytes of each module chunk but the last.
    pub chunk: u32,
    /// When the operator issued it, RFC 3339.
    pub issued_at: String,
}

/// Who a deployment is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum Target {
    /// A group; with `devices`, only those of its devices (a wave).
    Group {
        /// The group.
        group: String,
        /// The wave's devices; none: every device of the group.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        devices: Option<Vec<String>>,
    },
    /// One device.
    Device {
        /// The device.
        device: String,
    },
}

/// One function of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// The function's name.
    pub name: String,
    /// Its module's SHA-256, in lower-case hex.
    pub sha256: String,
    /// Its module's size in bytes.
    pub size: u64,
    /// Its definition, as the management API's deploy takes it.
    #[serde(default)]
    pub definition: Value,
    /// The health check's test event, and the status it must answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Test>,
}

/// A health check's test event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Test {
    /// The event, in the API-gateway format.
    pub event: Value,
    /// The status code it must answer.
    pub status: u16,
}

impl Deployment {
    /// Reads a deployment's text and checks what a device relies on.
    ///
    /// # Errors
    ///
    /// Why it is refused.
    pub fn parse(text: &str, max_module: u64) -> Result<Self, String> {
        let deployment: Self =
            serde_json::from_str(text).map_err(|error| format!("not a deployment: {error}"))?;
        deployment.check(max_module)?;
        Ok(deployment)
    }

    fn check(&self, max_module: u64) -> Result<(), String> {
        if !(MIN_CHUNK..=MAX_CHUNK).contains(&self.chunk) {
            return Err(format!(
                "chunks of {} bytes: from {MIN_CHUNK} to {MAX_CHUNK}",
                self.chunk
            ));
        }
        if self.functions.len() > MAX_FUNCTIONS || self.previous.len() > MAX_FUNCTIONS {
            return Err(format!("more than {MAX_FUNCTIONS} functions"));
        }
        let mut names = std::collections::BTreeSet::new();
        for function in &self.functions {
            if !names.insert(function.name.as_str()) {
                return Err(format!("function '{}' twice", function.name));
            }
            function.check(max_module)?;
        }
        match &self.target {
            Target::Group { group, devices } => {
                let names = std::iter::once(group).chain(devices.iter().flatten());
                if let Some(bad) = names.into_iter().find(|name| !crate::topics::is_name(name)) {
                    return Err(format!(
                        "'{}' is not a device's or group's name",
                        bad.escape_debug()
                    ));
                }
            }
            Target::Device { device } if !crate::topics::is_name(device) => {
                return Err(format!(
                    "'{}' is not a device's name",
                    device.escape_debug()
                ));
            }
            Target::Device { .. } => {}
        }
        Ok(())
    }

    /// Whether `device`, of `groups`, applies it.
    pub fn is_for(&self, device: &str, groups: &[String]) -> bool {
        match &self.target {
            Target::Device { device: named } => named == device,
            Target::Group { group, devices } => {
                groups.contains(group)
                    && devices
                        .as_ref()
                        .is_none_or(|devices| devices.iter().any(|named| named == device))
            }
        }
    }

    /// The topic it must arrive on, so that one signed for a group (or a
    /// fleet) is not replayed on another's.
    pub fn topic(&self) -> String {
        let topics = crate::Topics::new(&self.prefix);
        match &self.target {
            Target::Group { group, .. } => topics.group(group),
            Target::Device { device } => topics.device(device),
        }
    }

    /// The chunks `function`'s module is split into.
    pub fn chunks(&self, function: &Function) -> u32 {
        let chunks = function.size.div_ceil(u64::from(self.chunk)).max(1);
        u32::try_from(chunks).unwrap_or(u32::MAX)
    }
}

impl Function {
    fn check(&self, max_module: u64) -> Result<(), String> {
        if !fenn_runtime::trigger::is_name(&self.name) {
            return Err(format!(
                "'{}' is not a function name",
                self.name.escape_debug()
            ));
        }
        let hex = self.sha256.len() == 64
            && self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Err(format!(
                "{}: sha256 is not 64 lower-case hex digits",
                self.name
            ));
        }
        if self.size == 0 || self.size > max_module {
            return Err(format!(
                "{}: a module of {} bytes, over the {max_module} this device takes (admin.max_module_size)",
                self.name, self.size
            ));
        }
        if !(self.definition.is_object() || self.definition.is_null()) {
            return Err(format!("{}: its definition is not a table", self.name));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A deployment of `hello` at module `sha`, for `group`.
    pub(crate) fn deployment(id: u64, sha: char) -> Deployment {
        Deployment {
            id,
            prefix: "fenn/fleet".into(),
            target: Target::Group {
                group: "lobby".into(),
                devices: None,
            },
            functions: vec![function("hello", sha)],
            previous: Vec::new(),
            chunk: 1024,
            issued_at: "2026-12-07T00:00:00Z".into(),
        }
    }

    pub(crate) fn function(name: &str, sha: char) -> Function {
        Function {
            name: name.into(),
            sha256: sha.to_string().repeat(64),
            size: 3000,
            definition: json!({}),
            test: None,
        }
    }

    fn parsed(deployment: &Deployment) -> Result<Deployment, String> {
        Deployment::parse(&serde_json::to_string(deployment).unwrap(), 8 << 20)
    }

    #[test]
    fn a_deployment_reads_back_and_splits_into_chunks() {
        let d = deployment(7, 'a');
        assert_eq!(parsed(&d).unwrap(), d);
        assert_eq!(d.chunks(&d.functions[0]), 3);
        assert_eq!(d.topic(), "fenn/fleet/groups/lobby/desired");
    }

    #[test]
    fn what_a_device_must_not_rely_on_is_refused() {
        let mut d = deployment(1, 'a');
        d.functions[0].sha256 = "A".repeat(64);
        assert!(parsed(&d).unwrap_err().contains("hex"));
        let mut d = deployment(1, 'a');
        d.functions[0].size = 9 << 20;
        assert!(parsed(&d).unwrap_err().contains("max_module_size"));
        let mut d = deployment(1, 'a');
        d.functions.push(function("hello", 'b'));
        assert!(parsed(&d).unwrap_err().contains("twice"));
        let mut d = deployment(1, 'a');
        d.chunk = 10;
        assert!(parsed(&d).is_err());
        let mut d = deployment(1, 'a');
        d.target = Target::Group {
            group: "a/#".into(),
            devices: None,
        };
        assert!(parsed(&d).is_err());
        let mut d = deployment(1, 'a');
        d.functions[0].name = "../x".into();
        assert!(parsed(&d).is_err());
        assert!(Deployment::parse(r#"{"id":1,"extra":2}"#, 1).is_err());
    }

    #[test]
    fn a_wave_is_for_its_devices_of_the_group_only() {
        let groups = vec!["lobby".to_owned()];
        let mut d = deployment(1, 'a');
        assert!(d.is_for("pi-1", &groups));
        assert!(!d.is_for("pi-1", &["roof".to_owned()]));
        d.target = Target::Group {
            group: "lobby".into(),
            devices: Some(vec!["pi-2".into()]),
        };
        assert!(!d.is_for("pi-1", &groups));
        assert!(d.is_for("pi-2", &groups));
        d.target = Target::Device {
            device: "pi-1".into(),
        };
        assert!(d.is_for("pi-1", &[]));
        assert!(!d.is_for("pi-2", &groups));
    }
}
