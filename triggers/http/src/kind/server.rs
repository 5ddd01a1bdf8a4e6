//! The keys of `[server]` the gateway owns: its listener's address, limits
//! and timeouts. A value in error stands in as its default, and no check
//! between two values is made against such a default.

use super::raw::RawServer;
use super::reader::Reader;
use crate::HttpSettings;
use fenn_runtime::trigger::Table;
use fenn_runtime::units;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// Where the gateway listens unless told otherwise (`server.listen`).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));

/// Most HTTP connections (`server.max_connections`).
const MAX_CONNECTIONS: usize = 1 << 20;

/// The keys of `[server]` the gateway owns.
pub(super) const SERVER_KEYS: [&str; 8] = [
    "listen",
    "max_body",
    "header_read_timeout",
    "body_read_timeout",
    "write_timeout",
    "buffer_memory",
    "max_connections",
    "max_connections_per_client",
];

/// What `[server]` gives the gateway.
#[derive(Debug)]
pub(super) struct Server {
    pub(super) listen: SocketAddr,
    pub(super) http: HttpSettings,
    /// `buffer_memory`, when it is valid (not a default standing in for
    /// an error).
    pub(super) buffer: Option<usize>,
}

impl Reader<'_> {
    /// The gateway's keys of `server` (the whole `[server]`: the keys of
    /// others are left alone), every error reported.
    pub(super) fn server(&self, server: &Table, shutdown_grace: Duration) -> Server {
        let mut own = server.clone();
        own.retain(|key, _| SERVER_KEYS.contains(&key.as_str()));
        let (server, refused) = self.table::<RawServer>("server", &own);
        // A key left out for its error stands in as its default, but is not valid.
        let read = server.is_some();
        let valid = |key: &str| read && !refused.iter().any(|k| k == key);
        let server = server.unwrap_or_default();
        let defaults = HttpSettings::default();
        let listen = self.listen(server.listen.as_ref());
        // Kept apart: the check between the two is made only when both are
        // valid, not against a default standing in for a value in error.
        let max_body = self
            .keep(self.size(
                "server.max_body",
                server.max_body.as_ref(),
                defaults.max_body_bytes,
            ))
            .filter(|_| valid("max_body"));
        let buffer = self
            .keep(self.size(
                "server.buffer_memory",
                server.buffer_memory.as_ref(),
                defaults.buffer_bytes,
            ))
            .filter(|_| valid("buffer_memory"));
        let http = self.http_settings(&server, max_body, buffer, shutdown_grace, &defaults);
        self.check_body_fits(max_body, buffer, &http);
        Server {
            listen: listen.unwrap_or(DEFAULT_LISTEN),
            http,
            buffer,
        }
    }

    /// `server.listen`, when it is given and is an address (else its
    /// error is reported).
    fn listen(&self, listen: Option<&String>) -> Option<SocketAddr> {
        let text = listen?;
        self.keep(text.parse().map_err(|_| {
            self.error(
                "server.listen",
                format!("'{text}' is not an address such as 127.0.0.1:8080"),
            )
        }))
    }

    /// The gateway's settings: the body and buffer sizes as read, the
    /// timeouts and connection counts from `server`, each one absent or
    /// in error standing in as its default.
    fn http_settings(
        &self,
        server: &RawServer,
        max_body: Option<usize>,
        buffer: Option<usize>,
        shutdown_grace: Duration,
        defaults: &HttpSettings,
    ) -> HttpSettings {
        HttpSettings {
            max_body_bytes: max_body.unwrap_or(defaults.max_body_bytes),
            header_read_timeout: self.duration_or(
                "server.header_read_timeout",
                server.header_read_timeout.as_ref(),
                defaults.header_read_timeout,
            ),
            body_read_timeout: self.duration_or(
                "server.body_read_timeout",
                server.body_read_timeout.as_ref(),
                defaults.body_read_timeout,
            ),
            shutdown_grace,
            write_timeout: self.duration_or(
                "server.write_timeout",
                server.write_timeout.as_ref(),
                defaults.write_timeout,
            ),
            buffer_bytes: buffer.unwrap_or(defaults.buffer_bytes),
            max_connections: self.count_or(
                "server.max_connections",
                server.max_connections,
                defaults.max_connections,
                MAX_CONNECTIONS,
            ),
            max_connections_per_client: self.count_or(
                "server.max_connections_per_client",
                server.max_connections_per_client,
                defaults.max_connections_per_client,
                MAX_CONNECTIONS,
            ),
            reserved_for_loopback: defaults.reserved_for_loopback,
        }
    }

    /// A duration such as `30s` at `key`, or `default` when absent or in
    /// error (the error reported).
    fn duration_or(&self, key: &str, value: Option<&String>, default: Duration) -> Duration {
        match value {
            Some(text) => self
                .keep(units::duration(text).map_err(|reason| self.error(key, reason)))
                .unwrap_or(default),
            None => default,
        }
    }

    /// A count from 1 to `most` at `key`, or `default` when absent or in
    /// error (the error reported).
    fn count_or(&self, key: &str, value: Option<usize>, default: usize, most: usize) -> usize {
        self.keep(self.count(key, value, default, most))
            .unwrap_or(default)
    }

    /// Reports a valid `max_body` over a valid `buffer_memory`: no body
    /// could be read.
    fn check_body_fits(&self, max_body: Option<usize>, buffer: Option<usize>, http: &HttpSettings) {
        if max_body
            .zip(buffer)
            .is_some_and(|(body, buffer)| body > buffer)
        {
            self.report(self.error(
                "server.max_body",
                format!(
                    "{} bytes is over server.buffer_memory ({} bytes), so no body could be read",
                    http.max_body_bytes, http.buffer_bytes
                ),
            ));
        }
    }
}
