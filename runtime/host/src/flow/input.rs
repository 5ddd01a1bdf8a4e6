//! The event a step receives. A start step receives the flow's event; a
//! step fed by one other receives that step's result as an event (its body
//! and headers, the flow's path, method and parameters); a join receives a
//! JSON object with one member per input that arrived. A failure travels
//! an error edge as a JSON body. Every step's event carries the flow, the
//! run and the step in `x-fenn-*` headers; headers a function set under
//! `x-fenn-` are not carried on.

use super::graph::{EdgeKind, Graph, Step};
use super::run::{Failure, Outcome};
use crate::event::FENN_PREFIX;
use fenn_abi::event::HEADER_TRIGGER;
use fenn_abi::{Event, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

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

/// What arrived at a step: each feeding step, its edge's kind and its
/// outcome ([`RunState::arrived`](super::RunState::arrived)).
pub type Arrived = [(usize, EdgeKind, Arc<Outcome>)];

/// The event step `to.step` of `graph` receives, from the flow's `event`
/// and what `arrived` at it.
pub fn step_event(event: &Event, graph: &Graph, arrived: &Arrived, to: Addressed<'_>) -> Event {
    let step = &graph.steps[to.step];
    let mut next = Event {
        path: event.path.clone(),
        http_method: event.http_method.clone(),
        query_parameters: event.query_parameters.clone(),
        path_parameters: event.path_parameters.clone(),
        ..Event::default()
    };
    match (step.start, arrived) {
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
            for (from, kind, outcome) in arrived {
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
    // A function's own `x-fenn-*` headers are not carried on; the flow's
    // event's are, to every step: its trigger's (the MQTT hops that end a
    // loop, the gateway's authenticated app), as a function would see them.
    next.headers
        .retain(|name, _| !name.starts_with(FENN_PREFIX));
    for (name, value) in &event.headers {
        // A web route's mark is for the function it names, not a step.
        if name.starts_with(FENN_PREFIX)
            && name != fenn_abi::event::HEADER_INVOCATION
            && name != crate::wasi::cgi::HEADER_WEB
        {
            next.headers.insert(name.clone(), value.clone());
        }
    }
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
    if let [(_, EdgeKind::Error, outcome)] = arrived {
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
    let headers = [
        ("content-type".to_owned(), "application/json".to_owned()),
        (HEADER_ERROR.to_owned(), failure.kind.clone()),
    ];
    Response {
        is_base64_encoded: false,
        status_code: failure.status,
        headers: headers.into(),
        body: body.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::graph::{FlowSpec, StepSpec};

    #[test]
    fn every_step_carries_its_flows_trigger_headers_and_none_a_function_set() {
        let steps = ["a", "b"].map(|name| StepSpec {
            name: name.into(),
            function: "f".into(),
            next: if name == "a" {
                vec!["b".into()]
            } else {
                Vec::new()
            },
            ..StepSpec::default()
        });
        let spec = FlowSpec {
            steps: steps.to_vec(),
            ..FlowSpec::default()
        };
        let graph = Graph::build(&spec, &|_| true).unwrap();
        let mut event = Event::new("/t", "PUBLISH");
        for (name, value) in [
            ("x-fenn-trigger", "mqtt"),
            ("x-fenn-hops", "7"),
            ("x-fenn-app", "app1"),
        ] {
            event.headers.insert(name.into(), value.into());
        }
        let answer = Response::ok("a")
            .header("x-fenn-hops", "0")
            .header("x-a", "1");
        let arrived = [(0, EdgeKind::Next, Arc::new(Outcome::Done(answer)))];
        let to = Addressed {
            flow: "fl",
            run: "r1",
            step: 1,
            attempt: 2,
        };
        let next = step_event(&event, &graph, &arrived, to);
        assert_eq!(next.body, "a");
        assert_eq!(next.header("x-a"), Some("1"));
        assert_eq!(
            next.header("x-fenn-hops"),
            Some("7"),
            "the loop guard goes on"
        );
        assert_eq!(next.header("x-fenn-app"), Some("app1"));
        assert_eq!(next.header("x-fenn-trigger"), Some("flow"));
        assert_eq!(next.header("x-fenn-flow-trigger"), Some("mqtt"));
        assert_eq!(next.header("x-fenn-attempt"), Some("2"));
        assert_eq!(
            (next.path.as_str(), next.http_method.as_str()),
            ("/t", "PUBLISH")
        );
    }
}
