//! The seam between the fleet and the fenn it runs in: what a deployment
//! is applied through (the platform that the management API changes too),
//! so that applying is tested without one. Its calls are boxed futures
//! through `dyn Device`: the agent is compiled once, and the platform's
//! deploy, rollback and delete are not inlined into it at each call (that
//! cost about half a megabyte of the binary).

use crate::report::Serving;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

/// A call's future, boxed.
pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A function as the device serves it now.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    /// The module and the device's version number of it.
    pub serving: Serving,
    /// Its definition.
    pub definition: Value,
}

/// What applying a deployment needs of the fenn it runs in.
pub trait Device: Send + Sync + 'static {
    /// How `name` is served now, when it is deployed.
    fn current<'a>(&'a self, name: &'a str) -> Boxed<'a, Option<Current>>;

    /// A kept version of `name` with module `sha256` and `definition`.
    fn kept<'a>(
        &'a self,
        name: &'a str,
        sha256: &'a str,
        definition: &'a Value,
    ) -> Boxed<'a, Option<u64>>;

    /// Deploys `wasm` as `name`'s new version (compiled and checked
    /// first); its version number.
    fn deploy<'a>(
        &'a self,
        name: &'a str,
        definition: Value,
        wasm: Vec<u8>,
    ) -> Boxed<'a, Result<u64, String>>;

    /// Serves `name`'s kept `version`.
    fn select<'a>(&'a self, name: &'a str, version: u64) -> Boxed<'a, Result<(), String>>;

    /// Stops serving `name` and deletes its versions.
    fn remove<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<(), String>>;

    /// Runs `event` through `name`; the status it answered.
    fn test<'a>(&'a self, name: &'a str, event: &'a Value) -> Boxed<'a, Result<u16, String>>;

    /// The device's readiness (as `/readyz` answers it).
    fn ready(&self) -> Result<(), String>;
}
