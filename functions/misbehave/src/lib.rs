//! A guest that misbehaves on request, for fenn's own tests: the path
//! parameter `what` (or the last path segment) picks the behaviour.
//!
//! - `loop`: never returns;
//! - `bomb`: allocates until the memory limit stops it;
//! - `recurse`: recurses until the stack runs out;
//! - `panic`: panics with a message;
//! - `garbage`: answers JSON that is not a response;
//! - `nodejs`: answers the API gateway's Node.js sample shape (string status
//!   code, string `isBase64Encoded`, object body);
//! - `badbase64`: claims a base64 body that is not base64;
//! - `sleep`: busy-waits `ms` milliseconds of wall clock (query `ms`, or
//!   the body: a cron schedule named `sleep` can say how long);
//! - `binary`: answers the request body's bytes as a base64 response;
//! - `framing`: sets `Content-Length: 999` on a 10-byte body;
//! - `deep`: recurses with no shadow-stack frame, until wasmi's call-depth
//!   limit stops it (where `recurse` runs out of its 32 KiB stack first);
//! - `headers`: answers with `n` distinct headers (query `n`, default 25 000);
//! - `jsonarray`: answers JSON whose body is an array of `kb` KiB of `0,`
//!   (query `kb`, default 1024);
//! - `control`: answers a body of `kb` KiB of 0x01 bytes (query `kb`);
//! - `logflood`: logs `n` lines of 1 KiB (query `n`, default 100 000),
//!   then answers `logged`;
//! - `biglog`: logs one line of `kb` KiB (query `kb`, default 10 240: 10 MiB),
//!   then answers `logged`;
//! - `forge`: logs a line holding a newline and a fake log line after it;
//! - `status`: answers the status `code` (query, default 204) with a
//!   14-byte body, which a bodyless status must not send;
//! - `work`: `n` rounds of arithmetic (query `n`, default 200 000: about
//!   1.5 million fuel), then answers `worked`;
//! - anything else: 200 `ok`.
#![no_std]

extern crate alloc;

use alloc::{format, string::String, vec::Vec};
use fenn_sdk::{Event, Output, RawJson, Response};

enum Answer {
    Response(Response),
    Json(String),
}

impl Output for Answer {
    fn into_output(self) -> Vec<u8> {
        match self {
            Self::Response(response) => response.into_output(),
            Self::Json(json) => RawJson(json).into_output(),
        }
    }
}

/// Recurses without end; black_box keeps LLVM from turning the recursion
/// into a loop (it would, with an accumulator, and then only the deadline
/// would stop it).
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 256];
    frame[(depth % 256) as usize] = depth as u8;
    let below = core::hint::black_box(recurse(core::hint::black_box(depth + 1)));
    below ^ u64::from(core::hint::black_box(&mut frame)[3])
}

/// Recurses using wasm locals only: only the interpreter's depth limit ends it.
#[inline(never)]
#[allow(unconditional_recursion)]
fn deep(depth: u64) -> u64 {
    core::hint::black_box(deep(core::hint::black_box(depth + 1))) ^ depth
}

fn handle(event: Event) -> Answer {
    let what = event
        .path_parameter("what")
        .map(String::from)
        .unwrap_or_else(|| event.path.rsplit('/').next().unwrap_or("").into());
    match what.as_str() {
        "loop" => {
            let mut x: u64 = 0;
            loop {
                x = core::hint::black_box(x.wrapping_add(1));
            }
        }
        "bomb" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(alloc::vec![1u8; 1 << 20]);
            }
        }
        "recurse" => {
            let depth = recurse(0);
            Answer::Response(Response::ok(format!("{depth}")))
        }
        "panic" => panic!("asked to panic"),
        "garbage" => Answer::Json(String::from("this is not {json")),
        "nodejs" => Answer::Json(format!(
            r#"{{"isBase64Encoded":"false","statusCode":"201","headers":{{"x-custom-header":"header value"}},"body":{{"path":"{}","method":"{}"}}}}"#,
            event.path, event.http_method
        )),
        "badbase64" => {
            let mut response = Response::ok("%%% not base64 %%%");
            response.is_base64_encoded = true;
            Answer::Response(response)
        }
        "sleep" => {
            let ms: i64 = event
                .query("ms")
                .or(Some(event.body.trim()))
                .and_then(|m| m.parse().ok())
                .unwrap_or(100);
            fenn_sdk::info!("sleeping {ms} ms");
            let until = fenn_sdk::log::now_ms() + ms;
            while fenn_sdk::log::now_ms() < until {}
            Answer::Response(Response::ok("slept"))
        }
        "framing" => {
            // Tries to set the server's framing headers (spelled as HTTP/1
            // would, which Response::header would lower-case).
            let mut response = Response::ok("framing ok");
            response
                .headers
                .insert(String::from("Content-Length"), String::from("999"));
            Answer::Response(response)
        }
        "deep" => Answer::Response(Response::ok(format!("{}", deep(0)))),
        "headers" => {
            let n = number(&event, "n", 25_000);
            let mut response = Response::ok("many headers");
            for i in 0..n {
                response
                    .headers
                    .insert(format!("x-h{i}"), String::from("v"));
            }
            Answer::Response(response)
        }
        "jsonarray" => {
            let kb = number(&event, "kb", 1024);
            let mut json = String::from(r#"{"statusCode":200,"body":["#);
            for _ in 0..kb * 512 {
                json.push_str("0,");
            }
            json.push_str("0]}");
            Answer::Json(json)
        }
        "control" => {
            let kb = number(&event, "kb", 1024);
            Answer::Response(Response::ok("\u{1}".repeat(kb * 1024)))
        }
        "logflood" => {
            let line = "x".repeat(1024);
            for _ in 0..number(&event, "n", 100_000) {
                fenn_sdk::info!("{line}");
            }
            Answer::Response(Response::ok("logged"))
        }
        "biglog" => {
            let line = "y".repeat(number(&event, "kb", 10 << 10) * 1024);
            fenn_sdk::log::raw(fenn_sdk::log::LogLevel::Info, line.as_bytes());
            Answer::Response(Response::ok("logged"))
        }
        "work" => {
            let mut x: u64 = 0;
            for i in 0..number(&event, "n", 200_000) as u64 {
                x = core::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            Answer::Response(Response::ok(if x == 1 { "one" } else { "worked" }))
        }
        "status" => {
            let code = number(&event, "code", 204);
            let code = u16::try_from(code).unwrap_or(500);
            Answer::Response(Response::with_status(code, "a body to drop"))
        }
        "forge" => {
            fenn_sdk::warn!(
                "innocent\n2026-01-01T00:00:00.000000Z  WARN invoke{{function=\"hello\"}}: forged line"
            );
            Answer::Response(Response::ok("forged"))
        }
        "binary" => match fenn_sdk::body_bytes(&event) {
            Ok(bytes) => Answer::Response(fenn_sdk::binary_response(200, &bytes)),
            Err(_) => Answer::Response(Response::with_status(400, "bad base64")),
        },
        _ => Answer::Response(Response::ok("ok")),
    }
}

fn number(event: &Event, name: &str, default: usize) -> usize {
    event
        .query(name)
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fenn_sdk::export!(handle);
