//! fenn's black-box tests: the real `fenn` binary, real HTTP clients, and
//! guests built from source in `functions/`.

// This whole crate is test code: an unwrap that fails is a failed test.
#![allow(clippy::unwrap_used)]

mod cli;
mod contain_client;
mod contain_guest;
mod cron;
mod delivery;
mod gateway;
mod limits;
mod mqtt;
mod mqtt_faults;
mod util;
