//! What a change of the served functions and flows works on: the catalog,
//! the manifests of deployed versions, their stores, and the functions
//! and flows kept but not served; held by one change at a time.

use super::flow_store::{FlowManifest, FlowStore};
use super::manifest::{Manifest, Record};
use super::store::Store;
use crate::catalog::Catalog;
use std::collections::BTreeMap;
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
    pub broken: BTreeMap<String, String>,
    /// Every deployed flow's versions.
    pub flows: FlowManifest,
    /// Where they are kept.
    pub flow_store: Arc<FlowStore>,
    /// Deployed flows kept but not served, with why (see `load`).
    pub broken_flows: BTreeMap<String, String>,
}

impl State {
    /// The deployed functions as `fenn serve` announces them: each with
    /// its version, and those not served said so.
    pub fn announced(&self) -> Vec<String> {
        announced(&self.manifest.functions, &self.broken)
    }

    /// The deployed flows as `fenn serve` announces them.
    pub fn announced_flows(&self) -> Vec<String> {
        announced(&self.flows.flows, &self.broken_flows)
    }
}

/// Each of `records` with the version it serves, those in `broken` said
/// not to be served, then the rest of `broken`.
fn announced<V>(
    records: &BTreeMap<String, Record<V>>,
    broken: &BTreeMap<String, String>,
) -> Vec<String> {
    let versions = records.iter();
    versions
        .map(|(name, record)| match broken.contains_key(name) {
            false => format!("{name} (version {})", record.current),
            true => format!(
                "{name} (version {}, NOT SERVED: see the log)",
                record.current
            ),
        })
        .chain(
            broken
                .keys()
                .filter(|name| !records.contains_key(*name))
                .map(|name| format!("{name} (NOT SERVED: see the log)")),
        )
        .collect()
}
