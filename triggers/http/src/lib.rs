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
//! - [`binding`]: [`RawRoute`], a route's keys and their validation.
//! - [`request`]: an HTTP request as an event.
//! - [`response`]: a function's response as HTTP, plainly or in the
//!   function API's envelope.
//! - [`error`]: [`GatewayError`], and the one place each failure gets its
//!   HTTP status.
//! - [`server`]: [`HttpTrigger`], the axum router and the listener loop
//!   (connection limits, header read timeout, graceful shutdown); the
//!   private `handler` answers one request (body limit, buffer budget).
//! - [`settings`]: [`HttpSettings`], a listener's limits and timeouts.
//! - [`stats`]: [`RequestStats`], requests by route template and status.
//! - [`policy`]: apps, AppCodes, signatures, JWTs, IP lists, rate limits
//!   and CORS: who may call a route, from where and how often.
//! - [`connections`]: connections in all and per client address, and the
//!   idle one that makes way for a new one at a limit.
//! - [`io`]: a socket with a write timeout.
//! - [`listener`]: the listener loop (limits, timeouts, TLS, draining),
//!   which the management API serves through too.
//! - [`kind`]: [`HttpKind`], the gateway as a registered trigger kind: its
//!   keys of `[server]`, `[gateway]` and `[[app]]`, its routes as
//!   bindings, and how it starts.

pub mod binding;
pub mod connections;
pub mod error;
mod handler;
pub mod io;
pub mod kind;
pub mod listener;
pub mod policy;
pub mod request;
pub mod response;
pub mod route;
pub mod server;
pub mod settings;
pub mod stats;

pub use binding::{PolicyContext, RawRoute};
pub use error::GatewayError;
pub use kind::{HttpKind, HttpSetup};
pub use response::ResponseMode;
pub use route::{RouteSpec, RouteTable};
pub use server::{HttpBindings, HttpServing, HttpTrigger};
pub use settings::HttpSettings;
pub use stats::RequestStats;
