//! The task that runs one run: it starts each step as its inputs are in
//! (each retried as its step says, within the flow's steps in flight),
//! journals each step's outcome before any step it feeds starts, arms the
//! joins' timers, answers the caller once the response step is over, and
//! ends every step still running when the run's deadline passes.

use super::engine::Flow;
use super::graph::Retry;
use super::input::{self, Addressed};
use super::run::{Failure, Outcome, RunState, State};
use crate::Error;
use crate::dispatch::{Dispatcher, Pinned};
use crate::observe::{RunReport, StepReport};
use crate::services::FlowJournal;
use fenn_abi::{Event, Response};
use futures_util::FutureExt as _;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// Steps a kept run completed before a restart: each step's name and its
/// outcome as the journal holds it.
#[derive(Debug, Default)]
pub(crate) struct Kept(pub(crate) Vec<(String, Vec<u8>)>);

/// A run about to be driven.
pub(crate) struct Started {
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) flow: Arc<Flow>,
    pub(crate) pinned: Vec<Pinned>,
    pub(crate) run: String,
    pub(crate) event: Event,
    pub(crate) journal: Option<Arc<dyn FlowJournal>>,
    pub(crate) permit: OwnedSemaphorePermit,
    pub(crate) answer: Option<oneshot::Sender<Result<Response, Error>>>,
    pub(crate) kept: Kept,
}

/// What one step's task hands back.
struct Ended {
    step: usize,
    outcome: Outcome,
    attempts: u32,
    took: Duration,
}

/// Runs a run to its end; see the module docs.
pub(crate) async fn drive(mut run: Started) {
    let began = (Instant::now(), SystemTime::now());
    let graph = run.flow.graph.clone();
    let mut state = RunState::new(graph.clone(), run.flow.limits.max_bytes);
    let mut reports: Vec<(u32, Duration)> = vec![(0, Duration::ZERO); graph.steps.len()];
    let mut timers: Vec<(tokio::time::Instant, usize)> = Vec::new();
    let resumed = !run.kept.0.is_empty();
    replay(&mut state, &run.kept, &mut timers);
    let deadline = tokio::time::Instant::now() + run.flow.limits.deadline;
    // The steps run as futures of this task, not tasks of their own: a
    // short guest then runs where the run is driven, with no thread hop.
    let mut running: FuturesUnordered<Pin<Box<dyn Future<Output = Ended> + Send>>> =
        FuturesUnordered::new();
    let mut expired = false;
    loop {
        for at in state.take_ready() {
            if expired {
                let armed = state.complete(at, late(run.flow.limits.deadline));
                arm(&graph, armed, &mut timers);
                continue;
            }
            let addressed = Addressed {
                flow: &run.flow.name,
                run: &run.run,
                step: at,
                attempt: 1,
            };
            let event = input::step_event(&run.event, &state, addressed);
            let task = step(
                run.dispatcher.clone(),
                run.pinned[at].clone(),
                event,
                graph.steps[at].retry,
                run.flow.steps.clone(),
                at,
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
        if let Some(answer) = state.answer() {
            if let Some(sender) = run.answer.take() {
                let _ = sender.send(answered(answer, &run.run));
            }
        }
        if state.is_finished() && running.is_empty() {
            break;
        }
        if !state.has_ready() && running.is_empty() && timers.is_empty() {
            // Nothing can move it on: a bug, not a run to hang on.
            break;
        }
        let next_timer = timers.iter().map(|(when, _)| *when).min();
        tokio::select! {
            Some(ended) = running.next(), if !running.is_empty() => {
                if state.state(ended.step) != State::Running {
                    continue;
                }
                reports[ended.step] = (ended.attempts, ended.took);
                keep(&run, &graph.steps[ended.step].name, &ended.outcome).await;
                let armed = state.complete(ended.step, ended.outcome);
                arm(&graph, armed, &mut timers);
            }
            () = sleep_until(next_timer), if next_timer.is_some() => {
                let now = tokio::time::Instant::now();
                let due: Vec<usize> = timers.iter().filter(|(when, _)| *when <= now).map(|(_, at)| *at).collect();
                timers.retain(|(when, _)| *when > now);
                for at in due {
                    let armed = state.join_timeout(at);
                    arm(&graph, armed, &mut timers);
                }
            }
            () = tokio::time::sleep_until(deadline), if !expired => {
                expired = true;
                // Dropped: each step stops, its guest at its next slice.
                running = FuturesUnordered::new();
                timers.clear();
                for at in 0..graph.steps.len() {
                    if state.state(at) == State::Running {
                        let armed = state.complete(at, late(run.flow.limits.deadline));
                        arm(&graph, armed, &mut timers);
                    }
                }
                timers.clear();
            }
        }
    }
    if let Some(journal) = run.journal.clone() {
        let id = run.run.clone();
        let _ = tokio::task::spawn_blocking(move || journal.end(&id)).await;
    }
    report(&run, &state, &reports, began, resumed);
    drop(run.permit);
}

/// Sleeps until `when`, or forever.
async fn sleep_until(when: Option<tokio::time::Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

/// Replays the steps a kept run completed before a restart.
fn replay(state: &mut RunState, kept: &Kept, timers: &mut Vec<(tokio::time::Instant, usize)>) {
    let graph = state.graph().clone();
    for (name, bytes) in &kept.0 {
        let (Some(at), Ok(outcome)) = (graph.step(name), serde_json::from_slice::<Outcome>(bytes))
        else {
            continue;
        };
        let armed = state.complete(at, outcome);
        arm(&graph, armed, timers);
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

/// Journals a step's outcome before the steps it feeds start.
async fn keep(run: &Started, step: &str, outcome: &Outcome) {
    let Some(journal) = run.journal.clone() else {
        return;
    };
    let Ok(bytes) = serde_json::to_vec(outcome) else {
        return;
    };
    let (id, step) = (run.run.clone(), step.to_owned());
    let kept = tokio::task::spawn_blocking(move || journal.step(&id, &step, &bytes)).await;
    if let Ok(Err(reason)) = kept {
        crate::limited!(warn, "flow journal", &run.flow.name, flow = %run.flow.name, run = %run.run, %reason, "a step's outcome could not be journaled");
    }
}

/// Runs one step, retried as `retry` says.
async fn step(
    dispatcher: Arc<Dispatcher>,
    pinned: Pinned,
    mut event: Event,
    retry: Retry,
    steps: Arc<Semaphore>,
    at: usize,
) -> Ended {
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        event
            .headers
            .insert(input::HEADER_ATTEMPT.into(), attempt.to_string());
        let result = match steps.clone().acquire_owned().await {
            Ok(_held) => dispatcher.invoke_pinned(&pinned, event.clone()).await,
            Err(_) => Err(Error::Unavailable {
                reason: "fenn is stopping".into(),
            }),
        };
        let outcome = outcome(result);
        let retryable = match &outcome {
            Outcome::Done(_) => false,
            Outcome::Failed(failure) => failure.kind != "not_found",
        };
        if !retryable || attempt >= retry.attempts {
            return Ended {
                step: at,
                outcome,
                attempts: attempt,
                took: started.elapsed(),
            };
        }
        attempt += 1;
        tokio::time::sleep(jittered(retry, attempt)).await;
    }
}

/// The wait before `attempt`, with full jitter when asked.
fn jittered(retry: Retry, attempt: u32) -> Duration {
    let wait = retry.wait(attempt);
    if !retry.jitter {
        return wait;
    }
    let nanos = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let random = u64::from(nanos).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11;
    wait.mul_f64(random as f64 / (1u64 << 53) as f64)
}

/// A step's result as an outcome: a 5xx answer is a failure.
fn outcome(result: Result<Response, Error>) -> Outcome {
    match result {
        Ok(response) if response.status_code < 500 => Outcome::Done(response),
        Ok(response) => Outcome::Failed(Failure {
            kind: "status".into(),
            reason: format!("it answered {}", response.status_code),
            status: response.status_code,
            response: Some(response),
        }),
        Err(error) => Outcome::Failed(Failure {
            kind: error.kind().into(),
            reason: error.to_string(),
            status: error.status_code(),
            response: None,
        }),
    }
}

fn late(deadline: Duration) -> Outcome {
    Outcome::Failed(Failure {
        kind: "deadline".into(),
        reason: format!("the run's deadline of {deadline:?} passed"),
        status: 504,
        response: None,
    })
}

fn internal() -> Outcome {
    Outcome::Failed(Failure {
        kind: "internal".into(),
        reason: "fenn failed while running the step (a bug: please report it)".into(),
        status: 500,
        response: None,
    })
}

/// The caller's answer: the response step's response, its own 5xx
/// answer, or the failure that kept it from answering.
fn answered(answer: Result<Response, Failure>, run: &str) -> Result<Response, Error> {
    match answer {
        Ok(response) => Ok(response),
        Err(Failure {
            response: Some(response),
            ..
        }) => Ok(response),
        Err(failure) => Err(Error::FlowFailed {
            run: run.to_owned(),
            reason: failure.reason,
            status: failure.status,
        }),
    }
}

/// Tells the observer how the run went.
fn report(
    run: &Started,
    state: &RunState,
    reports: &[(u32, Duration)],
    began: (Instant, SystemTime),
    resumed: bool,
) {
    let Some(observer) = run.dispatcher.observer() else {
        return;
    };
    let graph = state.graph();
    let steps = (graph.steps.iter().enumerate())
        .map(|(at, step)| {
            let (attempts, took) = reports[at];
            let outcome = state.outcome(at).map(|outcome| &**outcome);
            StepReport {
                name: &step.name,
                function: &step.function,
                state: state.state(at),
                attempts,
                duration: took,
                status_code: match outcome {
                    Some(Outcome::Done(response)) => Some(response.status_code),
                    Some(Outcome::Failed(failure)) => Some(failure.status),
                    None => None,
                },
                error: match outcome {
                    Some(Outcome::Failed(failure)) => Some(failure.reason.as_str()),
                    _ => None,
                },
                note: state.note(at),
            }
        })
        .collect();
    observer.run_ended(RunReport {
        flow: &run.flow.name,
        version: run.flow.version,
        run: &run.run,
        trigger: run
            .event
            .header(fenn_abi::event::HEADER_TRIGGER)
            .unwrap_or(""),
        started: began.1,
        duration: began.0.elapsed(),
        status: state.status(),
        resumed,
        steps,
    });
}
