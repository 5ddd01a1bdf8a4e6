//! `fenn serve`: load every function the config names, then serve the
//! gateway until SIGINT or SIGTERM, letting in-flight requests finish.

use crate::admin::{self, Platform, Triggers};
use crate::catalog::Catalog;
use crate::config::{Config, ConfigError, ConfigErrors, FunctionConfig, ModuleSource};
use crate::examples;
use crate::observe::{Metrics, Observe, Sources};
use anyhow::Context as _;
use fenn_cron::CronTrigger;
use fenn_http::policy::failures::{AuthFailures, FailureLimit};
use fenn_http::{HttpSettings, HttpTrigger, RouteTable};
use fenn_mqtt::MqttTrigger;
use fenn_runtime::Dispatcher;
use fenn_runtime::trigger::{self, Trigger};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Reads a function's module, refusing one over its size limit unread.
pub(crate) fn read_module(
    function: &FunctionConfig,
) -> Result<std::borrow::Cow<'static, [u8]>, String> {
    match &function.module {
        ModuleSource::Example(name) => examples::module(name)
            .map(std::borrow::Cow::Borrowed)
            .ok_or_else(|| format!("no bundled example '{name}'")),
        ModuleSource::File(path) => {
            crate::files::read(path, function.limits.module_bytes as u64, "max_module_size")
                .map(std::borrow::Cow::Owned)
        }
    }
}

/// Compiles and deploys every function: the "online compile", so a module
/// that cannot run stops the start with its reason (every such module's).
pub(crate) fn load_functions(
    config: &Config,
    observer: Option<Arc<dyn fenn_runtime::Observer>>,
) -> Result<Dispatcher, ConfigErrors> {
    let mut dispatcher = Dispatcher::new(config.workers, config.guest_memory);
    if let Some(observer) = observer {
        dispatcher = dispatcher.with_observer(observer);
    }
    let mut errors = Vec::new();
    for function in &config.functions {
        if let Err(error) = load_function(&dispatcher, config, function) {
            errors.push(error);
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    for spec in &config.route_specs {
        let deployed = config.functions.iter().any(|f| f.name == spec.function);
        debug_assert!(deployed, "routes are built from declared functions");
    }
    Ok(dispatcher)
}

fn load_function(
    dispatcher: &Dispatcher,
    config: &Config,
    function: &FunctionConfig,
) -> Result<(), ConfigError> {
    let error = |field: &str, reason: String| ConfigError {
        file: config.file.clone(),
        key: function.key_of(field),
        reason,
    };
    let wasm = read_module(function).map_err(|reason| error("module", reason))?;
    dispatcher
        .deploy(&function.name, &wasm, function.limits.clone())
        .map_err(|refused| {
            let (field, reason) = crate::config::refusal(&refused);
            error(field, reason)
        })
}

/// Runs the gateway, and the management API when it is on, until a
/// shutdown signal.
pub(crate) async fn serve(config: Config, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let signals = ShutdownSignals::install().context("cannot listen for shutdown signals")?;
    // Held until fenn stops: one fenn at a time on a state directory.
    let _state = (config.state_dir.as_deref())
        .map(crate::state_dir::lock)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    // What the rate limits of fenn's own lines held back, once a period.
    let summaries = tokio::spawn(crate::logging::summaries());
    // The invocation history and the metrics are served by the management
    // API: recorded when it is on.
    let observe = config
        .admin
        .as_ref()
        .map(|admin| Observe::new(admin.history));
    let observer = observe
        .clone()
        .map(|observe| observe as Arc<dyn fenn_runtime::Observer>);
    let dispatcher = load_functions(&config, observer)?;
    let mut catalog = Catalog::from_config(&config);
    let deployed = match &config.admin {
        Some(admin) => {
            let state = admin::load(admin, &config.context(), &dispatcher, catalog.clone())
                .map_err(anyhow::Error::msg)?;
            catalog = state.catalog.clone();
            Some(state)
        }
        None => None,
    };
    let address = listen.unwrap_or(config.listen);
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let admin_listener = match &config.admin {
        Some(admin) => Some(
            TcpListener::bind(admin.listen)
                .await
                .with_context(|| format!("admin.listen: cannot listen on {}", admin.listen))?,
        ),
        None => None,
    };
    let admin_local = admin_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let names: Vec<String> = deployed.as_ref().map_or_else(Vec::new, |state| {
        let versions = state.manifest.functions.iter();
        versions
            .map(|(name, record)| match state.broken.contains_key(name) {
                false => format!("{name} (version {})", record.current),
                true => format!(
                    "{name} (version {}, NOT SERVED: see the log)",
                    record.current
                ),
            })
            .chain(
                state
                    .broken
                    .keys()
                    .filter(|name| !state.manifest.functions.contains_key(*name))
                    .map(|name| format!("{name} (NOT SERVED: see the log)")),
            )
            .collect()
    });
    crate::announce::announce(&config, listener.local_addr()?, admin_local, &names);
    let host = Arc::new(dispatcher);
    let routes = RouteTable::new(catalog.routes()).context("the routes collide")?;
    let http = HttpTrigger::with_policy(
        routes,
        host.clone(),
        config.http.clone(),
        config.gateway.policy(),
    );
    let http_bindings = http.bindings();
    let http_stats = http.stats();
    let gateway_failures = http.auth_failures();
    let mut triggers: Vec<Box<dyn Trigger>> = vec![Box::new(http.on(listener))];
    let mut cron = CronTrigger::new(catalog.schedules(), host.clone(), config.state_dir.clone())
        .with_grace(config.http.shutdown_grace);
    let mut mqtt_bindings = None;
    let mut mqtt_link = None;
    let mut mqtt_stats = None;
    if let Some(settings) = config.mqtt.clone() {
        if let Some(address) = config.embedded_broker {
            embedded_broker(address, settings.max_packet_bytes)?;
        }
        let mqtt = MqttTrigger::new(settings, catalog.mqtt(), host.clone())
            .context("cannot open the MQTT outbox")?;
        cron = cron.with_sink(Arc::new(mqtt.publisher()));
        mqtt_bindings = Some(mqtt.bindings());
        mqtt_link = Some(mqtt.link());
        mqtt_stats = Some((mqtt.stats(), mqtt.link(), mqtt.publisher()));
        triggers.push(Box::new(mqtt));
    }
    let triggers_bindings = Triggers {
        http: http_bindings,
        mqtt: mqtt_bindings,
        cron: cron.bindings(),
    };
    let cron_stats = cron.stats();
    triggers.push(Box::new(cron));
    let (stop_admin, admin_stops) = tokio::sync::watch::channel(false);
    let admin_task = match (deployed, admin_listener, &config.admin, observe) {
        (Some(state), Some(listener), Some(settings), Some(observe)) => {
            let admin_failures = Arc::new(AuthFailures::new(FailureLimit::default()));
            let metrics = Metrics::new(Sources {
                auth_failures: [
                    ("gateway", gateway_failures),
                    ("admin", admin_failures.clone()),
                ],
                observe: observe.clone(),
                guest_memory: host.guest_memory().clone(),
                http: http_stats,
                cron: cron_stats,
                mqtt: mqtt_stats,
            });
            let platform = Arc::new(Platform {
                observe,
                metrics,
                dispatcher: host,
                triggers: triggers_bindings,
                state: tokio::sync::Mutex::new(state),
                context: config.context(),
                settings: settings.clone(),
                max_event_bytes: config.http.max_body_bytes,
                uploads: tokio::sync::Semaphore::new(admin::UPLOADS),
                deploy_memory: admin::DeployMemory::new(settings.max_module_bytes),
                body_timeout: config.http.body_read_timeout,
                mqtt_link,
                stopping: admin_stops.clone(),
                streams: Arc::new(tokio::sync::Semaphore::new(admin::STREAMS)),
                auth_failures: admin_failures,
            });
            let mut stops = admin_stops;
            let stopped = async move {
                let _ = stops.wait_for(|stop| *stop).await;
            };
            let http = admin_http(&config);
            Some(tokio::spawn(admin::serve(
                platform, listener, http, stopped,
            )))
        }
        _ => None,
    };
    // The management API stops first, so that no change starts while the
    // triggers stop; then the gateway and cron; MQTT last, so that the
    // results of cron's last runs still reach its outbox (each trigger's
    // stage).
    let stopping = async move {
        signals.received().await;
        stop_admin.send_replace(true);
    };
    trigger::run_all(triggers, stopping).await;
    if let Some(task) = admin_task {
        let _ = task.await;
    }
    summaries.abort();
    tracing::info!("stopped");
    Ok(())
}

/// The management API's listener: few connections, a client that says
/// nothing is cut within 5 s (and gives its place to a new connection
/// before then), and one place kept for loopback, so that idle
/// connections from the network cannot keep the operator out.
fn admin_http(config: &Config) -> HttpSettings {
    HttpSettings {
        max_connections: 32,
        max_connections_per_client: 8,
        reserved_for_loopback: 1,
        header_read_timeout: config.http.header_read_timeout.min(Duration::from_secs(5)),
        ..config.http.clone()
    }
}

/// Starts the embedded broker, or says why there is none.
#[cfg(feature = "embedded-broker")]
fn embedded_broker(address: SocketAddr, max_packet_bytes: u32) -> anyhow::Result<()> {
    use fenn_mqtt::embedded::{self, Embedded};
    match embedded::start(address, max_packet_bytes as usize)
        .with_context(|| format!("cannot start the embedded MQTT broker on {address}"))?
    {
        Embedded::Started => {
            tracing::info!(%address, "embedded MQTT broker (MQTT 5) listening");
        }
        Embedded::AlreadyThere => {
            tracing::info!(%address, "an MQTT broker already listens there: fenn uses it");
        }
    }
    Ok(())
}

/// Without the `embedded-broker` build, fenn connects to the address and
/// waits for a broker there.
#[cfg(not(feature = "embedded-broker"))]
fn embedded_broker(address: SocketAddr, _max_packet_bytes: u32) -> anyhow::Result<()> {
    tracing::warn!(%address, "mqtt.embedded: this fenn was built without the embedded broker (cargo feature embedded-broker); it connects to mqtt://{address} and retries until a broker listens there");
    Ok(())
}

/// SIGINT and SIGTERM, listened for from before fenn binds its port and
/// announces itself: a stop that comes right after the start (a service
/// manager's, a test's) still shuts down gracefully instead of killing fenn
/// by the signal's default action.
#[cfg(unix)]
struct ShutdownSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl ShutdownSignals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn received(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
        tracing::info!("shutdown signal received");
    }
}

#[cfg(not(unix))]
struct ShutdownSignals;

#[cfg(not(unix))]
impl ShutdownSignals {
    fn install() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn received(self) {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received");
    }
}
