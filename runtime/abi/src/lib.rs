//! The one structure every fenn event and result travels in, and the ABI
//! between the fenn host and a WebAssembly guest.
//!
//! This crate is `no_std` (with `alloc`) so that the runtime and the guest
//! SDK share the very same types. The JSON form of [`Event`] and [`Response`]
//! is the API-gateway event format of Alibaba Cloud Function Compute, field
//! for field; the host and guest exchange the same structures encoded with
//! postcard.
//!
//! # Layout
//!
//! - [`event`]: [`Event`], what a trigger hands to a function.
//! - [`response`]: [`Response`], what a function hands back.
//! - [`abi`]: export and import names, the output tag and the versioning rule.
//!
//! ```
//! use fenn_abi::{Event, Response};
//!
//! let event = Event::new("/testfunc", "POST").with_body("requested the API");
//! let bytes = fenn_abi::abi::encode_event(&event)?;
//! assert_eq!(fenn_abi::abi::decode_event(&bytes)?, event);
//!
//! let response = Response::ok("Jason requested the API");
//! assert_eq!(response.status_code, 200);
//! # Ok::<(), postcard::Error>(())
//! ```
#![no_std]

extern crate alloc;

pub mod abi;
pub mod calls;
pub mod event;
pub mod response;
mod wire;

pub use event::{Event, Map};
pub use response::Response;
