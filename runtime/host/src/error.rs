//! The runtime's errors: refusing a module at deploy, and each way an event
//! can fail. Triggers map each variant to one status of their own.

use std::time::Duration;

/// Why a deploy was refused or an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The module is larger than the function's upload limit.
    #[error("module is {size} bytes, over the limit of {limit} bytes")]
    ModuleTooLarge {
        /// Size of the module.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The bytes are not a valid WebAssembly module.
    #[error("module does not compile: {reason}")]
    InvalidModule {
        /// What the compiler said.
        reason: String,
    },
    /// The module compiles but does not speak the fenn ABI.
    #[error("module does not fit the fenn ABI: {reason}")]
    NotAbi {
        /// What is missing or wrong.
        reason: String,
    },
    /// No function of that name is deployed.
    #[error("no function named '{function}'")]
    NotFound {
        /// The name asked for.
        function: String,
    },
    /// The function's concurrency limit, or the runtime's worker pool, is full.
    #[error("function '{function}' is at its concurrency limit")]
    Busy {
        /// The function.
        function: String,
    },
    /// The guest trapped (a panic, an unreachable, an out-of-bounds access…).
    #[error("function trapped: {reason}")]
    Trap {
        /// The trap and, for a panicking Rust guest, its message.
        reason: String,
    },
    /// The guest used up its fuel (CPU budget).
    #[error("function ran out of fuel after {fuel} units")]
    OutOfFuel {
        /// The budget it had.
        fuel: u64,
    },
    /// The guest ran past its wall-clock deadline.
    #[error("function ran past its deadline of {timeout:?}")]
    Deadline {
        /// The deadline it had.
        timeout: Duration,
    },
    /// The guest tried to grow memory or tables past its limit.
    #[error("function exceeded its memory limit of {limit} bytes")]
    MemoryLimit {
        /// The limit.
        limit: usize,
    },
    /// The guest recursed deeper than its limit.
    #[error("function overflowed its stack")]
    StackOverflow,
    /// The guest's output is not a response (seed 001 FAQ: a 502).
    #[error("function output is not a valid response: {reason}")]
    BadOutput {
        /// What is wrong with it.
        reason: String,
    },
    /// The event could not be handed to the guest.
    #[error("event could not be encoded: {reason}")]
    BadEvent {
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Whether the function itself failed (as opposed to the runtime
    /// declining to run it).
    pub fn is_guest_failure(&self) -> bool {
        matches!(
            self,
            Self::Trap { .. }
                | Self::OutOfFuel { .. }
                | Self::Deadline { .. }
                | Self::MemoryLimit { .. }
                | Self::StackOverflow
                | Self::BadOutput { .. }
        )
    }
}
