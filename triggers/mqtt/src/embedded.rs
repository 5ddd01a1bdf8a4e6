//! An MQTT broker inside fenn (rumqttd, MQTT 5), so that fenn shows MQTT
//! working on a machine with nothing else installed. Production configs
//! point at Mosquitto or EMQX instead: this broker keeps nothing on disk,
//! has no TLS or authentication, and listens where the config says
//! (loopback in the bundled examples).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// What [`start`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedded {
    /// The embedded broker listens.
    Started,
    /// Something already listened there (a broker of the machine's own):
    /// fenn uses it.
    AlreadyThere,
}

/// Starts the broker on `listen` unless the address is taken, and waits
/// until it accepts connections.
///
/// # Errors
///
/// The address cannot be bound for another reason than being in use, or
/// the broker did not come up within five seconds.
pub fn start(listen: SocketAddr, max_payload: usize) -> std::io::Result<Embedded> {
    match TcpListener::bind(listen) {
        Ok(probe) => drop(probe),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            return Ok(Embedded::AlreadyThere);
        }
        Err(error) => return Err(error),
    }
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: max_payload,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "embedded".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let config = rumqttd::Config {
        router: rumqttd::RouterConfig {
            max_connections: 1_000,
            max_outgoing_packet_count: 200,
            max_segment_size: max_payload.max(1 << 20) * 4,
            max_segment_count: 4,
            ..rumqttd::RouterConfig::default()
        },
        v5: Some(HashMap::from([("embedded".to_owned(), server)])),
        ..rumqttd::Config::default()
    };
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(error) = broker.start() {
                tracing::error!(%error, "the embedded MQTT broker stopped");
            }
        })?;
    // Listening once the address is taken (a test connection would be
    // logged by the broker as a failed client).
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpListener::bind(listen).is_ok() {
        if Instant::now() > deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the embedded MQTT broker did not listen on {listen}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(Embedded::Started)
}
