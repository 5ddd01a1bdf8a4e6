//! The invocation history: the last invocations of each function with
//! their log lines, and each function's counts for the metrics. A plain
//! value: the observer holds it under a lock.
//!
//! Bounded twice: each function keeps at most `per_function` records,
//! and all records together at most `max_bytes` (their text and log
//! lines); past that, the function holding the most gives up its oldest.

use fenn_runtime::guest_log::escape;
use fenn_runtime::observe::{Histogram, Invoked};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// Longest source (request path, topic) a record keeps, in characters.
const MAX_SOURCE: usize = 256;
/// Longest failure reason a record keeps, in characters.
const MAX_ERROR: usize = 512;

/// One guest log line of an invocation.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// `error`, `warn`, `info` or `debug`.
    pub level: &'static str,
    /// The line, as the guest wrote it (cut to the history's bound).
    pub message: String,
}

/// One invocation, as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The invocation's id, unique while fenn runs.
    pub id: u64,
    /// The function that ran.
    pub function: String,
    /// Its version (0 for a config file's function).
    pub version: u64,
    /// The trigger that woke it (`http`, `mqtt`, `cron`, `test`).
    pub trigger: &'static str,
    /// The event's `httpMethod` (`GET`, `PUBLISH`, `SCHEDULE`).
    pub method: String,
    /// The event's path: a request path, a topic, a schedule.
    pub source: String,
    /// Unix milliseconds; written as RFC 3339 (formatting waits for a
    /// reader, so that recording stays cheap).
    #[serde(serialize_with = "rfc3339")]
    pub started: u64,
    /// How long it took, waiting for a worker included.
    pub duration_ms: f64,
    /// Fuel it used.
    pub fuel_used: u64,
    /// The most linear memory it held, in bytes.
    pub peak_memory: usize,
    /// `ok`, or the failure's kind (`trap`, `deadline`, `busy`…).
    pub status: &'static str,
    /// The function's status code, or the one its failure answers with.
    pub status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Its guest log lines.
    pub logs: Vec<Line>,
    /// Whether log lines were cut or left out.
    pub logs_cut: bool,
    /// The host calls it made (store, publish, emit, variables): each
    /// call's count, failures and bytes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_calls: Vec<fenn_runtime::calls::HostCall>,
    /// The flow's run it was a step of, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowStep>,
}

/// The flow, run and step an invocation was, and its attempt.
#[derive(Debug, Clone, Serialize)]
pub struct FlowStep {
    /// The flow.
    pub name: String,
    /// The run's id.
    pub run: String,
    /// The step.
    pub step: String,
    /// Its attempt, 1 for the first.
    pub attempt: u32,
}

impl Record {
    /// The record of an invocation that has ended.
    /// Its trigger is one of `triggers` (the registered kinds and the
    /// management API's `test`), else `other`: the metrics' labels are
    /// bounded.
    pub fn of(invoked: Invoked<'_>, triggers: &[&'static str]) -> Self {
        let (status, status_code, error) = match invoked.result {
            Ok(response) => ("ok", response.status_code, None),
            Err(error) => (
                error.kind(),
                error.status_code(),
                Some(cut(&error.to_string(), MAX_ERROR)),
            ),
        };
        let started = unix_millis(invoked.started);
        let recorded = invoked.recorded;
        Self {
            id: invoked.id,
            function: invoked.function.to_owned(),
            version: invoked.version,
            trigger: triggers
                .iter()
                .find(|known| **known == invoked.trigger)
                .copied()
                .unwrap_or("other"),
            // A topic or a test event's path may hold control characters:
            // escaped as a guest's log line is, so no reader is fooled.
            method: cut(&escape(invoked.method.as_bytes()), 16),
            source: cut(&escape(invoked.source.as_bytes()), MAX_SOURCE),
            started,
            duration_ms: crate::millis(invoked.duration),
            fuel_used: recorded.fuel_used,
            peak_memory: recorded.peak_memory,
            status,
            status_code,
            error,
            logs: recorded
                .lines
                .into_iter()
                .map(|line| Line {
                    level: line.level,
                    message: line.message,
                })
                .collect(),
            logs_cut: recorded.cut,
            host_calls: recorded.host_calls,
            flow: invoked.step.map(|step| FlowStep {
                name: cut(step.flow, 128),
                run: cut(step.run, 32),
                step: cut(step.step, 128),
                attempt: step.attempt,
            }),
        }
    }

    /// Bytes it holds, roughly: its text and its lines, and what the
    /// allocator and the shared pointer add to each (measured: without
    /// it, 16 MiB counted held 27 MB).
    fn cost(&self) -> usize {
        const OVERHEAD: usize = 192;
        let lines: usize = self.logs.iter().map(|line| line.message.len() + 48).sum();
        OVERHEAD
            + std::mem::size_of::<Self>()
            + self.function.len()
            + self.method.len()
            + self.source.len()
            + self.error.as_ref().map_or(0, String::len)
            + lines
    }
}

/// A time as Unix milliseconds.
pub(crate) fn unix_millis(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

/// Unix milliseconds as RFC 3339, to the millisecond.
pub(crate) fn rfc3339<S: serde::Serializer>(
    millis: &u64,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&text_of(*millis))
}

fn text_of(millis: u64) -> String {
    let at = i64::try_from(millis)
        .ok()
        .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
        .unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `text`, at most `max` characters of it.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A function's counts since fenn started (or since it was deployed
/// anew after a delete), for the metrics.
#[derive(Debug, Default)]
pub struct Counts {
    /// Invocations by trigger and status.
    pub invocations: BTreeMap<(&'static str, &'static str), u64>,
    pub duration: Histogram,
    pub fuel: u64,
    /// Host calls by call and whether they failed.
    pub host_calls: BTreeMap<(&'static str, bool), u64>,
}

#[derive(Debug, Default)]
struct Function {
    records: VecDeque<Arc<Record>>,
    bytes: usize,
    counts: Counts,
}

/// What a history query asks for; every part optional.
#[derive(Debug, Default, Clone)]
pub struct Query {
    /// Only this function's invocations.
    pub function: Option<String>,
    /// Only those this trigger woke.
    pub trigger: Option<String>,
    /// `ok`, `error` (any failure), or a failure's kind.
    pub status: Option<String>,
    /// At most this many, the newest.
    pub limit: usize,
    /// Whether the answer carries the log lines.
    pub logs: bool,
    /// Only the steps of this flow's run.
    pub run: Option<String>,
}

impl Query {
    fn matches(&self, record: &Record) -> bool {
        let status = match self.status.as_deref() {
            None => true,
            Some("error") => record.status != "ok",
            Some(status) => record.status == status,
        };
        let run = self
            .run
            .as_deref()
            .is_none_or(|run| (record.flow.as_ref()).is_some_and(|flow| flow.run == run));
        status && run && self.trigger.as_deref().is_none_or(|t| t == record.trigger)
    }
}

/// The history; see the module docs.
#[derive(Debug)]
pub struct History {
    functions: HashMap<String, Function>,
    per_function: usize,
    max_bytes: usize,
    bytes: usize,
}

impl History {
    /// An empty history: `per_function` records kept per function, and
    /// `max_bytes` in all.
    pub fn new(per_function: usize, max_bytes: usize) -> Self {
        Self {
            functions: HashMap::new(),
            per_function: per_function.max(1),
            max_bytes,
            bytes: 0,
        }
    }

    /// Keeps `record` and counts it.
    pub fn push(&mut self, record: Arc<Record>, duration: std::time::Duration) {
        let cost = record.cost();
        if !self.functions.contains_key(&record.function) {
            self.functions
                .insert(record.function.clone(), Function::default());
        }
        let Some(function) = self.functions.get_mut(&record.function) else {
            return;
        };
        let key = (record.trigger, record.status);
        *function.counts.invocations.entry(key).or_default() += 1;
        function.counts.duration.observe(duration);
        function.counts.fuel = function.counts.fuel.saturating_add(record.fuel_used);
        for call in &record.host_calls {
            let ok = u64::from(call.count - call.failed);
            *function
                .counts
                .host_calls
                .entry((call.call, false))
                .or_default() += ok;
            *function
                .counts
                .host_calls
                .entry((call.call, true))
                .or_default() += u64::from(call.failed);
        }
        if function.records.len() == self.per_function {
            if let Some(old) = function.records.pop_front() {
                function.bytes -= old.cost();
                self.bytes -= old.cost();
            }
        }
        function.records.push_back(record);
        function.bytes += cost;
        self.bytes += cost;
        while self.bytes > self.max_bytes && self.evict_one() {}
    }

    /// Drops the oldest record of the function holding the most bytes.
    fn evict_one(&mut self) -> bool {
        let largest = self.functions.values_mut().max_by_key(|f| f.bytes);
        let Some(old) = largest.and_then(|f| {
            let old = f.records.pop_front()?;
            f.bytes -= old.cost();
            Some(old)
        }) else {
            return false;
        };
        self.bytes -= old.cost();
        true
    }

    /// Forgets a function that was deleted: its records and counts.
    pub fn forget(&mut self, function: &str) {
        if let Some(gone) = self.functions.remove(function) {
            self.bytes -= gone.bytes;
        }
    }

    /// The newest records that match, newest first.
    pub fn query(&self, query: &Query) -> Vec<Arc<Record>> {
        let functions = self
            .functions
            .iter()
            .filter(|(name, _)| query.function.as_ref().is_none_or(|f| f == *name));
        let mut found: Vec<Arc<Record>> = functions
            .flat_map(|(_, function)| {
                let newest = function.records.iter().rev();
                newest
                    .filter(|r| query.matches(r))
                    .take(query.limit)
                    .cloned()
            })
            .collect();
        found.sort_unstable_by_key(|record| std::cmp::Reverse(record.id));
        found.truncate(query.limit);
        found
    }

    /// One record by its id.
    pub fn get(&self, id: u64) -> Option<Arc<Record>> {
        self.functions
            .values()
            .find_map(|f| f.records.iter().rev().find(|r| r.id == id).cloned())
    }

    /// Each function's counts, by name.
    pub fn counts(&self) -> impl Iterator<Item = (&str, &Counts)> {
        self.functions
            .iter()
            .map(|(name, f)| (name.as_str(), &f.counts))
    }

    /// A function's recent invocations in brief: how many are kept, the
    /// last one's status, and the median and 99th percentile durations.
    pub fn recent(&self, function: &str) -> Option<serde_json::Value> {
        let records = &self.functions.get(function)?.records;
        let last = records.back()?;
        let mut durations: Vec<f64> = records.iter().map(|r| r.duration_ms).collect();
        durations.sort_unstable_by(f64::total_cmp);
        let at = |q: f64| durations[((durations.len() - 1) as f64 * q).round() as usize];
        Some(serde_json::json!({
            "count": records.len(),
            "lastStatus": last.status,
            "lastStatusCode": last.status_code,
            "lastStarted": text_of(last.started),
            "p50Ms": at(0.5),
            "p99Ms": at(0.99),
        }))
    }

    /// Bytes the records hold, as counted against the bound.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn record(id: u64, function: &str, status: &'static str, log: usize) -> Arc<Record> {
        Arc::new(Record {
            id,
            function: function.into(),
            version: 1,
            trigger: "http",
            method: "GET".into(),
            source: "/x".into(),
            started: 1_795_900_000_000,
            duration_ms: id as f64,
            fuel_used: 10,
            peak_memory: 65536,
            status,
            status_code: 200,
            error: None,
            logs: vec![Line {
                level: "info",
                message: "x".repeat(log),
            }],
            logs_cut: false,
            host_calls: Vec::new(),
            flow: (id % 2 == 1).then(|| FlowStep {
                name: "f".into(),
                run: format!("run{}", id % 4),
                step: "s".into(),
                attempt: 1,
            }),
        })
    }

    #[test]
    fn each_function_keeps_its_newest_records_and_queries_merge_them() {
        let mut history = History::new(3, usize::MAX);
        for id in 0..5 {
            history.push(record(id, "a", "ok", 0), Duration::ZERO);
        }
        history.push(record(10, "b", "trap", 0), Duration::ZERO);
        let all = history.query(&Query {
            limit: 10,
            ..Query::default()
        });
        let ids: Vec<u64> = all.iter().map(|r| r.id).collect();
        assert_eq!(ids, [10, 4, 3, 2]);
        let failed = history.query(&Query {
            status: Some("error".into()),
            limit: 10,
            ..Query::default()
        });
        assert_eq!(failed.len(), 1);
        let run = history.query(&Query {
            run: Some("run3".into()),
            limit: 10,
            ..Query::default()
        });
        let ids: Vec<u64> = run.iter().map(|r| r.id).collect();
        assert_eq!(ids, [3], "the steps of one run only");
        assert_eq!(history.get(3).map(|r| r.id), Some(3));
        assert!(history.get(0).is_none());
        let (_, counts) = history.counts().find(|(name, _)| *name == "a").unwrap();
        assert_eq!(counts.invocations[&("http", "ok")], 5);
        assert_eq!(counts.fuel, 50);
        let recent = history.recent("a").unwrap();
        assert_eq!(recent["p50Ms"], 3.0);
        history.forget("a");
        assert!(history.recent("a").is_none());
    }

    #[test]
    fn the_byte_bound_takes_from_the_function_holding_the_most() {
        let mut history = History::new(1000, 64 << 10);
        history.push(record(0, "quiet", "ok", 100), Duration::ZERO);
        for id in 1..200 {
            history.push(record(id, "loud", "ok", 8 << 10), Duration::ZERO);
        }
        assert!(history.bytes() <= 64 << 10, "{}", history.bytes());
        assert!(
            history.get(0).is_some(),
            "the quiet function kept its record"
        );
        assert!(history.get(199).is_some());
        assert!(history.get(1).is_none());
    }
}
