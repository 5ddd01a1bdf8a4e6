//! How a run's parts end: a step's result as an outcome, the answer its
//! caller gets, and what the observer is told of the run.

use super::drive::{Progress, Started};
use super::run::{Failure, Outcome};
use crate::Error;
use crate::observe::{RunReport, StepReport};
use fenn_abi::Response;
use std::time::{Duration, Instant, SystemTime};

/// A step's result as an outcome: a 5xx answer is a failure.
pub(super) fn outcome(result: Result<Response, Error>) -> Outcome {
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

pub(super) fn late(deadline: Duration) -> Outcome {
    Outcome::Failed(Failure {
        kind: "deadline".into(),
        reason: format!("the run's deadline of {deadline:?} passed"),
        status: 504,
        response: None,
    })
}

pub(super) fn internal() -> Outcome {
    Outcome::Failed(Failure {
        kind: "internal".into(),
        reason: "fenn failed while running the step (a bug: please report it)".into(),
        status: 500,
        response: None,
    })
}

/// The caller's answer: the response step's response, its own 5xx
/// answer, or the failure that kept it from answering.
pub(super) fn answered(answer: Result<Response, Failure>, run: &str) -> Result<Response, Error> {
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
pub(super) fn report(run: &Started, progress: &Progress, began: (Instant, SystemTime)) {
    let (state, reports) = (&progress.state, &progress.reports);
    let resumed = run.kept.resumed;
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
