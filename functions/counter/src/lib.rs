//! Counts the events it is sent, in its store: each event adds one to
//! `notifications` atomically and answers the new count; a `GET` answers
//! the count without adding. Its definition grants `kv = true`.
#![no_std]

extern crate alloc;

use alloc::string::{String, ToString};
use fenn_sdk::host::kv;
use fenn_sdk::{Event, Response};

fn handle(event: Event) -> Response {
    let counted = if event.http_method == "GET" {
        kv::get_str("notifications").map(|count| count.unwrap_or_else(|| String::from("0")))
    } else {
        kv::incr("notifications", 1).map(|count| count.to_string())
    };
    match counted {
        Ok(count) => Response::ok(count),
        Err(error) => Response::with_status(503, error.message),
    }
}

fenn_sdk::export!(handle);
