//! The checks of a flow's shape, once its names and edges are known: no
//! cycle, no step that no path reaches, no start step fed by another, no
//! join with one input, and a response step that no run can end before.

use super::graph::{EdgeKind, FlowSpec, Graph, GraphError};

/// Every refusal of `graph`'s shape.
pub(crate) fn shape(graph: &Graph, spec: &FlowSpec) -> Result<(), Vec<GraphError>> {
    let mut errors = Vec::new();
    if let Some(cycle) = cycle(graph) {
        let names: Vec<&str> = cycle
            .iter()
            .map(|&at| graph.steps[at].name.as_str())
            .collect();
        errors.push(GraphError {
            key: format!("step[{}].next", cycle[0]),
            reason: format!("steps feed each other in a cycle: {}", names.join(" -> ")),
        });
        // The checks below assume a DAG.
        return Err(errors);
    }
    let reached = reached(graph);
    for (at, step) in graph.steps.iter().enumerate() {
        if !reached[at] {
            errors.push(GraphError {
                key: format!("step[{at}]"),
                reason: format!(
                    "no path reaches step '{}': it is not a start step and no step's `next` or `on_error` names it",
                    step.name
                ),
            });
        }
        if step.start && !step.inputs.is_empty() {
            let from = &graph.steps[graph.edges[step.inputs[0]].from].name;
            errors.push(GraphError {
                key: "start".into(),
                reason: format!(
                    "start step '{}' is fed by '{from}': a start step receives the flow's event only",
                    step.name
                ),
            });
        }
        if spec.steps[at].join.is_some() && step.inputs.len() < 2 {
            errors.push(GraphError {
                key: format!("step[{at}].join"),
                reason: format!(
                    "step '{}' has {} input(s): a join needs at least two",
                    step.name,
                    step.inputs.len()
                ),
            });
        }
    }
    if errors.is_empty() {
        if let Some(reason) = response_may_not_run(graph) {
            errors.push(GraphError {
                key: "response".into(),
                reason,
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A cycle, as the steps along it with the first repeated at the end.
fn cycle(graph: &Graph) -> Option<Vec<usize>> {
    if graph.order().len() == graph.steps.len() {
        return None;
    }
    // Depth first, iteratively (a thousand steps would overflow a
    // recursive walk's stack on a small device's thread).
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; graph.steps.len()];
    for root in 0..graph.steps.len() {
        if marks[root] != Mark::New {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::OnPath;
        while let Some(top) = path.last_mut() {
            let (at, next) = *top;
            let out = &graph.steps[at].out;
            if next == out.len() {
                marks[at] = Mark::Done;
                path.pop();
                continue;
            }
            top.1 += 1;
            let to = graph.edges[out[next]].to;
            match marks[to] {
                Mark::OnPath => {
                    let from = path.iter().position(|&(step, _)| step == to).unwrap_or(0);
                    let mut cycle: Vec<usize> =
                        path[from..].iter().map(|&(step, _)| step).collect();
                    cycle.push(to);
                    return Some(cycle);
                }
                Mark::New => {
                    marks[to] = Mark::OnPath;
                    path.push((to, 0));
                }
                Mark::Done => {}
            }
        }
    }
    None
}

/// Which steps a path from a start step reaches.
fn reached(graph: &Graph) -> Vec<bool> {
    let mut reached: Vec<bool> = graph.steps.iter().map(|step| step.start).collect();
    for at in graph.order() {
        if reached[at] {
            for &edge in &graph.steps[at].out {
                reached[graph.edges[edge].to] = true;
            }
        }
    }
    reached
}

/// Why the response step may not run in a run where no step fails: every
/// path to it passes a condition or an error edge. A step runs for sure
/// when it is a start step, or when one of its inputs is a result edge
/// without a condition from a step that runs for sure (a join runs with
/// the inputs that arrived).
fn response_may_not_run(graph: &Graph) -> Option<String> {
    let mut sure = vec![false; graph.steps.len()];
    for at in graph.order() {
        let step = &graph.steps[at];
        sure[at] = step.start
            || step.inputs.iter().any(|&edge| {
                let edge = &graph.edges[edge];
                edge.kind == EdgeKind::Next && edge.when.is_none() && sure[edge.from]
            });
    }
    if sure[graph.response] {
        return None;
    }
    let response = &graph.steps[graph.response];
    let inputs: Vec<String> = response
        .inputs
        .iter()
        .map(|&edge| {
            let edge = &graph.edges[edge];
            let from = &graph.steps[edge.from].name;
            match (&edge.when, edge.kind, sure[edge.from]) {
                (_, EdgeKind::Error, _) => format!("'{from}' feeds it on failure only"),
                (Some(when), ..) => format!("'{from}' feeds it only when {when}"),
                (None, _, false) => format!("'{from}' may not run"),
                (None, _, true) => format!("'{from}'"),
            }
        })
        .collect();
    Some(format!(
        "response step '{}' may not run: a run can end before it ({})",
        response.name,
        if inputs.is_empty() {
            "nothing feeds it".into()
        } else {
            inputs.join("; ")
        }
    ))
}
