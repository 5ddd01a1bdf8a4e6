//! At start: the store's functions served again, each at the version it
//! served when fenn stopped, beside the config file's; then the deployed
//! flows, over every function served.

use super::flow_store::{FlowManifest, FlowStore};
use super::flows::ready_flow;
use super::manifest::Manifest;
use super::platform::ready;
use super::state::State;
use super::store::Store;
use crate::catalog::Catalog;
use fenn_config::AdminSettings;
use fenn_runtime::Dispatcher;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Opens the store and installs every deployed function's current version
/// in `dispatcher`; `catalog` holds the config file's functions. A deployed
/// function that can no longer be served (its definition or module is
/// refused under today's config, or it collides with the config file) is
/// not served, and says so: logged as an error, listed with its reason,
/// and mended by a rollback, a new deploy or a delete. The rest serve.
/// Then every deployed flow's current version, the same way (a flow
/// whose step's function is no longer served is not served).
pub fn load(
    settings: &AdminSettings,
    dispatcher: &Dispatcher,
    mut catalog: Catalog,
) -> Result<State, String> {
    let opened = Store::open(&settings.store_dir, settings.max_functions)?;
    let (store, manifest) = (opened.store, opened.manifest);
    let mut broken = aside(opened.aside, "function");
    for name in manifest.functions.keys() {
        match serve(name, &manifest, &store, settings, dispatcher, &catalog) {
            Ok(next) => catalog = next,
            Err(reason) => {
                tracing::error!("{reason}: not served (fenn rollback, deploy or rm mends it)");
                broken.insert(name.clone(), reason);
            }
        }
    }
    let flows = FlowStore::open(&settings.flow_dir, settings.max_functions)?;
    let mut broken_flows = aside(flows.aside, "flow");
    for name in flows.manifest.flows.keys() {
        match serve_flow(name, &flows.manifest, settings, dispatcher, &catalog) {
            Ok(next) => catalog = next,
            Err(reason) => {
                tracing::error!("{reason}: not served (fenn flow rollback, deploy or rm mends it)");
                broken_flows.insert(name.clone(), reason);
            }
        }
    }
    Ok(State {
        catalog,
        manifest,
        store: Arc::new(store),
        broken,
        flows: flows.manifest,
        flow_store: Arc::new(flows.store),
        broken_flows,
    })
}

fn serve(
    name: &str,
    manifest: &Manifest,
    store: &Store,
    settings: &AdminSettings,
    dispatcher: &Dispatcher,
    catalog: &Catalog,
) -> Result<Catalog, String> {
    let Some(current) = manifest.current(name) else {
        return Err(format!(
            "deployed function '{name}': the store names no current version"
        ));
    };
    let what = format!(
        "deployed function '{name}' (version {}, {})",
        current.version,
        settings.store_dir.display()
    );
    if catalog.origin(name).is_some() {
        return Err(format!(
            "{what}: the config file now declares a function of the same name; rename one, or remove the deployed one (fenn rm {name})"
        ));
    }
    let wasm = store
        .read_module(
            &current.sha256,
            settings.max_module_bytes.max(current.size as usize),
        )
        .map_err(|error| format!("{what}: {error}"))?;
    let path = store.module_path(&current.sha256);
    let ready = ready(dispatcher, catalog, name, &current.definition, &wasm, path)
        .map_err(|refused| format!("{what}: {}", refused.detail()))?;
    let mut module = ready.module;
    module.version = current.version;
    dispatcher.install(module);
    Ok(ready.catalog)
}

/// The names a manifest set aside still shows, each with why it is not
/// served; `what` they are (`function`, `flow`).
fn aside(aside: Option<super::store::Aside>, what: &str) -> BTreeMap<String, String> {
    let Some(aside) = aside else {
        return BTreeMap::new();
    };
    // A function's store sets its modules aside too.
    let with = if what == "function" {
        ", with the modules,"
    } else {
        ""
    };
    tracing::error!(
        "{}: the store's manifest cannot be read; it is kept{with} in {}: no deployed {what} is served (deploy them again)",
        aside.reason,
        aside.path.display()
    );
    let reason = |name: &str| {
        format!(
            "deployed {what} '{name}': the store's manifest could not be read ({}); it is kept in {}",
            aside.reason,
            aside.path.display()
        )
    };
    (aside.names.iter())
        .map(|name| (name.clone(), reason(name)))
        .collect()
}

/// Serves deployed flow `name`'s current version; the catalog with its
/// bindings, or why it cannot serve.
fn serve_flow(
    name: &str,
    manifest: &FlowManifest,
    settings: &AdminSettings,
    dispatcher: &Dispatcher,
    catalog: &Catalog,
) -> Result<Catalog, String> {
    let Some(current) = manifest.current(name) else {
        return Err(format!(
            "deployed flow '{name}': the store names no current version"
        ));
    };
    let what = format!(
        "deployed flow '{name}' (version {}, {})",
        current.version,
        settings.flow_dir.display()
    );
    if catalog.origin(name).is_some() {
        return Err(format!(
            "{what}: the config file or a deployed function now has its name; rename one, or remove the deployed flow (fenn flow rm {name})"
        ));
    }
    let ready = ready_flow(dispatcher, catalog, name, &current.definition)
        .map_err(|refused| format!("{what}: {}", refused.detail()))?;
    let flow = fenn_runtime::flow::Flow::new(name, current.version, ready.graph, ready.limits);
    dispatcher.flows().install(flow);
    Ok(ready.catalog)
}
