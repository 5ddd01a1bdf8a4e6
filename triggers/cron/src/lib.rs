//! fenn's cron trigger: runs functions on schedules, in any IANA time zone,
//! right across daylight-saving changes, never twice at once unless asked,
//! and at most once to catch up after the device was off.
//!
//! Schedule arithmetic is [croner]'s (the parser tokio-cron-scheduler uses),
//! driven by fenn's own loop: tokio-cron-scheduler works out a job's UTC
//! offset once, when the job is created, so a local-time job drifts by an
//! hour after a DST change, and it has no overlap control.
//!
//! # Layout
//!
//! - [`schedule`]: [`Schedule`], an expression or interval in a time zone,
//!   and the next fire time after any instant (pure, DST rules documented).
//! - [`ticker`]: [`Ticker`], which fire comes next given the last one and
//!   the clock: skipped fires, bounded catch-up, jitter (pure).
//! - [`history`]: [`CronStats`], counts for the metrics, and [`SkipLog`].
//! - [`trigger`]: [`CronTrigger`], the loop that sleeps, fires, persists
//!   the last fire time and logs each result.
//! - `wait` and `timer`: sleeping until a fire time, the last few
//!   milliseconds on a timer thread of the trigger's, as tokio's timer
//!   wakes up to 2 ms late.
//! - [`binding`]: [`RawSchedule`], a schedule's keys and their validation.
//! - [`bindings`]: [`CronBindings`], changing the schedules while the
//!   trigger runs.
//! - [`kind`]: [`CronKind`] and [`CronSetup`], the trigger in fenn's
//!   registry: schedules read and checked as a set, `publish` checked by
//!   the sink that takes the results, the trigger started with its
//!   metrics.
//!
//! [croner]: https://docs.rs/croner

pub mod binding;
pub mod bindings;
pub mod history;
pub mod kind;
pub mod schedule;
pub mod ticker;
mod timer;
pub mod trigger;
mod wait;

pub use binding::RawSchedule;
pub use bindings::CronBindings;
pub use history::{CronStats, SkipLog};
pub use kind::{CronKind, CronSetup};
pub use schedule::{Schedule, ScheduleError};
pub use ticker::Ticker;
pub use trigger::{CronSpec, CronTrigger, Overlap};
