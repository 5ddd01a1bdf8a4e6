//! [`ResultSink`]: where a trigger with no caller to answer sends a
//! function's result (cron's `publish` topic).

use crate::Error;
use fenn_abi::Response;
use std::future::Future;
use std::pin::Pin;

/// Takes results for delivery elsewhere, such as an MQTT topic.
///
/// The MQTT trigger's publisher is the implementation: it keeps results in
/// order, on disk while the broker is away. Tests may collect them instead.
pub trait ResultSink: Send + Sync {
    /// Hands over `result` for `destination`: answers `true` once the sink
    /// has taken it, `false` when it dropped it (the sink logs why, and
    /// also when a result it took is lost later). A sink bounds how much
    /// waits, and does not keep the caller waiting for the result to be
    /// stored.
    fn deliver<'a>(
        &'a self,
        destination: &'a str,
        result: &'a Result<Response, Error>,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>>;
}
