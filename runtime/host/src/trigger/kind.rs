//! The registry's seam: a [`TriggerKind`] is everything fenn's config,
//! catalog, management API, metrics and `serve` know of a trigger. Each
//! kind reads its own settings and bindings from the tables the config
//! passes through untouched (TOML from the file, JSON from a deploy: one
//! parser), checks a whole set for collisions, and builds its running
//! trigger. The binary loops over the registered kinds and never names one.

use super::{BindingError, Trigger};
use crate::{Dispatcher, Limits, ResultSink};
use serde_json::{Map, Value};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A JSON object: a config table, or a deploy's definition.
pub type Table = Map<String, Value>;

/// A kind of trigger, registered once: its name, the config it owns, and
/// how its settings are read.
pub trait TriggerKind: Send + Sync {
    /// `http`, `mqtt`, `cron`: the key of its bindings (`[[function.mqtt]]`),
    /// and of its settings where it has a section of its own (`[mqtt]`).
    fn kind(&self) -> &'static str;

    /// Top-level sections it owns (`mqtt`; `gateway`, `app`).
    fn sections(&self) -> &'static [&'static str] {
        &[]
    }

    /// Keys of `[server]` it owns (the gateway's `max_body`, say).
    fn server_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Reads its settings from `tables`, recording each error found in
    /// `errors` and standing a default in for the value in error, so that
    /// one mistake does not hide the others.
    fn settings(&self, tables: &Tables<'_>, errors: &mut Vec<KeyError>) -> Arc<dyn TriggerSetup>;
}

/// What a kind reads its settings from.
#[derive(Debug, Clone, Copy)]
pub struct Tables<'a> {
    /// Every top-level section, by key (`[mqtt]` as `mqtt`, `[[app]]` as
    /// `app`, an array of tables).
    pub sections: &'a Table,
    /// `[server]`.
    pub server: &'a Table,
    /// The common settings, already validated.
    pub common: &'a Common<'a>,
}

/// Settings every kind may read, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Common<'a> {
    /// The folder of the config file: relative paths start here.
    pub config_dir: &'a Path,
    /// `server.state_dir`: kept across restarts, when set.
    pub state_dir: Option<&'a Path>,
    /// `server.shutdown_grace`: time in-flight work gets at shutdown.
    pub shutdown_grace: Duration,
}

/// An error at a key of the config (`mqtt.url`), with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// The key, from the top (`server.max_body`, `gateway.jwt.issuer`).
    pub key: String,
    /// What is wrong, for a person.
    pub reason: String,
}

impl KeyError {
    /// `key` is refused for `reason`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// The function a binding belongs to, as its kind validates it.
#[derive(Debug, Clone, Copy)]
pub struct FunctionInfo<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its limits.
    pub limits: &'a Limits,
    /// `apps`: the apps its routes authorize, where a route names none.
    pub apps: &'a [String],
}

/// A kind's validated settings: how its bindings are read and checked,
/// and how it starts.
pub trait TriggerSetup: Debug + Send + Sync + Any {
    /// The kind these settings are of.
    fn kind(&self) -> &'static str;

    /// Whether its settings are present, so that it runs (MQTT runs with
    /// an `[mqtt]` section only; the gateway and cron always do).
    fn enabled(&self) -> bool {
        true
    }

    /// Validates a function's bindings of this kind (`[[function.mqtt]]`):
    /// each one's result, in order. A binding refused for an error
    /// reported elsewhere says so ([`BindingError::is_reported_elsewhere`]).
    fn bindings(
        &self,
        function: &FunctionInfo<'_>,
        raw: &[Value],
        sinks: &Sinks,
    ) -> Vec<Result<Arc<dyn Binding>, BindingError>>;

    /// A function's own checks across its bindings of this kind (a route
    /// that could never answer within the buffers, say): the field of the
    /// function in error (`max_response`) and why.
    fn function_check(
        &self,
        function: &FunctionInfo<'_>,
        bindings: &[Arc<dyn Binding>],
    ) -> Option<KeyError> {
        let _ = (function, bindings);
        None
    }

    /// Checks a whole set, every function's bindings of this kind in the
    /// order they were declared: two that collide, or a loop, refuse the
    /// set. The refusal names the binding at fault by its index.
    ///
    /// # Errors
    ///
    /// The set cannot be served.
    fn check(&self, bindings: &[Arc<dyn Binding>]) -> Result<(), Collision>;

    /// What it can take results for, when it runs (MQTT: a topic).
    fn sink(&self) -> Option<Arc<dyn SinkCheck>> {
        None
    }

    /// Lines of the announcement before its bindings (the broker's
    /// address, say).
    fn announce(&self) -> Vec<String> {
        Vec::new()
    }

    /// The settings as `Any`, for a caller that knows the kind.
    fn as_any(&self) -> &dyn Any;

    /// Builds the running trigger.
    ///
    /// # Errors
    ///
    /// It cannot start (its listener cannot be bound, its outbox cannot
    /// be opened), with the reason.
    fn start(&self, host: Host<'_>) -> Result<Running, String>;
}

/// Why a set of bindings cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    /// The binding at fault, by its index in the set.
    pub at: usize,
    /// Its field at fault (`route`, `reply`, `name`), or empty.
    pub field: String,
    /// What collides, naming the function that holds the other binding.
    pub reason: String,
}

/// Checks the destinations a kind takes results for (MQTT topics), at
/// validation, before anything runs.
pub trait SinkCheck: Send + Sync {
    /// Whether `destination` can be delivered to.
    ///
    /// # Errors
    ///
    /// It cannot, with the reason.
    fn check(&self, destination: &str) -> Result<(), String>;
}

/// The destinations that take results, by the kind that carries them.
pub type Sinks = BTreeMap<&'static str, Arc<dyn SinkCheck>>;

/// One binding of a function, validated by its kind's crate; opaque to
/// the rest of fenn.
pub trait Binding: Debug + Send + Sync + Any {
    /// The function it binds.
    fn function(&self) -> &str;

    /// The binding as the management API shows it, under its kind.
    fn view(&self) -> Value;

    /// The binding on one line, for `fenn ls` and the console
    /// (`GET,POST /hello`).
    fn summary(&self) -> String;

    /// The binding in the announcement: a label (`GET`, `MQTT`, `CRON`),
    /// what it matches, and a note (`(envelope)`), before its function.
    fn announce(&self) -> [String; 3];

    /// The binding as `Any`, for its own kind.
    fn as_any(&self) -> &dyn Any;
}

/// What a kind starts with.
pub struct Host<'a> {
    /// Runs the functions.
    pub dispatcher: Arc<Dispatcher>,
    /// Every function's bindings of this kind, in order.
    pub bindings: Vec<Arc<dyn Binding>>,
    /// A listener the caller bound for it, if any (the gateway's).
    pub listener: Option<tokio::net::TcpListener>,
    /// Result sinks of the kinds started before it, by kind.
    pub sinks: &'a BTreeMap<&'static str, Arc<dyn ResultSink>>,
}

impl std::fmt::Debug for Host<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("bindings", &self.bindings.len())
            .finish_non_exhaustive()
    }
}

/// A started trigger: what runs, and the handles the rest of fenn keeps.
pub struct Running {
    /// What runs until shutdown.
    pub trigger: Box<dyn Trigger>,
    /// Changes its bindings while it runs.
    pub apply: Box<dyn Apply>,
    /// Its metrics, readiness and status.
    pub report: Arc<dyn Report>,
    /// Where it takes other kinds' results, if it does.
    pub sink: Option<Arc<dyn ResultSink>>,
    /// The address it listens on, if any.
    pub address: Option<SocketAddr>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("kind", &self.trigger.kind())
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Changes a running trigger's bindings (see [`super::Bindings`]).
pub trait Apply: Send + Sync {
    /// Serves `bindings` from now on.
    ///
    /// # Errors
    ///
    /// The set cannot be served, with the reason.
    fn apply(&self, bindings: &[Arc<dyn Binding>]) -> Result<(), String>;
}

/// What a running trigger tells the management API.
pub trait Report: Send + Sync {
    /// Its metrics, read now.
    fn metrics(&self) -> Vec<Metric> {
        Vec::new()
    }

    /// Whether it is ready (`/readyz`): its word (`connected`) and
    /// whether that is ready; None when it has no say.
    fn readiness(&self) -> Option<(&'static str, bool)> {
        None
    }

    /// Its status for `GET /v1/status`, if it has one.
    fn status(&self) -> Option<Value> {
        None
    }

    /// Lines for the person who started fenn, once it listens (`try:
    /// curl …`).
    fn hints(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Label names and values of one series.
pub type Labels = Vec<(&'static str, String)>;

/// A histogram as read: sum, count and each bucket's upper bound and
/// count (`+Inf` last), as [`crate::observe::Histogram::snapshot`] gives it.
pub type HistogramSnapshot = (f64, u64, Vec<(f64, u64)>);

/// One metric family, read at scrape time, in the Prometheus model.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A counter (the exposition adds `_total`).
    Counter {
        /// Its name, `fenn_` first.
        name: &'static str,
        /// What it counts.
        help: &'static str,
        /// Its series.
        series: Vec<(Labels, u64)>,
    },
    /// A gauge.
    Gauge {
        /// Its name.
        name: &'static str,
        /// What it measures.
        help: &'static str,
        /// Its value.
        value: i64,
    },
    /// A histogram.
    Histogram {
        /// Its name.
        name: &'static str,
        /// What it measures.
        help: &'static str,
        /// Its series.
        series: Vec<(Labels, HistogramSnapshot)>,
    },
}

/// A count as a gauge's value, the largest one past `i64::MAX`.
pub fn clamp(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// The bindings of `kind` in `table` (a function's `[[function.kind]]`),
/// as raw values; none when absent.
///
/// # Errors
///
/// The key is not an array.
pub fn raw_bindings<'t>(table: &'t Table, kind: &str) -> Result<&'t [Value], String> {
    match table.get(kind) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!(
            "invalid type: expected a sequence of {kind} bindings"
        )),
    }
}

/// Reads `value` as `T`, an error naming the key within it
/// (`methods`, `[0].route`) and serde's reason.
///
/// # Errors
///
/// The value does not have `T`'s shape.
pub fn parse<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, BindingError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { String::new() } else { path };
        BindingError::new(&field, error.into_inner().to_string())
    })
}
