//! `[mqtt]`: the broker fenn connects to, as the config writes it
//! ([`RawMqtt`]), validated into [`MqttSettings`]: files named relative to
//! the config, credentials from the environment, and `embedded` checked
//! (loopback only, MQTT 5, no TLS).

use crate::{MqttSettings, MqttTls, PACKET_ROOM, Version};
use fenn_runtime::trigger::{Common, KeyError};
use fenn_runtime::units;
use serde::Deserialize;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// `[mqtt]`: the broker fenn subscribes at. Credentials come from the
/// environment: `FENN_MQTT_USERNAME` and `FENN_MQTT_PASSWORD`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMqtt {
    /// `url`: `mqtt://host:port` (port 1883 by default) or
    /// `mqtts://host:port` (TLS, port 8883 by default).
    url: String,
    /// `ca_file`: PEM CA certificates for `mqtts://` (required; a system
    /// bundle such as `/etc/ssl/certs/ca-certificates.crt` works).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    ca_file: Option<String>,
    /// `client_cert`: PEM client certificate, for mutual TLS.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    client_cert: Option<String>,
    /// `client_key`: PEM key of `client_cert`.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    client_key: Option<String>,
    /// `client_id`: default `fenn-<pid>`.
    client_id: Option<String>,
    /// `keep_alive`: default `30s`.
    keep_alive: Option<String>,
    /// `max_in_flight`: messages handled at once (default 32).
    max_in_flight: Option<usize>,
    /// `max_payload`: largest message accepted (default `1MiB`); the broker
    /// is told, and drops larger ones.
    max_payload: Option<String>,
    /// `session_expiry`: with a `client_id`, how long the broker keeps
    /// fenn's session (subscriptions, queued QoS 1 messages) while it is
    /// away (default `1h`; `0s` for a clean session every time).
    session_expiry: Option<String>,
    /// `version`: `"5"` (default) or `"3.1.1"`, for brokers without MQTT 5.
    version: Option<String>,
    /// `embedded`: run an MQTT broker inside fenn on the url's address
    /// (needs the `embedded-broker` build), unless one already listens
    /// there (default false).
    #[serde(default)]
    embedded: bool,
    /// `outbox_size`: largest size of the results kept for the broker
    /// (default `16MiB`), on disk under `server.state_dir` when set.
    outbox_size: Option<String>,
}

/// The broker's settings, and where the embedded broker listens when it
/// is on.
pub(crate) type Broker = (MqttSettings, Option<SocketAddr>);

/// Reads `[mqtt]` from `section`; None with every error found recorded in
/// `errors`, each under its key (`mqtt.url`).
pub(crate) fn read(
    section: &Value,
    common: &Common<'_>,
    errors: &mut Vec<KeyError>,
) -> Option<Broker> {
    let raw: RawMqtt = match serde_path_to_error::deserialize(section) {
        Ok(raw) => raw,
        Err(error) => {
            let path = error.path().to_string();
            let key = if path == "." {
                "mqtt".to_owned()
            } else {
                format!("mqtt.{path}")
            };
            errors.push(KeyError::new(key, error.into_inner().to_string()));
            return None;
        }
    };
    let settings = settings(&raw, common, errors)?;
    let embedded = keep(errors, embedded(&raw, &settings))?;
    Some((settings, embedded))
}

/// The value, or None with its error recorded.
fn keep<T>(errors: &mut Vec<KeyError>, result: Result<T, KeyError>) -> Option<T> {
    result.map_err(|error| errors.push(error)).ok()
}

/// An error at `mqtt.<key>`.
fn error(key: &str, reason: impl Into<String>) -> KeyError {
    KeyError::new(format!("mqtt.{key}"), reason)
}

/// The settings, each key checked on its own so that one mistake does
/// not hide another.
fn settings(
    raw: &RawMqtt,
    common: &Common<'_>,
    errors: &mut Vec<KeyError>,
) -> Option<MqttSettings> {
    let address = keep(errors, address(&raw.url));
    let tls = match &address {
        Some((true, ..)) => keep(errors, tls(raw, common.config_dir)).map(Some),
        _ => Some(None),
    };
    let version = keep(errors, version(raw.version.as_deref()));
    let keep_alive = keep(errors, keep_alive(raw.keep_alive.as_deref()));
    let max_in_flight = keep(errors, max_in_flight(raw.max_in_flight));
    let max_packet_bytes = keep(errors, max_packet_bytes(raw.max_payload.as_deref()));
    let session_expiry = keep(errors, session_expiry(raw));
    let outbox_bytes = keep(errors, outbox_bytes(raw.outbox_size.as_deref()));
    let (
        Some((_, host, port)),
        Some(tls),
        Some(version),
        Some(keep_alive),
        Some(max_in_flight),
        Some(max_packet_bytes),
        Some(session_expiry),
        Some(outbox_bytes),
    ) = (
        address,
        tls,
        version,
        keep_alive,
        max_in_flight,
        max_packet_bytes,
        session_expiry,
        outbox_bytes,
    )
    else {
        return None;
    };
    Some(MqttSettings {
        version,
        tls,
        host,
        port,
        client_id: raw
            .client_id
            .clone()
            .unwrap_or_else(|| format!("fenn-{}", std::process::id())),
        credentials: credentials(),
        keep_alive,
        max_in_flight,
        max_packet_bytes,
        shutdown_grace: common.shutdown_grace,
        session_expiry,
        outbox_dir: common.state_dir.map(|dir| dir.join("mqtt-outbox")),
        outbox_bytes,
    })
}

/// `url`: whether it is TLS, the host and the port.
fn address(url: &str) -> Result<(bool, String, u16), KeyError> {
    let (tls, address) = match url.split_once("://") {
        Some(("mqtt", address)) => (false, address.trim_end_matches('/')),
        Some(("mqtts", address)) => (true, address.trim_end_matches('/')),
        _ => {
            return Err(error(
                "url",
                format!("'{url}' is not mqtt://host:port or mqtts://host:port"),
            ));
        }
    };
    let (host, port) = match address.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse()
                .map_err(|_| error("url", format!("'{port}' is not a port")))?,
        ),
        None => (address, if tls { 8883 } else { 1883 }),
    };
    if host.is_empty() {
        return Err(error("url", format!("'{url}' names no host")));
    }
    Ok((tls, host.to_owned(), port))
}

/// `FENN_MQTT_USERNAME` and `FENN_MQTT_PASSWORD`, when set.
fn credentials() -> Option<(String, String)> {
    match (
        std::env::var("FENN_MQTT_USERNAME"),
        std::env::var("FENN_MQTT_PASSWORD"),
    ) {
        (Ok(user), Ok(password)) => Some((user, password)),
        (Ok(user), Err(_)) => Some((user, String::new())),
        _ => None,
    }
}

fn version(version: Option<&str>) -> Result<Version, KeyError> {
    match version {
        None | Some("5" | "5.0") => Ok(Version::V5),
        Some("3.1.1") => Ok(Version::V311),
        Some(other) => Err(error(
            "version",
            format!("'{other}': fenn speaks MQTT \"5\" and \"3.1.1\""),
        )),
    }
}

fn keep_alive(text: Option<&str>) -> Result<Duration, KeyError> {
    match text {
        Some(text) => units::duration(text).map_err(|reason| error("keep_alive", reason)),
        None => Ok(Duration::from_secs(30)),
    }
}

fn max_in_flight(count: Option<usize>) -> Result<usize, KeyError> {
    match count {
        Some(0) => Err(error("max_in_flight", "must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(32),
    }
}

/// `max_payload`, with room for the topic and the properties on top.
fn max_packet_bytes(text: Option<&str>) -> Result<u32, KeyError> {
    match text {
        Some(text) => {
            let bytes = units::size(text).map_err(|reason| error("max_payload", reason))?;
            u32::try_from(bytes.saturating_add(PACKET_ROOM as usize))
                .map_err(|_| error("max_payload", "must be below 4GiB"))
        }
        None => Ok((1 << 20) + PACKET_ROOM),
    }
}

fn session_expiry(raw: &RawMqtt) -> Result<Option<Duration>, KeyError> {
    match (&raw.client_id, &raw.session_expiry) {
        // A generated client id is new every start: nothing to resume.
        (None, _) => Ok(None),
        (Some(_), None) => Ok(Some(Duration::from_secs(3600))),
        // "0s": a clean session every time.
        (Some(_), Some(text)) => {
            units::duration_or_zero(text).map_err(|reason| error("session_expiry", reason))
        }
    }
}

fn outbox_bytes(text: Option<&str>) -> Result<u64, KeyError> {
    match text {
        Some(text) => units::size(text)
            .map(|bytes| bytes as u64)
            .map_err(|reason| error("outbox_size", reason)),
        None => Ok(16 << 20),
    }
}

/// `mqtts://` in a build without the `tls` feature.
#[cfg(not(feature = "tls"))]
fn tls(_raw: &RawMqtt, _config_dir: &Path) -> Result<MqttTls, KeyError> {
    Err(error(
        "url",
        "mqtts://: this fenn was built without TLS (the cargo feature `tls`)",
    ))
}

/// The TLS files of `mqtts://`, read relative to `config_dir`.
#[cfg(feature = "tls")]
fn tls(raw: &RawMqtt, config_dir: &Path) -> Result<MqttTls, KeyError> {
    let read = |key: &str, path: &str| {
        fenn_runtime::files::read(
            &config_dir.join(path),
            fenn_runtime::files::MAX_PEM,
            "the most a PEM file may be",
        )
        .map_err(|reason| error(key, reason))
    };
    let ca = match &raw.ca_file {
        Some(path) => read("ca_file", path)?,
        None => {
            return Err(error(
                "ca_file",
                "mqtts:// needs the CA that signed the broker's certificate (PEM)",
            ));
        }
    };
    let client_auth = match (&raw.client_cert, &raw.client_key) {
        (Some(cert), Some(key)) => Some((read("client_cert", cert)?, read("client_key", key)?)),
        (None, None) => None,
        (Some(_), None) => return Err(error("client_key", "client_cert needs client_key")),
        (None, Some(_)) => return Err(error("client_cert", "client_key needs client_cert")),
    };
    Ok(MqttTls { ca, client_auth })
}

/// `mqtt.embedded`: where the embedded broker listens, if it is on.
fn embedded(raw: &RawMqtt, settings: &MqttSettings) -> Result<Option<SocketAddr>, KeyError> {
    if !raw.embedded {
        return Ok(None);
    }
    if settings.version != Version::V5 {
        return Err(error(
            "embedded",
            "the embedded broker speaks MQTT 5: leave mqtt.version at \"5\"",
        ));
    }
    if settings.tls.is_some() {
        return Err(error(
            "embedded",
            "the embedded broker speaks mqtt://, not mqtts://",
        ));
    }
    let address = format!("{}:{}", settings.host, settings.port);
    let listen: SocketAddr = address.parse().map_err(|_| {
        error(
            "embedded",
            format!("the embedded broker listens on an IP address, such as mqtt://127.0.0.1:1883, not '{address}'"),
        )
    })?;
    // No authentication, and retained messages kept in memory without
    // a bound: for trying fenn on one machine only.
    if !listen.ip().is_loopback() {
        return Err(error(
            "embedded",
            format!(
                "the embedded broker is for trying fenn and listens on loopback only (such as mqtt://127.0.0.1:1883), not {address}: it has no authentication and no bound on the retained messages it keeps; on a network, use a broker such as Mosquitto"
            ),
        ));
    }
    Ok(Some(listen))
}
