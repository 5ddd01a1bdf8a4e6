//! [`RunState`]: where one run of a flow stands, without I/O. The engine
//! tells it each step's outcome; it decides which edges are taken (a
//! result edge when its step succeeds and its condition holds, an error
//! edge when it fails), which steps are ready, which will never run (every
//! input's branch not taken: the step is skipped, and so are the steps only
//! it feeds), and when the response step has answered.

use super::condition::Subject;
use super::graph::{EdgeKind, Graph, OnTimeout};
use fenn_abi::Response;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// It answered (a status under 500).
    Done(Response),
    /// It failed, its retries spent.
    Failed(Failure),
}

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The failure's kind: `trap`, `deadline`, `busy`, `status` (it
    /// answered 5xx), `join_timeout`, `too_large`…
    pub kind: String,
    /// What happened, for a person.
    pub reason: String,
    /// The status the failure answers with.
    pub status: u16,
    /// The step's own answer, when it answered with a 5xx.
    pub response: Option<Response>,
}

impl Outcome {
    /// Bytes it carries on to the steps it feeds.
    pub fn weight(&self) -> usize {
        match self {
            Self::Done(response)
            | Self::Failed(Failure {
                response: Some(response),
                ..
            }) => {
                let headers: usize = response
                    .headers
                    .iter()
                    .map(|(n, v)| n.len() + v.len())
                    .sum();
                response.body.len() + headers
            }
            Self::Failed(failure) => failure.reason.len(),
        }
    }
}

/// Where a step stands in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for its inputs.
    Waiting,
    /// Its inputs are in; not yet started.
    Ready,
    /// Running (or waiting to retry).
    Running,
    /// It answered.
    Done,
    /// It failed.
    Failed,
    /// No input's branch was taken: it did not run.
    Skipped,
}

impl State {
    /// Its name, as the history and the metrics give it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Ready => "ready",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    /// Whether the step is over, one way or another.
    pub fn is_over(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Skipped)
    }
}

/// What an edge carries so far.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Input {
    /// Its step has not ended.
    Pending,
    /// Taken: its step's outcome arrived.
    Arrived,
    /// Not taken, and why.
    Dead(String),
}

/// One run's progress; see the module docs.
#[derive(Debug, Clone)]
pub struct RunState {
    graph: Arc<Graph>,
    states: Vec<State>,
    inputs: Vec<Input>,
    outcomes: Vec<Option<Arc<Outcome>>>,
    /// Why a step was skipped, or how its join ended early.
    notes: Vec<Option<String>>,
    ready: Vec<usize>,
    /// The first failure no error edge took, by step.
    unhandled: Option<usize>,
    carried: usize,
    max_bytes: usize,
}

impl RunState {
    /// A new run of `graph` that carries at most `max_bytes` of results:
    /// its start steps are ready.
    pub fn new(graph: Arc<Graph>, max_bytes: usize) -> Self {
        let count = graph.steps.len();
        let ready = (0..count).filter(|&at| graph.steps[at].start).collect();
        let mut states = vec![State::Waiting; count];
        for &at in &ready {
            states[at] = State::Ready;
        }
        Self {
            inputs: vec![Input::Pending; graph.edges.len()],
            outcomes: vec![None; count],
            notes: vec![None; count],
            graph,
            states,
            ready,
            unhandled: None,
            carried: 0,
            max_bytes,
        }
    }

    /// The graph it runs.
    pub fn graph(&self) -> &Arc<Graph> {
        &self.graph
    }

    /// The steps ready to run, now marked running.
    pub fn take_ready(&mut self) -> Vec<usize> {
        let mut ready = std::mem::take(&mut self.ready);
        // A step completed while ready (a journal's replay) is over.
        ready.retain(|&at| self.states[at] == State::Ready);
        for &at in &ready {
            self.states[at] = State::Running;
        }
        ready
    }

    /// Whether a step is ready to run.
    pub fn has_ready(&self) -> bool {
        self.ready.iter().any(|&at| self.states[at] == State::Ready)
    }

    /// Step `at` ended with `outcome` (bounded by [`bound`](Self::bound)).
    /// Returns the joins whose first input just arrived (for their
    /// timers). A step that is not running (a journal replayed twice) is
    /// left as it is.
    pub fn complete(&mut self, at: usize, outcome: Outcome) -> Vec<usize> {
        if self.states[at].is_over() || self.states[at] == State::Waiting {
            return Vec::new();
        }
        self.states[at] = match outcome {
            Outcome::Done(_) => State::Done,
            Outcome::Failed(_) => State::Failed,
        };
        self.outcomes[at] = Some(Arc::new(outcome));
        self.decide(at)
    }

    /// A join's timeout passed: it runs with what arrived, or fails, as
    /// it says; a join no longer waiting is left as it is.
    pub fn join_timeout(&mut self, at: usize) -> Vec<usize> {
        if self.states[at] != State::Waiting {
            return Vec::new();
        }
        let step = &self.graph.steps[at];
        let missing = self.missing(at);
        match step.join.on_timeout {
            OnTimeout::Continue => {
                self.notes[at] = Some(format!("join timed out without {missing}"));
                self.states[at] = State::Ready;
                self.ready.push(at);
                Vec::new()
            }
            OnTimeout::Fail => {
                self.states[at] = State::Failed;
                self.outcomes[at] = Some(Arc::new(Outcome::Failed(Failure {
                    kind: "join_timeout".into(),
                    reason: format!("join timed out waiting for {missing}"),
                    status: 504,
                    response: None,
                })));
                self.decide(at)
            }
        }
    }

    /// The inputs of a waiting join that have not arrived, named.
    fn missing(&self, at: usize) -> String {
        let names: Vec<String> = (self.graph.steps[at].inputs.iter())
            .filter(|&&edge| self.inputs[edge] == Input::Pending)
            .map(|&edge| format!("'{}'", self.graph.steps[self.graph.edges[edge].from].name))
            .collect();
        names.join(", ")
    }

    /// `outcome` within the run's byte bound, counted: past the bound, the
    /// step fails. The engine bounds an outcome before it keeps it.
    pub fn bound(&mut self, outcome: Outcome) -> Outcome {
        let weight = outcome.weight();
        if self.carried.saturating_add(weight) > self.max_bytes {
            return Outcome::Failed(Failure {
                kind: "too_large".into(),
                reason: format!(
                    "the run would carry more than its max_bytes ({} bytes)",
                    self.max_bytes
                ),
                status: 502,
                response: None,
            });
        }
        self.carried += weight;
        outcome
    }

    /// Decides the edges out of `at`, which is over, and settles the steps
    /// they feed, on down the graph.
    fn decide(&mut self, at: usize) -> Vec<usize> {
        let mut armed = Vec::new();
        let mut queue = vec![at];
        while let Some(from) = queue.pop() {
            let handled = self.take_edges(from);
            if self.states[from] == State::Failed && !handled && self.unhandled.is_none() {
                self.unhandled = Some(from);
            }
            for edge in self.graph.steps[from].out.clone() {
                let to = self.graph.edges[edge].to;
                match self.settle(to) {
                    Settled::Skipped => queue.push(to),
                    Settled::FirstArrival => armed.push(to),
                    Settled::Nothing => {}
                }
            }
        }
        armed
    }

    /// Marks each edge out of `from` taken or not; whether an error edge
    /// was taken.
    fn take_edges(&mut self, from: usize) -> bool {
        let graph = self.graph.clone();
        let outcome = self.outcomes[from].clone();
        let failure_response = match outcome.as_deref() {
            Some(Outcome::Failed(failure)) => {
                Some(super::input::failure_response(&graph.steps[from], failure))
            }
            _ => None,
        };
        // Each body is parsed as JSON once, however many conditions read it.
        let subject = match (outcome.as_deref(), &failure_response) {
            (Some(Outcome::Done(response)), _) => Some((EdgeKind::Next, Subject::new(response))),
            (_, Some(response)) => Some((EdgeKind::Error, Subject::new(response))),
            _ => None,
        };
        let mut handled = false;
        for &edge in &graph.steps[from].out {
            let edge_of = &graph.edges[edge];
            let subject = match &subject {
                Some((kind, subject)) if *kind == edge_of.kind => Some(subject),
                _ => None,
            };
            self.inputs[edge] = match (subject, &edge_of.when) {
                (None, _) => Input::Dead(match self.states[from] {
                    State::Skipped => format!("'{}' did not run", graph.steps[from].name),
                    State::Failed => format!("'{}' failed", graph.steps[from].name),
                    _ => format!("'{}' did not fail", graph.steps[from].name),
                }),
                (Some(_), None) => Input::Arrived,
                (Some(subject), Some(when)) if when.holds(subject) => Input::Arrived,
                (Some(_), Some(when)) => Input::Dead(format!(
                    "{when} did not hold on '{}'",
                    graph.steps[from].name
                )),
            };
            handled |= edge_of.kind == EdgeKind::Error && self.inputs[edge] == Input::Arrived;
        }
        handled
    }

    /// Settles a waiting step whose inputs changed.
    fn settle(&mut self, at: usize) -> Settled {
        if self.states[at] != State::Waiting {
            return Settled::Nothing;
        }
        let inputs = &self.graph.steps[at].inputs;
        let arrived = inputs
            .iter()
            .filter(|&&e| self.inputs[e] == Input::Arrived)
            .count();
        let pending = inputs
            .iter()
            .filter(|&&e| self.inputs[e] == Input::Pending)
            .count();
        if pending == 0 && arrived > 0 {
            self.states[at] = State::Ready;
            self.ready.push(at);
            Settled::Nothing
        } else if pending == 0 {
            let why: Vec<&str> = (inputs.iter())
                .filter_map(|&e| match &self.inputs[e] {
                    Input::Dead(why) => Some(why.as_str()),
                    _ => None,
                })
                .collect();
            self.notes[at] = Some(why.join("; "));
            self.states[at] = State::Skipped;
            Settled::Skipped
        } else if arrived == 1 && self.graph.steps[at].join.timeout.is_some() {
            Settled::FirstArrival
        } else {
            Settled::Nothing
        }
    }

    /// Whether every step is over.
    pub fn is_finished(&self) -> bool {
        self.states.iter().all(|state| state.is_over())
    }

    /// The answer to the source, once the response step is over: its
    /// response, or the failure that kept it from one.
    pub fn answer(&self) -> Option<Result<Response, Failure>> {
        let at = self.graph.response;
        match (self.states[at], self.outcomes[at].as_deref()) {
            (State::Done, Some(Outcome::Done(response))) => Some(Ok(response.clone())),
            (State::Failed, Some(Outcome::Failed(failure))) => Some(Err(failure.clone())),
            (State::Skipped, _) => Some(Err(self.cause())),
            _ => None,
        }
    }

    /// Why the response step did not run.
    fn cause(&self) -> Failure {
        let step = &self.graph.steps[self.graph.response].name;
        // The failure no error edge took, else the first one did.
        let failed = (self.unhandled)
            .or_else(|| (0..self.states.len()).find(|&at| self.states[at] == State::Failed));
        match failed.and_then(|at| self.outcomes[at].as_deref().map(|o| (at, o))) {
            Some((at, Outcome::Failed(failure))) => Failure {
                reason: format!(
                    "step '{}' failed: {}",
                    self.graph.steps[at].name, failure.reason
                ),
                ..failure.clone()
            },
            _ => Failure {
                kind: "not_run".into(),
                reason: format!("the run ended before its response step '{step}'"),
                status: 500,
                response: None,
            },
        }
    }

    /// `ok`, or `failed` when a failure was not taken by an error edge or
    /// the response step did not answer.
    pub fn status(&self) -> &'static str {
        let answered = self.states[self.graph.response] == State::Done;
        if self.unhandled.is_none() && answered {
            "ok"
        } else {
            "failed"
        }
    }

    /// Where step `at` stands.
    pub fn state(&self, at: usize) -> State {
        self.states[at]
    }

    /// Why step `at` was skipped, or how its join ended.
    pub fn note(&self, at: usize) -> Option<&str> {
        self.notes[at].as_deref()
    }

    /// Step `at`'s outcome, once over.
    pub fn outcome(&self, at: usize) -> Option<&Arc<Outcome>> {
        self.outcomes[at].as_ref()
    }

    /// The inputs that arrived at step `at`: each feeding step, its edge's
    /// kind and its outcome.
    pub fn arrived(&self, at: usize) -> Vec<(usize, EdgeKind, Arc<Outcome>)> {
        (self.graph.steps[at].inputs.iter())
            .filter(|&&edge| self.inputs[edge] == Input::Arrived)
            .filter_map(|&edge| {
                let edge = &self.graph.edges[edge];
                let outcome = self.outcomes[edge.from].clone()?;
                Some((edge.from, edge.kind, outcome))
            })
            .collect()
    }
}

enum Settled {
    Nothing,
    Skipped,
    FirstArrival,
}

#[cfg(test)]
mod tests;
