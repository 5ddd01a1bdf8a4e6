//! The flows fenn serves, changed while it runs: deploy, rollback and
//! delete of a flow, each one atomic change as a function's is (checked:
//! its definition, its steps' functions against those served, its name
//! against the functions', its bindings against every other's; then
//! saved; then put in force, the flow before the bindings that name it),
//! serialized with the functions' changes.

use super::ApiError;
use super::flow_store::{FlowManifest, FlowVersion};
use super::manifest::Missing;
use super::platform::{Platform, now};
use super::saving::save_flows;
use super::state::State;
use crate::catalog::{Catalog, Entry, Origin};
use fenn_config::flow_definition;
use fenn_runtime::Dispatcher;
use fenn_runtime::flow::{Flow, FlowLimits, Graph};
use serde_json::{Value, json};

/// A flow's version ready to serve: its definition validated, its steps'
/// functions served, its bindings checked against every other's.
pub(crate) struct ReadyFlow {
    pub(crate) catalog: Catalog,
    pub(crate) graph: Graph,
    pub(crate) limits: FlowLimits,
}

impl Platform {
    /// Deploys `value`, a `[[flow]]` block's keys, as flow `name`'s new
    /// version.
    pub async fn deploy_flow(&self, name: &str, value: Value) -> Result<Value, ApiError> {
        let mut state = self.state.lock().await;
        flow_writable(&state, name, false)?;
        let deployed = state.flows.flows.len();
        if !state.flows.flows.contains_key(name) && deployed >= self.settings.max_functions {
            return Err(ApiError::Conflict(format!(
                "{deployed} flows are deployed, the most admin.max_functions allows: delete one first"
            )));
        }
        let ready = self.prepare_flow(&state, name, &value).await?;
        let steps = ready.graph.steps.len();
        let mut manifest = state.flows.clone();
        let version = FlowVersion {
            version: 0,
            deployed_at: now(),
            definition: value,
        };
        let number = manifest.deploy(name, version, self.settings.keep_versions);
        self.commit_flow(&mut state, manifest, name, ready).await?;
        tracing::info!(flow = name, version = number, "deployed");
        Ok(json!({"name": name, "version": number, "steps": steps}))
    }

    /// Serves flow `name`'s version `to`, or the one before the current.
    pub async fn rollback_flow(&self, name: &str, to: Option<u64>) -> Result<Value, ApiError> {
        let mut state = self.state.lock().await;
        flow_writable(&state, name, true)?;
        let record = (state.flows.flows.get(name))
            .ok_or_else(|| ApiError::NotFound(format!("no deployed flow '{name}'")))?;
        let target = match record.target(to) {
            Ok(target) => target.clone(),
            Err(Missing::NoSuchVersion { version, kept }) => {
                return Err(ApiError::NotFound(format!(
                    "flow '{name}' keeps no version {version} (it keeps {kept})"
                )));
            }
            Err(Missing::NothingEarlier) => {
                return Err(ApiError::Conflict(format!(
                    "flow '{name}' keeps no version before the one it serves"
                )));
            }
        };
        let ready = self.prepare_flow(&state, name, &target.definition).await?;
        let mut manifest = state.flows.clone();
        if let Some(record) = manifest.flows.get_mut(name) {
            record.current = target.version;
        }
        self.commit_flow(&mut state, manifest, name, ready).await?;
        tracing::info!(flow = name, version = target.version, "rolled back");
        Ok(json!({"name": name, "version": target.version}))
    }

    /// Stops serving flow `name` and deletes its versions; its runs under
    /// way finish.
    pub async fn delete_flow(&self, name: &str) -> Result<Value, ApiError> {
        let mut state = self.state.lock().await;
        // Not served (a config flow or function may hold its name): only
        // the stored versions go.
        let served = !state.broken_flows.contains_key(name);
        if served {
            flow_writable(&state, name, true)?;
        }
        let mut manifest = state.flows.clone();
        manifest.flows.remove(name);
        save_flows(&state, &manifest).await?;
        if served {
            let catalog = state.catalog.without(name);
            self.triggers.apply(&catalog);
            self.dispatcher.flows().remove(name);
            state.catalog = catalog;
        }
        state.broken_flows.remove(name);
        state.flows = manifest;
        tracing::info!(flow = name, "deleted");
        Ok(json!({"name": name, "deleted": true}))
    }

    /// [`ready_flow`] off the async threads: the triggers' checks of every
    /// binding may take a while.
    async fn prepare_flow(
        &self,
        state: &State,
        name: &str,
        value: &Value,
    ) -> Result<ReadyFlow, ApiError> {
        let (dispatcher, catalog) = (self.dispatcher.clone(), state.catalog.clone());
        let (name, value) = (name.to_owned(), value.clone());
        tokio::task::spawn_blocking(move || ready_flow(&dispatcher, &catalog, &name, &value))
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::Internal(
                    "checking the flow failed (a bug: please report it)".into(),
                ))
            })
    }

    /// Saves `manifest`, then puts `name`'s version in force: the flow
    /// first (a route may name it), then every trigger's bindings. Nothing
    /// is in force when saving fails.
    async fn commit_flow(
        &self,
        state: &mut State,
        manifest: FlowManifest,
        name: &str,
        ready: ReadyFlow,
    ) -> Result<(), ApiError> {
        save_flows(state, &manifest).await?;
        let version = manifest.flows.get(name).map_or(0, |record| record.current);
        let flow = Flow::new(name, version, ready.graph, ready.limits);
        state.broken_flows.remove(name);
        self.dispatcher.flows().install(flow);
        self.triggers.apply(&ready.catalog);
        state.catalog = ready.catalog;
        state.flows = manifest;
        Ok(())
    }
}

/// Validates flow `name`'s definition `value`, finds its steps' functions
/// among those `dispatcher` serves, and checks its bindings against every
/// other's in `catalog`: what a deploy, a rollback and a start each do
/// before a version serves.
pub(crate) fn ready_flow(
    dispatcher: &Dispatcher,
    catalog: &Catalog,
    name: &str,
    value: &Value,
) -> Result<ReadyFlow, ApiError> {
    let refused = |errors: Vec<String>| ApiError::Refused {
        reason: "the definition is refused".into(),
        errors,
    };
    let flow = flow_definition(name, value, catalog.setups())
        .map_err(|errors| refused(errors.0.iter().map(ToString::to_string).collect()))?;
    let graph = (flow.graph(&|function| dispatcher.serves(function)))
        .map_err(|errors| refused(errors.iter().map(|e| format!("definition: {e}")).collect()))?;
    let catalog = catalog
        .with(name, Entry::deployed_flow(&flow))
        .map_err(ApiError::Conflict)?;
    Ok(ReadyFlow {
        catalog,
        graph,
        limits: flow.limits,
    })
}

/// Refuses to stop serving `function` while a served flow's step runs it,
/// naming those flows.
pub(crate) fn unused(dispatcher: &Dispatcher, function: &str) -> Result<(), ApiError> {
    let flows = dispatcher.flows().all();
    let runs =
        |flow: &&std::sync::Arc<Flow>| flow.graph.steps.iter().any(|s| s.function == function);
    let mut names: Vec<String> = (flows.iter().filter(runs))
        .map(|flow| format!("'{}'", flow.name))
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    names.sort();
    let (flows, them) = match names.len() {
        1 => ("flow", "it"),
        _ => ("flows", "them"),
    };
    Err(ApiError::Conflict(format!(
        "function '{function}' runs steps of {flows} {}: change or delete {them} first",
        names.join(", ")
    )))
}

/// Whether the API may change `name` as a flow: not a function's name,
/// not a config file's flow, and, when `existing`, one that is deployed.
fn flow_writable(state: &State, name: &str, existing: bool) -> Result<(), ApiError> {
    let entry = state.catalog.entry(name);
    let function = entry.is_some_and(|entry| !entry.flow)
        || state.manifest.functions.contains_key(name)
        || state.broken.contains_key(name);
    if function {
        return Err(ApiError::Conflict(format!(
            "'{name}' is a function's name: functions and flows share names"
        )));
    }
    match entry.map(|entry| entry.origin) {
        Some(Origin::Config) => Err(ApiError::Conflict(format!(
            "flow '{name}' comes from the config file: change it there"
        ))),
        // A deployed flow not served (see `load`) is still deployed.
        None if existing && !state.flows.flows.contains_key(name) => {
            Err(ApiError::NotFound(format!("no deployed flow '{name}'")))
        }
        _ => Ok(()),
    }
}
