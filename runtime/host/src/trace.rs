//! What one invocation did, kept for a caller that asks: the guest's log
//! lines and the fuel it used (the management API's test event). The lines
//! are the ones the log gets, so they are bounded as those are
//! ([`guest_log`](crate::guest_log)).

use std::sync::Mutex;

/// One guest log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine {
    /// `debug`, `info`, `warn` or `error`.
    pub level: &'static str,
    /// The line, escaped as the log writes it.
    pub message: String,
}

/// What an invocation recorded; fill it by passing it to
/// [`Dispatcher::invoke_traced`](crate::Dispatcher::invoke_traced).
#[derive(Debug, Default)]
pub struct Trace {
    recorded: Mutex<Recorded>,
}

/// A trace's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The guest's log lines, in order.
    pub lines: Vec<TraceLine>,
    /// Fuel the guest used, instantiation included.
    pub fuel_used: u64,
}

impl Trace {
    pub(crate) fn line(&self, level: &'static str, message: String) {
        if let Ok(mut recorded) = self.recorded.lock() {
            recorded.lines.push(TraceLine { level, message });
        }
    }

    pub(crate) fn fuel(&self, used: u64) {
        if let Ok(mut recorded) = self.recorded.lock() {
            recorded.fuel_used = used;
        }
    }

    /// What has been recorded so far.
    pub fn recorded(&self) -> Recorded {
        self.recorded
            .lock()
            .map(|recorded| recorded.clone())
            .unwrap_or_default()
    }
}
