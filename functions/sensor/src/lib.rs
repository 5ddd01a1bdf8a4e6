//! A sensor reading, checked and converted: the body is a JSON reading such
//! as `{"celsius": 21.5}` (or `{"fahrenheit": 70.7}`), the optional query or
//! path parameter `max` a threshold in °C (default 30). The answer gives the
//! reading in both units and flags it when it is over the threshold.
//! A body that is not a reading is a 400 that says why.
#![no_std]

extern crate alloc;

use alloc::{format, string::String};
use fenn_sdk::{Event, Response};
use serde::{Deserialize, Serialize};

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
    // no_std has no f64::round; readings are far from i64's range.
    let scaled = x * 10.0;
    let rounded = if scaled >= 0.0 {
        scaled + 0.5
    } else {
        scaled - 0.5
    };
    (rounded as i64) as f64 / 10.0
}

fn handle(event: Event) -> Response {
    let threshold = match event
        .query("max")
        .or_else(|| event.path_parameter("max"))
        .map(str::parse::<f64>)
    {
        None => 30.0,
        Some(Ok(max)) => max,
        Some(Err(_)) => return Response::with_status(400, "max must be a number"),
    };
    let bytes = match fenn_sdk::body_bytes(&event) {
        Ok(bytes) => bytes,
        Err(error) => return Response::with_status(400, format!("bad base64 body: {error}")),
    };
    let reading: Reading = match serde_json::from_slice(&bytes) {
        Ok(reading) => reading,
        Err(error) => return Response::with_status(400, format!("not a reading: {error}")),
    };
    let celsius = match (reading.celsius, reading.fahrenheit) {
        (Some(c), _) => c,
        (None, Some(f)) => (f - 32.0) * 5.0 / 9.0,
        (None, None) => {
            return Response::with_status(400, "a reading needs celsius or fahrenheit");
        }
    };
    if !(-273.15..=1000.0).contains(&celsius) {
        return Response::with_status(422, format!("{celsius} °C is not a plausible reading"));
    }
    let alert = celsius > threshold;
    if alert {
        fenn_sdk::warn!("reading {celsius} °C is over {threshold} °C");
    }
    let checked = Checked {
        sensor: reading.sensor,
        celsius: round1(celsius),
        fahrenheit: round1(celsius * 9.0 / 5.0 + 32.0),
        threshold,
        alert,
    };
    match serde_json::to_string(&checked) {
        Ok(json) => Response::ok(json).header("content-type", "application/json"),
        Err(error) => Response::with_status(500, format!("sensor: {error}")),
    }
}

fenn_sdk::export!(handle);
