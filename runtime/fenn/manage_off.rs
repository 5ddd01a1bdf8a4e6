//! `fenn serve` in a build without the management API (the `admin`
//! feature off): a config with `[admin]` is refused at start, and nothing
//! else changes.

use crate::serve::Loaded;
use fenn_admin::catalog::Catalog;
use fenn_admin::started::Started;
use fenn_config::Config;
use fenn_runtime::Dispatcher;
use tokio::net::TcpListener;

/// Deployed functions: none exist in this build.
pub(crate) enum Deployed {}

/// The config's catalog; `[admin]` is refused.
pub(crate) fn load(
    config: &Config,
    _dispatcher: &Dispatcher,
    catalog: Catalog,
) -> anyhow::Result<(Catalog, Option<Deployed>)> {
    if config.admin.is_some() {
        anyhow::bail!(
            "{}: [admin]: this fenn was built without the management API (the cargo feature `admin`)",
            config.file.display()
        );
    }
    Ok((catalog, None))
}

/// No deployed function or flow has a name.
pub(crate) fn announced(deployed: &Deployed) -> (Vec<String>, Vec<String>) {
    match *deployed {}
}

/// No listener: the management API is not in this build.
#[allow(clippy::unused_async)]
pub(crate) async fn bind(
    _config: &Config,
    _listener: Option<TcpListener>,
) -> anyhow::Result<Option<TcpListener>> {
    Ok(None)
}

/// Nothing to serve.
pub(crate) fn spawn(
    _config: &Config,
    _loaded: Loaded,
    _started: Started,
    _listener: TcpListener,
    _stops: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    None
}
