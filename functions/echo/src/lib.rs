//! Answers with the event it received, as JSON in the API-gateway event
//! format of Alibaba Cloud Function Compute: the way to see exactly what a
//! trigger delivers.
#![no_std]

extern crate alloc;

use fenn_sdk::{Event, Response};

fn handle(event: Event) -> Response {
    match serde_json::to_string(&event) {
        Ok(json) => Response::ok(json).header("content-type", "application/json"),
        Err(error) => Response::with_status(500, alloc::format!("echo: {error}")),
    }
}

fenn_sdk::export!(handle);
