//! [`Observer`]: told of every invocation once it ends, from any trigger,
//! with what it did (the invocation history and the metrics listen here).
//!
//! The dispatcher calls it on the task that ran the event, after the
//! answer is known: an observer must be quick and must not block.

use crate::Error;
use crate::trace::Recorded;
use fenn_abi::Response;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The trigger name of an invocation from
/// [`Dispatcher::invoke_traced`](crate::Dispatcher::invoke_traced): a
/// test event sent by hand.
pub const TEST_TRIGGER: &str = "test";

/// One invocation, as it ended.
#[derive(Debug)]
pub struct Invoked<'a> {
    /// The dispatcher's id of it (the event's `x-fenn-invocation-id`).
    pub id: u64,
    /// The function.
    pub function: &'a str,
    /// Its deployed version (0 for a function of the config file).
    pub version: u64,
    /// The trigger that made the event (`http`, `mqtt`, `cron`, `test`).
    pub trigger: &'a str,
    /// The event's method (`GET`…, `PUBLISH`, `SCHEDULE`).
    pub method: &'a str,
    /// The event's path: the request path, the topic, the schedule.
    pub source: &'a str,
    /// When it started.
    pub started: SystemTime,
    /// How long it took, waiting for a worker included.
    pub duration: Duration,
    /// The function's response, or why there is none.
    pub result: &'a Result<Response, Error>,
    /// Its log lines, fuel and memory.
    pub recorded: Recorded,
    /// The flow's run it is a step of, if any.
    pub step: Option<StepOf<'a>>,
}

/// The flow, run and step an invocation is.
#[derive(Debug, Clone, Copy)]
pub struct StepOf<'a> {
    /// The flow.
    pub flow: &'a str,
    /// The run's id.
    pub run: &'a str,
    /// The step.
    pub step: &'a str,
    /// Its attempt, 1 for the first.
    pub attempt: u32,
}

/// Listens to every invocation; see the module docs.
pub trait Observer: Send + Sync + 'static {
    /// Bytes of log lines kept for one invocation.
    fn log_bytes(&self) -> usize;

    /// An invocation ended.
    fn invoked(&self, invoked: Invoked<'_>);

    /// A flow's run ended.
    fn run_ended(&self, _run: RunReport<'_>) {}
}

/// A flow's run, as it ended.
#[derive(Debug)]
pub struct RunReport<'a> {
    /// The flow.
    pub flow: &'a str,
    /// Its version.
    pub version: u64,
    /// The run's id (each step's event's `x-fenn-run`).
    pub run: &'a str,
    /// The trigger that started it.
    pub trigger: &'a str,
    /// When it started (or resumed), by the wall clock.
    pub started: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// `ok`, or `failed` when a step's failure took no error edge.
    pub status: &'static str,
    /// Whether it was resumed after a restart.
    pub resumed: bool,
    /// Each step, in the order declared.
    pub steps: Vec<StepReport<'a>>,
}

/// One step of a run, as the run ended.
#[derive(Debug)]
pub struct StepReport<'a> {
    /// The step.
    pub name: &'a str,
    /// Its function.
    pub function: &'a str,
    /// Whether it ran, and how it ended.
    pub state: crate::flow::run::State,
    /// Its runs, retries included (0: not run by this process).
    pub attempts: u32,
    /// How long it took, its retries' waits included.
    pub duration: Duration,
    /// Its status code, or the one its failure answers with.
    pub status_code: Option<u16>,
    /// Why it failed.
    pub error: Option<&'a str>,
    /// Why it was skipped (the conditions that did not hold, the steps
    /// that failed), or how its join ended.
    pub note: Option<&'a str>,
}

/// Bucket bounds, in seconds, for durations from a fraction of a
/// millisecond to ten seconds.
pub const SECONDS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];

/// A histogram of durations, counted without a lock, for the metrics.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations at or under each bound (not cumulative).
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new(SECONDS)
    }
}

impl Histogram {
    /// An empty histogram with `bounds` (seconds, ascending).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Counts one duration.
    pub fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        if let Some(at) = self.bounds.iter().position(|&bound| seconds <= bound) {
            self.counts[at].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The sum in seconds, the count, and each bucket's upper bound with
    /// the observations in it alone (not cumulative), the last bucket's
    /// bound `+Inf`: the shape prometheus-client encodes.
    pub fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .zip(&self.counts)
            .map(|(&bound, count)| (bound, count.load(Ordering::Relaxed)))
            .collect();
        let bounded: u64 = buckets.iter().map(|(_, n)| n).sum();
        let count = self.count.load(Ordering::Relaxed).max(bounded);
        buckets.push((f64::INFINITY, count - bounded));
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        (sum, count, buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_bucket_and_the_rest_in_an_infinite_one() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(200));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(60));
        let (sum, count, buckets) = histogram.snapshot();
        assert_eq!(count, 3);
        assert!((sum - 60.0032).abs() < 1e-9, "{sum}");
        assert_eq!(buckets[0], (0.000_25, 1));
        assert_eq!(buckets[4], (0.005, 1));
        assert_eq!(buckets[SECONDS.len() - 1], (10.0, 0));
        assert_eq!(*buckets.last().unwrap(), (f64::INFINITY, 1));
    }
}
