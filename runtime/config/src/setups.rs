//! Every registered trigger's settings, read from the sections and the
//! `[server]` keys it owns, and the result sinks they offer to bindings
//! of other kinds (cron's `publish` to MQTT).

use crate::Registry;
use fenn_runtime::trigger::{KeyError, Sinks, Tables, TriggerSetup};
use std::sync::Arc;

/// The validated settings of every registered kind, in the registry's
/// order.
pub struct Setups {
    list: Vec<Arc<dyn TriggerSetup>>,
    sinks: Sinks,
    registry: Registry,
}

impl std::fmt::Debug for Setups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.list).finish()
    }
}

impl Setups {
    /// Each kind's settings from `tables`, its errors recorded in `errors`.
    pub fn read(registry: Registry, tables: &Tables<'_>, errors: &mut Vec<KeyError>) -> Self {
        let list: Vec<Arc<dyn TriggerSetup>> = registry
            .kinds
            .iter()
            .map(|kind| kind.settings(tables, errors))
            .collect();
        let sinks = list
            .iter()
            .filter_map(|setup| Some((setup.kind(), setup.sink()?)))
            .collect();
        Self {
            list,
            sinks,
            registry,
        }
    }

    /// What they were read against.
    pub fn registry(&self) -> Registry {
        self.registry
    }

    /// Every kind's settings, in the registry's order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn TriggerSetup>> {
        self.list.iter()
    }

    /// The destinations that take results, by kind.
    pub fn sinks(&self) -> &Sinks {
        &self.sinks
    }

    /// The settings of `kind` as its own type, for the one caller that
    /// builds on a kind's crate (the management API's listener, on the
    /// gateway's).
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.list
            .iter()
            .find_map(|setup| setup.as_any().downcast_ref::<T>())
    }
}

/// The settings of a config's sections alone (`text` is TOML), with the
/// state directory `state_dir`: for tests, and tools that check bindings
/// without a whole config.
///
/// # Errors
///
/// The text is not TOML, or a section is in error.
pub fn from_sections(
    text: &str,
    state_dir: Option<&std::path::Path>,
    registry: Registry,
) -> Result<Arc<Setups>, Vec<KeyError>> {
    use fenn_runtime::trigger::{Common, Table};
    let root: Table =
        toml::from_str(text).map_err(|error| vec![KeyError::new("(syntax)", error.to_string())])?;
    let server = match root.get("server") {
        Some(serde_json::Value::Object(server)) => server.clone(),
        _ => Table::new(),
    };
    let common = Common {
        config_dir: std::path::Path::new("."),
        state_dir,
        shutdown_grace: std::time::Duration::from_secs(30),
    };
    let tables = Tables {
        sections: &root,
        server: &server,
        common: &common,
    };
    let mut errors = Vec::new();
    let setups = Setups::read(registry, &tables, &mut errors);
    match errors.is_empty() {
        true => Ok(Arc::new(setups)),
        false => Err(errors),
    }
}
