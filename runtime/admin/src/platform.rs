//! The functions fenn serves, changed while it runs: deploy, rollback and
//! delete, each one atomic change (checked, then saved, then swapped into
//! the dispatcher and every trigger's bindings), serialized one at a time.

use super::ApiError;
use super::check::instantiation;
use super::manifest::{Manifest, Refused, Version};
use super::saving::{Removal, remove, save};
use super::state::State;
use super::store::sha256;
use crate::catalog::{Catalog, Entry, Origin};
use crate::started::Started;
use fenn_config::{AdminSettings, definition};
use fenn_runtime::{Dispatcher, FunctionModule};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Mutex;

/// The served functions and the means to change them.
pub struct Platform {
    /// Runs the functions.
    pub dispatcher: Arc<Dispatcher>,
    /// Every invocation recorded (the history and its stream).
    pub observe: Arc<fenn_observe::Recorder>,
    /// `GET /metrics`.
    pub metrics: fenn_observe::Metrics,
    /// The running triggers: their bindings are changed with the catalog.
    pub triggers: Started,
    /// What a change works on: one change at a time.
    pub state: Mutex<State>,
    /// `[admin]`.
    pub settings: AdminSettings,
    /// Largest test event (`server.max_body`).
    pub max_event_bytes: usize,
    /// Requests that carry a module (a deploy, a check) read and hold it
    /// a few at a time, so that memory stays bounded however many
    /// connections upload at once.
    pub uploads: tokio::sync::Semaphore,
    /// The memory deploys and checks take while they decode and compile.
    pub deploy_memory: super::DeployMemory,
    /// Time a client has to send a request's body (`server.body_read_timeout`).
    pub body_timeout: std::time::Duration,
    /// Turns true when fenn stops: open streams end then.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Streams open at once, each holding one of the listener's few
    /// connections ([`STREAMS`]).
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Wrong tokens by the peer's address.
    pub auth_failures: Arc<fenn_http::policy::failures::AuthFailures>,
    /// The device's fleet state, as its agent reports it (`[fleet]`).
    pub fleet: std::sync::OnceLock<tokio::sync::watch::Receiver<fenn_fleet::Report>>,
}

/// Requests with large bodies (uploads, test answers) at once.
pub const UPLOADS: usize = 2;
/// Invocation streams open at once: the rest of the listener's 32
/// connections stay free for the API, health checks and the console.
pub const STREAMS: usize = 4;

/// A version ready to serve: validated, compiled, and its bindings
/// checked against every other function's.
pub struct Ready {
    pub catalog: Catalog,
    pub module: FunctionModule,
    pub compile_ms: f64,
}

impl Platform {
    /// `ready` off the async threads.
    pub async fn prepare(
        &self,
        state: &State,
        name: &str,
        value: &Value,
        wasm: Arc<Vec<u8>>,
        sha: &str,
    ) -> Result<Ready, ApiError> {
        let dispatcher = self.dispatcher.clone();
        let (catalog, path) = (state.catalog.clone(), state.store.module_path(sha));
        let (name, value) = (name.to_owned(), value.clone());
        tokio::task::spawn_blocking(move || {
            ready(&dispatcher, &catalog, &name, &value, &wasm, path)
        })
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::Internal(
                "the compile failed (a bug: please report it)".into(),
            ))
        })
    }

    /// Deploys `wasm` with its definition as `name`'s new version.
    pub async fn deploy(&self, name: &str, value: Value, wasm: Vec<u8>) -> Result<Value, ApiError> {
        let mut state = self.state.lock().await;
        writable(&state, name, false)?;
        let deployed = state.manifest.functions.len();
        if !state.manifest.functions.contains_key(name) && deployed >= self.settings.max_functions {
            return Err(ApiError::Conflict(format!(
                "{deployed} functions are deployed, the most admin.max_functions allows: delete one first"
            )));
        }
        super::check::is_wasm(&wasm)?;
        let size = wasm.len() as u64;
        let wasm = Arc::new(wasm);
        let hashed = wasm.clone();
        let sha = tokio::task::spawn_blocking(move || sha256(&hashed))
            .await
            .map_err(|_| ApiError::Internal("hashing failed (a bug: please report it)".into()))?;
        let ready = self
            .prepare(&state, name, &value, wasm.clone(), &sha)
            .await?;
        let mut manifest = state.manifest.clone();
        let version = Version {
            version: 0,
            sha256: sha.clone(),
            size,
            deployed_at: now(),
            definition: value,
        };
        let number = manifest.deploy(name, version, self.settings.keep_versions);
        let compile_ms = ready.compile_ms;
        let instantiation = instantiation(&ready.module);
        self.commit(&mut state, manifest, Some(wasm), ready).await?;
        tracing::info!(function = name, version = number, %sha, "deployed");
        Ok(json!({
            "name": name,
            "version": number,
            "sha256": sha,
            "size": size,
            "compile_ms": compile_ms,
            "instantiation": instantiation,
        }))
    }

    /// Serves `name`'s version `to`, or the one before the current.
    pub async fn rollback(&self, name: &str, to: Option<u64>) -> Result<Value, ApiError> {
        let pick = |state: &State| {
            writable(state, name, true)?;
            let target = state
                .manifest
                .rollback_target(name, to)
                .map_err(|refused| match refused {
                    Refused::NothingEarlier(_) => ApiError::Conflict(refused.to_string()),
                    _ => ApiError::NotFound(refused.to_string()),
                })?
                .clone();
            let size = target.size;
            Ok((target, size))
        };
        let (mut state, target, _memory) = (self.deploy_memory)
            .lock_reserved(&self.state, self.body_timeout, pick)
            .await?;
        let store = state.store.clone();
        // As at start: a module kept from before a lower limit still serves.
        let limit = self.settings.max_module_bytes.max(target.size as usize);
        let sha = target.sha256.clone();
        let read = tokio::task::spawn_blocking(move || store.read_module(&sha, limit));
        let wasm = match read.await {
            Ok(Ok(wasm)) => Arc::new(wasm),
            Ok(Err(reason)) => {
                return Err(ApiError::Conflict(format!(
                    "version {} cannot be served: {reason}",
                    target.version
                )));
            }
            Err(_) => {
                return Err(ApiError::Internal(
                    "the store failed (a bug: please report it)".into(),
                ));
            }
        };
        let ready = self
            .prepare(&state, name, &target.definition, wasm, &target.sha256)
            .await?;
        let mut manifest = state.manifest.clone();
        manifest.select(name, target.version);
        self.commit(&mut state, manifest, None, ready).await?;
        tracing::info!(function = name, version = target.version, "rolled back");
        Ok(json!({"name": name, "version": target.version, "sha256": target.sha256}))
    }

    /// Stops serving `name` and deletes its versions.
    pub async fn delete(&self, name: &str) -> Result<Value, ApiError> {
        let mut state = self.state.lock().await;
        // Not served (a config function may hold its name): only the
        // stored versions go.
        let served = !state.broken.contains_key(name);
        if served {
            writable(&state, name, true)?;
            super::flows::unused(&self.dispatcher, name)?;
        }
        let mut manifest = state.manifest.clone();
        manifest.functions.remove(name);
        let removed = remove(&state, &manifest).await;
        if served && !matches!(removed, Err(Removal::Unchanged(_))) {
            let catalog = state.catalog.without(name);
            self.triggers.apply(&catalog);
            self.dispatcher.remove(name);
            self.observe.forget(name);
            state.catalog = catalog;
        }
        match removed {
            Ok(()) => {
                state.broken.remove(name);
                state.manifest = manifest;
                tracing::info!(function = name, "deleted");
                Ok(json!({"name": name, "deleted": true}))
            }
            Err(Removal::Unchanged(error)) => Err(error),
            // Memory as the disk: the manifest names modules that are
            // gone, so the function is not served until deleted again.
            Err(Removal::ModulesGone(error)) => {
                let reason = format!("deployed function '{name}': {error}");
                tracing::error!("{reason}");
                state.broken.insert(name.to_owned(), reason);
                Err(error)
            }
        }
    }

    /// Saves `manifest` (and `wasm`, a new module), then puts the change in
    /// force: the module first (a route may name it), then every
    /// trigger's bindings. Nothing is in force when saving fails.
    async fn commit(
        &self,
        state: &mut State,
        manifest: Manifest,
        wasm: Option<Arc<Vec<u8>>>,
        ready: Ready,
    ) -> Result<(), ApiError> {
        save(state, &manifest, wasm).await?;
        let mut module = ready.module;
        state.broken.remove(module.name());
        // The history names the version each invocation ran.
        if let Some(current) = manifest.current(module.name()) {
            module.version = current.version;
        }
        self.dispatcher.install(module);
        self.triggers.apply(&ready.catalog);
        state.catalog = ready.catalog;
        state.manifest = manifest;
        Ok(())
    }
}

/// Validates `name`'s definition `value`, compiles `wasm` (to be kept at
/// `path`) and checks its bindings against every other function's in
/// `catalog`: what a deploy, a rollback and a start each do before a
/// version serves.
pub(crate) fn ready(
    dispatcher: &Dispatcher,
    catalog: &Catalog,
    name: &str,
    value: &Value,
    wasm: &[u8],
    path: std::path::PathBuf,
) -> Result<Ready, ApiError> {
    let definition =
        definition(name, value, catalog.setups(), path).map_err(|errors| ApiError::Refused {
            reason: "the definition is refused".into(),
            errors: errors.0.iter().map(ToString::to_string).collect(),
        })?;
    let started = Instant::now();
    let module = dispatcher
        .compile(name, wasm, definition.limits.clone())
        .map_err(|refused| match fenn_config::refusal(&refused) {
            ("module", reason) => ApiError::refused(reason),
            (field, reason) => ApiError::refused(format!("{field}: {reason}")),
        })?;
    let compile_ms = super::millis(started.elapsed());
    let catalog = catalog
        .with(name, Entry::deployed(&definition))
        .map_err(ApiError::Conflict)?;
    Ok(Ready {
        catalog,
        module,
        compile_ms,
    })
}

/// Whether the API may change `name` as a function: not a flow's name,
/// not a config file's function, and, when `existing`, one that is
/// deployed.
fn writable(state: &State, name: &str, existing: bool) -> Result<(), ApiError> {
    let flow = state.catalog.entry(name).is_some_and(|entry| entry.flow)
        || state.flows.flows.contains_key(name)
        || state.broken_flows.contains_key(name);
    if flow {
        return Err(ApiError::Conflict(format!(
            "'{name}' is a flow's name: functions and flows share names"
        )));
    }
    match state.catalog.origin(name) {
        Some(Origin::Config) => Err(ApiError::Conflict(format!(
            "function '{name}' comes from the config file: change it there"
        ))),
        // A deployed function not served (see `load`) is still deployed.
        None if existing && !state.manifest.functions.contains_key(name) => {
            Err(ApiError::NotFound(format!("no deployed function '{name}'")))
        }
        _ => Ok(()),
    }
}

/// Now, as RFC 3339 in UTC.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
