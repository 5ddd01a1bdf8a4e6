//! The host<->guest ABI, version 1.
//!
//! A fenn guest is a core WebAssembly module that
//!
//! - exports its linear memory as [`EXPORT_MEMORY`];
//! - exports [`EXPORT_ABI_V1`], a function `() -> ()` whose presence says
//!   "this module speaks ABI v1" (a later ABI gets a new marker, so the host
//!   can tell the versions apart without running anything);
//! - exports [`EXPORT_ALLOC`] `(len: i32) -> i32`: the host asks for `len`
//!   bytes and writes the postcard-encoded [`Event`] there;
//! - exports [`EXPORT_HANDLE`] `(ptr: i32, len: i32) -> i64`: handles the
//!   event and returns where its output lies, `(ptr << 32) | len`;
//! - imports only from the [`IMPORT_MODULE`] module: [`IMPORT_LOG`]
//!   `(level: i32, ptr: i32, len: i32)` and [`IMPORT_NOW_MS`] `() -> i64`
//!   (Unix time in milliseconds).
//!
//! The output starts with one tag byte: [`OUTPUT_POSTCARD`] followed by a
//! postcard-encoded [`Response`], or [`OUTPUT_JSON`] followed by the response
//! as JSON text in the API-gateway response format of Alibaba Cloud Function
//! Compute (read leniently by the host, so guests in any language can answer
//! with plain JSON).
//!
//! Every instance serves exactly one event and is then dropped, so a guest
//! may allocate without ever freeing.

use crate::{Event, Response};
use alloc::vec::Vec;

/// The ABI version this crate describes.
pub const ABI_VERSION: u32 = 1;
/// The marker export of ABI v1.
pub const EXPORT_ABI_V1: &str = "fenn_abi_v1";
/// The guest's linear memory.
pub const EXPORT_MEMORY: &str = "memory";
/// `(len: i32) -> i32`: room for the input.
pub const EXPORT_ALLOC: &str = "fenn_alloc";
/// `(ptr: i32, len: i32) -> i64`: handle one event.
pub const EXPORT_HANDLE: &str = "fenn_handle";
/// The import module the host provides.
pub const IMPORT_MODULE: &str = "fenn";
/// `(level: i32, ptr: i32, len: i32)`: write a log line for this invocation.
pub const IMPORT_LOG: &str = "log";
/// `() -> i64`: the wall clock, Unix milliseconds.
pub const IMPORT_NOW_MS: &str = "now_ms";

/// Output tag: a postcard-encoded [`Response`] follows.
pub const OUTPUT_POSTCARD: u8 = 0;
/// Output tag: the response as JSON text follows.
pub const OUTPUT_JSON: u8 = 1;

/// Log levels of [`IMPORT_LOG`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum LogLevel {
    /// Fine-grained detail.
    Debug = 0,
    /// Normal operation.
    Info = 1,
    /// Something unexpected, handled.
    Warn = 2,
    /// A failure; a guest panic is logged at this level before it traps.
    Error = 3,
}

impl LogLevel {
    /// The level of a raw ABI value; unknown values read as `Info`.
    pub fn from_raw(raw: i32) -> Self {
        match raw {
            0 => Self::Debug,
            2 => Self::Warn,
            3 => Self::Error,
            _ => Self::Info,
        }
    }

    /// The level's name, in lower case.
    pub fn name(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Packs an output location into [`EXPORT_HANDLE`]'s return value.
pub fn pack_output(ptr: u32, len: u32) -> i64 {
    ((u64::from(ptr) << 32) | u64::from(len)) as i64
}

/// Unpacks [`EXPORT_HANDLE`]'s return value into `(ptr, len)`.
pub fn unpack_output(packed: i64) -> (u32, u32) {
    let packed = packed as u64;
    ((packed >> 32) as u32, packed as u32)
}

/// Encodes an event for the guest.
pub fn encode_event(event: &Event) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_allocvec(event)
}

/// Decodes an event from the host.
pub fn decode_event(bytes: &[u8]) -> Result<Event, postcard::Error> {
    crate::wire::decode_event(bytes)
}

/// Encodes a response as tagged guest output ([`OUTPUT_POSTCARD`]).
pub fn encode_output(response: &Response) -> Result<Vec<u8>, postcard::Error> {
    Ok(crate::wire::encode_output(response))
}

/// Decodes a postcard-encoded response (the bytes after the tag).
pub fn decode_response(bytes: &[u8]) -> Result<Response, postcard::Error> {
    postcard::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_location_round_trips_at_the_extremes() {
        for (ptr, len) in [(0, 0), (1, 2), (u32::MAX, u32::MAX), (65_536, 17)] {
            assert_eq!(unpack_output(pack_output(ptr, len)), (ptr, len));
        }
    }

    #[test]
    fn event_round_trips_through_postcard() {
        let event = Event::new("/users/7", "GET")
            .with_header("Accept", "*/*")
            .with_query("q", "x y")
            .with_body("ünïcode");
        let bytes = encode_event(&event).unwrap();
        assert_eq!(decode_event(&bytes).unwrap(), event);
    }

    #[test]
    fn postcard_output_is_tagged() {
        let out = encode_output(&Response::ok("hi")).unwrap();
        assert_eq!(out[0], OUTPUT_POSTCARD);
        assert_eq!(decode_response(&out[1..]).unwrap(), Response::ok("hi"));
    }
}
