//! `fenn serve`: load every function the config names, start every
//! registered trigger with its bindings, and serve until told to stop,
//! letting in-flight events finish.

use crate::examples;
use anyhow::Context as _;
use fenn_admin::catalog::Catalog;
use fenn_admin::started::{Handles, Started};
use fenn_config::{Config, ConfigError, ConfigErrors, FunctionConfig, ModuleSource};
use fenn_observe::Recorder;
use fenn_runtime::Dispatcher;
use fenn_runtime::trigger::{self, Host, Trigger};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Reads a function's module, refusing one over its size limit unread.
pub fn read_module(function: &FunctionConfig) -> Result<std::borrow::Cow<'static, [u8]>, String> {
    match &function.module {
        ModuleSource::Example(name) => examples::module(name)
            .map(std::borrow::Cow::Borrowed)
            .ok_or_else(|| format!("no bundled example '{name}'")),
        ModuleSource::File(path) => {
            fenn_runtime::files::read(path, function.limits.module_bytes as u64, "max_module_size")
                .map(std::borrow::Cow::Owned)
        }
    }
}

/// Compiles and deploys every function: the "online compile", so a module
/// that cannot run stops the start with its reason (every such module's).
pub fn load_functions(
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
            let (field, reason) = fenn_config::refusal(&refused);
            error(field, reason)
        })
}

/// Serves every flow of the config, each step's function checked against
/// the functions loaded (the config's and the deployed ones).
pub fn load_flows(config: &Config, dispatcher: &Dispatcher) -> Result<(), ConfigErrors> {
    let mut errors = Vec::new();
    for flow in &config.flows {
        if dispatcher.serves(&flow.name) {
            errors.push(ConfigError {
                file: config.file.clone(),
                key: format!("{}.name", flow.key),
                reason: format!("'{}' is a function's name too", flow.name),
            });
            continue;
        }
        match flow.graph(&|function| dispatcher.serves(function)) {
            Ok(graph) => {
                let served = fenn_runtime::flow::Flow::new(&flow.name, 0, graph, flow.limits);
                dispatcher.flows().install(served);
            }
            Err(refused) => errors.extend(refused.into_iter().map(|error| ConfigError {
                file: config.file.clone(),
                key: error.key,
                reason: error.reason,
            })),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Where the caller has a trigger listen, by its kind (the gateway on
/// `--listen`, a test's on port 0), and the management API. A trigger or
/// the management API without one binds its configured address.
#[derive(Debug, Default)]
pub struct Listeners {
    /// A trigger's listener, or its address, by its kind.
    pub triggers: BTreeMap<&'static str, Listen>,
    /// The management API's listener.
    pub admin: Option<TcpListener>,
}

/// A listener the caller bound, or the address to bind once fenn has
/// loaded its functions (clients are refused, not queued, until then).
#[derive(Debug)]
pub enum Listen {
    /// Bound already.
    Bound(TcpListener),
    /// Bound as the trigger starts.
    At(SocketAddr),
}

impl Listen {
    /// The listener, bound now if it is not yet.
    fn bind(self) -> anyhow::Result<TcpListener> {
        let address = match self {
            Self::Bound(listener) => return Ok(listener),
            Self::At(address) => address,
        };
        let bound = std::net::TcpListener::bind(address)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .and_then(TcpListener::from_std);
        bound.with_context(|| format!("cannot listen on {address}"))
    }
}

/// The running triggers, as `serve` starts them.
struct Triggers {
    running: Vec<Box<dyn Trigger>>,
    started: Started,
    /// Where the first trigger that listens does (the gateway).
    address: Option<SocketAddr>,
    hints: Vec<String>,
}

/// Runs every trigger, and the management API when it is on, until
/// `shutdown` completes.
pub async fn serve(
    config: Config,
    mut listeners: Listeners,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    // Held until fenn stops: one fenn at a time on a state directory.
    let _state = (config.state_dir.as_deref())
        .map(fenn_admin::state_dir::lock)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    // What the rate limits of fenn's own lines held back, once a period.
    let summaries = tokio::spawn(fenn_observe::logging::summaries());
    let loaded = load(&config)?;
    let triggers = start(&loaded.catalog, &loaded.dispatcher, listeners.triggers)?;
    let admin_listener = crate::manage::bind(&config, listeners.admin.take()).await?;
    let admin_local = admin_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let deployed = (loaded.deployed.as_ref()).map(crate::manage::announced);
    let address = triggers.address.context("no trigger listens")?;
    crate::announce::announce(
        &config,
        address,
        admin_local,
        &deployed.unwrap_or_default(),
        &triggers.hints,
    );
    let (stop_admin, admin_stops) = tokio::sync::watch::channel(false);
    let admin_task = admin_listener.and_then(|listener| {
        crate::manage::spawn(&config, loaded, triggers.started, listener, admin_stops)
    });
    // The management API stops first, so that no change starts while the
    // triggers stop; then the gateway and cron; MQTT last, so that the
    // results of cron's last runs still reach its outbox (each trigger's
    // stage).
    let stopping = async move {
        shutdown.await;
        stop_admin.send_replace(true);
    };
    trigger::run_all(triggers.running, stopping).await;
    if let Some(task) = admin_task {
        let _ = task.await;
    }
    summaries.abort();
    tracing::info!("stopped");
    Ok(())
}

/// What fenn serves once it has loaded: the functions compiled, the
/// catalog of their bindings, the deployed ones, and the recorder of their
/// invocations.
pub(crate) struct Loaded {
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) catalog: Catalog,
    pub(crate) deployed: Option<crate::manage::Deployed>,
    /// Read by the management API only.
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) recorder: Option<Arc<Recorder>>,
}

/// Compiles the config's functions, then, with the management API, the
/// deployed ones: the history and the metrics are the management API's,
/// recorded when it is on.
fn load(config: &Config) -> anyhow::Result<Loaded> {
    let recorder = (config.admin.as_ref())
        .map(|admin| Recorder::new(admin.history, &crate::registry::invoked_by()));
    let observer = recorder
        .clone()
        .map(|recorder| recorder as Arc<dyn fenn_runtime::Observer>);
    let dispatcher = Arc::new(load_functions(config, observer)?);
    let catalog = Catalog::from_config(config);
    let (catalog, deployed) = crate::manage::load(config, &dispatcher, catalog)?;
    load_flows(config, &dispatcher)?;
    crate::services::bind(config, &dispatcher)?;
    Ok(Loaded {
        dispatcher,
        catalog,
        deployed,
        recorder,
    })
}

/// Starts every registered trigger that is configured, in the registry's
/// order, each with its bindings from `catalog` and the result sinks of
/// those started before it.
fn start(
    catalog: &Catalog,
    dispatcher: &Arc<Dispatcher>,
    mut listeners: BTreeMap<&'static str, Listen>,
) -> anyhow::Result<Triggers> {
    let mut sinks = BTreeMap::new();
    let mut triggers = Triggers {
        running: Vec::new(),
        started: Started {
            handles: Vec::new(),
            kinds: catalog.setups().iter().map(|setup| setup.kind()).collect(),
        },
        address: None,
        hints: Vec::new(),
    };
    for setup in catalog.setups().iter().filter(|setup| setup.enabled()) {
        let kind = setup.kind();
        let host = Host {
            dispatcher: dispatcher.clone(),
            bindings: catalog.bindings(kind),
            listener: listeners.remove(kind).map(Listen::bind).transpose()?,
            sinks: &sinks,
        };
        let running = setup.start(host).map_err(anyhow::Error::msg)?;
        if let Some(sink) = running.sink {
            sinks.insert(kind, sink);
        }
        triggers.address = triggers.address.or(running.address);
        triggers.hints.extend(running.report.hints());
        triggers.running.push(running.trigger);
        triggers.started.handles.push(Handles {
            kind,
            apply: running.apply,
            report: running.report,
        });
    }
    Ok(triggers)
}

/// SIGINT and SIGTERM, listened for from before fenn binds its port and
/// announces itself: a stop that comes right after the start (a service
/// manager's, a test's) still shuts down gracefully instead of killing fenn
/// by the signal's default action.
#[cfg(unix)]
pub struct ShutdownSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl ShutdownSignals {
    /// Listens for SIGINT and SIGTERM from now on.
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Completes when one of them arrives.
    pub async fn received(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
        tracing::info!("shutdown signal received");
    }
}

/// Ctrl-C, where there are no signals.
#[cfg(not(unix))]
pub struct ShutdownSignals;

#[cfg(not(unix))]
impl ShutdownSignals {
    /// Nothing to install.
    pub fn install() -> std::io::Result<Self> {
        Ok(Self)
    }

    /// Completes at Ctrl-C.
    pub async fn received(self) {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received");
    }
}
