//! Seeing what runs: every invocation recorded with its log lines
//! (`history`), a live stream of them for `fenn logs --follow` and the
//! console, and the metrics in the Prometheus text format (`metrics`).
//! On with the management API, which serves them.

mod history;
mod metrics;

pub(crate) use history::{Query, Record};
pub(crate) use metrics::{Metrics, Sources};

use fenn_runtime::{Invoked, Observer};
use history::History;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// New records a slow stream reader may fall behind by before it is cut
/// off (it is told so, and may reconnect).
const STREAM_BACKLOG: usize = 256;

/// How much the history keeps (`[admin]` `history`, `history_log`,
/// `history_memory`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HistorySettings {
    /// Records kept per function.
    pub(crate) per_function: usize,
    /// Bytes of log lines kept per invocation.
    pub(crate) log_bytes: usize,
    /// Bytes all records together may hold.
    pub(crate) max_bytes: usize,
}

/// The dispatcher's observer: records each invocation and passes it on to
/// whoever follows the stream.
#[derive(Debug)]
pub(crate) struct Observe {
    history: Mutex<History>,
    stream: broadcast::Sender<Arc<Record>>,
    log_bytes: usize,
}

impl Observe {
    pub(crate) fn new(settings: HistorySettings) -> Arc<Self> {
        Arc::new(Self {
            history: Mutex::new(History::new(settings.per_function, settings.max_bytes)),
            stream: broadcast::Sender::new(STREAM_BACKLOG),
            log_bytes: settings.log_bytes,
        })
    }

    /// Runs `read` on the history.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&History) -> T) -> T {
        let history = self
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read(&history)
    }

    /// Forgets a deleted function's records and counts.
    pub(crate) fn forget(&self, function: &str) {
        let mut history = self
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        history.forget(function);
    }

    /// New records from now on.
    pub(crate) fn follow(&self) -> broadcast::Receiver<Arc<Record>> {
        self.stream.subscribe()
    }
}

impl Observer for Observe {
    fn log_bytes(&self) -> usize {
        self.log_bytes
    }

    fn invoked(&self, invoked: Invoked<'_>) {
        let duration = invoked.duration;
        let record = Arc::new(Record::of(invoked));
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
}
