//! Flows' runs as they ended: the newest kept, bounded in count and bytes,
//! for `GET /v1/runs` and the console; and counts of runs and steps by
//! flow, for the metrics.

use fenn_runtime::observe::RunReport;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Runs kept, the newest.
const MAX_RUNS: usize = 256;
/// Bytes the kept runs may hold together.
const MAX_BYTES: usize = 2 << 20;
/// Longest note or error kept of one step.
const MAX_TEXT: usize = 512;

/// One run, as it ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The run's id.
    pub run: String,
    /// Its flow.
    pub flow: String,
    /// The flow's version.
    pub version: u64,
    /// The trigger that started it.
    pub trigger: String,
    /// When it started, in Unix milliseconds (RFC 3339 when written).
    #[serde(serialize_with = "crate::history::rfc3339")]
    pub started: u64,
    /// How long it took.
    pub duration_ms: f64,
    /// `ok`, or `failed` when a failure took no error edge.
    pub status: &'static str,
    /// Whether it resumed after a restart.
    pub resumed: bool,
    /// Each step, in the order declared.
    pub steps: Vec<StepRecord>,
}

/// One step of a run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    /// The step.
    pub name: String,
    /// Its function.
    pub function: String,
    /// `done`, `failed`, `skipped`…
    pub state: fenn_runtime::flow::run::State,
    /// Its runs, retries included.
    pub attempts: u32,
    /// How long it took, its retries' waits included.
    pub duration_ms: f64,
    /// Its status code, or its failure's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it was skipped, or how its join ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl RunRecord {
    /// The record of a run that has ended.
    pub fn of(run: &RunReport<'_>) -> Self {
        let text = |text: Option<&str>| text.map(|text| crate::history::cut(text, MAX_TEXT));
        Self {
            run: run.run.to_owned(),
            flow: run.flow.to_owned(),
            version: run.version,
            trigger: crate::history::cut(run.trigger, 16),
            started: crate::history::unix_millis(run.started),
            duration_ms: crate::millis(run.duration),
            status: run.status,
            resumed: run.resumed,
            steps: (run.steps.iter())
                .map(|step| StepRecord {
                    name: step.name.to_owned(),
                    function: step.function.to_owned(),
                    state: step.state,
                    attempts: step.attempts,
                    duration_ms: crate::millis(step.duration),
                    status_code: step.status_code,
                    error: text(step.error),
                    note: text(step.note),
                })
                .collect(),
        }
    }

    fn cost(&self) -> usize {
        let steps: usize = (self.steps.iter())
            .map(|step| {
                96 + step.name.len()
                    + step.function.len()
                    + step.error.as_ref().map_or(0, String::len)
                    + step.note.as_ref().map_or(0, String::len)
            })
            .sum();
        192 + self.run.len() + self.flow.len() + steps
    }
}

/// A flow's counts since fenn started.
#[derive(Debug, Default)]
pub struct FlowCounts {
    /// Runs by status.
    pub runs: BTreeMap<&'static str, u64>,
    /// Steps by step and state.
    pub steps: BTreeMap<(String, &'static str), u64>,
}

/// The kept runs and the counts; see the module docs.
#[derive(Debug, Default)]
pub struct Runs {
    kept: VecDeque<Arc<RunRecord>>,
    bytes: usize,
    counts: BTreeMap<String, FlowCounts>,
}

impl Runs {
    /// Keeps `record` and counts it.
    pub fn push(&mut self, record: RunRecord) {
        let counts = self.counts.entry(record.flow.clone()).or_default();
        *counts.runs.entry(record.status).or_default() += 1;
        for step in &record.steps {
            let state = step.state.name();
            *counts.steps.entry((step.name.clone(), state)).or_default() += 1;
        }
        self.bytes += record.cost();
        self.kept.push_back(Arc::new(record));
        while self.kept.len() > MAX_RUNS || (self.bytes > MAX_BYTES && self.kept.len() > 1) {
            if let Some(old) = self.kept.pop_front() {
                self.bytes -= old.cost();
            }
        }
    }

    /// The newest runs, of `flow` if given, at most `limit`.
    pub fn newest(&self, flow: Option<&str>, limit: usize) -> Vec<Arc<RunRecord>> {
        (self.kept.iter().rev())
            .filter(|record| flow.is_none_or(|flow| record.flow == flow))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The run of `id`, if kept.
    pub fn get(&self, id: &str) -> Option<Arc<RunRecord>> {
        self.kept
            .iter()
            .rev()
            .find(|record| record.run == id)
            .cloned()
    }

    /// Each flow's counts.
    pub fn counts(&self) -> impl Iterator<Item = (&str, &FlowCounts)> {
        self.counts
            .iter()
            .map(|(flow, counts)| (flow.as_str(), counts))
    }
}
