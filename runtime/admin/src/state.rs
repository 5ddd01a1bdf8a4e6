//! What a change of the served functions works on: the catalog, the
//! manifest of deployed versions, the store, and the functions kept but
//! not served; held by one change at a time.

use super::manifest::Manifest;
use super::store::Store;
use crate::catalog::Catalog;
use std::sync::Arc;

/// What a change works on, held by one change at a time.
pub struct State {
    /// Every served function's bindings.
    pub catalog: Catalog,
    /// Every deployed function's versions.
    pub manifest: Manifest,
    /// Where the versions are kept.
    pub store: Arc<Store>,
    /// Deployed functions kept but not served, with why (see `load`).
    pub broken: std::collections::BTreeMap<String, String>,
}

impl State {
    /// The deployed functions as `fenn serve` announces them: each with
    /// its version, and those not served said so.
    pub fn announced(&self) -> Vec<String> {
        let versions = self.manifest.functions.iter();
        versions
            .map(|(name, record)| match self.broken.contains_key(name) {
                false => format!("{name} (version {})", record.current),
                true => format!(
                    "{name} (version {}, NOT SERVED: see the log)",
                    record.current
                ),
            })
            .chain(
                self.broken
                    .keys()
                    .filter(|name| !self.manifest.functions.contains_key(*name))
                    .map(|name| format!("{name} (NOT SERVED: see the log)")),
            )
            .collect()
    }
}
