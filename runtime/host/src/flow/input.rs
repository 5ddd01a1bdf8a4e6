//! The event a step receives. A start step receives the flow's event; a
//! step fed by one other receives that step's result as an event (its body
//! and headers, the flow's path, method and parameters); a join receives a
//! JSON object with one member per input that arrived. A failure travels
//! an error edge as a JSON body. Every step's event carries the flow, the
//! run and the step in `x-fenn-*` headers; headers a function set under
//! `x-fenn-` are not carried on.

use super::graph::{EdgeKind, Step};
use super::run::{Failure, Outcome, RunState};
use crate::event::FENN_PREFIX;
use fenn_abi::event::HEADER_TRIGGER;
use fenn_abi::{Event, Response};
use serde_json::{Map, Value, json};

/// The flow's name, on every step's event.
pub const HEADER_FLOW: &str = "x-fenn-flow";
/// The run's id.
pub const HEADER_RUN: &str = "x-fenn-run";
/// The step's name.
pub const HEADER_STEP: &str = "x-fenn-step";
/// The run of the step, 1 for the first, counting retries.
pub const HEADER_ATTEMPT: &str = "x-fenn-attempt";
/// The trigger that started the run (`http`, `mqtt`, `cron`).
pub const HEADER_SOURCE: &str = "x-fenn-flow-trigger";
/// On an event that travelled an error edge: the failure's kind.
pub const HEADER_ERROR: &str = "x-fenn-error";
/// The `x-fenn-trigger` of a step's event.
pub const TRIGGER: &str = "flow";

/// Who a step's event is for.
#[derive(Debug, Clone, Copy)]
pub struct Addressed<'a> {
    /// The flow.
    pub flow: &'a str,
    /// The run.
    pub run: &'a str,
    /// The step's index.
    pub step: usize,
    /// Its attempt, 1 for the first.
    pub attempt: u32,
}

/// The event step `to.step` receives, from the flow's `event` and what
/// arrived at it.
pub fn step_event(event: &Event, state: &RunState, to: Addressed<'_>) -> Event {
    let graph = state.graph();
    let step = &graph.steps[to.step];
    let arrived = state.arrived(to.step);
    let mut next = Event {
        path: event.path.clone(),
        http_method: event.http_method.clone(),
        query_parameters: event.query_parameters.clone(),
        path_parameters: event.path_parameters.clone(),
        ..Event::default()
    };
    match (step.start, arrived.as_slice()) {
        (true, _) => {
            next.headers = event.headers.clone();
            next.body = event.body.clone();
            next.is_base64_encoded = event.is_base64_encoded;
        }
        (false, [(from, kind, outcome)]) if !graph.is_join(to.step) => {
            let response = match (kind, &**outcome) {
                (EdgeKind::Error, Outcome::Failed(failure)) => {
                    failure_response(&graph.steps[*from], failure)
                }
                (_, Outcome::Done(response)) => response.clone(),
                (_, Outcome::Failed(failure)) => failure_response(&graph.steps[*from], failure),
            };
            carry(&mut next, response);
        }
        _ => {
            let mut members = Map::new();
            for (from, kind, outcome) in &arrived {
                let from_step = &graph.steps[*from];
                let response = match (kind, &**outcome) {
                    (_, Outcome::Done(response)) => response.clone(),
                    (_, Outcome::Failed(failure)) => failure_response(from_step, failure),
                };
                members.insert(from_step.name.clone(), member(&response));
            }
            next.headers
                .insert("content-type".into(), "application/json".into());
            next.body = Value::Object(members).to_string();
        }
    }
    next.headers
        .retain(|name, _| !name.starts_with(FENN_PREFIX));
    let source = event.header(HEADER_TRIGGER).unwrap_or("").to_owned();
    for (name, value) in [
        (HEADER_TRIGGER, TRIGGER.to_owned()),
        (HEADER_SOURCE, source),
        (HEADER_FLOW, to.flow.to_owned()),
        (HEADER_RUN, to.run.to_owned()),
        (HEADER_STEP, step.name.clone()),
        (HEADER_ATTEMPT, to.attempt.to_string()),
    ] {
        next.headers.insert(name.into(), value);
    }
    if let [(_, EdgeKind::Error, outcome)] = arrived.as_slice() {
        if let Outcome::Failed(failure) = &**outcome {
            next.headers
                .insert(HEADER_ERROR.into(), failure.kind.clone());
        }
    }
    next
}

/// A result carried on as the next step's event: its headers and body.
fn carry(next: &mut Event, response: Response) {
    next.headers = response.headers;
    next.body = response.body;
    next.is_base64_encoded = response.is_base64_encoded;
}

/// One input of a join: the response in the API-gateway shape, its body
/// as JSON when it is JSON.
fn member(response: &Response) -> Value {
    let body = if response.is_base64_encoded {
        Value::String(response.body.clone())
    } else {
        serde_json::from_str(&response.body)
            .unwrap_or_else(|_| Value::String(response.body.clone()))
    };
    json!({
        "statusCode": response.status_code,
        "headers": response.headers,
        "body": body,
        "isBase64Encoded": response.is_base64_encoded,
    })
}

/// A failure as the response an error edge carries (and its conditions
/// read): its status, and a JSON body naming the step, its function, the
/// failure's kind and reason, and the step's own answer if it gave one.
pub fn failure_response(step: &Step, failure: &Failure) -> Response {
    let mut body = json!({
        "step": step.name,
        "function": step.function,
        "error": failure.kind,
        "reason": failure.reason,
        "statusCode": failure.status,
    });
    if let (Some(response), Some(object)) = (&failure.response, body.as_object_mut()) {
        object.insert("response".into(), member(response));
    }
    Response {
        is_base64_encoded: false,
        status_code: failure.status,
        headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
        body: body.to_string(),
    }
}
