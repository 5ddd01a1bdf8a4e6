//! fenn's platform: what it serves and how that changes while it runs.
//! The `catalog` of every function's and flow's bindings; the `started`
//! triggers' handles; the `state_dir`, locked to one fenn; and the
//! management API: functions and flows deployed, checked, tested, rolled
//! back and deleted while fenn serves, on a listener of its own
//! (`[admin]`), every request with the bearer token.
//!
//! - `api`: the HTTP side: token, paths, bodies within limits.
//! - `check`: `POST /v1/check`, the online compile.
//! - `budget`: the memory deploys and checks take, bounded.
//! - `platform`: deploy, rollback, delete: checked, saved, swapped;
//!   `saving`: the store written off the async threads, its failures.
//! - `flows`: the same of flows; `flow_views`: listing them, one flow and
//!   its graph; `flow_store`: their versions on disk.
//! - `views`: listing, one function, the test event.
//! - `records`: the invocation history, its stream, the metrics, the status.
//! - `console`: the web console's page, style and script.
//! - `load`: the store's functions and flows served again at start.
//! - `fleet`: the device in a fleet, its agent deploying through the
//!   platform.
//! - `store` and `manifest`: deployed functions on disk, written with
//!   [`fenn_runtime::files`].
//! - `error`: `ApiError` and its HTTP statuses; `serving`: the API on its
//!   listener.
//!
//! The management API (`api` to `serving`) is the `api` feature's; without
//! it the crate keeps what `fenn serve` needs in every build.

pub mod catalog;
pub mod event;
pub mod started;
pub mod state_dir;

#[cfg(feature = "api")]
mod api;
#[cfg(feature = "api")]
mod budget;
#[cfg(feature = "api")]
mod check;
#[cfg(feature = "api")]
mod console;
#[cfg(feature = "api")]
mod error;
#[cfg(feature = "api")]
pub mod fleet;
#[cfg(feature = "api")]
mod flow_store;
#[cfg(feature = "api")]
mod flow_views;
#[cfg(feature = "api")]
mod flows;
#[cfg(feature = "api")]
mod kv;
#[cfg(feature = "api")]
mod load;
#[cfg(feature = "api")]
mod manifest;
#[cfg(feature = "api")]
mod platform;
#[cfg(feature = "api")]
mod records;
#[cfg(feature = "api")]
mod saving;
#[cfg(feature = "api")]
mod state;
#[cfg(feature = "api")]
mod store;
#[cfg(feature = "api")]
mod versions;
#[cfg(feature = "api")]
mod views;

#[cfg(feature = "api")]
mod serving;
#[cfg(feature = "api")]
pub use serving::{AuthReport, serve};
#[cfg(feature = "api")]
pub use {
    budget::DeployMemory,
    error::ApiError,
    load::load,
    platform::{Platform, STREAMS, UPLOADS},
    state::State,
    versions::Serves,
};

#[cfg(feature = "api")]
pub(crate) use fenn_observe::millis;
