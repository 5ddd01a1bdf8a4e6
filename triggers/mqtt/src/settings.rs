//! How the MQTT trigger reaches its broker: the settings the config
//! validates into, read by the connection and the trigger alike.

use std::path::PathBuf;
use std::time::Duration;

/// How to reach the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttSettings {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// MQTT client id.
    pub client_id: String,
    /// User name and password, if the broker wants them.
    pub credentials: Option<(String, String)>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Messages handled at once; more wait in the broker.
    pub max_in_flight: usize,
    /// Largest MQTT packet accepted, told to the broker at connect (MQTT 5
    /// Maximum Packet Size), so that it drops larger messages instead of
    /// sending them and breaking the connection (rumqttc's own default is
    /// 10 KiB, not told to the broker).
    pub max_packet_bytes: u32,
    /// Time in-flight messages get to finish at shutdown.
    pub shutdown_grace: Duration,
    /// TLS, for `mqtts://`.
    pub tls: Option<MqttTls>,
    /// MQTT 5 (default) or 3.1.1.
    pub version: Version,
    /// Persistent session: how long the broker keeps it after fenn
    /// disconnects; None for a clean session.
    pub session_expiry: Option<Duration>,
    /// Where the outbox lives; None keeps it in memory only.
    pub outbox_dir: Option<PathBuf>,
    /// Largest size of the outbox, in bytes.
    pub outbox_bytes: u64,
}

/// TLS material, read from files when the config loads.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttTls {
    /// PEM certificates the broker's certificate must chain to.
    pub ca: Vec<u8>,
    /// PEM client certificate and key, for mutual TLS.
    pub client_auth: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for MqttTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttTls")
            .field("ca_bytes", &self.ca.len())
            .field("client_auth", &self.client_auth.is_some())
            .finish()
    }
}

/// The protocol version spoken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Version {
    /// MQTT 5 (the default).
    #[default]
    V5,
    /// MQTT 3.1.1, for brokers without MQTT 5.
    V311,
}
