//! The function API's example function: `POST /testfunc?name=Jason` with the
//! body `requested the API` answers `Jason requested the API`.
#![no_std]

extern crate alloc;

use fenn_sdk::{Event, Response};

fn handle(event: Event) -> Response {
    let name = event.query("name").unwrap_or("world");
    if event.body.is_empty() {
        Response::ok(["Hello, ", name, "!"].concat())
    } else {
        Response::ok([name, " ", &event.body].concat())
    }
}

fenn_sdk::export!(handle);
