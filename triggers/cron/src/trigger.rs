//! The cron trigger's loop: one task per schedule sleeps until the next
//! fire, builds the event, runs the function, logs the result, counts it
//! ([`CronStats`]) and, when the schedule names a `publish` topic, hands it
//! to the [`ResultSink`] (the MQTT outbox).
//!
//! The last planned fire of each schedule is written to the state
//! directory when the fire starts (write, fsync, rename), so a restart
//! knows what it missed; a fire is therefore run at most once, even if the
//! device loses power while it runs.

use crate::bindings::{CronBindings, Running};
use crate::ticker::{self, Due};
use crate::timer::FineTimer;
use crate::wait::{Wake, sleep_until};
use crate::{CronStats, Schedule, SkipLog, Ticker};
use chrono::{DateTime, SecondsFormat, Utc};
use fenn_runtime::trigger::{BoxFuture, Stage, Trigger};
use fenn_runtime::{EventBuilder, FunctionHost, ResultSink};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Time runs get to finish at shutdown unless [`CronTrigger::with_grace`]
/// says otherwise.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// Longest response body written to the log.
const LOGGED_BODY: usize = 1024;

/// What to do when a fire comes while the previous run still goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overlap {
    /// Skip the fire while the function still runs for the previous one
    /// (not while its result waits to be published); log and count it
    /// (the default).
    #[default]
    Skip,
    /// Run anyway, alongside.
    Allow,
}

/// One schedule as the config declares it.
#[derive(Debug, Clone)]
pub struct CronSpec {
    /// Unique name; the event's `path`.
    pub name: String,
    /// The function it runs.
    pub function: String,
    /// When.
    pub schedule: Schedule,
    /// The event body.
    pub body: String,
    /// Overlap policy.
    pub overlap: Overlap,
    /// Run one missed fire after downtime.
    pub catch_up: bool,
    /// Spread each fire by up to this much.
    pub jitter: Duration,
    /// Where each result is also sent (an MQTT topic), besides the log.
    pub publish: Option<String>,
}

/// The cron trigger.
pub struct CronTrigger<H> {
    bindings: CronBindings,
    specs: watch::Receiver<Arc<Vec<CronSpec>>>,
    host: Arc<H>,
    sink: Option<Arc<dyn ResultSink>>,
    state_dir: Option<PathBuf>,
    stats: Arc<CronStats>,
    seed: u64,
    grace: Duration,
}

impl<H: FunctionHost> CronTrigger<H> {
    /// A trigger for `specs`, persisting last fires under `state_dir`.
    pub fn new(specs: Vec<CronSpec>, host: Arc<H>, state_dir: Option<PathBuf>) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        let (bindings, specs) = CronBindings::new(specs);
        Self {
            bindings,
            specs,
            host,
            sink: None,
            state_dir,
            stats: Arc::default(),
            seed,
            grace: DEFAULT_GRACE,
        }
    }

    /// How long runs get to finish (and to hand their results over) once
    /// the trigger stops; past it they are stopped, their results lost.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sends the results of schedules with a `publish` topic to `sink`.
    pub fn with_sink(mut self, sink: Arc<dyn ResultSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The handle that changes the schedules while the trigger runs.
    pub fn bindings(&self) -> CronBindings {
        self.bindings.clone()
    }

    /// What the trigger counts (skipped and caught-up fires, lateness),
    /// shared with the running trigger.
    pub fn stats(&self) -> Arc<CronStats> {
        self.stats.clone()
    }

    /// Runs every schedule until `shutdown` completes, following the
    /// changes its [`CronBindings`] make, then waits for the runs in
    /// flight, at most the grace.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) {
        let mut running = Running::default();
        let mut loops = JoinSet::new();
        let timer = FineTimer::start();
        tokio::pin!(shutdown);
        // Loops started at start-up resume from the last fire on disk; one
        // started by a change starts from now (the stored time belongs to
        // the schedule as it was, and would read as missed fires).
        let mut resume = true;
        loop {
            let specs = self.specs.borrow_and_update().clone();
            for (spec, stopped) in running.reconcile(&specs) {
                loops.spawn(self.schedule_loop(spec, &timer).run(stopped, resume));
            }
            resume = false;
            while loops.try_join_next().is_some() {}
            tokio::select! {
                changed = self.specs.changed() => if changed.is_err() {
                    (&mut shutdown).await;
                    break;
                },
                () = &mut shutdown => break,
            }
        }
        running.stop_all();
        while loops.join_next().await.is_some() {}
    }

    fn schedule_loop(&self, spec: CronSpec, timer: &FineTimer) -> ScheduleLoop<H> {
        ScheduleLoop {
            spec,
            timer: timer.clone(),
            host: self.host.clone(),
            sink: self.sink.clone(),
            state_dir: self.state_dir.clone(),
            stats: self.stats.clone(),
            seed: self.seed,
            grace: self.grace,
        }
    }
}

impl<H: FunctionHost> Trigger for CronTrigger<H> {
    fn kind(&self) -> &'static str {
        "cron"
    }

    fn stage(&self) -> Stage {
        Stage::Sources
    }

    fn run(self: Box<Self>, shutdown: BoxFuture) -> BoxFuture {
        Box::pin(CronTrigger::run(*self, shutdown))
    }
}

struct ScheduleLoop<H> {
    spec: CronSpec,
    /// Ends each wait for a fire precisely (shared by the schedules).
    timer: FineTimer,
    host: Arc<H>,
    sink: Option<Arc<dyn ResultSink>>,
    state_dir: Option<PathBuf>,
    stats: Arc<CronStats>,
    seed: u64,
    grace: Duration,
}

impl<H: FunctionHost> ScheduleLoop<H> {
    /// Fires the schedule until it has no more fires or `stop` says so,
    /// then waits for its runs (at most the grace when stopped).
    async fn run(self, mut stop: watch::Receiver<bool>, resume: bool) {
        let name = self.spec.name.clone();
        let state = self.state_dir.as_deref().map(|dir| state_file(dir, &name));
        let mut ticker = self.ticker(state.as_deref(), resume);
        let running = Arc::new(AtomicBool::new(false));
        let this = Arc::new(self);
        let mut runs = JoinSet::new();
        let mut skip_log = SkipLog::default();
        tracing::info!(schedule = %name, every = %ticker.schedule().describe(), zone = %ticker.schedule().zone(), "cron schedule started");
        loop {
            let Some(due) = ticker.next(Utc::now()) else {
                tracing::info!(schedule = %name, "schedule has no more fires");
                break;
            };
            this.count_skipped(due.skipped);
            let fire_at = this.fire_at(&due);
            match sleep_until(fire_at, &mut stop, &this.timer).await {
                Wake::Fire => {}
                Wake::Stop => break,
                Wake::ClockBack => {
                    tracing::warn!(schedule = %name, "the wall clock went back: planning again from now");
                    ticker.rewind(Utc::now());
                    continue;
                }
            }
            if this.spec.overlap == Overlap::Skip && running.swap(true, Ordering::AcqRel) {
                this.skip_overlapping(&mut skip_log, due.planned);
                continue;
            }
            if let Some(file) = state.clone() {
                persist_last_fire(file, name.clone(), due.planned);
            }
            let (this, running) = (this.clone(), RunningGuard(running.clone()));
            runs.spawn(async move {
                this.fire(due.planned, fire_at, due.catch_up, running).await;
            });
            while runs.try_join_next().is_some() {}
        }
        // A schedule that ended waits for its runs; one that stops gives
        // them the grace.
        let grace = if *stop.borrow() {
            this.grace
        } else {
            Duration::MAX
        };
        finish_runs(runs, grace, &name).await;
    }

    /// The schedule's ticker, from the last fire in `state` when resuming.
    fn ticker(&self, state: Option<&Path>, resume: bool) -> Ticker {
        let last = state.filter(|_| resume).and_then(read_last_fire);
        Ticker::new(
            self.spec.schedule.clone(),
            last,
            Utc::now(),
            self.spec.catch_up,
            self.spec.jitter,
        )
    }

    /// Counts and logs the fires missed before this one, if any.
    fn count_skipped(&self, skipped: u64) {
        if skipped > 0 {
            self.stats.skipped.fetch_add(skipped, Ordering::Relaxed);
            tracing::warn!(schedule = %self.spec.name, skipped, "missed fires were skipped (device off or clock jumped)");
        }
    }

    /// When to fire for `due`: now for a catch-up, else the planned time
    /// spread by the schedule's jitter.
    fn fire_at(&self, due: &Due) -> DateTime<Utc> {
        if due.catch_up {
            Utc::now()
        } else {
            due.planned + ticker::jitter(self.seed, &self.spec.name, due.planned, self.spec.jitter)
        }
    }

    /// Counts a fire skipped because the previous run still goes, and logs
    /// it (one line a minute at most).
    fn skip_overlapping(&self, skip_log: &mut SkipLog, planned: DateTime<Utc>) {
        self.stats.skipped.fetch_add(1, Ordering::Relaxed);
        if let Some(skipped) = skip_log.skipped(std::time::Instant::now()) {
            tracing::warn!(schedule = %self.spec.name, planned = %rfc3339(planned), skipped, "previous run still going: fire skipped (one line a minute at most)");
        }
    }

    /// One fire: runs the function (the schedule counts as running until
    /// it returns: `running`), then logs, publishes and records the result.
    async fn fire(
        &self,
        planned: DateTime<Utc>,
        fire_at: DateTime<Utc>,
        catch_up: bool,
        running: RunningGuard,
    ) {
        let started = Utc::now();
        let clock = Instant::now();
        let spec = &self.spec;
        let mut event = EventBuilder::new("cron", &spec.name, "SCHEDULE");
        event
            .fenn_header("schedule", spec.schedule.describe())
            .fenn_header("timezone", spec.schedule.zone())
            .fenn_header("planned-time", rfc3339(planned))
            .fenn_header("fire-time", rfc3339(started));
        if catch_up {
            event.fenn_header("catch-up", "true");
        }
        let event = event.text(&spec.body);
        let result = self.host.invoke(&spec.function, event).await;
        drop(running);
        let duration = clock.elapsed();
        // The fire time (x-fenn-fire-time) is planned + jitter_us + late_us.
        let late = (started - fire_at).to_std().unwrap_or_default();
        let late_us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        let jitter = (fire_at - planned).to_std().unwrap_or_default();
        let jitter_us = u64::try_from(jitter.as_micros()).unwrap_or(u64::MAX);
        self.stats.lateness.observe(late);
        if catch_up {
            self.stats.caught_up.fetch_add(1, Ordering::Relaxed);
        }
        match &result {
            Ok(response) => {
                let body: String = response.body.chars().take(LOGGED_BODY).collect();
                tracing::info!(
                    schedule = %spec.name, function = %spec.function, status = response.status_code,
                    planned = %rfc3339(planned), jitter_us, late_us, duration_us = duration.as_micros() as u64,
                    body = %body, "cron run"
                );
            }
            Err(error) => {
                fenn_runtime::limited!(
                    warn,
                    "cron run failed",
                    &spec.function,
                    schedule = %spec.name, function = %spec.function, planned = %rfc3339(planned),
                    jitter_us, late_us, %error, "cron run failed"
                );
            }
        }
        if let (Some(topic), Some(sink)) = (&spec.publish, &self.sink) {
            // The sink logs a result it drops or loses.
            sink.deliver(topic, &result).await;
        }
    }
}

/// Clears the "a run is going" flag when the run ends, however it ends
/// (a panic in a run must not stop an overlap-skip schedule for good).
struct RunningGuard(Arc<AtomicBool>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Writes `planned` as the schedule's last fire to `file`, off the async
/// workers; a failure is logged.
fn persist_last_fire(file: PathBuf, schedule: String, planned: DateTime<Utc>) {
    // fsync can take long on an SD card: off the async workers.
    tokio::task::spawn_blocking(move || {
        if let Err(error) = write_last_fire(&file, planned) {
            let full = fenn_runtime::files::is_full(&error);
            let hint = if full { " (the disk is full)" } else { "" };
            fenn_runtime::limited!(warn, "cron state not written", "", %schedule, %error, "could not persist the last fire time{hint}");
        }
    });
}

/// Waits for the schedule's runs, at most `grace`; those still going
/// then are stopped, their results lost.
async fn finish_runs(mut runs: JoinSet<()>, grace: Duration, name: &str) {
    let finished = tokio::time::timeout(grace, async { while runs.join_next().await.is_some() {} });
    if finished.await.is_err() {
        tracing::warn!(schedule = %name, runs = runs.len(), "cron: runs still going when the shutdown grace ran out were stopped; their results are lost");
        runs.abort_all();
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn state_file(dir: &Path, schedule: &str) -> PathBuf {
    dir.join("cron").join(format!("{schedule}.last"))
}

fn read_last_fire(file: &Path) -> Option<DateTime<Utc>> {
    let text = std::fs::read_to_string(file).ok()?;
    match text.trim().parse() {
        Ok(at) => Some(at),
        Err(error) => {
            tracing::warn!(file = %file.display(), %error, "ignoring an unreadable last fire time");
            None
        }
    }
}

/// Replaces the file's content atomically and durably, unless it already
/// holds a later fire. Runs of one schedule may overlap (`overlap =
/// "allow"`) and persist from detached tasks: writes take turns, and each
/// goes through a temporary file of its own.
fn write_last_fire(file: &Path, planned: DateTime<Utc>) -> std::io::Result<()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if read_last_fire(file).is_some_and(|stored| stored >= planned) {
        return Ok(());
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.ok_or_else(|| std::io::Error::other("the state file has no name"))?;
    remove_temporaries(dir, &name);
    fenn_runtime::files::write_atomically(dir, &name, rfc3339(planned).as_bytes())
}

/// Deletes the temporary files of `name` a write cut short by a crash left
/// in `dir` (none is in flight: writes take turns).
fn remove_temporaries(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix) && file.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn concurrent_writes_of_one_schedule_keep_the_latest_fire() {
        let dir = std::env::temp_dir().join(format!("fenn-last-fire-{}", std::process::id()));
        let file = dir.join("cron").join("fast.last");
        let base = Utc::now();
        std::thread::scope(|scope| {
            for i in 0..32 {
                let file = &file;
                scope.spawn(move || {
                    write_last_fire(file, base + TimeDelta::milliseconds(i)).unwrap();
                });
            }
        });
        assert_eq!(
            read_last_fire(&file).map(rfc3339),
            Some(rfc3339(base + TimeDelta::milliseconds(31)))
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_running_flag_clears_even_when_a_run_panics() {
        let running = Arc::new(AtomicBool::new(true));
        let guard = RunningGuard(running.clone());
        let result = std::panic::catch_unwind(move || {
            let _guard = guard;
            panic!("a run panicked");
        });
        assert!(result.is_err());
        assert!(!running.load(Ordering::Acquire));
    }

    #[test]
    fn the_last_fire_survives_a_write_and_a_read() {
        let dir = std::env::temp_dir().join(format!("fenn-cron-state-{}", std::process::id()));
        let file = state_file(&dir, "sample");
        let at: DateTime<Utc> = "2026-03-29T01:00:00.250Z".parse().unwrap();
        write_last_fire(&file, at).unwrap();
        assert_eq!(read_last_fire(&file), Some(at));
        std::fs::write(&file, "garbage").unwrap();
        assert_eq!(read_last_fire(&file), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_the_old_temporary_name_is_not_followed_and_leftovers_go() {
        let dir = std::env::temp_dir().join(format!("fenn-cron-planted-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let outside = dir.join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let file = state_file(&dir, "sample");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        // The names the old code took: this process's id and a counter
        // other tests also advance.
        for n in 0..200 {
            let name = format!("{}-{n}.tmp", std::process::id());
            let planted = file.with_extension(name);
            std::os::unix::fs::symlink(outside.join(n.to_string()), planted).unwrap();
        }
        let leftover = file
            .parent()
            .unwrap()
            .join(".sample.last.0123456789abcdef.tmp");
        std::fs::write(&leftover, "cut short").unwrap();
        let at: DateTime<Utc> = "2026-03-29T01:00:00.250Z".parse().unwrap();
        write_last_fire(&file, at).unwrap();
        assert_eq!(read_last_fire(&file), Some(at));
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert!(!leftover.exists(), "a crash's temporary file is deleted");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
