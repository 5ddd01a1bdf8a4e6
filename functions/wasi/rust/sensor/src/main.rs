//! A sensor reading, checked and converted: the body is a JSON reading such
//! as `{"celsius": 21.5}` (or `{"fahrenheit": 70.7}`), the optional query or
//! path parameter `max` a threshold in °C (default 30). The answer gives the
//! reading in both units and flags it when it is over the threshold.
//! A body that is not a reading is a 400 that says why.
//!
//! fenn's WASI contract: the event comes as JSON on stdin, the response goes
//! as JSON to stdout, each line on stderr is a log line (`warn: ...` logs a
//! warning).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::ExitCode;

type Parameters = Option<BTreeMap<String, String>>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    query_parameters: Parameters,
    path_parameters: Parameters,
    #[serde(default)]
    body: String,
    #[serde(default)]
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    status_code: u16,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<&'static str, &'static str>,
    body: String,
}

impl Response {
    fn with_status(status_code: u16, body: impl Into<String>) -> Self {
        let headers = BTreeMap::new();
        let body = body.into();
        Self {
            status_code,
            headers,
            body,
        }
    }
}

#[derive(Deserialize)]
struct Reading {
    celsius: Option<f64>,
    fahrenheit: Option<f64>,
    #[serde(default)]
    sensor: Option<String>,
}

#[derive(Serialize)]
struct Checked {
    sensor: Option<String>,
    celsius: f64,
    fahrenheit: f64,
    threshold: f64,
    alert: bool,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn parameter<'a>(parameters: &'a Parameters, name: &str) -> Option<&'a str> {
    parameters.as_ref()?.get(name).map(String::as_str)
}

fn handle(event: Event) -> Response {
    let max = parameter(&event.query_parameters, "max")
        .or_else(|| parameter(&event.path_parameters, "max"));
    let threshold = match max.map(str::parse::<f64>) {
        None => 30.0,
        Some(Ok(max)) => max,
        Some(Err(_)) => return Response::with_status(400, "max must be a number"),
    };
    let bytes = if event.is_base64_encoded {
        match base64::engine::general_purpose::STANDARD.decode(&event.body) {
            Ok(bytes) => bytes,
            Err(error) => return Response::with_status(400, format!("bad base64 body: {error}")),
        }
    } else {
        event.body.into_bytes()
    };
    let reading: Reading = match serde_json::from_slice(&bytes) {
        Ok(reading) => reading,
        Err(error) => return Response::with_status(400, format!("not a reading: {error}")),
    };
    let celsius = match (reading.celsius, reading.fahrenheit) {
        (Some(c), _) => c,
        (None, Some(f)) => (f - 32.0) * 5.0 / 9.0,
        (None, None) => return Response::with_status(400, "a reading needs celsius or fahrenheit"),
    };
    if !(-273.15..=1000.0).contains(&celsius) {
        return Response::with_status(422, format!("{celsius} °C is not a plausible reading"));
    }
    let alert = celsius > threshold;
    if alert {
        eprintln!("warn: reading {celsius} °C is over {threshold} °C");
    }
    let checked = Checked {
        sensor: reading.sensor,
        celsius: round1(celsius),
        fahrenheit: round1(celsius * 9.0 / 5.0 + 32.0),
        threshold,
        alert,
    };
    match serde_json::to_string(&checked) {
        Ok(json) => {
            let mut response = Response::with_status(200, json);
            response.headers.insert("content-type", "application/json");
            response
        }
        Err(error) => Response::with_status(500, format!("sensor: {error}")),
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
