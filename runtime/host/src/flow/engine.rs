//! [`Flows`]: the flows served, by name, and how an event starts a run.
//! The dispatcher hands it every event for a name that is a flow's, not a
//! function's: the run is bounded by its flow's runs in flight (an event
//! past them is refused as busy, or waits when its trigger queues), its
//! start is journaled, it runs on a task of its own (its driver), and
//! the caller is answered once the response step is over while the rest of
//! the run goes on.
//!
//! Every run pins the versions of its steps' functions as it starts, and
//! keeps them to its end, across any deploy.

use super::drive::{self, Kept, Started};
use super::graph::Graph;
use crate::Error;
use crate::dispatch::{Dispatcher, Pinned};
use crate::services::FlowJournal;
use arc_swap::ArcSwap;
use fenn_abi::{Event, Response};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::Semaphore;

/// A flow's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowLimits {
    /// Runs in flight at once (`max_runs`).
    pub max_runs: usize,
    /// Steps running at once across its runs (`max_steps`).
    pub max_steps: usize,
    /// A run's deadline, from its start (`deadline`).
    pub deadline: Duration,
    /// Bytes of results one run carries (`max_bytes`).
    pub max_bytes: usize,
}

impl Default for FlowLimits {
    fn default() -> Self {
        Self {
            max_runs: 64,
            max_steps: 64,
            deadline: Duration::from_secs(60),
            max_bytes: 1 << 20,
        }
    }
}

/// A validated flow, as served.
#[derive(Debug)]
pub struct Flow {
    /// Its name, in the same namespace as functions'.
    pub name: String,
    /// Its deployed version (0 for a config file's).
    pub version: u64,
    /// Its steps and edges.
    pub graph: Arc<Graph>,
    /// Its bounds.
    pub limits: FlowLimits,
    pub(crate) runs: Arc<Semaphore>,
    pub(crate) steps: Arc<Semaphore>,
}

impl Flow {
    /// A flow to serve.
    pub fn new(name: &str, version: u64, graph: Graph, limits: FlowLimits) -> Self {
        Self {
            name: name.to_owned(),
            version,
            graph: Arc::new(graph),
            limits,
            runs: Arc::new(Semaphore::new(limits.max_runs.max(1))),
            steps: Arc::new(Semaphore::new(limits.max_steps.max(1))),
        }
    }

    /// Runs in flight now.
    pub fn running(&self) -> usize {
        self.limits.max_runs.max(1) - self.runs.available_permits()
    }
}

/// The flows served, and what runs them.
#[derive(Default)]
pub struct Flows {
    table: ArcSwap<HashMap<String, Arc<Flow>>>,
    dispatcher: OnceLock<Weak<Dispatcher>>,
    journal: OnceLock<Arc<dyn FlowJournal>>,
    next_run: AtomicU64,
}

impl std::fmt::Debug for Flows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.table.load().keys().cloned().collect();
        f.debug_struct("Flows")
            .field("flows", &names)
            .finish_non_exhaustive()
    }
}

impl Flows {
    /// Starts running flows for `dispatcher`, keeping runs in `journal`
    /// when given, and resumes the runs the journal kept from before. Run
    /// ids start from the clock, past any kept one's (a device without a
    /// real-time clock may start in the past).
    pub fn start(&self, dispatcher: &Arc<Dispatcher>, journal: Option<Arc<dyn FlowJournal>>) {
        let _ = self.dispatcher.set(Arc::downgrade(dispatcher));
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let kept = (journal.as_ref())
            .and_then(|journal| journal.newest())
            .and_then(|id| u64::from_str_radix(&id, 16).ok());
        let seed = (clock << 8).max(kept.map_or(0, |id| id.saturating_add(1)));
        self.next_run.store(seed, Ordering::Relaxed);
        if let Some(journal) = journal {
            let _ = self.journal.set(journal.clone());
            if let Some(last) = kept {
                let weak = Arc::downgrade(dispatcher);
                tokio::spawn(resume(weak, journal, format!("{last:016x}")));
            }
        }
    }

    /// Serves `flow` under its name, in place of any flow of that name
    /// (runs already under way finish on the one they started with).
    pub fn install(&self, flow: Flow) {
        let flow = Arc::new(flow);
        self.table.rcu(|table| {
            let mut next = HashMap::clone(table);
            next.insert(flow.name.clone(), flow.clone());
            next
        });
    }

    /// Stops serving `name`; whether it was served.
    pub fn remove(&self, name: &str) -> bool {
        let mut removed = false;
        self.table.rcu(|table| {
            let mut next = HashMap::clone(table);
            removed = next.remove(name).is_some();
            next
        });
        removed
    }

    /// The flow named `name`, as of now.
    pub fn get(&self, name: &str) -> Option<Arc<Flow>> {
        self.table.load().get(name).cloned()
    }

    /// Every flow served, as of now.
    pub fn all(&self) -> Vec<Arc<Flow>> {
        self.table.load().values().cloned().collect()
    }

    /// A new run id: unique across restarts (it starts from the clock).
    fn run_id(&self) -> String {
        format!("{:016x}", self.next_run.fetch_add(1, Ordering::Relaxed))
    }

    /// Starts a run of `flow` on `event` and waits for its answer. With
    /// `queued`, a flow at its runs in flight makes the event wait; else
    /// it is refused as busy.
    pub(crate) async fn invoke(
        &self,
        flow: Arc<Flow>,
        event: Event,
        queued: bool,
    ) -> Result<Response, Error> {
        let busy = || Error::Busy {
            function: flow.name.clone(),
        };
        let permit = if queued {
            flow.runs
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| busy())?
        } else {
            flow.runs.clone().try_acquire_owned().map_err(|_| busy())?
        };
        let dispatcher = (self.dispatcher.get())
            .and_then(Weak::upgrade)
            .ok_or_else(|| Error::Unavailable {
                reason: "flows are not running (fenn is starting or stopping)".into(),
            })?;
        let pinned = pin(&dispatcher, &flow)?;
        let run = self.run_id();
        let journal = self.journal.get().cloned();
        let (answer, answered) = tokio::sync::oneshot::channel();
        let started = Started {
            dispatcher,
            flow,
            pinned,
            run: run.clone(),
            event: Arc::new(event),
            journal,
            _permit: permit,
            answer: Some(answer),
            kept: Kept::default(),
        };
        // Journaled and driven on a task of its own: a caller that goes
        // away does not leave a kept run without its driver.
        tokio::spawn(async move {
            match begin(&started).await {
                Ok(()) => drive::drive(started).await,
                Err(error) => {
                    if let Some(answer) = started.answer {
                        let _ = answer.send(Err(error));
                    }
                }
            }
        });
        match answered.await {
            Ok(answer) => answer,
            Err(_) => Err(Error::Internal {
                reason: format!("run {run} ended without an answer"),
            }),
        }
    }
}

/// Keeps a run's start, durably, when there is a journal.
async fn begin(run: &Started) -> Result<(), Error> {
    let Some(journal) = run.journal.clone() else {
        return Ok(());
    };
    let bytes = serde_json::to_vec(&*run.event).map_err(|error| Error::BadEvent {
        reason: error.to_string(),
    })?;
    let (id, name) = (run.run.clone(), run.flow.name.clone());
    let kept = tokio::task::spawn_blocking(move || journal.begin(&id, &name, &bytes));
    kept.await
        .map_err(|_| Error::Internal {
            reason: "the journal's writer failed".into(),
        })?
        .map_err(|reason| Error::Unavailable {
            reason: format!("the run could not be journaled: {reason}"),
        })
}

/// The version of each step's function deployed now, held for the run.
fn pin(dispatcher: &Dispatcher, flow: &Flow) -> Result<Vec<Pinned>, Error> {
    (flow.graph.steps.iter())
        .map(|step| {
            dispatcher
                .pin(&step.function)
                .ok_or_else(|| Error::Unavailable {
                    reason: format!(
                        "flow '{}': step '{}' runs '{}', which is not deployed",
                        flow.name, step.name, step.function
                    ),
                })
        })
        .collect()
}

/// Runs kept from before this start, read back at a time.
const RESUME_PAGE: usize = 64;

/// Resumes the runs `journal` kept from before this start (ids up to
/// `last`): each at the steps that had not completed, on the functions
/// deployed now, each waiting for its flow's runs in flight on its own.
async fn resume(dispatcher: Weak<Dispatcher>, journal: Arc<dyn FlowJournal>, last: String) {
    let mut after = String::new();
    loop {
        let reader = journal.clone();
        let from = after.clone();
        let Ok(page) =
            tokio::task::spawn_blocking(move || reader.unfinished(&from, RESUME_PAGE)).await
        else {
            return;
        };
        let Some(newest) = page.last().map(|kept| kept.run.clone()) else {
            return;
        };
        after = newest;
        for kept in page.into_iter().filter(|kept| kept.run <= last) {
            let Some(dispatcher) = dispatcher.upgrade() else {
                return;
            };
            tokio::spawn(resume_one(dispatcher, journal.clone(), kept));
        }
        if after >= last {
            return;
        }
    }
}

/// Resumes one kept run, within its flow's runs in flight; a run whose
/// flow or functions are gone, or whose event does not read, is ended.
async fn resume_one(
    dispatcher: Arc<Dispatcher>,
    journal: Arc<dyn FlowJournal>,
    kept: crate::services::KeptRun,
) {
    let refuse = |why: String| {
        tracing::warn!(run = %kept.run, flow = %kept.flow, "a kept run cannot resume: {why}");
        let (journal, run) = (journal.clone(), kept.run.clone());
        async move {
            let _ = tokio::task::spawn_blocking(move || journal.end(&run)).await;
        }
    };
    let Some(flow) = dispatcher.flows().get(&kept.flow) else {
        return refuse("its flow is no longer served".into()).await;
    };
    let Ok(event) = serde_json::from_slice::<Event>(&kept.event) else {
        return refuse("its event does not read".into()).await;
    };
    let pinned = match pin(&dispatcher, &flow) {
        Ok(pinned) => pinned,
        Err(error) => return refuse(error.to_string()).await,
    };
    let Ok(permit) = flow.runs.clone().acquire_owned().await else {
        return;
    };
    tracing::info!(run = %kept.run, flow = %kept.flow, done = kept.steps.len(), "resuming a run");
    let started = Started {
        dispatcher,
        flow,
        pinned,
        run: kept.run,
        event: Arc::new(event),
        journal: Some(journal),
        _permit: permit,
        answer: None,
        kept: Kept {
            steps: kept.steps,
            resumed: true,
        },
    };
    drive::drive(started).await;
}

#[cfg(test)]
mod tests;
