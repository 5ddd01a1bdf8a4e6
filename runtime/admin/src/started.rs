//! The running triggers as the rest of fenn holds them: each kind's
//! handle that changes its bindings, and its report (metrics, readiness,
//! status).

use crate::catalog::Catalog;
use fenn_runtime::trigger::{Apply, Report};
use serde_json::{Map, Value};
use std::sync::Arc;

/// One running trigger's handles.
pub struct Handles {
    /// The trigger's kind.
    pub kind: &'static str,
    /// Changes its bindings.
    pub apply: Box<dyn Apply>,
    /// Its metrics, readiness and status.
    pub report: Arc<dyn Report>,
}

/// Every running trigger's handles, in the registry's order, and every
/// registered kind's name (a kind that does not run still has its say:
/// null).
#[derive(Default)]
pub struct Started {
    /// The running triggers' handles.
    pub handles: Vec<Handles>,
    /// Every registered kind.
    pub kinds: Vec<&'static str>,
}

impl Started {
    /// Hands every trigger its bindings from `catalog`, which has checked
    /// that they do not collide.
    pub fn apply(&self, catalog: &Catalog) {
        for handles in &self.handles {
            if let Err(reason) = handles.apply.apply(&catalog.bindings(handles.kind)) {
                tracing::error!(%reason, trigger = handles.kind, "a trigger refused bindings the catalog accepted (a bug: please report it)");
            }
        }
    }

    /// Every running trigger's report.
    pub fn reports(&self) -> impl Iterator<Item = &Arc<dyn Report>> {
        self.handles.iter().map(|handles| &handles.report)
    }

    /// Whether every trigger that has a say is ready, and each one's word
    /// by kind (null for a kind that has none, or does not run).
    pub fn readiness(&self) -> (bool, Map<String, Value>) {
        let mut ready = true;
        let mut words = Map::new();
        for kind in &self.kinds {
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
    pub fn status(&self) -> Map<String, Value> {
        self.kinds
            .iter()
            .map(|kind| {
                let status = self.report(kind).and_then(|report| report.status());
                ((*kind).to_owned(), status.unwrap_or(Value::Null))
            })
            .collect()
    }

    fn report(&self, kind: &str) -> Option<&Arc<dyn Report>> {
        let handles = self.handles.iter().find(|handles| handles.kind == kind)?;
        Some(&handles.report)
    }
}
