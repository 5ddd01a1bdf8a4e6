//! fenn's own log lines about what a client, a broker message or a guest
//! did, rate-limited so that no caller can fill a device's disk with them.
//!
//! A line has a *kind* (a short static name such as `"invocation failed"`)
//! and, where it names one, a function. Each (kind, function) pair may
//! write [`BURST`] lines every [`PERIOD`]; the ones past that are counted,
//! not written. [`LogLimits::summaries`] hands out those counts once their
//! period has ended, for one summary line each, and
//! [`LogLimits::suppressed`] the running totals per kind, for `/metrics`.
//!
//! The state is a plain struct that takes the time as an argument (unit
//! tested below); [`admit`], [`summaries`] and [`suppressed`] use one
//! process-wide instance, and [`limited!`](crate::limited) wraps a
//! `tracing` macro in [`admit`].

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Lines of one kind, for one function, written in full each period.
pub const BURST: u32 = 5;
/// The period after which a pair may write [`BURST`] lines again.
pub const PERIOD: Duration = Duration::from_secs(10);
/// Pairs tracked at most; past it, new pairs share one with no function.
pub const MAX_KEYS: usize = 4096;

/// One pair's count in its current period.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    written: u32,
    suppressed: u64,
}

/// What was held back for one pair over a period that has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The kind of line.
    pub kind: &'static str,
    /// The function it named, or empty.
    pub function: String,
    /// Lines not written.
    pub suppressed: u64,
}

/// The counts of every (kind, function) pair.
#[derive(Debug, Default)]
pub struct LogLimits {
    /// By kind, then by function: a line looks its pair up without
    /// allocating; only a new pair allocates its key.
    windows: HashMap<&'static str, HashMap<Box<str>, Window>>,
    /// Pairs in `windows`.
    keys: usize,
    totals: HashMap<&'static str, u64>,
}

impl LogLimits {
    /// Whether a line of `kind` about `function` may be written at `now`;
    /// a line that may not is counted.
    pub fn admit(&mut self, kind: &'static str, function: &str, now: Instant) -> bool {
        let functions = self.windows.entry(kind).or_default();
        // Past the bound, new pairs share the one with no function.
        let key = if self.keys < MAX_KEYS || functions.contains_key(function) {
            function
        } else {
            ""
        };
        if !functions.contains_key(key) {
            self.keys += 1;
            let window = Window {
                start: now,
                written: 0,
                suppressed: 0,
            };
            functions.insert(Box::from(key), window);
        }
        let Some(window) = functions.get_mut(key) else {
            return false;
        };
        if now.saturating_duration_since(window.start) >= PERIOD && window.suppressed == 0 {
            window.start = now;
            window.written = 0;
        }
        if window.written < BURST {
            window.written += 1;
            return true;
        }
        window.suppressed += 1;
        *self.totals.entry(kind).or_default() += 1;
        false
    }

    /// The pairs whose period has ended with lines held back, each once;
    /// their next period starts now. Pairs quiet for a whole period are
    /// forgotten.
    pub fn summaries(&mut self, now: Instant) -> Vec<Summary> {
        let mut out = Vec::new();
        for (kind, functions) in &mut self.windows {
            functions.retain(|function, window| {
                if now.saturating_duration_since(window.start) < PERIOD {
                    return true;
                }
                if window.suppressed == 0 {
                    return false;
                }
                out.push(Summary {
                    kind,
                    function: function.to_string(),
                    suppressed: window.suppressed,
                });
                *window = Window {
                    start: now,
                    written: BURST,
                    suppressed: 0,
                };
                true
            });
        }
        self.windows.retain(|_, functions| !functions.is_empty());
        self.keys = self.windows.values().map(HashMap::len).sum();
        out.sort_by(|a, b| (a.kind, &a.function).cmp(&(b.kind, &b.function)));
        out
    }

    /// Lines held back since the start, by kind.
    pub fn suppressed(&self) -> Vec<(&'static str, u64)> {
        let mut totals: Vec<_> = self.totals.iter().map(|(k, n)| (*k, *n)).collect();
        totals.sort_unstable();
        totals
    }
}

static LIMITS: LazyLock<Mutex<LogLimits>> = LazyLock::new(Mutex::default);

/// [`LogLimits::admit`] on the process-wide counts, now.
pub fn admit(kind: &'static str, function: &str) -> bool {
    LIMITS
        .lock()
        .is_ok_and(|mut limits| limits.admit(kind, function, Instant::now()))
}

/// [`LogLimits::summaries`] of the process-wide counts, now.
pub fn summaries() -> Vec<Summary> {
    LIMITS
        .lock()
        .map(|mut limits| limits.summaries(Instant::now()))
        .unwrap_or_default()
}

/// [`LogLimits::suppressed`] of the process-wide counts.
pub fn suppressed() -> Vec<(&'static str, u64)> {
    LIMITS
        .lock()
        .map(|limits| limits.suppressed())
        .unwrap_or_default()
}

/// A `tracing` event written only when its level is enabled and [`admit`]
/// lets its kind and function through: `limited!(warn, "invocation
/// failed", function, %error, "invocation failed")`. The kind is the first
/// string, the function the second argument (`""` for none). A line the
/// level filter hides is not counted.
#[macro_export]
macro_rules! limited {
    (@level trace) => { ::tracing::Level::TRACE };
    (@level debug) => { ::tracing::Level::DEBUG };
    (@level info) => { ::tracing::Level::INFO };
    (@level warn) => { ::tracing::Level::WARN };
    (@level error) => { ::tracing::Level::ERROR };
    ($level:ident, $kind:expr, $function:expr, $($rest:tt)+) => {
        if ::tracing::enabled!($crate::limited!(@level $level))
            && $crate::log_limit::admit($kind, $function)
        {
            ::tracing::$level!($($rest)+);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_written_then_the_rest_counted_and_summarized_once() {
        let mut limits = LogLimits::default();
        let t0 = Instant::now();
        let written = (0..100).filter(|_| limits.admit("panic", "f", t0)).count();
        assert_eq!(written, BURST as usize);
        assert!(
            limits.summaries(t0 + PERIOD / 2).is_empty(),
            "not before the period ends"
        );
        let summary = limits.summaries(t0 + PERIOD);
        assert_eq!(
            summary,
            vec![Summary {
                kind: "panic",
                function: "f".into(),
                suppressed: 95
            }]
        );
        assert!(limits.summaries(t0 + PERIOD).is_empty(), "each count once");
        assert_eq!(limits.suppressed(), vec![("panic", 95)]);
    }

    #[test]
    fn after_a_summary_the_next_period_writes_nothing_in_full_until_it_ends() {
        let mut limits = LogLimits::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            limits.admit("k", "f", t0);
        }
        limits.summaries(t0 + PERIOD);
        // A flood that goes on is one summary a period, not a burst each.
        assert!(!limits.admit("k", "f", t0 + PERIOD));
        assert_eq!(limits.summaries(t0 + PERIOD * 2)[0].suppressed, 1);
        // Quiet for a whole period: forgotten, and a burst again after.
        assert!(limits.summaries(t0 + PERIOD * 3).is_empty());
        assert!(limits.admit("k", "f", t0 + PERIOD * 3));
    }

    #[test]
    fn kinds_and_functions_are_limited_apart() {
        let mut limits = LogLimits::default();
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert!(limits.admit("a", "f", t0));
        }
        assert!(!limits.admit("a", "f", t0));
        assert!(limits.admit("a", "g", t0));
        assert!(limits.admit("b", "f", t0));
    }

    #[test]
    fn past_the_key_bound_new_functions_share_one_count() {
        let mut limits = LogLimits::default();
        let t0 = Instant::now();
        for n in 0..MAX_KEYS {
            limits.admit("k", &n.to_string(), t0);
        }
        let written = (0..100)
            .filter(|n| limits.admit("k", &format!("new{n}"), t0))
            .count();
        assert_eq!(written, BURST as usize);
        assert!(limits.keys <= MAX_KEYS + 1);
    }

    #[test]
    fn the_key_bound_holds_across_kinds_and_known_pairs_keep_their_count() {
        let mut limits = LogLimits::default();
        let t0 = Instant::now();
        for n in 0..MAX_KEYS {
            limits.admit("a", &n.to_string(), t0);
        }
        for n in 0..100 {
            limits.admit("b", &format!("f{n}"), t0);
        }
        assert_eq!(limits.keys, MAX_KEYS + 1, "kind b shares one pair");
        let pairs: usize = limits.windows.values().map(HashMap::len).sum();
        assert_eq!(pairs, limits.keys);
        assert!(limits.windows["b"].contains_key(""));
        // A pair known before the bound was reached keeps its own count.
        let written = (0..BURST).filter(|_| limits.admit("a", "7", t0)).count();
        assert_eq!(written, BURST as usize - 1, "one of its burst was used");
        assert_eq!(limits.windows["a"]["7"].suppressed, 1);
        // Quiet pairs are forgotten, and new ones tracked again.
        assert_eq!(limits.summaries(t0 + PERIOD).len(), 2);
        assert_eq!(limits.keys, 2);
        assert!(limits.admit("b", "fresh", t0 + PERIOD));
        assert!(limits.windows["b"].contains_key("fresh"));
    }

    /// Lets through lines at `warn` and above, as `RUST_LOG=warn` does.
    struct WarnAndAbove;

    impl tracing::Subscriber for WarnAndAbove {
        fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
            *metadata.level() <= tracing::Level::WARN
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, _: &tracing::Event<'_>) {}
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn lines_below_the_level_filter_are_not_counted() {
        tracing::subscriber::with_default(WarnAndAbove, || {
            for _ in 0..BURST * 3 {
                crate::limited!(info, "test: filtered out", "", "an info line");
                crate::limited!(warn, "test: shown", "", "a warn line");
            }
        });
        let totals = suppressed();
        assert!(
            !totals.iter().any(|(kind, _)| *kind == "test: filtered out"),
            "{totals:?}"
        );
        assert!(
            totals.contains(&("test: shown", u64::from(BURST * 2))),
            "{totals:?}"
        );
    }
}
