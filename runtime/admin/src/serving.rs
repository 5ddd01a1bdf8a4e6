//! The management API on its listener, and its failed authentications
//! in the metrics.

use crate::Platform;
use crate::api;
use std::sync::Arc;
use tokio::net::TcpListener;

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
