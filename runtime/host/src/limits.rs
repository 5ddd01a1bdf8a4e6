//! What bounds one invocation. Every field has a default fit for a small
//! device; the config can set each per function.

use crate::grants::Grants;
use std::sync::Arc;
use std::time::Duration;

/// The default budget of all running guests' linear memory together
/// (`server.guest_memory`).
pub const DEFAULT_GUEST_MEMORY: usize = 256 << 20;

/// Bounds on one function's invocations and on its module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// CPU budget per event, in wasmi fuel units (about one per instruction).
    pub fuel: u64,
    /// Wall-clock deadline per event.
    pub timeout: Duration,
    /// Linear memory cap per instance, in bytes.
    pub memory_bytes: usize,
    /// Table elements cap per instance.
    pub table_elements: usize,
    /// Maximum wasm call depth.
    pub max_recursion_depth: usize,
    /// Largest module accepted at deploy, in bytes.
    pub module_bytes: usize,
    /// Events of this function that may run at once; more are refused.
    pub concurrency: usize,
    /// Largest output a guest may return, in bytes; decoding never makes a
    /// response larger than its output, so this bounds the response too.
    pub max_response: usize,
    /// Worker threads this function's long events may hold at once; `None`
    /// is half the pool (at least one), so that runaway guests of one
    /// function leave workers for the others.
    pub max_workers: Option<usize>,
    /// What it may reach beyond its event: variables and secrets, its
    /// store, topics, other functions.
    pub grants: Arc<Grants>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 100_000_000,
            timeout: Duration::from_secs(5),
            memory_bytes: 16 << 20,
            table_elements: 10_000,
            max_recursion_depth: 1024,
            module_bytes: 8 << 20,
            concurrency: 32,
            max_response: 1 << 20,
            max_workers: None,
            grants: Arc::default(),
        }
    }
}
