//! Hands every alert on to the `counter` function as an event of its own:
//! the emit host call. Subscribed to `alerts/#`; its definition grants
//! `emit = ["counter"]`.
#![no_std]

extern crate alloc;

use fenn_sdk::{Event, Response};

fn handle(event: Event) -> Response {
    let notification = Event::new("/notifications", "POST")
        .with_header("content-type", "application/json")
        .with_body(event.body.clone());
    match fenn_sdk::host::emit("counter", &notification) {
        Ok(()) => Response::ok("notified"),
        Err(error) => {
            fenn_sdk::error!("the notification was not emitted: {error}");
            Response::with_status(503, error.message)
        }
    }
}

fenn_sdk::export!(handle);
