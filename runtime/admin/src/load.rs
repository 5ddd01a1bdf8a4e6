//! At start: the store's functions served again, each at the version it
//! served when fenn stopped, beside the config file's.

use super::manifest::Manifest;
use super::platform::ready;
use super::state::State;
use super::store::Store;
use crate::catalog::Catalog;
use fenn_config::AdminSettings;
use fenn_runtime::Dispatcher;
use std::sync::Arc;

/// Opens the store and installs every deployed function's current version
/// in `dispatcher`; `catalog` holds the config file's functions. A deployed
/// function that can no longer be served (its definition or module is
/// refused under today's config, or it collides with the config file) is
/// not served, and says so: logged as an error, listed with its reason,
/// and mended by a rollback, a new deploy or a delete. The rest serve.
pub fn load(
    settings: &AdminSettings,
    dispatcher: &Dispatcher,
    mut catalog: Catalog,
) -> Result<State, String> {
    let opened = Store::open(&settings.store_dir, settings.max_functions)?;
    let (store, manifest) = (opened.store, opened.manifest);
    let mut broken = std::collections::BTreeMap::new();
    if let Some(aside) = opened.aside {
        tracing::error!(
            "{}: the store's manifest cannot be read; it is kept, with the modules, in {}: no deployed function is served (deploy them again)",
            aside.reason,
            aside.path.display()
        );
        for name in aside.names {
            let reason = format!(
                "deployed function '{name}': the store's manifest could not be read ({}); it is kept in {}",
                aside.reason,
                aside.path.display()
            );
            broken.insert(name, reason);
        }
    }
    for name in manifest.functions.keys() {
        match serve(name, &manifest, &store, settings, dispatcher, &catalog) {
            Ok(next) => catalog = next,
            Err(reason) => {
                tracing::error!("{reason}: not served (fenn rollback, deploy or rm mends it)");
                broken.insert(name.clone(), reason);
            }
        }
    }
    Ok(State {
        catalog,
        manifest,
        store: Arc::new(store),
        broken,
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
