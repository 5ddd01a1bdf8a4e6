//! Seeing what runs: every invocation recorded with its log lines
//! (`history`), a live stream of them for `fenn logs --follow` and the
//! console, and the metrics in the Prometheus text format (`metrics`).
//! On with the management API, which serves them. And fenn's own log
//! (`logging`): bounded, rate-limited, never blocking a request.

mod history;
pub mod logging;
mod metrics;
mod runs;

pub use history::{FlowStep, History, Query, Record};
pub use metrics::{Metrics, Sources};
pub use runs::{FlowCounts, RunRecord, Runs, StepRecord};

use fenn_runtime::{Invoked, Observer};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// A duration in milliseconds, to the hundredth, as the management API
/// and the history answer it.
pub fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1e5).round() / 100.0
}

/// New records a slow stream reader may fall behind by before it is cut
/// off (it is told so, and may reconnect).
const STREAM_BACKLOG: usize = 256;

/// How much the history keeps (`[admin]` `history`, `history_log`,
/// `history_memory`).
#[derive(Debug, Clone, Copy)]
pub struct HistorySettings {
    /// Records kept per function.
    pub per_function: usize,
    /// Bytes of log lines kept per invocation.
    pub log_bytes: usize,
    /// Bytes all records together may hold.
    pub max_bytes: usize,
}

/// The dispatcher's observer: records each invocation and passes it on to
/// whoever follows the stream.
#[derive(Debug)]
pub struct Recorder {
    history: Mutex<History>,
    runs: Mutex<Runs>,
    stream: broadcast::Sender<Arc<Record>>,
    log_bytes: usize,
    /// The triggers recorded by name; any other is `other`.
    triggers: Vec<&'static str>,
}

impl Recorder {
    /// An empty history that keeps what `settings` say, of invocations
    /// that `triggers` (the registered kinds) and test events start.
    pub fn new(settings: HistorySettings, triggers: &[&'static str]) -> Arc<Self> {
        Arc::new(Self {
            history: Mutex::new(History::new(settings.per_function, settings.max_bytes)),
            runs: Mutex::default(),
            stream: broadcast::Sender::new(STREAM_BACKLOG),
            log_bytes: settings.log_bytes,
            triggers: triggers.iter().copied().chain(["test"]).collect(),
        })
    }

    /// Runs `read` on the history.
    pub fn read<T>(&self, read: impl FnOnce(&History) -> T) -> T {
        let history = self
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read(&history)
    }

    /// Runs `read` on the flows' runs.
    pub fn runs<T>(&self, read: impl FnOnce(&Runs) -> T) -> T {
        let runs = self
            .runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read(&runs)
    }

    /// Forgets a deleted function's records and counts.
    pub fn forget(&self, function: &str) {
        let mut history = self
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        history.forget(function);
    }

    /// New records from now on.
    pub fn follow(&self) -> broadcast::Receiver<Arc<Record>> {
        self.stream.subscribe()
    }
}

impl Observer for Recorder {
    fn log_bytes(&self) -> usize {
        self.log_bytes
    }

    fn invoked(&self, invoked: Invoked<'_>) {
        let duration = invoked.duration;
        let record = Arc::new(Record::of(invoked, &self.triggers));
        {
            let mut history = self
                .history
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            history.push(record.clone(), duration);
        }
        if self.stream.receiver_count() > 0 {
            let _ = self.stream.send(record);
        }
    }

    fn run_ended(&self, run: fenn_runtime::observe::RunReport<'_>) {
        let record = RunRecord::of(&run);
        let mut runs = self
            .runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        runs.push(record);
    }
}
