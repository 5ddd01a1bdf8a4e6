//! The management API in `fenn serve` (the `admin` feature): the deployed
//! functions and flows loaded beside the config's, its listener, and the platform it
//! serves. A build without the feature has `manage_off.rs` in its place.

use crate::serve::Loaded;
use anyhow::Context as _;
use fenn_admin::catalog::Catalog;
use fenn_admin::started::Started;
use fenn_admin::{self as admin, Platform};
use fenn_config::Config;
use fenn_http::HttpSettings;
use fenn_http::policy::failures::{AuthFailures, FailureLimit};
use fenn_observe::{Metrics, Sources};
use fenn_runtime::Dispatcher;
use fenn_runtime::trigger::Report;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The functions deployed through the management API, as loaded at start.
pub(crate) type Deployed = admin::State;

/// The config's catalog with the deployed functions' bindings, and those
/// functions compiled into `dispatcher`, when the management API is on.
pub(crate) fn load(
    config: &Config,
    dispatcher: &Dispatcher,
    catalog: Catalog,
) -> anyhow::Result<(Catalog, Option<Deployed>)> {
    let Some(settings) = &config.admin else {
        return Ok((catalog, None));
    };
    let state = admin::load(settings, dispatcher, catalog).map_err(anyhow::Error::msg)?;
    Ok((state.catalog.clone(), Some(state)))
}

/// The deployed functions' and flows' names, for the announcement.
pub(crate) fn announced(deployed: &Deployed) -> (Vec<String>, Vec<String>) {
    (deployed.announced(), deployed.announced_flows())
}

/// The management API's listener: the caller's, else bound on
/// `admin.listen`; none when the API is off.
pub(crate) async fn bind(
    config: &Config,
    listener: Option<TcpListener>,
) -> anyhow::Result<Option<TcpListener>> {
    match (&config.admin, listener) {
        (Some(_), Some(listener)) => Ok(Some(listener)),
        (Some(admin), None) => TcpListener::bind(admin.listen)
            .await
            .map(Some)
            .with_context(|| format!("admin.listen: cannot listen on {}", admin.listen)),
        (None, _) => Ok(None),
    }
}

/// Serves the management API on `listener` until `stops` says stop.
pub(crate) fn spawn(
    config: &Config,
    loaded: Loaded,
    started: Started,
    listener: TcpListener,
    stops: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut stopping = stops.clone();
    let stopped = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let (platform, http) = platform(config, loaded, started, stops.clone())?;
    if let (Some(fleet), Some(state_dir)) = (&config.fleet, &config.state_dir) {
        let (fleet, state_dir, platform) = (fleet.clone(), state_dir.clone(), platform.clone());
        tokio::spawn(async move {
            let reports = admin::fleet::start(fleet, state_dir, platform.clone(), stops).await;
            let _ = platform.fleet.set(reports);
        });
    }
    Some(tokio::spawn(admin::serve(
        platform, listener, http, stopped,
    )))
}

/// The management API's platform and its listener's settings, when it is
/// on: the served functions, the running triggers' handles, the metrics
/// of every report and its own failed authentications.
fn platform(
    config: &Config,
    loaded: Loaded,
    started: Started,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> Option<(Arc<Platform>, HttpSettings)> {
    let (Some(state), Some(settings), Some(recorder)) =
        (loaded.deployed, &config.admin, loaded.recorder)
    else {
        return None;
    };
    let failures = Arc::new(AuthFailures::new(FailureLimit::default()));
    let failures_report = Arc::new(admin::AuthReport(failures.clone()));
    let reports = started.reports().cloned();
    let metrics = Metrics::new(Sources {
        observe: recorder.clone(),
        guest_memory: loaded.dispatcher.guest_memory().clone(),
        reports: reports
            .chain([failures_report as Arc<dyn Report>])
            .collect(),
    });
    let http = admin_http(config);
    let platform = Platform {
        observe: recorder,
        metrics,
        dispatcher: loaded.dispatcher,
        triggers: started,
        state: tokio::sync::Mutex::new(state),
        settings: settings.clone(),
        max_event_bytes: http.max_body_bytes,
        uploads: tokio::sync::Semaphore::new(admin::UPLOADS),
        deploy_memory: admin::DeployMemory::new(settings.max_module_bytes),
        body_timeout: http.body_read_timeout,
        stopping,
        streams: Arc::new(tokio::sync::Semaphore::new(admin::STREAMS)),
        auth_failures: failures,
        fleet: std::sync::OnceLock::new(),
    };
    Some((Arc::new(platform), http))
}

/// The management API's listener, on the gateway's settings: few
/// connections, a client that says nothing is cut within 5 s (and gives
/// its place to a new connection before then), and one place kept for
/// loopback, so that idle connections from the network cannot keep the
/// operator out.
fn admin_http(config: &Config) -> HttpSettings {
    let gateway = config.setups.get::<fenn_http::kind::HttpSetup>();
    let gateway = gateway.map_or_else(HttpSettings::default, |setup| setup.settings().clone());
    HttpSettings {
        max_connections: 32,
        max_connections_per_client: 8,
        reserved_for_loopback: 1,
        header_read_timeout: gateway.header_read_timeout.min(Duration::from_secs(5)),
        ..gateway
    }
}
