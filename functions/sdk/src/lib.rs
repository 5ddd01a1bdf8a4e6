//! The guest SDK: write a fenn function in Rust.
//!
//! A function is a plain `fn handle(event: Event) -> Response` plus one
//! [`export!`] line, the way the function API's
//! `FuncApiHandler.run(FuncApiRequest)` returns a `FuncApiResponse`. The SDK
//! hides the ABI (`fenn_abi::abi`): it decodes the event from postcard,
//! calls the handler, encodes what it returns, and gives the module an
//! allocator that never frees (an instance serves one event and is dropped,
//! so freeing would be wasted work).
//!
//! ```ignore
//! use fenn_sdk::{Event, Response};
//!
//! fn handle(event: Event) -> Response {
//!     let name = event.query("name").unwrap_or("world");
//!     Response::ok(format!("{name} {}", event.body))
//! }
//!
//! fenn_sdk::export!(handle);
//! ```
//!
//! Build with `cargo build --release --target wasm32-unknown-unknown` and a
//! `crate-type = ["cdylib"]` library; see `functions/hello`.
//!
//! # Layout
//!
//! - [`export!`] and [`Output`]: the entry point and what a handler returns.
//! - [`log`]: log lines tied to the invocation, through the host.
//! - [`host`]: the host calls: variables and secrets, the key-value store,
//!   publishing to MQTT, emitting events to other functions.
//! - `heap` (wasm32 only): the bump allocator and the panic handler.
#![no_std]

extern crate alloc;

#[cfg(target_arch = "wasm32")]
mod heap;
pub mod host;
mod json;
pub mod log;

use alloc::{string::String, vec::Vec};
use base64::Engine as _;
pub use fenn_abi::{Event, Map, Response};

/// What a handler may return: a [`Response`], or raw JSON text in the
/// API-gateway response format of Alibaba Cloud Function Compute (useful to
/// return exactly what another system produced).
pub trait Output {
    /// The tagged output bytes of the ABI.
    fn into_output(self) -> Vec<u8>;
}

impl Output for Response {
    fn into_output(self) -> Vec<u8> {
        match fenn_abi::abi::encode_output(&self) {
            Ok(bytes) => bytes,
            Err(_) => RawJson(String::from("{}")).into_output(),
        }
    }
}

/// Response JSON text, passed to the host as it is and read there leniently
/// (string status codes and object bodies are accepted, as in the API
/// gateway's Node.js and Python samples).
pub struct RawJson(pub String);

impl Output for RawJson {
    fn into_output(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        out.push(fenn_abi::abi::OUTPUT_JSON);
        out.extend_from_slice(self.0.as_bytes());
        out
    }
}

/// The body as bytes, base64-decoded when the event says it is encoded.
pub fn body_bytes(event: &Event) -> Result<Vec<u8>, base64::DecodeError> {
    if event.is_base64_encoded {
        base64::engine::general_purpose::STANDARD.decode(&event.body)
    } else {
        Ok(event.body.as_bytes().to_vec())
    }
}

/// Encodes binary data as a response body (sets `isBase64Encoded`).
pub fn binary_response(status_code: u16, bytes: &[u8]) -> Response {
    let mut response = Response::with_status(
        status_code,
        base64::engine::general_purpose::STANDARD.encode(bytes),
    );
    response.is_base64_encoded = true;
    response
}

/// Exports `handler` as the module's fenn entry point (ABI v1).
///
/// `handler` is any `fn(Event) -> impl Output`.
#[macro_export]
macro_rules! export {
    ($handler:path) => {
        /// fenn ABI v1 marker.
        #[unsafe(no_mangle)]
        pub extern "C" fn fenn_abi_v1() {}

        /// Room for the host to write the event into.
        #[unsafe(no_mangle)]
        pub extern "C" fn fenn_alloc(len: i32) -> i32 {
            $crate::__private::alloc_input(len)
        }

        /// Handles one event.
        #[unsafe(no_mangle)]
        pub extern "C" fn fenn_handle(ptr: i32, len: i32) -> i64 {
            $crate::__private::handle(ptr, len, $handler)
        }
    };
}

#[doc(hidden)]
pub mod __private {
    use super::{Event, Output, Response};
    use alloc::{vec, vec::Vec};

    /// Leaks a buffer of `len` bytes for the host to fill.
    pub fn alloc_input(len: i32) -> i32 {
        let buffer = vec![0u8; usize::try_from(len).unwrap_or(0)];
        buffer.leak().as_mut_ptr() as usize as i32
    }

    /// Decodes the event, runs the handler and leaks the output for the host.
    pub fn handle<O: Output>(ptr: i32, len: i32, handler: fn(Event) -> O) -> i64 {
        let input = input_slice(ptr, len);
        // The host only ever writes an event it encoded; this message
        // names no reason, as formatting one would link `core::fmt` into
        // every module, whose instantiation then costs more.
        let output = match fenn_abi::abi::decode_event(input) {
            Ok(event) => handler(event).into_output(),
            Err(_) => Response::with_status(400, "fenn-sdk: undecodable event").into_output(),
        };
        let output: Vec<u8> = output;
        let out_len = output.len() as u32;
        let out_ptr = output.leak().as_ptr() as usize as u32;
        fenn_abi::abi::pack_output(out_ptr, out_len)
    }

    #[cfg(target_arch = "wasm32")]
    #[allow(unsafe_code)]
    fn input_slice(ptr: i32, len: i32) -> &'static [u8] {
        // SAFETY: the host wrote exactly `len` bytes at `ptr`, a buffer that
        // `alloc_input` leaked and nothing else aliases.
        unsafe { core::slice::from_raw_parts(ptr as usize as *const u8, len as usize) }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn input_slice(_ptr: i32, _len: i32) -> &'static [u8] {
        &[]
    }
}
