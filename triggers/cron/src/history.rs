//! A bounded record of recent runs, newest last, for the management side
//! and for tests.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::time::Duration;

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
}
