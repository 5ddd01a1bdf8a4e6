//! What one invocation did, kept for a caller that asks: the guest's log
//! lines, the fuel it used and the most memory it held (the management
//! API's test event, and the invocation history). The lines are the ones
//! the log gets, so they are bounded as those are
//! ([`guest_log`](crate::guest_log)); a trace may bound them further to
//! a number of bytes, and marks where it cut.

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
#[derive(Debug)]
pub struct Trace {
    /// The contents, and whether the byte bound has been reached (no
    /// later line is kept, so the cut is one place).
    recorded: Mutex<(Recorded, bool)>,
    max_bytes: usize,
}

impl Default for Trace {
    fn default() -> Self {
        Self::bounded(crate::guest_log::MAX_BYTES)
    }
}

/// A trace's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The guest's log lines, in order.
    pub lines: Vec<TraceLine>,
    /// Bytes of the lines' messages.
    pub bytes: usize,
    /// Whether lines were cut or left out: a line longer than a log line
    /// may be, more than an invocation or a function may log, or more
    /// than the trace keeps.
    pub cut: bool,
    /// Fuel the guest used, instantiation included.
    pub fuel_used: u64,
    /// The most linear memory the guest held, in bytes.
    pub peak_memory: usize,
    /// The host calls it made beyond logging and the clock, by call.
    pub host_calls: Vec<crate::calls::HostCall>,
}

impl Trace {
    /// A trace that keeps at most `max_bytes` of log lines.
    pub fn bounded(max_bytes: usize) -> Self {
        Self {
            recorded: Mutex::new((Recorded::default(), false)),
            max_bytes,
        }
    }

    pub(crate) fn line(&self, level: &'static str, message: &str, cut: bool) {
        if let Ok(mut guard) = self.recorded.lock() {
            let (recorded, full) = &mut *guard;
            recorded.cut |= cut;
            if *full || recorded.bytes + message.len() > self.max_bytes {
                recorded.cut = true;
                *full = true;
                return;
            }
            recorded.bytes += message.len();
            recorded.lines.push(TraceLine {
                level,
                message: message.to_owned(),
            });
        }
    }

    pub(crate) fn fuel(&self, used: u64) {
        if let Ok(mut recorded) = self.recorded.lock() {
            recorded.0.fuel_used = used;
        }
    }

    /// The instance is gone: its peak memory, the lines the guest's log
    /// limits dropped, and its host calls.
    pub(crate) fn ended(
        &self,
        peak_memory: usize,
        dropped: u32,
        host_calls: Vec<crate::calls::HostCall>,
    ) {
        if let Ok(mut recorded) = self.recorded.lock() {
            recorded.0.peak_memory = peak_memory;
            recorded.0.cut |= dropped > 0;
            recorded.0.host_calls = host_calls;
        }
    }

    /// What has been recorded so far.
    pub fn recorded(&self) -> Recorded {
        self.recorded
            .lock()
            .map(|recorded| recorded.0.clone())
            .unwrap_or_default()
    }

    /// What was recorded, taken out of the trace.
    pub fn take(&self) -> Recorded {
        self.recorded
            .lock()
            .map(|mut recorded| std::mem::take(&mut recorded.0))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_past_the_bound_are_left_out_and_marked() {
        let trace = Trace::bounded(10);
        trace.line("info", "12345", false);
        trace.line("info", "678901", false);
        trace.line("info", "abcde", false);
        let recorded = trace.take();
        assert_eq!(recorded.lines.len(), 1, "{recorded:?}");
        assert_eq!(recorded.bytes, 5);
        assert!(recorded.cut);
        let long = Trace::bounded(100);
        long.line("warn", "x", true);
        assert!(long.recorded().cut);
        assert!(Trace::default().recorded().lines.is_empty());
    }
}
