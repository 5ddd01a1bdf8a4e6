//! A guest's log lines: bounded per invocation, rate-limited per function,
//! and escaped so that no guest text can forge a line of fenn's log.
//!
//! Each invocation may write [`MAX_LINES`] lines and [`MAX_BYTES`] bytes;
//! each function [`RATE`] lines a second on average, in bursts of up to
//! [`BURST`]. What goes past either is counted, and the invocation's end
//! logs one line saying how many were dropped.

use std::sync::Mutex;
use std::time::Instant;

/// Lines one invocation may log.
pub const MAX_LINES: u32 = 100;
/// Bytes one invocation may log (each line is also cut at [`MAX_LINE`]).
pub const MAX_BYTES: usize = 16 << 10;
/// Longest line kept; the rest is cut.
pub const MAX_LINE: usize = 1024;
/// Lines a second one function may log, on average.
pub const RATE: f64 = 50.0;
/// Lines one function may log at once, after a quiet spell.
pub const BURST: f64 = 200.0;

/// A function's token bucket, shared by its invocations.
#[derive(Debug)]
pub(crate) struct LogRate {
    bucket: Mutex<(f64, Instant)>,
}

impl LogRate {
    pub(crate) fn new() -> Self {
        Self {
            bucket: Mutex::new((BURST, Instant::now())),
        }
    }

    /// Takes one line's token at `now`, if there is one.
    pub(crate) fn allow(&self, now: Instant) -> bool {
        let Ok(mut bucket) = self.bucket.lock() else {
            return false;
        };
        let (tokens, last) = &mut *bucket;
        let refill = now.saturating_duration_since(*last).as_secs_f64() * RATE;
        *tokens = (*tokens + refill).min(BURST);
        *last = now.max(*last);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One invocation's count of what it logged and what was dropped.
#[derive(Debug, Default)]
pub(crate) struct LogCount {
    lines: u32,
    bytes: usize,
    pub(crate) dropped: u32,
}

impl LogCount {
    /// Whether no line can be written any more in this event: what a
    /// guest writes then is dropped unread.
    pub(crate) fn spent(&self) -> bool {
        self.lines >= MAX_LINES || self.bytes >= MAX_BYTES
    }

    /// Drops a write unread, counting it as one line.
    pub(crate) fn drop_unread(&mut self) {
        self.dropped = self.dropped.saturating_add(1);
    }

    /// Whether a line of `len` bytes may be written, counting it either way.
    pub(crate) fn admit(&mut self, len: usize, rate: &LogRate, now: Instant) -> bool {
        let len = len.min(MAX_LINE);
        let fits = self.lines < MAX_LINES && self.bytes + len <= MAX_BYTES && rate.allow(now);
        if fits {
            self.lines += 1;
            self.bytes += len;
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
        fits
    }
}

/// The guest's bytes as one line of text: invalid UTF-8 replaced, cut at
/// [`MAX_LINE`] bytes, and every control character (a newline, a carriage
/// return, a terminal escape) written as an escape, so a guest's text
/// stays on its own line and cannot look like another.
pub fn escape(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_LINE)]);
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            '\\' => line.push_str("\\\\"),
            // Line and paragraph separators and the bidirectional controls
            // move text around in a viewer as a newline would.
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}')
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c) =>
            {
                line.extend(c.escape_unicode());
            }
            c => line.push(c),
        }
    }
    line
}

/// The guest's last error line as the reason of its failure: escaped, and
/// at most [`MAX_REASON`] characters, since every failed event logs it.
pub(crate) fn reason(bytes: &[u8]) -> String {
    let line = escape(bytes);
    match line.char_indices().nth(MAX_REASON) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line,
    }
}

/// Longest guest text in a failure's reason.
pub const MAX_REASON: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_newline_cannot_start_a_forged_line() {
        let line = escape(b"ok\n2026-01-01T00:00:00Z  WARN invoke{function=\"x\"}: \x1b[31mred");
        assert!(!line.contains('\n') && !line.contains('\x1b'), "{line}");
        assert!(line.starts_with("ok\\n2026"), "{line}");
        assert!(line.contains("\\u{1b}[31mred"), "{line}");
        let bidi = escape("a\u{202e}b\u{2028}c".as_bytes());
        assert_eq!(bidi, "a\\u{202e}b\\u{2028}c");
        assert_eq!(reason(&[b'x'; 1000]).chars().count(), MAX_REASON + 1);
    }

    #[test]
    fn an_invocation_keeps_its_first_lines_and_counts_the_rest() {
        let rate = LogRate::new();
        let now = Instant::now();
        let mut count = LogCount::default();
        let kept = (0..150).filter(|_| count.admit(10, &rate, now)).count();
        assert_eq!((kept, count.dropped), (MAX_LINES as usize, 50));
        let mut bytes = LogCount::default();
        let kept = (0..40)
            .filter(|_| bytes.admit(MAX_LINE, &rate, now))
            .count();
        assert_eq!(kept, MAX_BYTES / MAX_LINE);
    }

    #[test]
    fn a_function_is_held_to_its_rate_across_invocations() {
        let rate = LogRate::new();
        let start = Instant::now();
        let burst = (0..1000).filter(|_| rate.allow(start)).count();
        assert_eq!(burst, BURST as usize);
        assert!(!rate.allow(start));
        let later = start + Duration::from_secs(1);
        let refilled = (0..1000).filter(|_| rate.allow(later)).count();
        assert_eq!(refilled, RATE as usize);
    }
}
