//! `[fleet]`: the device in a fleet: its id, its groups, the broker it
//! takes deployments from, and the keys it trusts to sign them.

use super::raw::RawFleet;
use super::{ConfigError, Validator};
use fenn_fleet::signed::Trusted;
use std::time::Duration;

/// The validated `[fleet]` section.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    /// The device's id.
    pub device: String,
    /// Its groups.
    pub groups: Vec<String>,
    /// The brokers (a cluster's nodes), tried in turn.
    pub brokers: Vec<(String, u16)>,
    /// The keys whose deployments it applies.
    pub trusted: Trusted,
    /// The topics' prefix.
    pub prefix: String,
    /// Keep-alive: the broker says the device is offline after 1.5 times it.
    pub keep_alive: Duration,
    /// Time a module's download may go without a new chunk.
    pub fetch_timeout: Duration,
}

impl Validator<'_> {
    pub(crate) fn fleet(&self, raw: &RawFleet, admin: bool) -> Result<FleetSettings, ConfigError> {
        if !admin {
            return Err(self.error(
                "fleet",
                "a fleet deploys through the store of deployed functions: add an [admin] section (and server.state_dir)",
            ));
        }
        let device = match &raw.device {
            Some(device) => device.clone(),
            None => super::grants::device_name(),
        };
        if !fenn_fleet::topics::is_name(&device) {
            return Err(self.error(
                "fleet.device",
                format!(
                    "'{}' is not a device id: letters, digits, '-', '_' or '.'",
                    device.escape_debug()
                ),
            ));
        }
        if let Some(group) = raw
            .groups
            .iter()
            .find(|group| !fenn_fleet::topics::is_name(group))
        {
            return Err(self.error(
                "fleet.groups",
                format!(
                    "'{}' is not a group name: letters, digits, '-', '_' or '.'",
                    group.escape_debug()
                ),
            ));
        }
        let brokers = fenn_fleet::link::brokers(&raw.brokers)
            .map_err(|reason| self.error("fleet.brokers", reason))?;
        if raw.trusted_keys.is_empty() {
            return Err(self.error(
                "fleet.trusted_keys",
                "no key: a device applies only deployments signed with a key it trusts (`fenn fleet keygen` makes one)",
            ));
        }
        let trusted = Trusted::parse(&raw.trusted_keys)
            .map_err(|reason| self.error("fleet.trusted_keys", reason))?;
        let prefix = raw
            .prefix
            .clone()
            .unwrap_or_else(|| fenn_fleet::topics::DEFAULT_PREFIX.to_owned());
        let valid_prefix =
            !prefix.is_empty() && !prefix.contains(['+', '#']) && !prefix.starts_with('/');
        if !valid_prefix {
            return Err(self.error(
                "fleet.prefix",
                format!("'{prefix}' is not a topic prefix (no '+', '#', or leading '/')"),
            ));
        }
        let seconds = |key: &str, value: &Option<String>, default: u64, most: u64| {
            let duration = match value {
                Some(text) => {
                    fenn_runtime::units::duration(text).map_err(|reason| self.error(key, reason))?
                }
                None => Duration::from_secs(default),
            };
            if duration < Duration::from_secs(5) || duration > Duration::from_secs(most) {
                return Err(self.error(key, format!("from 5s to {most}s")));
            }
            Ok(duration)
        };
        Ok(FleetSettings {
            device,
            groups: raw.groups.clone(),
            brokers,
            trusted,
            prefix,
            keep_alive: seconds("fleet.keep_alive", &raw.keep_alive, 30, 3600)?,
            fetch_timeout: seconds("fleet.fetch_timeout", &raw.fetch_timeout, 60, 3600)?,
        })
    }
}
