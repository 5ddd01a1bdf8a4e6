//! `fenn serve`: load every function the config names, then serve the
//! gateway until SIGINT or SIGTERM, letting in-flight requests finish.

use crate::config::{Config, ConfigError, ConfigErrors, FunctionConfig, ModuleSource};
use crate::examples;
use anyhow::Context as _;
use fenn_cron::CronTrigger;
use fenn_http::HttpTrigger;
use fenn_mqtt::MqttTrigger;
use fenn_runtime::Dispatcher;
use fenn_runtime::trigger::{self, Trigger};
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
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
pub(crate) fn load_functions(config: &Config) -> Result<Dispatcher, ConfigErrors> {
    let dispatcher = Dispatcher::new(config.workers, config.guest_memory);
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
        .map_err(|refused| match refused {
            // The trial instantiation did not fit: the limit is what to change.
            fenn_runtime::Error::MemoryLimit { limit } => error(
                "memory",
                format!("{limit} bytes is less than the module needs to start (its initial memory and data)"),
            ),
            refused => error("module", format!("module refused: {refused}")),
        })
}

/// Runs the gateway until a shutdown signal.
pub(crate) async fn serve(config: Config, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let signals = ShutdownSignals::install().context("cannot listen for shutdown signals")?;
    let dispatcher = load_functions(&config)?;
    let address = listen.unwrap_or(config.listen);
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let local = listener.local_addr()?;
    announce(&config, local);
    let host = Arc::new(dispatcher);
    let http = HttpTrigger::new(config.routes.clone(), host.clone(), config.http.clone());
    let mut triggers: Vec<Box<dyn Trigger>> = vec![Box::new(http.on(listener))];
    let mut cron = CronTrigger::new(
        config.schedules.clone(),
        host.clone(),
        config.state_dir.clone(),
    )
    .with_grace(config.http.shutdown_grace);
    if let Some(settings) = config.mqtt.clone() {
        if let Some(address) = config.embedded_broker {
            embedded_broker(address, settings.max_packet_bytes)?;
        }
        let mqtt = MqttTrigger::new(settings, config.mqtt_routes.clone(), host)
            .context("cannot open the MQTT outbox")?;
        cron = cron.with_sink(Arc::new(mqtt.publisher()));
        triggers.push(Box::new(mqtt));
    }
    triggers.push(Box::new(cron));
    // The gateway and cron stop first; MQTT last, so that the results of
    // cron's last runs still reach its outbox (each trigger's stage).
    trigger::run_all(triggers, signals.received()).await;
    tracing::info!("stopped");
    Ok(())
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

/// Tells the person who started fenn what it serves (stdout, not the log).
#[allow(clippy::print_stdout)]
fn announce(config: &Config, local: SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "fenn {} listening on http://{local}",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "functions from {}:", config.file.display());
    for spec in &config.route_specs {
        let methods = if spec.methods.is_empty() {
            "ANY".to_owned()
        } else {
            spec.methods.join(",")
        };
        let mode = match spec.response {
            fenn_http::ResponseMode::Plain => "",
            fenn_http::ResponseMode::Envelope => " (envelope)",
        };
        let _ = writeln!(
            out,
            "  {methods:<8} {:<22} -> {}{mode}",
            spec.route, spec.function
        );
    }
    if let Some(mqtt) = &config.mqtt {
        let embedded = if config.embedded_broker.is_some() {
            " (embedded unless one already listens there)"
        } else {
            ""
        };
        let scheme = if mqtt.tls.is_some() { "mqtts" } else { "mqtt" };
        let _ = writeln!(
            out,
            "MQTT broker {scheme}://{}:{}{embedded}",
            mqtt.host, mqtt.port
        );
    }
    for route in &config.mqtt_routes {
        let reply = route
            .reply
            .as_ref()
            .map(|reply| format!(" (replies to {})", reply.as_written()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<8} {:<22} -> {}{reply}",
            "MQTT",
            route.filter.as_written(),
            route.function
        );
    }
    for schedule in &config.schedules {
        let _ = writeln!(
            out,
            "  {:<8} {:<22} -> {} ({}, {})",
            "CRON",
            schedule.name,
            schedule.function,
            schedule.schedule.describe(),
            schedule.schedule.zone()
        );
    }
    if config
        .route_specs
        .iter()
        .any(|spec| spec.route == "/testfunc")
    {
        let _ = writeln!(
            out,
            "try: curl -X POST 'http://{local}/testfunc?name=Jason' -H 'content-type: text/plain' -d 'requested the API'"
        );
    }
    if let (Some(mqtt), Some(route)) = (&config.mqtt, config.mqtt_routes.first()) {
        let topic = route.filter.as_written().replace(['{', '}'], "");
        let _ = writeln!(
            out,
            "try: mosquitto_rr -h {} -p {} -t {topic} -e replies/fenn -m '{{\"celsius\":31}}'",
            mqtt.host, mqtt.port
        );
    }
    let _ = out.flush();
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
