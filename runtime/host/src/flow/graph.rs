//! A flow's steps and edges as a definition gives them ([`FlowSpec`]), and
//! the one check that turns them into a [`Graph`] a run can follow: names
//! unique, functions known, edges to steps that exist, conditions that
//! parse, no cycle, every step reachable from the start, joins with at
//! least two inputs, and a response step that every run that does not fail
//! reaches. Each refusal names the offending steps.

use super::condition::Condition;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// Most steps one flow may have.
pub const MAX_STEPS: usize = 1024;
/// Most edges out of one step.
pub const MAX_EDGES: usize = 64;
/// Most attempts of one step.
pub const MAX_ATTEMPTS: u32 = 100;

/// A flow's steps as the definition writes them, before validation.
#[derive(Debug, Clone, Default)]
pub struct FlowSpec {
    /// The steps that receive the flow's event; empty: the first step.
    pub start: Vec<String>,
    /// The step whose result answers the source; `None`: the last step.
    pub response: Option<String>,
    /// The steps, in the order declared.
    pub steps: Vec<StepSpec>,
}

/// One step as the definition writes it.
#[derive(Debug, Clone, Default)]
pub struct StepSpec {
    /// Its name, unique in the flow.
    pub name: String,
    /// The function it runs.
    pub function: String,
    /// Steps its result feeds when it succeeds.
    pub next: Vec<String>,
    /// Steps its failure feeds (once its retries are spent).
    pub on_error: Vec<String>,
    /// Conditions on its edges, by target step: the edge is taken only
    /// when the condition holds on the result.
    pub when: BTreeMap<String, String>,
    /// Its retries.
    pub retry: Retry,
    /// How it waits for its inputs, when it has several.
    pub join: Option<Join>,
}

/// How a step is retried when it fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// Runs in all, the first included (1: no retry).
    pub attempts: u32,
    /// Wait before the second run; doubled for each run after.
    pub backoff: Duration,
    /// The most one wait may grow to.
    pub max_backoff: Duration,
    /// Whether each wait is drawn at random between zero and its value
    /// ("full jitter"), so that retries of many runs spread out.
    pub jitter: bool,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 1,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            jitter: true,
        }
    }
}

impl Retry {
    /// The wait before run `attempt` (2 for the first retry), before
    /// jitter.
    pub fn wait(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(30);
        self.backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// How a join waits for its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Join {
    /// How long it waits, from its first input's arrival, for the others;
    /// `None`: until each has arrived or its branch is known not to run.
    pub timeout: Option<Duration>,
    /// What it does when the timeout passes.
    pub on_timeout: OnTimeout,
}

/// What a join does at its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnTimeout {
    /// The join step fails (its error edges are taken).
    #[default]
    Fail,
    /// The join step runs with the inputs that arrived; later ones are
    /// dropped.
    Continue,
}

/// Why a flow is refused: the key in error (`step[2].next`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct GraphError {
    /// The key, relative to the flow (`step[1].when.alert`, `response`).
    pub key: String,
    /// What is wrong, naming the steps at fault.
    pub reason: String,
}

/// Whether an edge carries a result or a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// Taken when its step succeeds.
    Next,
    /// Taken when its step fails.
    Error,
}

/// An edge between two steps.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The step it leaves.
    pub from: usize,
    /// The step it feeds.
    pub to: usize,
    /// Result or failure.
    pub kind: EdgeKind,
    /// Taken only when this holds on the result.
    pub when: Option<Condition>,
}

/// A validated step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its name.
    pub name: String,
    /// The function it runs.
    pub function: String,
    /// Its retries.
    pub retry: Retry,
    /// How it waits for its inputs.
    pub join: Join,
    /// Whether it receives the flow's event.
    pub start: bool,
    /// Edges out of it, by index in [`Graph::edges`].
    pub out: Vec<usize>,
    /// Edges into it, by index in [`Graph::edges`].
    pub inputs: Vec<usize>,
}

/// A validated flow graph: acyclic, every step reachable, its response
/// step reached by every run that does not fail.
#[derive(Debug, Clone)]
pub struct Graph {
    /// The steps, in the order declared.
    pub steps: Vec<Step>,
    /// Every edge.
    pub edges: Vec<Edge>,
    /// The response step.
    pub response: usize,
}

impl Graph {
    /// Validates `spec`; `function_known` says whether a function of a
    /// name is served.
    ///
    /// # Errors
    ///
    /// Every error found, each naming its key and the steps at fault.
    pub fn build(
        spec: &FlowSpec,
        function_known: &dyn Fn(&str) -> bool,
    ) -> Result<Self, Vec<GraphError>> {
        let mut errors = Vec::new();
        let error = |key: String, reason: String| GraphError { key, reason };
        if spec.steps.is_empty() {
            return Err(vec![error(
                "step".into(),
                "a flow needs at least one step".into(),
            )]);
        }
        if spec.steps.len() > MAX_STEPS {
            return Err(vec![error(
                "step".into(),
                format!(
                    "{} steps, over the most a flow may have ({MAX_STEPS})",
                    spec.steps.len()
                ),
            )]);
        }
        let mut index = BTreeMap::new();
        for (at, step) in spec.steps.iter().enumerate() {
            if let Some(reason) = crate::trigger::name_refused(&step.name) {
                errors.push(error(format!("step[{at}].name"), reason));
            } else if index.insert(step.name.as_str(), at).is_some() {
                errors.push(error(
                    format!("step[{at}].name"),
                    format!("step '{}' is declared twice", step.name),
                ));
            }
            if !function_known(&step.function) {
                errors.push(error(
                    format!("step[{at}].function"),
                    format!(
                        "step '{}': no function named '{}'",
                        step.name, step.function
                    ),
                ));
            }
        }
        let mut graph = Self {
            steps: spec.steps.iter().map(Step::of).collect(),
            edges: Vec::new(),
            response: spec.steps.len() - 1,
        };
        graph.read_edges(spec, &index, &mut errors);
        graph.starts(spec, &index, &mut errors);
        if let Some(name) = &spec.response {
            match index.get(name.as_str()) {
                Some(&at) => graph.response = at,
                None => errors.push(error("response".into(), format!("no step named '{name}'"))),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        super::check::shape(&graph, spec).map(|()| graph)
    }

    /// Reads every step's edges and conditions.
    fn read_edges(
        &mut self,
        spec: &FlowSpec,
        index: &BTreeMap<&str, usize>,
        errors: &mut Vec<GraphError>,
    ) {
        for (from, step) in spec.steps.iter().enumerate() {
            for (field, targets, kind) in [
                ("next", &step.next, EdgeKind::Next),
                ("on_error", &step.on_error, EdgeKind::Error),
            ] {
                let key = format!("step[{from}].{field}");
                if targets.len() > MAX_EDGES {
                    errors.push(GraphError {
                        key,
                        reason: format!("over the most edges one step may have ({MAX_EDGES})"),
                    });
                    continue;
                }
                for (at, target) in targets.iter().enumerate() {
                    if targets[..at].contains(target) {
                        errors.push(GraphError {
                            key: key.clone(),
                            reason: format!("'{target}' is named twice"),
                        });
                        continue;
                    }
                    let Some(&to) = index.get(target.as_str()) else {
                        errors.push(GraphError {
                            key: key.clone(),
                            reason: format!("step '{}': no step named '{target}'", step.name),
                        });
                        continue;
                    };
                    let when = step.when.get(target).and_then(|text| {
                        Condition::parse(text)
                            .map_err(|reason| {
                                errors.push(GraphError {
                                    key: format!("step[{from}].when.{target}"),
                                    reason: format!("condition '{text}' does not parse: {reason}"),
                                });
                            })
                            .ok()
                    });
                    let edge = self.edges.len();
                    self.edges.push(Edge {
                        from,
                        to,
                        kind,
                        when,
                    });
                    self.steps[from].out.push(edge);
                    self.steps[to].inputs.push(edge);
                }
            }
            for target in step.when.keys() {
                if !step.next.contains(target) && !step.on_error.contains(target) {
                    errors.push(GraphError {
                        key: format!("step[{from}].when.{target}"),
                        reason: format!(
                            "step '{}' has no edge to '{target}' (in `next` or `on_error`)",
                            step.name
                        ),
                    });
                }
            }
        }
    }

    /// Marks the start steps: those named, or the first.
    fn starts(
        &mut self,
        spec: &FlowSpec,
        index: &BTreeMap<&str, usize>,
        errors: &mut Vec<GraphError>,
    ) {
        if spec.start.is_empty() {
            self.steps[0].start = true;
            return;
        }
        for name in &spec.start {
            match index.get(name.as_str()) {
                Some(&at) => self.steps[at].start = true,
                None => errors.push(GraphError {
                    key: "start".into(),
                    reason: format!("no step named '{name}'"),
                }),
            }
        }
    }

    /// The index of the step named `name`.
    pub fn step(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|step| step.name == name)
    }

    /// Whether step `at` waits for several inputs.
    pub fn is_join(&self, at: usize) -> bool {
        self.steps[at].inputs.len() > 1
    }

    /// The steps in an order where each comes after every step feeding it.
    pub fn order(&self) -> Vec<usize> {
        let mut waiting: Vec<usize> = self.steps.iter().map(|step| step.inputs.len()).collect();
        let mut ready: VecDeque<usize> = (0..self.steps.len())
            .filter(|&at| waiting[at] == 0)
            .collect();
        let mut order = Vec::with_capacity(self.steps.len());
        while let Some(at) = ready.pop_front() {
            order.push(at);
            for &edge in &self.steps[at].out {
                let to = self.edges[edge].to;
                waiting[to] -= 1;
                if waiting[to] == 0 {
                    ready.push_back(to);
                }
            }
        }
        order
    }
}

impl Step {
    fn of(spec: &StepSpec) -> Self {
        Self {
            name: spec.name.clone(),
            function: spec.function.clone(),
            retry: spec.retry,
            join: spec.join.unwrap_or_default(),
            start: false,
            out: Vec::new(),
            inputs: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
