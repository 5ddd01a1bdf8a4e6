//! What the management API shows of the served functions, and its test
//! event: one invocation with its log lines, fuel and duration.

use super::ApiError;
use super::platform::Platform;
use crate::catalog::{Catalog, Entry, Origin};
use fenn_abi::Event;
use fenn_runtime::Trace;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

impl Platform {
    /// Every served function, config and deployed, by name.
    pub async fn list(&self) -> Value {
        let state = self.state.lock().await;
        let functions: Vec<Value> = state
            .catalog
            .entries()
            .filter(|(_, entry)| !entry.flow)
            .map(|(name, entry)| {
                let current = state.manifest.current(name);
                json!({
                    "name": name,
                    "origin": origin(entry.origin),
                    "version": current.map(|v| v.version),
                    "sha256": current.map(|v| v.sha256.as_str()),
                    "triggers": triggers(&state.catalog, entry),
                    "bindings": summaries(&state.catalog, entry),
                    "recent": self.observe.read(|history| history.recent(name)),
                })
            })
            .chain(state.broken.iter().map(|(name, reason)| {
                let current = state.manifest.current(name);
                json!({
                    "name": name,
                    "origin": "deployed",
                    "version": current.map(|v| v.version),
                    "sha256": current.map(|v| v.sha256.as_str()),
                    "triggers": triggers(&state.catalog, &not_served(false)),
                    "bindings": [],
                    "not_served": reason,
                })
            }))
            .collect();
        json!({ "functions": functions })
    }

    /// One function: its definition, its bindings and the versions kept.
    pub async fn get(&self, name: &str) -> Result<Value, ApiError> {
        let state = self.state.lock().await;
        let broken = state.broken.get(name);
        let entry = match state.catalog.entry(name) {
            Some(entry) if broken.is_none() && !entry.flow => entry.clone(),
            _ if broken.is_some() => not_served(false),
            _ => return Err(ApiError::NotFound(format!("no function '{name}'"))),
        };
        let entry = &entry;
        let record = state.manifest.functions.get(name);
        let current = state.manifest.current(name);
        let versions: Vec<Value> = record
            .map(|record| {
                record
                    .versions
                    .iter()
                    .map(|v| {
                        json!({
                            "version": v.version,
                            "sha256": v.sha256,
                            "size": v.size,
                            "deployed_at": v.deployed_at,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(json!({
            "name": name,
            "origin": origin(entry.origin),
            "version": current.map(|v| v.version),
            "definition": current.map(|v| &v.definition),
            "triggers": triggers(&state.catalog, entry),
            "bindings": summaries(&state.catalog, entry),
            "versions": versions,
            "not_served": broken,
        }))
    }

    /// Runs `event` through `name` as any trigger's event would run, and
    /// answers its response (or why it failed), its guest log lines, the
    /// fuel it used and how long it took.
    pub async fn invoke(&self, name: &str, event: Event) -> Result<Value, ApiError> {
        if self
            .state
            .lock()
            .await
            .catalog
            .entry(name)
            .is_none_or(|entry| entry.flow)
        {
            return Err(ApiError::NotFound(format!("no function '{name}'")));
        }
        let trace = Arc::new(Trace::default());
        let started = Instant::now();
        let result = self
            .dispatcher
            .invoke_traced(name, event, trace.clone())
            .await;
        let duration_ms = super::millis(started.elapsed());
        let recorded = trace.recorded();
        let logs: Vec<Value> = recorded
            .lines
            .iter()
            .map(|line| json!({"level": line.level, "message": line.message}))
            .collect();
        let (response, error) = match result {
            Ok(response) => (Some(response), None),
            Err(error) => (None, Some(error.to_string())),
        };
        // A test shows the start of a large body: the answer is held
        // in memory until sent, and JSON may escape a byte as six.
        let body_bytes = response.as_ref().map_or(0, |r| r.body.len());
        let response = response.map(|mut response| {
            let mut end = response.body.len().min(MAX_TEST_BODY);
            while !response.body.is_char_boundary(end) {
                end -= 1;
            }
            response.body.truncate(end);
            response
        });
        Ok(json!({
            "response": response,
            "body_truncated": body_bytes > MAX_TEST_BODY,
            "body_bytes": body_bytes,
            "error": error,
            "logs": logs,
            "fuel_used": recorded.fuel_used,
            "duration_ms": duration_ms,
        }))
    }
}

/// Most of a response body a test event's answer shows.
const MAX_TEST_BODY: usize = 64 << 10;

pub(crate) fn origin(origin: Origin) -> &'static str {
    match origin {
        Origin::Config => "config",
        Origin::Deployed => "deployed",
    }
}

/// A deployed function or flow that is not served: no bindings.
pub(crate) fn not_served(flow: bool) -> Entry {
    Entry {
        origin: Origin::Deployed,
        bindings: fenn_config::BindingSet::default(),
        flow,
    }
}

/// A function's bindings as the API shows them, under each registered
/// kind (an empty list for a kind it has none of).
pub(crate) fn triggers(catalog: &Catalog, entry: &Entry) -> Value {
    let kinds = catalog.setups().iter().map(|setup| {
        let views: Vec<Value> = entry
            .bindings
            .of(setup.kind())
            .iter()
            .map(|b| b.view())
            .collect();
        (setup.kind().to_owned(), Value::Array(views))
    });
    Value::Object(kinds.collect())
}

/// A function's bindings, each on one line with its kind, for `fenn ls`
/// and the console: `{"kind": "http", "summary": "GET /hello"}`.
pub(crate) fn summaries(catalog: &Catalog, entry: &Entry) -> Value {
    let summaries = catalog.setups().iter().flat_map(|setup| {
        let kind = setup.kind();
        let bindings = entry.bindings.of(kind).iter();
        bindings.map(move |binding| json!({"kind": kind, "summary": binding.summary()}))
    });
    Value::Array(summaries.collect())
}
