//! What the trigger counts of its runs: [`CronStats`] for the metrics
//! (each run itself is in the invocation history, as every event is), and
//! [`SkipLog`], which keeps skipped fires from flooding the log.

use fenn_runtime::observe::Histogram;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// What the trigger counts for the metrics.
#[derive(Debug, Default)]
pub struct CronStats {
    /// Fires skipped: a run still going, or missed while fenn was off.
    pub skipped: AtomicU64,
    /// Missed fires run once after downtime (`catch_up`).
    pub caught_up: AtomicU64,
    /// How late each run started after its (jittered) fire time.
    pub lateness: Histogram,
}

/// How often a schedule's skipped fires are logged: the first at once,
/// then at most one line a minute with the count since the last, so that
/// a fast schedule whose runs take long cannot flood the log.
#[derive(Debug, Default)]
pub struct SkipLog {
    last: Option<Instant>,
    unlogged: u64,
}

impl SkipLog {
    /// Counts a skip at `now`; the number of skips to log now, if a line is due.
    pub fn skipped(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= Duration::from_secs(60));
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_are_logged_once_a_minute_with_their_count() {
        let start = Instant::now();
        let mut log = SkipLog::default();
        assert_eq!(log.skipped(start), Some(1));
        let quiet = (1..1000).filter_map(|ms| log.skipped(start + Duration::from_millis(ms)));
        assert_eq!(quiet.count(), 0);
        assert_eq!(log.skipped(start + Duration::from_secs(60)), Some(1000));
    }
}
