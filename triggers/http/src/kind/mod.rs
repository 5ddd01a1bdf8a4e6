//! The gateway as a registered trigger kind: [`HttpKind`] reads its keys
//! of `[server]`, `[gateway]` and `[[app]]` into an [`HttpSetup`], which
//! validates routes (`[[function.http]]`), checks a set of them for
//! collisions, and starts the gateway on its listener.
//!
//! # Layout
//!
//! - `raw`: the keys as the config writes them.
//! - `reader`: reads them, every error reported, a value in error standing
//!   in as its default.
//! - `server`, `gateway`: `[server]`'s keys; `[gateway]` and `[[app]]`.
//! - `files`: the secret and key files they name, read within bounds.
//! - `setup`: [`HttpSetup`] as a [`TriggerSetup`].
//! - `running`: the started gateway's handles, and a route as a
//!   [`Binding`](fenn_runtime::trigger::Binding).
//!
//! # Example
//!
//! ```
//! use fenn_http::kind::{HttpKind, HttpSetup};
//! use fenn_runtime::trigger::{Common, Table, Tables, TriggerKind};
//! use std::time::Duration;
//!
//! let server: Table = serde_json::from_str(r#"{"listen": "0.0.0.0:9000", "workers": 2}"#)?;
//! let common = Common {
//!     config_dir: std::path::Path::new("/etc/fenn"),
//!     state_dir: None,
//!     shutdown_grace: Duration::from_secs(5),
//! };
//! let tables = Tables { sections: &Table::new(), server: &server, common: &common };
//! let mut errors = Vec::new();
//! let setup = HttpKind.settings(&tables, &mut errors);
//! assert!(errors.is_empty());
//! let http = setup.as_any().downcast_ref::<HttpSetup>().expect("the gateway's");
//! assert_eq!(http.listen().port(), 9000);
//! assert_eq!(http.settings().shutdown_grace, Duration::from_secs(5));
//! # Ok::<(), serde_json::Error>(())
//! ```

mod gateway;
mod raw;
mod reader;
mod running;
mod server;
mod setup;
#[cfg(test)]
mod tests;

pub use server::DEFAULT_LISTEN;

use crate::HttpSettings;
use fenn_runtime::trigger::{KeyError, Tables, TriggerKind, TriggerSetup};
use gateway::GatewaySettings;
use raw::RawGateway;
use reader::Reader;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

/// The HTTP gateway's kind: `http` bindings, the `[gateway]` and
/// `[[app]]` sections, and the listener's keys of `[server]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpKind;

impl TriggerKind for HttpKind {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["gateway", "app"]
    }

    fn server_keys(&self) -> &'static [&'static str] {
        &server::SERVER_KEYS
    }

    fn settings(&self, tables: &Tables<'_>, errors: &mut Vec<KeyError>) -> Arc<dyn TriggerSetup> {
        let reader = Reader::new(tables.common.config_dir);
        let server = reader.server(tables.server, tables.common.shutdown_grace);
        let apps: Vec<Value> = match tables.sections.get("app") {
            Some(apps) => reader.value("app", apps).unwrap_or_default(),
            None => Vec::new(),
        };
        let (raw, jwt_refused) = match tables.sections.get("gateway") {
            Some(Value::Object(table)) => {
                let (raw, refused) = reader.table::<RawGateway>("gateway", table);
                (raw, refused.iter().any(|key| key == "jwt"))
            }
            Some(other) => (reader.value::<RawGateway>("gateway", other), false),
            None => (None, false),
        };
        let gateway = reader.gateway(raw.as_ref(), &apps);
        errors.extend(reader.into_errors());
        Arc::new(HttpSetup {
            settings: server.http,
            listen: server.listen,
            buffer: server.buffer,
            gateway,
            jwt_refused,
        })
    }
}

/// The gateway's validated settings: its listener, its limits, and the
/// policies every route shares.
#[derive(Debug)]
pub struct HttpSetup {
    settings: HttpSettings,
    listen: SocketAddr,
    /// `server.buffer_memory`, when it is valid: answers are checked
    /// against it.
    buffer: Option<usize>,
    gateway: GatewaySettings,
    /// `[gateway.jwt]` was refused for a key in error (reported): routes
    /// asking for tokens add no error of their own.
    jwt_refused: bool,
}

impl HttpSetup {
    /// The listener's limits and timeouts (`[server]`'s).
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// `server.listen`: where the gateway listens.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }
}
