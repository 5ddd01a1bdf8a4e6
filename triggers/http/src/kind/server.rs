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
        let listen = match &server.listen {
            Some(text) => self.keep(text.parse().map_err(|_| {
                self.error(
                    "server.listen",
                    format!("'{text}' is not an address such as 127.0.0.1:8080"),
                )
            })),
            None => None,
        };
        let duration = |key: &str, value: &Option<String>, default| match value {
            Some(text) => self
                .keep(units::duration(text).map_err(|reason| self.error(key, reason)))
                .unwrap_or(default),
            None => default,
        };
        let count = |key: &str, value, default, most| {
            self.keep(self.count(key, value, default, most))
                .unwrap_or(default)
        };
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
        let http = HttpSettings {
            max_body_bytes: max_body.unwrap_or(defaults.max_body_bytes),
            header_read_timeout: duration(
                "server.header_read_timeout",
                &server.header_read_timeout,
                defaults.header_read_timeout,
            ),
            body_read_timeout: duration(
                "server.body_read_timeout",
                &server.body_read_timeout,
                defaults.body_read_timeout,
            ),
            shutdown_grace,
            write_timeout: duration(
                "server.write_timeout",
                &server.write_timeout,
                defaults.write_timeout,
            ),
            buffer_bytes: buffer.unwrap_or(defaults.buffer_bytes),
            max_connections: count(
                "server.max_connections",
                server.max_connections,
                defaults.max_connections,
                MAX_CONNECTIONS,
            ),
            max_connections_per_client: count(
                "server.max_connections_per_client",
                server.max_connections_per_client,
                defaults.max_connections_per_client,
                MAX_CONNECTIONS,
            ),
            reserved_for_loopback: defaults.reserved_for_loopback,
        };
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
        Server {
            listen: listen.unwrap_or(DEFAULT_LISTEN),
            http,
            buffer,
        }
    }
}
