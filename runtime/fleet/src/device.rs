//! The seam between the fleet and the fenn it runs in: what a deployment
//! is applied through (the platform that the management API changes too),
//! so that applying is tested without one.

use crate::report::Serving;
use serde_json::Value;
use std::future::Future;

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
    fn current(&self, name: &str) -> impl Future<Output = Option<Current>> + Send;

    /// A kept version of `name` with module `sha256` and `definition`.
    fn kept(
        &self,
        name: &str,
        sha256: &str,
        definition: &Value,
    ) -> impl Future<Output = Option<u64>> + Send;

    /// Deploys `wasm` as `name`'s new version (compiled and checked
    /// first); its version number.
    fn deploy(
        &self,
        name: &str,
        definition: Value,
        wasm: Vec<u8>,
    ) -> impl Future<Output = Result<u64, String>> + Send;

    /// Serves `name`'s kept `version`.
    fn select(&self, name: &str, version: u64) -> impl Future<Output = Result<(), String>> + Send;

    /// Stops serving `name` and deletes its versions.
    fn remove(&self, name: &str) -> impl Future<Output = Result<(), String>> + Send;

    /// Runs `event` through `name`; the status it answered.
    fn test(&self, name: &str, event: &Value) -> impl Future<Output = Result<u16, String>> + Send;

    /// The device's readiness (as `/readyz` answers it).
    fn ready(&self) -> Result<(), String>;
}
