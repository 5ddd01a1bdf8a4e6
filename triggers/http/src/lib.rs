//! fenn's HTTP API gateway trigger: turns HTTP requests into events for the
//! function a route names, and the function's response back into HTTP.
//!
//! It knows nothing of how a function runs: it calls a
//! [`FunctionHost`](fenn_runtime::FunctionHost).
//!
//! # Layout
//!
//! - [`route`]: [`RouteTable`], path templates (`/users/{id}`) and methods
//!   to functions, built and checked once at start.
//! - [`request`]: an HTTP request as the seeds' event.
//! - [`response`]: a function's response as HTTP, plainly or in seed 002's
//!   envelope.
//! - [`error`]: [`GatewayError`], and the one place each failure gets its
//!   HTTP status.
//! - [`server`]: [`HttpTrigger`], the axum router and the listener loop
//!   (header read timeout, body limit, graceful shutdown).

pub mod error;
pub mod request;
pub mod response;
pub mod route;
pub mod server;

pub use error::GatewayError;
pub use response::ResponseMode;
pub use route::{RouteSpec, RouteTable};
pub use server::{HttpSettings, HttpTrigger};
