//! Publishes each event's body to the topic its variable `TOPIC` names, at
//! QoS 1, and answers once the message is stored: the publish host call
//! alone, for measuring it. Its definition grants that topic.
#![no_std]

extern crate alloc;

use fenn_sdk::{Event, Response};

fn handle(event: Event) -> Response {
    let Some(topic) = fenn_sdk::host::var("TOPIC") else {
        return Response::with_status(500, "no TOPIC variable");
    };
    match fenn_sdk::host::publish(&topic, event.body.as_bytes()) {
        Ok(()) => Response::ok("published"),
        Err(error) => Response::with_status(503, error.message),
    }
}

fenn_sdk::export!(handle);
