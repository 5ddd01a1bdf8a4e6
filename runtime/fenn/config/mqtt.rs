//! `[mqtt]`: the broker fenn connects to, validated into the MQTT
//! trigger's settings (files named relative to the config, credentials
//! from the environment).

use super::raw::RawMqtt;
use super::{ConfigError, Validator};
use fenn_http::HttpSettings;
use fenn_mqtt::{MqttSettings, MqttTls, Version as MqttVersion};
use fenn_runtime::units;
use std::path::Path;

impl Validator<'_> {
    pub(super) fn mqtt(
        &self,
        raw: &RawMqtt,
        http: &HttpSettings,
        state_dir: Option<&Path>,
    ) -> Result<MqttSettings, ConfigError> {
        let (tls, address) = match raw.url.split_once("://") {
            Some(("mqtt", address)) => (false, address.trim_end_matches('/')),
            Some(("mqtts", address)) => (true, address.trim_end_matches('/')),
            _ => {
                return Err(self.error(
                    "mqtt.url",
                    format!("'{}' is not mqtt://host:port or mqtts://host:port", raw.url),
                ));
            }
        };
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse()
                    .map_err(|_| self.error("mqtt.url", format!("'{port}' is not a port")))?,
            ),
            None => (address, if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() {
            return Err(self.error("mqtt.url", format!("'{}' names no host", raw.url)));
        }
        let credentials = match (
            std::env::var("FENN_MQTT_USERNAME"),
            std::env::var("FENN_MQTT_PASSWORD"),
        ) {
            (Ok(user), Ok(password)) => Some((user, password)),
            (Ok(user), Err(_)) => Some((user, String::new())),
            _ => None,
        };
        let tls = if tls { Some(self.mqtt_tls(raw)?) } else { None };
        let version = match raw.version.as_deref() {
            None | Some("5" | "5.0") => MqttVersion::V5,
            Some("3.1.1") => MqttVersion::V311,
            Some(other) => {
                return Err(self.error(
                    "mqtt.version",
                    format!("'{other}': fenn speaks MQTT \"5\" and \"3.1.1\""),
                ));
            }
        };
        Ok(MqttSettings {
            version,
            tls,
            host: host.to_owned(),
            port,
            client_id: raw
                .client_id
                .clone()
                .unwrap_or_else(|| format!("fenn-{}", std::process::id())),
            credentials,
            keep_alive: match &raw.keep_alive {
                Some(text) => {
                    units::duration(text).map_err(|reason| self.error("mqtt.keep_alive", reason))?
                }
                None => std::time::Duration::from_secs(30),
            },
            max_in_flight: match raw.max_in_flight {
                Some(0) => return Err(self.error("mqtt.max_in_flight", "must be at least 1")),
                Some(n) => n,
                None => 32,
            },
            max_packet_bytes: match &raw.max_payload {
                Some(text) => {
                    let bytes = units::size(text)
                        .map_err(|reason| self.error("mqtt.max_payload", reason))?;
                    // Room for the topic and the properties on top.
                    u32::try_from(bytes.saturating_add(fenn_mqtt::PACKET_ROOM as usize))
                        .map_err(|_| self.error("mqtt.max_payload", "must be below 4GiB"))?
                }
                None => (1 << 20) + fenn_mqtt::PACKET_ROOM,
            },
            shutdown_grace: http.shutdown_grace,
            session_expiry: match (&raw.client_id, &raw.session_expiry) {
                // A generated client id is new every start: nothing to resume.
                (None, _) => None,
                (Some(_), None) => Some(std::time::Duration::from_secs(3600)),
                // "0s": a clean session every time.
                (Some(_), Some(text)) => units::duration_or_zero(text)
                    .map_err(|reason| self.error("mqtt.session_expiry", reason))?,
            },
            outbox_dir: state_dir.map(|dir| dir.join("mqtt-outbox")),
            outbox_bytes: match &raw.outbox_size {
                Some(text) => units::size(text)
                    .map_err(|reason| self.error("mqtt.outbox_size", reason))?
                    as u64,
                None => 16 << 20,
            },
        })
    }

    fn mqtt_tls(&self, raw: &RawMqtt) -> Result<MqttTls, ConfigError> {
        let read = |key: &str, path: &str| {
            let file = self.file.parent().unwrap_or(Path::new(".")).join(path);
            crate::files::read(&file, crate::files::MAX_PEM, "the most a PEM file may be")
                .map_err(|reason| self.error(format!("mqtt.{key}"), reason))
        };
        let ca = match &raw.ca_file {
            Some(path) => read("ca_file", path)?,
            None => {
                return Err(self.error(
                    "mqtt.ca_file",
                    "mqtts:// needs the CA that signed the broker's certificate (PEM)",
                ));
            }
        };
        let client_auth = match (&raw.client_cert, &raw.client_key) {
            (Some(cert), Some(key)) => Some((read("client_cert", cert)?, read("client_key", key)?)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(self.error("mqtt.client_key", "client_cert needs client_key"));
            }
            (None, Some(_)) => {
                return Err(self.error("mqtt.client_cert", "client_key needs client_cert"));
            }
        };
        Ok(MqttTls { ca, client_auth })
    }
}
