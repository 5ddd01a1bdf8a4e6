//! The HTTP listener's limits and timeouts, for the gateway and every
//! other listener served the same way.

use std::time::Duration;

/// Limits and timeouts of the HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Largest request body accepted; larger is a 413.
    pub max_body_bytes: usize,
    /// Time a client has to send its request headers (slow clients are cut).
    pub header_read_timeout: Duration,
    /// Time a client has to send its request body; longer is a 408.
    pub body_read_timeout: Duration,
    /// Time in-flight requests get to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Time one write of a response may wait for the client to read.
    pub write_timeout: Duration,
    /// Request and response bodies held at once, all connections together;
    /// a request that would pass it is answered 503.
    pub buffer_bytes: usize,
    /// Connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_connections_per_client: usize,
    /// Places of `max_connections` kept for loopback peers.
    pub reserved_for_loopback: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            buffer_bytes: 64 << 20,
            max_connections: 512,
            max_connections_per_client: 128,
            reserved_for_loopback: 0,
        }
    }
}
