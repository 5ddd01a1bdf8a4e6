//! The function API's example function: `POST /testfunc?name=Jason` with the
//! body `requested the API` answers `Jason requested the API`; with no body,
//! `Hello, Jason!`. The name defaults to "world".
//!
//! fenn's WASI contract: the event comes as JSON on stdin, the response goes
//! as JSON to stdout, each line on stderr is a log line.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::ExitCode;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    query_parameters: Option<BTreeMap<String, String>>,
    #[serde(default)]
    body: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    status_code: u16,
    body: String,
}

fn handle(event: Event) -> Response {
    let query = event.query_parameters.unwrap_or_default();
    let name = query.get("name").map_or("world", String::as_str);
    let body = if event.body.is_empty() {
        ["Hello, ", name, "!"].concat()
    } else {
        [name, " ", &event.body].concat()
    };
    Response {
        status_code: 200,
        body,
    }
}

fn main() -> ExitCode {
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return failure(b"error: could not read the event\n");
    }
    let Ok(event) = serde_json::from_slice(&input) else {
        return failure(b"error: the event is not JSON\n");
    };
    let output = serde_json::to_vec(&handle(event)).unwrap_or_default();
    match std::io::stdout().write_all(&output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// Logs `line` (with no formatting, which would make the module larger)
/// and fails the event.
fn failure(line: &[u8]) -> ExitCode {
    let _ = std::io::stderr().write_all(line);
    ExitCode::FAILURE
}
