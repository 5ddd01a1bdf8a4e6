//! fenn as a library: the composition root of the `fenn` binary, so that a
//! test (or another program) can run fenn in its own process. The parts
//! live in their crates: the config (`fenn-config`), the triggers
//! (`fenn-http`, `fenn-mqtt`, `fenn-cron`, registered in [`registry`]),
//! the platform and the management API (`fenn-admin`), the history,
//! metrics and fenn's own log (`fenn-observe`), and the command line's
//! client (`fenn-client`).
//!
//! - [`serve()`]: every function a config names, every registered trigger,
//!   and the management API, until a shutdown future completes.
//! - [`registry`]: the trigger kinds fenn has.
//! - [`examples`]: the example functions built in, and their config.
//! - [`commands`]: `fenn check` and `fenn invoke`, on one module.
//! - [`new`]: `fenn new`, a function's project of its own.

mod announce;
pub mod commands;
pub mod examples;
#[cfg_attr(not(feature = "admin"), path = "manage_off.rs")]
mod manage;
pub mod new;
pub mod registry;
pub mod serve;
mod services;

pub use serve::{Listen, Listeners, serve};
