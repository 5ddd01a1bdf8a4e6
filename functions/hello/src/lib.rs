//! The function API's example function: `POST /testfunc?name=Jason` with the
//! body `requested the API` answers `Jason requested the API`.
#![no_std]

extern crate alloc;

use alloc::format;
use fenn_sdk::{Event, Response};

fn handle(event: Event) -> Response {
    let name = event.query("name").unwrap_or("world");
    if event.body.is_empty() {
        Response::ok(format!("Hello, {name}!"))
    } else {
        Response::ok(format!("{name} {}", event.body))
    }
}

fenn_sdk::export!(handle);
