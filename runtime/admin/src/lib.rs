//! fenn's platform: what it serves and how that changes while it runs.
//! The `catalog` of every function's bindings; the `started` triggers'
//! handles; the `state_dir`, locked to one fenn; and the management API:
//! functions deployed, checked, tested, rolled back and deleted while fenn
//! serves, on a listener of its own (`[admin]`), every request with the
//! bearer token.
//!
//! - `api`: the HTTP side: token, paths, bodies within limits.
//! - `check`: `POST /v1/check`, the online compile.
//! - `budget`: the memory deploys and checks take, bounded.
//! - `platform`: deploy, rollback, delete: checked, saved, swapped;
//!   `saving`: the store written off the async threads, its failures.
//! - `views`: listing, one function, the test event.
//! - `records`: the invocation history, its stream, the metrics, the status.
//! - `console`: the web console's page, style and script.
//! - `load`: the store's functions served again at start.
//! - `store` and `manifest`: deployed functions on disk, written with
//!   [`fenn_runtime::files`].
//! - `error`: [`ApiError`] and its HTTP statuses.

mod api;
mod budget;
pub mod catalog;
mod check;
mod console;
mod error;
pub mod event;
mod load;
mod manifest;
mod platform;
mod records;
mod saving;
pub mod started;
mod state;
pub mod state_dir;
mod store;
mod views;

pub use budget::DeployMemory;
pub use error::ApiError;
pub use load::load;
pub use platform::{Platform, STREAMS, UPLOADS};
pub use state::State;

use std::sync::Arc;
use tokio::net::TcpListener;

pub(crate) use fenn_observe::millis;

/// The management API's failed authentications, for `/metrics` beside the
/// gateway's (one family, by listener).
pub struct AuthReport(pub Arc<fenn_http::policy::failures::AuthFailures>);

impl fenn_runtime::trigger::Report for AuthReport {
    fn metrics(&self) -> Vec<fenn_runtime::trigger::Metric> {
        use fenn_runtime::trigger::Metric;
        let (failed, refused) = self.0.totals();
        let labels = || vec![("listener", "admin".to_owned())];
        vec![
            Metric::Counter {
                name: "fenn_auth_failures",
                help: "Requests refused for missing or wrong credentials (401), by listener",
                series: vec![(labels(), failed)],
            },
            Metric::Counter {
                name: "fenn_auth_throttled",
                help: "Requests refused (429) while their address waited out a penalty for failed authentications, by listener",
                series: vec![(labels(), refused)],
            },
        ]
    }
}

/// Serves the management API on `listener` until `shutdown` completes.
pub async fn serve(
    platform: Arc<Platform>,
    listener: TcpListener,
    settings: fenn_http::HttpSettings,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let tls = platform
        .settings
        .tls
        .as_ref()
        .map(|tls| fenn_http::listener::TlsAcceptor::from(tls.config.clone()));
    let router = api::router(platform);
    let served = fenn_http::listener::serve_router(
        listener,
        router,
        settings,
        tls,
        "management API",
        shutdown,
    );
    if let Err(error) = served.await {
        tracing::error!(%error, "admin: the management API stopped");
    }
}
