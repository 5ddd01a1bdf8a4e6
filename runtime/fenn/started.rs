//! The running triggers as the rest of fenn holds them: each kind's
//! handle that changes its bindings, and its report (metrics, readiness,
//! status).

use crate::catalog::Catalog;
use fenn_runtime::trigger::{Apply, Report};
use serde_json::{Map, Value};
use std::sync::Arc;

/// One running trigger's handles.
pub(crate) struct Handles {
    pub(crate) kind: &'static str,
    pub(crate) apply: Box<dyn Apply>,
    pub(crate) report: Arc<dyn Report>,
}

/// Every running trigger's handles, in the registry's order.
#[derive(Default)]
pub(crate) struct Started(pub(crate) Vec<Handles>);

impl Started {
    /// Hands every trigger its bindings from `catalog`, which has checked
    /// that they do not collide.
    pub(crate) fn apply(&self, catalog: &Catalog) {
        for handles in &self.0 {
            if let Err(reason) = handles.apply.apply(&catalog.bindings(handles.kind)) {
                tracing::error!(%reason, trigger = handles.kind, "a trigger refused bindings the catalog accepted (a bug: please report it)");
            }
        }
    }

    /// Every running trigger's report.
    pub(crate) fn reports(&self) -> impl Iterator<Item = &Arc<dyn Report>> {
        self.0.iter().map(|handles| &handles.report)
    }

    /// Whether every trigger that has a say is ready, and each one's word
    /// by kind (null for a kind that has none, or does not run).
    pub(crate) fn readiness(&self, kinds: &[&'static str]) -> (bool, Map<String, Value>) {
        let mut ready = true;
        let mut words = Map::new();
        for kind in kinds {
            let said = self.report(kind).and_then(|report| report.readiness());
            ready &= said.is_none_or(|(_, up)| up);
            words.insert(
                (*kind).to_owned(),
                said.map_or(Value::Null, |(word, _)| word.into()),
            );
        }
        (ready, words)
    }

    /// Each kind's status, by kind (null for a kind that has none, or
    /// does not run).
    pub(crate) fn status(&self, kinds: &[&'static str]) -> Map<String, Value> {
        kinds
            .iter()
            .map(|kind| {
                let status = self.report(kind).and_then(|report| report.status());
                ((*kind).to_owned(), status.unwrap_or(Value::Null))
            })
            .collect()
    }

    fn report(&self, kind: &str) -> Option<&Arc<dyn Report>> {
        let handles = self.0.iter().find(|handles| handles.kind == kind)?;
        Some(&handles.report)
    }
}
