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
    /// The module imports a host call its function's definition does not
    /// grant.
    #[error("module {reason}")]
    NotGranted {
        /// The call, and the grant to add.
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
    /// The guest tried to grow a table past its limit.
    #[error("function exceeded its table limit of {limit} elements")]
    TableLimit {
        /// The limit.
        limit: usize,
    },
    /// The memory budget of all running guests (`server.guest_memory`) is
    /// spent: the event is refused, or stopped, rather than fenn running
    /// out of memory.
    #[error("the memory budget of all running guests is spent")]
    Overloaded,
    /// The guest recursed deeper than its limit.
    #[error("function overflowed its stack")]
    StackOverflow,
    /// The guest's output is not a response (a 502).
    #[error("function output is not a valid response: {reason}")]
    BadOutput {
        /// What is wrong with it.
        reason: String,
    },
    /// fenn itself failed while running the event: a bug, reported as such.
    #[error("internal error: {reason}")]
    Internal {
        /// What failed.
        reason: String,
    },
    /// A flow's run failed before its response step answered.
    #[error("flow run {run} failed: {reason}")]
    FlowFailed {
        /// The run's id.
        run: String,
        /// The step that failed, and why.
        reason: String,
        /// The status the failure answers with.
        status: u16,
    },
    /// What the event needs is not available now (fenn starting or
    /// stopping, a journal that cannot be written).
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Why.
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
    /// The HTTP status this failure answers with, the one mapping every
    /// trigger uses (the HTTP response; MQTT's `status` user property).
    /// Output that is not a response is a 502, and a function that does
    /// not answer in time a 504, as API gateways answer.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Busy { .. } | Self::Overloaded | Self::Unavailable { .. } => 503,
            Self::FlowFailed { status, .. } => (*status).clamp(500, 599),
            Self::Deadline { .. } | Self::OutOfFuel { .. } => 504,
            Self::Trap { .. }
            | Self::MemoryLimit { .. }
            | Self::TableLimit { .. }
            | Self::StackOverflow
            | Self::BadOutput { .. } => 502,
            Self::NotFound { .. }
            | Self::Internal { .. }
            | Self::BadEvent { .. }
            | Self::ModuleTooLarge { .. }
            | Self::InvalidModule { .. }
            | Self::NotAbi { .. }
            | Self::NotGranted { .. } => 500,
        }
    }

    /// What a client is told: the kind of failure, none of the function's
    /// internals (the full reason goes to the log).
    pub fn client_message(&self) -> String {
        match self {
            Self::Busy { .. } => "function is busy, retry later".into(),
            Self::Overloaded => "server is busy, retry later".into(),
            Self::Unavailable { .. } => "service unavailable, retry later".into(),
            Self::FlowFailed { run, .. } => format!("flow failed (run {run})"),
            Self::TableLimit { .. } => "function exceeded its table limit".into(),
            Self::Deadline { timeout } => format!("function did not answer within {timeout:?}"),
            Self::OutOfFuel { .. } => "function exceeded its CPU budget".into(),
            Self::Trap { .. } => "function failed".into(),
            Self::MemoryLimit { .. } => "function exceeded its memory limit".into(),
            Self::StackOverflow => "function overflowed its stack".into(),
            Self::BadOutput { .. } => "function returned an invalid response".into(),
            _ => "internal error".into(),
        }
    }

    /// The failure's kind in a word, as history and metrics name it
    /// (`busy`, `deadline`, `trap`…): a fixed set, whatever the reason.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ModuleTooLarge { .. } => "module_too_large",
            Self::InvalidModule { .. } => "invalid_module",
            Self::NotAbi { .. } => "not_abi",
            Self::NotGranted { .. } => "not_granted",
            Self::NotFound { .. } => "not_found",
            Self::Busy { .. } => "busy",
            Self::Trap { .. } => "trap",
            Self::OutOfFuel { .. } => "out_of_fuel",
            Self::Deadline { .. } => "deadline",
            Self::MemoryLimit { .. } => "memory_limit",
            Self::TableLimit { .. } => "table_limit",
            Self::Overloaded => "overloaded",
            Self::StackOverflow => "stack_overflow",
            Self::BadOutput { .. } => "bad_output",
            Self::Internal { .. } => "internal",
            Self::BadEvent { .. } => "bad_event",
            Self::FlowFailed { .. } => "flow_failed",
            Self::Unavailable { .. } => "unavailable",
        }
    }

    /// Whether the function itself failed (as opposed to the runtime
    /// declining to run it).
    pub fn is_guest_failure(&self) -> bool {
        matches!(
            self,
            Self::Trap { .. }
                | Self::OutOfFuel { .. }
                | Self::Deadline { .. }
                | Self::MemoryLimit { .. }
                | Self::TableLimit { .. }
                | Self::StackOverflow
                | Self::BadOutput { .. }
        )
    }
}
