//! A bounded record of recent runs, newest last, for the management side
//! and for tests.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One run of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The schedule's name.
    pub schedule: String,
    /// When it was planned.
    pub planned: DateTime<Utc>,
    /// When it started.
    pub started: DateTime<Utc>,
    /// How long the function took.
    pub duration: Duration,
    /// The function's status code, or the failure.
    pub outcome: Result<u16, String>,
}

/// The last `capacity` runs of every schedule together.
#[derive(Debug, Clone)]
pub struct History {
    runs: VecDeque<Run>,
    capacity: usize,
}

impl History {
    /// An empty history keeping at most `capacity` runs.
    pub fn new(capacity: usize) -> Self {
        Self {
            runs: VecDeque::with_capacity(capacity.min(1024)),
            capacity: capacity.max(1),
        }
    }

    /// Records a run, dropping the oldest when full.
    pub fn record(&mut self, run: Run) {
        if self.runs.len() == self.capacity {
            self.runs.pop_front();
        }
        self.runs.push_back(run);
    }

    /// The runs kept, oldest first.
    pub fn runs(&self) -> impl Iterator<Item = &Run> {
        self.runs.iter()
    }
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
    fn the_history_keeps_the_newest_runs_up_to_its_capacity() {
        let mut history = History::new(2);
        for i in 0..3 {
            history.record(Run {
                schedule: format!("s{i}"),
                planned: DateTime::UNIX_EPOCH,
                started: DateTime::UNIX_EPOCH,
                duration: Duration::ZERO,
                outcome: Ok(200),
            });
        }
        let names: Vec<_> = history.runs().map(|run| run.schedule.as_str()).collect();
        assert_eq!(names, ["s1", "s2"]);
    }

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
