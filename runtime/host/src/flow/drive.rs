//! The task that runs one run: it starts each step as its inputs are in
//! (each retried as its step says, within the flow's steps in flight),
//! journals each step's outcome before any step it feeds starts, arms the
//! joins' timers, answers the caller once the response step is over, and
//! ends every step still running when the run's deadline passes.

use super::engine::Flow;
use super::graph::Retry;
use super::input::{self, Addressed};
use super::report::{answered, internal, late, outcome, report};
use super::run::{Failure, Outcome, RunState, State};
use crate::Error;
use crate::dispatch::{Dispatcher, Pinned};
use crate::services::FlowJournal;
use fenn_abi::{Event, Response};
use futures_util::FutureExt as _;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, oneshot};

/// What a kept run did before a restart: each journal entry, by step,
/// in the order kept.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    pub(crate) steps: Vec<(String, Vec<u8>)>,
    /// Whether the run is resumed after a restart.
    pub(crate) resumed: bool,
}

/// One journal entry of a step.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Entry {
    /// The step ended so.
    Outcome(Outcome),
    /// The join's timeout passed; what it then did follows from its
    /// `on_timeout`.
    JoinTimeout,
}

/// A run about to be driven.
pub(crate) struct Started {
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) flow: Arc<Flow>,
    pub(crate) pinned: Vec<Pinned>,
    pub(crate) run: String,
    pub(crate) event: Arc<Event>,
    pub(crate) journal: Option<Arc<dyn FlowJournal>>,
    /// The run's place among its flow's runs in flight, held to its end.
    pub(crate) _permit: OwnedSemaphorePermit,
    pub(crate) answer: Option<oneshot::Sender<Result<Response, Error>>>,
    pub(crate) kept: Kept,
}

/// What one step's future hands back.
struct Ended {
    step: usize,
    outcome: Outcome,
    attempts: u32,
    took: Duration,
}

type Running = FuturesUnordered<Pin<Box<dyn Future<Output = Ended> + Send>>>;

/// A run's progress as its driver holds it.
pub(super) struct Progress {
    pub(super) state: RunState,
    timers: Vec<(tokio::time::Instant, usize)>,
    pub(super) reports: Vec<(u32, Duration)>,
    /// Once the deadline passed or the journal failed: what every step
    /// still to run ends with, without running.
    stop: Option<Outcome>,
}

/// Runs a run to its end; see the module docs.
pub(crate) async fn drive(mut run: Started) {
    let began = (Instant::now(), SystemTime::now());
    let graph = run.flow.graph.clone();
    let mut progress = Progress {
        state: RunState::new(graph.clone(), run.flow.limits.max_bytes),
        timers: Vec::new(),
        reports: vec![(0, Duration::ZERO); graph.steps.len()],
        stop: None,
    };
    replay(&mut progress, &run.kept);
    let deadline = tokio::time::sleep(run.flow.limits.deadline);
    tokio::pin!(deadline);
    // The steps run as futures of this task, not tasks of their own: a
    // short guest then runs where the run is driven, with no thread hop.
    let mut running: Running = FuturesUnordered::new();
    loop {
        start_ready(&run, &mut progress, &mut running).await;
        if let Some(answer) = progress.state.answer() {
            if let Some(sender) = run.answer.take() {
                let _ = sender.send(answered(answer, &run.run));
            }
        }
        let timers = progress.stop.is_none() && !progress.timers.is_empty();
        if running.is_empty() && !progress.state.has_ready() && !timers {
            break;
        }
        let next_timer = progress.timers.iter().map(|(when, _)| *when).min();
        tokio::select! {
            Some(ended) = running.next(), if !running.is_empty() => {
                if progress.state.state(ended.step) == State::Running {
                    progress.reports[ended.step] = (ended.attempts, ended.took);
                    let outcome = progress.state.bound(ended.outcome);
                    record(&run, &mut progress, ended.step, outcome).await;
                }
            }
            () = sleep_until(next_timer), if timers => {
                let now = tokio::time::Instant::now();
                let due: Vec<usize> = (progress.timers.iter())
                    .filter(|(when, _)| *when <= now)
                    .map(|(_, at)| *at)
                    .collect();
                progress.timers.retain(|(when, _)| *when > now);
                for at in due {
                    if progress.state.state(at) == State::Waiting {
                        keep(&run, &mut progress, at, &Entry::JoinTimeout).await;
                        let armed = progress.state.join_timeout(at);
                        arm(&graph, armed, &mut progress.timers);
                    }
                }
            }
            () = &mut deadline, if progress.stop.is_none() => {
                // Dropped: each step stops, its guest at its next slice.
                running = FuturesUnordered::new();
                let late = late(run.flow.limits.deadline);
                progress.stop = Some(late.clone());
                for at in 0..graph.steps.len() {
                    if progress.state.state(at) == State::Running {
                        record(&run, &mut progress, at, late.clone()).await;
                    }
                }
            }
            else => break,
        }
    }
    report(&run, &progress, began);
    let journal = run.journal.clone();
    let id = run.run.clone();
    drop(run);
    if let Some(journal) = journal {
        let _ = tokio::task::spawn_blocking(move || journal.end(&id)).await;
    }
}

/// Starts the steps that are ready; once the run is stopped, ends them
/// (and the steps they make ready) without running them.
async fn start_ready(run: &Started, progress: &mut Progress, running: &mut Running) {
    while progress.state.has_ready() {
        for at in progress.state.take_ready() {
            if let Some(stop) = progress.stop.clone() {
                record(run, progress, at, stop).await;
                continue;
            }
            let task = step(
                run,
                at,
                progress.state.arrived(at),
                run.flow.graph.steps[at].retry,
            );
            let caught = AssertUnwindSafe(task).catch_unwind().map(move |ended| {
                ended.unwrap_or(Ended {
                    step: at,
                    outcome: internal(),
                    attempts: 1,
                    took: Duration::ZERO,
                })
            });
            running.push(Box::pin(caught));
        }
        if progress.stop.is_none() {
            return;
        }
    }
}

/// Keeps step `at`'s outcome, then completes it: its successors start
/// only once it is kept. A journal that fails stops the run.
async fn record(run: &Started, progress: &mut Progress, at: usize, outcome: Outcome) {
    let entry = Entry::Outcome(outcome);
    keep(run, progress, at, &entry).await;
    let Entry::Outcome(outcome) = entry else {
        return;
    };
    let armed = progress.state.complete(at, outcome);
    arm(&run.flow.graph, armed, &mut progress.timers);
}

/// Sleeps until `when`, or forever.
async fn sleep_until(when: Option<tokio::time::Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

/// Replays what a kept run did before a restart, in the order kept.
fn replay(progress: &mut Progress, kept: &Kept) {
    let graph = progress.state.graph().clone();
    for (name, bytes) in &kept.steps {
        let (Some(at), Ok(entry)) = (graph.step(name), serde_json::from_slice::<Entry>(bytes))
        else {
            continue;
        };
        let armed = match entry {
            Entry::Outcome(outcome) => {
                let outcome = progress.state.bound(outcome);
                progress.state.complete(at, outcome)
            }
            Entry::JoinTimeout => progress.state.join_timeout(at),
        };
        arm(&graph, armed, &mut progress.timers);
    }
}

/// Arms the timers of joins whose first input just arrived.
fn arm(graph: &super::Graph, armed: Vec<usize>, timers: &mut Vec<(tokio::time::Instant, usize)>) {
    for at in armed {
        if let Some(timeout) = graph.steps[at].join.timeout {
            timers.push((tokio::time::Instant::now() + timeout, at));
        }
    }
}

/// Journals `entry` of step `at`; when it cannot be kept, the run
/// stops: no step it would feed starts, since a crash would forget it.
async fn keep(run: &Started, progress: &mut Progress, at: usize, entry: &Entry) {
    let Some(journal) = run.journal.clone() else {
        return;
    };
    let kept = match serde_json::to_vec(entry) {
        Ok(bytes) => {
            let (id, step) = (run.run.clone(), run.flow.graph.steps[at].name.clone());
            tokio::task::spawn_blocking(move || journal.step(&id, &step, &bytes))
                .await
                .unwrap_or_else(|_| Err("the journal's writer failed".into()))
        }
        Err(error) => Err(error.to_string()),
    };
    // Once stopped, what is kept only spares a resumed run some work.
    if progress.stop.is_some() {
        return;
    }
    if let Err(reason) = kept {
        crate::limited!(warn, "flow journal", &run.flow.name, flow = %run.flow.name, run = %run.run, %reason, "a step's outcome could not be journaled: the run stops");
        progress.stop = Some(Outcome::Failed(Failure {
            kind: "journal".into(),
            reason: format!("the run's journal could not be written: {reason}"),
            status: 503,
            response: None,
        }));
    }
}

/// Runs step `at`, retried as `retry` says; its event is built for each
/// attempt once the step may run (a step waiting for its turn holds only
/// what arrived at it, shared).
fn step(
    run: &Started,
    at: usize,
    arrived: Vec<(usize, super::graph::EdgeKind, Arc<Outcome>)>,
    retry: Retry,
) -> impl Future<Output = Ended> + Send + 'static {
    let dispatcher = run.dispatcher.clone();
    let pinned = run.pinned[at].clone();
    let (flow, graph, steps) = (
        run.flow.name.clone(),
        run.flow.graph.clone(),
        run.flow.steps.clone(),
    );
    let (id, event) = (run.run.clone(), run.event.clone());
    let seed = jitter_seed(&id, at);
    async move {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let to = Addressed {
                flow: &flow,
                run: &id,
                step: at,
                attempt,
            };
            let result = match steps.clone().acquire_owned().await {
                Ok(_held) => {
                    let event = input::step_event(&event, &graph, &arrived, to);
                    dispatcher.invoke_pinned(&pinned, event).await
                }
                Err(_) => Err(Error::Unavailable {
                    reason: "fenn is stopping".into(),
                }),
            };
            let outcome = outcome(result);
            if matches!(outcome, Outcome::Done(_)) || attempt >= retry.attempts {
                return Ended {
                    step: at,
                    outcome,
                    attempts: attempt,
                    took: started.elapsed(),
                };
            }
            attempt += 1;
            tokio::time::sleep(jittered(retry, attempt, seed)).await;
        }
    }
}

/// A seed for a step's jitter, different for each run and step.
fn jitter_seed(run: &str, at: usize) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ at as u64;
    for byte in run.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The wait before `attempt`, with full jitter when asked.
fn jittered(retry: Retry, attempt: u32, seed: u64) -> Duration {
    let wait = retry.wait(attempt);
    if !retry.jitter {
        return wait;
    }
    let random = (seed ^ u64::from(attempt)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11;
    wait.mul_f64(random as f64 / (1u64 << 53) as f64)
}
