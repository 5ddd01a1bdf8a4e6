//! A flow's step, as the tests use it: it counts its own runs in its store
//! (`runs/{step}/{run}`, one atomic increment each),
//! and answers a JSON body naming its step, its run and that count, with
//! the event's body as `input` (verbatim when it is JSON, else a string).
//!
//! The flow's event steers it through its query parameters:
//! - `spin=N`: work up to N rounds before answering, the number drawn from
//!   the run and the step, so that steps end in a different order in every
//!   run;
//! - `fail=a,b`: the steps named answer 500;
//! - `stall=a,b`: the steps named work until their deadline stops them;
//! - `keep=s`: step `s` also keeps its answer as `done/{run}`;
//! - `prefix=P`: every key it writes starts with `P`.
//!
//! Its definition grants `kv` (a shared store, so that a test reads every
//! step's counts in one place).
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use fenn_sdk::host::kv;
use fenn_sdk::{Event, Response};

fn handle(event: Event) -> Response {
    let run = event.header("x-fenn-run").unwrap_or("none");
    let step = event.header("x-fenn-step").unwrap_or("none");
    let prefix = event.query("prefix").unwrap_or("");
    let count = match kv::incr(&format!("{prefix}runs/{step}/{run}"), 1) {
        Ok(count) => count,
        Err(error) => return Response::with_status(503, error.message),
    };
    let spin: u64 = event
        .query("spin")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let rounds = if spin == 0 { 0 } else { hash(run, step) % spin };
    let worked = if listed(event.query("stall"), step) {
        work(u64::MAX)
    } else {
        work(rounds)
    };
    if listed(event.query("fail"), step) {
        return Response::with_status(500, format!("step {step} fails on purpose"));
    }
    let body = format!(
        r#"{{"step":"{step}","run":"{run}","count":{count},"worked":{worked},"input":{}}}"#,
        as_json(&event.body)
    );
    if listed(event.query("keep"), step) {
        if let Err(error) = kv::set(&format!("{prefix}done/{run}"), &body) {
            return Response::with_status(503, error.message);
        }
    }
    Response::ok(body).header("content-type", "application/json")
}

/// Whether `step` is in the comma-separated `list`.
fn listed(list: Option<&str>, step: &str) -> bool {
    list.is_some_and(|list| list.split(',').any(|name| name == step))
}

/// FNV-1a of the run and the step.
fn hash(run: &str, step: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for byte in run.bytes().chain(step.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Work the interpreter cannot skip.
fn work(rounds: u64) -> u64 {
    let mut state = rounds;
    for round in 0..rounds {
        state = core::hint::black_box(state.rotate_left(5) ^ round);
    }
    state % 1000
}

/// `body` as a JSON value: itself when it reads as an object or an array,
/// else a string.
fn as_json(body: &str) -> String {
    let trimmed = body.trim();
    if (trimmed.starts_with('{') && trimmed.ends_with('}'))
        || (trimmed.starts_with('[') && trimmed.ends_with(']'))
    {
        return String::from(trimmed);
    }
    let mut quoted = String::from("\"");
    for c in body.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if (c as u32) < 0x20 => quoted.push_str(&format!("\\u{:04x}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fenn_sdk::export!(handle);
