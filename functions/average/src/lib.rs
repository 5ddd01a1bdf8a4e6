//! A sensor's running average, kept in the function's store, with an alert
//! published past a threshold: the state and publish host calls as a user
//! writes them. A reading is the body `{"celsius": 31}` (whole degrees) on
//! `sensors/{room}/temp`; the threshold is the variable `THRESHOLD`
//! (default 30). Every reading adds to `sum/{room}` and `count/{room}`
//! atomically; when their average is over the threshold, the function
//! publishes `{"room":…,"average":…,"count":…}` to `alerts/{room}`.
//!
//! Its definition grants `kv = true` and `publish = ["alerts/#"]`.
#![no_std]

extern crate alloc;

use alloc::format;
use fenn_sdk::host::{Publish, kv, var};
use fenn_sdk::{Event, Response};

/// The whole degrees of `{"celsius": N}`.
fn celsius(body: &str) -> Option<i64> {
    let rest = body.split("\"celsius\"").nth(1)?;
    let number = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = number
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(number.len());
    number[..end].parse().ok()
}

fn handle(event: Event) -> Response {
    let room = event.path_parameter("room").unwrap_or("unknown");
    let Some(reading) = celsius(&event.body) else {
        return Response::with_status(400, "expected {\"celsius\": N}");
    };
    let threshold = var("THRESHOLD")
        .and_then(|text| text.parse::<i64>().ok())
        .unwrap_or(30);
    let (sum, count) = match (
        kv::incr(&format!("sum/{room}"), reading),
        kv::incr(&format!("count/{room}"), 1),
    ) {
        (Ok(sum), Ok(count)) => (sum, count),
        (Err(error), _) | (_, Err(error)) => {
            fenn_sdk::error!("the store refused: {error}");
            return Response::with_status(503, error.message);
        }
    };
    let average = sum / count.max(1);
    let alert = average > threshold;
    let summary = format!("{{\"room\":\"{room}\",\"average\":{average},\"count\":{count}}}");
    if alert {
        let topic = format!("alerts/{room}");
        let sent = Publish::new(&topic, summary.as_bytes())
            .content_type("application/json")
            .send();
        if let Err(error) = sent {
            fenn_sdk::error!("the alert was not published: {error}");
            return Response::with_status(503, error.message);
        }
    }
    Response::ok(summary).header("content-type", "application/json")
}

fenn_sdk::export!(handle);
