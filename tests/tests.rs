//! fenn's black-box tests: the real `fenn` binary, real HTTP clients, and
//! guests built from source in `functions/`; and, where no command of the
//! binary reaches a behaviour yet, a trigger driven as a library against
//! the same real broker (`live_bindings`).

// This whole crate is test code: an unwrap that fails is a failed test.
#![allow(clippy::unwrap_used)]

mod admin;
mod admin_faults;
mod admin_tls;
mod cli;
mod console;
mod contain_client;
mod contain_guest;
mod contain_slots;
mod contain_wasi;
mod cron;
mod delivery;
mod docs;
mod fleet;
mod flows;
mod flows_admin;
mod gateway;
mod health;
mod host_calls;
mod host_refusals;
mod in_process;
mod limits;
mod live_bindings;
mod mqtt;
mod mqtt_faults;
mod new;
mod observe;
mod own_log;
mod policies;
mod util;
mod wasi_guests;
mod web;
