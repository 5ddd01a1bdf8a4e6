//! What the management API shows of the served flows: each with its
//! bindings and runs in flight, and one with its definition, its kept
//! versions and its graph, drawn as a console draws it.

use super::ApiError;
use super::platform::Platform;
use super::views::{not_served, origin, summaries, triggers};
use fenn_runtime::flow::Graph;
use fenn_runtime::flow::graph::EdgeKind;
use serde_json::{Value, json};

impl Platform {
    /// Every served flow, config and deployed, by name, then the deployed
    /// ones not served.
    pub async fn list_flows(&self) -> Value {
        let state = self.state.lock().await;
        let flows: Vec<Value> = (state.catalog.entries())
            .filter(|(_, entry)| entry.flow)
            .map(|(name, entry)| {
                let served = self.dispatcher.flows().get(name);
                json!({
                    "name": name,
                    "origin": origin(entry.origin),
                    "version": state.flows.current(name).map(|v| v.version),
                    "triggers": triggers(&state.catalog, entry),
                    "bindings": summaries(&state.catalog, entry),
                    "steps": served.as_ref().map(|flow| flow.graph.steps.len()),
                    "running": served.as_ref().map(|flow| flow.running()),
                    "max_runs": served.as_ref().map(|flow| flow.limits.max_runs),
                })
            })
            .chain(state.broken_flows.iter().map(|(name, reason)| {
                json!({
                    "name": name,
                    "origin": "deployed",
                    "version": state.flows.current(name).map(|v| v.version),
                    "triggers": triggers(&state.catalog, &not_served(true)),
                    "bindings": [],
                    "not_served": reason,
                })
            }))
            .collect();
        json!({ "flows": flows })
    }

    /// One flow: its definition (a deployed one's), its bindings, the
    /// versions kept, its runs in flight and its graph.
    pub async fn get_flow(&self, name: &str) -> Result<Value, ApiError> {
        let state = self.state.lock().await;
        let broken = state.broken_flows.get(name);
        let entry = match state.catalog.entry(name) {
            Some(entry) if broken.is_none() && entry.flow => entry.clone(),
            _ if broken.is_some() => not_served(true),
            _ => return Err(ApiError::NotFound(format!("no flow '{name}'"))),
        };
        let current = state.flows.current(name);
        let versions: Vec<Value> = (state.flows.flows.get(name).into_iter())
            .flat_map(|record| record.versions.iter())
            .map(|v| json!({"version": v.version, "deployed_at": v.deployed_at}))
            .collect();
        let served = broken.is_none().then(|| self.dispatcher.flows().get(name));
        let served = served.flatten();
        Ok(json!({
            "name": name,
            "origin": origin(entry.origin),
            "version": current.map(|v| v.version),
            "definition": current.map(|v| &v.definition),
            "triggers": triggers(&state.catalog, &entry),
            "bindings": summaries(&state.catalog, &entry),
            "versions": versions,
            "running": served.as_ref().map(|flow| flow.running()),
            "max_runs": served.as_ref().map(|flow| flow.limits.max_runs),
            "graph": served.as_ref().map(|flow| graph(&flow.graph)),
            "not_served": broken,
        }))
    }
}

/// A flow's graph for a console to draw: its steps in the order declared
/// (each with its function and whether it receives the flow's event), its
/// edges by the steps' names, and the step that answers.
pub(crate) fn graph(graph: &Graph) -> Value {
    let name = |at: usize| graph.steps.get(at).map(|step| step.name.as_str());
    let steps: Vec<Value> = (graph.steps.iter())
        .map(|step| json!({"name": step.name, "function": step.function, "start": step.start}))
        .collect();
    let edges: Vec<Value> = (graph.edges.iter())
        .map(|edge| {
            json!({
                "from": name(edge.from),
                "to": name(edge.to),
                "kind": match edge.kind {
                    EdgeKind::Next => "next",
                    EdgeKind::Error => "error",
                },
                "when": edge.when.as_ref().map(|when| when.text()),
            })
        })
        .collect();
    json!({"steps": steps, "edges": edges, "response": name(graph.response)})
}

#[cfg(test)]
mod tests {
    use super::*;
    use fenn_runtime::flow::{FlowSpec, StepSpec};

    fn step(name: &str, next: &[&str], on_error: &[&str]) -> StepSpec {
        StepSpec {
            name: name.into(),
            function: format!("fn-{name}"),
            next: next.iter().map(|s| (*s).to_owned()).collect(),
            on_error: on_error.iter().map(|s| (*s).to_owned()).collect(),
            ..StepSpec::default()
        }
    }

    #[test]
    fn a_graph_is_drawn_with_its_steps_edges_conditions_and_response() {
        let mut check = step("check", &["record", "reply"], &["alarm"]);
        check.when.insert("record".into(), "status == 200".into());
        let spec = FlowSpec {
            start: Vec::new(),
            response: Some("reply".into()),
            steps: vec![
                check,
                step("record", &[], &[]),
                step("alarm", &[], &[]),
                step("reply", &[], &[]),
            ],
        };
        let drawn = graph(&Graph::build(&spec, &|_| true).unwrap());
        assert_eq!(drawn["response"], "reply");
        assert_eq!(
            drawn["steps"][0],
            json!({"name": "check", "function": "fn-check", "start": true})
        );
        assert_eq!(drawn["steps"][3]["start"], false);
        assert_eq!(
            drawn["edges"],
            json!([
                {"from": "check", "to": "record", "kind": "next", "when": "status == 200"},
                {"from": "check", "to": "reply", "kind": "next", "when": null},
                {"from": "check", "to": "alarm", "kind": "error", "when": null},
            ])
        );
    }
}
