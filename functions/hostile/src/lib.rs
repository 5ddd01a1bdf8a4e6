//! A guest that abuses the host calls, for the tests that fenn holds: the
//! path says how.
//!
//! - `/publish-loop`: publishes to `hostile/out` until refused.
//! - `/fill`: sets new 1 KiB keys until refused.
//! - `/emit-self`: emits to itself; each run does it again, until the
//!   chain's hop limit refuses it (the count is kept in the store);
//!   `/refused` answers the count and the refusal's reason.
//! - `/huge-value`: asks to set a 1 GiB value it does not have.
//! - `/denied`: publishes to a topic it is not granted.
//! - `/unknown-var`: reads a variable its definition does not have.
//!
//! Each answers `{"calls":N,"code":C,"message":"…"}`: how many calls
//! succeeded, then the refusal's code and reason. Its definition grants
//! `kv = true`, `publish = ["hostile/#"]` and `emit = ["hostile"]`.
#![no_std]

extern crate alloc;

use alloc::{format, vec};
use fenn_sdk::host::{Error, emit, kv, publish, var};
use fenn_sdk::{Event, Response};

fn answer(calls: u32, error: &Error) -> Response {
    let message = error.message.replace('"', "'");
    let body = format!(
        "{{\"calls\":{calls},\"code\":{},\"message\":\"{message}\"}}",
        error.code
    );
    Response::ok(body).header("content-type", "application/json")
}

fn until_refused(mut call: impl FnMut(u32) -> Result<(), Error>) -> Response {
    let mut calls = 0;
    loop {
        match call(calls) {
            Ok(()) => calls += 1,
            Err(error) => return answer(calls, &error),
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn set_huge() -> Error {
    #[link(wasm_import_module = "fenn")]
    unsafe extern "C" {
        fn kv_set(kp: i32, kl: i32, vp: i32, vl: i32, ttl: i64) -> i32;
    }
    let key = b"huge";
    #[allow(unsafe_code)]
    // SAFETY: the host reads the key; the value's length is a lie it must
    // refuse before reading anything.
    let code = unsafe { kv_set(key.as_ptr() as usize as i32, 4, 0, 1 << 30, 0) };
    Error {
        code,
        message: fenn_sdk::host::last_error(),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn set_huge() -> Error {
    Error {
        code: 0,
        message: alloc::string::String::new(),
    }
}

fn handle(event: Event) -> Response {
    match event.path.as_str() {
        "/publish-loop" => until_refused(|n| publish("hostile/out", format!("{n}"))),
        "/fill" => {
            let value = vec![b'x'; 1024];
            until_refused(|n| kv::set(&format!("fill/{n:08}"), &value))
        }
        "/emit-self" => {
            let depth = kv::incr("depth", 1).unwrap_or(-1);
            match emit("hostile", &Event::new("/emit-self", "POST")) {
                Ok(()) => Response::ok(format!("emitted at depth {depth}")),
                Err(error) => {
                    let _ = kv::set("refused", error.message.as_bytes());
                    answer(0, &error)
                }
            }
        }
        "/huge-value" => answer(0, &set_huge()),
        "/refused" => {
            let depth = kv::get_str("depth").ok().flatten().unwrap_or_default();
            let refused = kv::get_str("refused").ok().flatten().unwrap_or_default();
            Response::ok(format!("{depth} {refused}"))
        }
        "/denied" => match publish("elsewhere/out", "x") {
            Ok(()) => Response::ok("published"),
            Err(error) => answer(0, &error),
        },
        "/unknown-var" => match var("NOT_THERE") {
            Some(value) => Response::ok(value),
            None => Response::with_status(404, "no variable NOT_THERE"),
        },
        _ => Response::with_status(404, "no such abuse"),
    }
}

fenn_sdk::export!(handle);
