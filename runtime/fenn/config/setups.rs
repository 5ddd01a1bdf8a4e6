//! Every registered trigger's settings, read from the sections and the
//! `[server]` keys it owns, and the result sinks they offer to bindings
//! of other kinds (cron's `publish` to MQTT).

use fenn_runtime::trigger::{Sinks, Tables, TriggerKind, TriggerSetup};
use std::sync::Arc;

/// The validated settings of every registered kind, in the registry's
/// order.
pub(crate) struct Setups {
    list: Vec<Arc<dyn TriggerSetup>>,
    sinks: Sinks,
}

impl std::fmt::Debug for Setups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.list).finish()
    }
}

impl Setups {
    /// Each kind's settings from `tables`, its errors recorded in `errors`.
    pub(crate) fn read(
        kinds: &[&dyn TriggerKind],
        tables: &Tables<'_>,
        errors: &mut Vec<fenn_runtime::trigger::KeyError>,
    ) -> Self {
        let list: Vec<Arc<dyn TriggerSetup>> = kinds
            .iter()
            .map(|kind| kind.settings(tables, errors))
            .collect();
        let sinks = list
            .iter()
            .filter_map(|setup| Some((setup.kind(), setup.sink()?)))
            .collect();
        Self { list, sinks }
    }

    /// Every kind's settings, in the registry's order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<dyn TriggerSetup>> {
        self.list.iter()
    }

    /// The destinations that take results, by kind.
    pub(crate) fn sinks(&self) -> &Sinks {
        &self.sinks
    }

    /// The settings of `kind` as its own type, for the one caller that
    /// builds on a kind's crate (the management API's listener, on the
    /// gateway's).
    pub(crate) fn get<T: 'static>(&self) -> Option<&T> {
        self.list
            .iter()
            .find_map(|setup| setup.as_any().downcast_ref::<T>())
    }
}

/// The settings of a config's sections, for tests: `text` is TOML, and
/// the state directory `state_dir`.
#[cfg(test)]
pub(crate) fn parsed(text: &str, state_dir: Option<&std::path::Path>) -> Arc<Setups> {
    use fenn_runtime::trigger::{Common, Table};
    let root: Table = toml::from_str(text).unwrap_or_else(|error| panic!("{error}"));
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
    let setups = Setups::read(&crate::registry::KINDS, &tables, &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    Arc::new(setups)
}
