//! Which fire comes next: the schedule, the last fire and the clock, with
//! no clock of its own (tests pass the time in).
//!
//! A fire is due at its planned time. When the planned time has already
//! passed by more than [`LATE`] (the device was off, or its clock jumped
//! forward), the missed fires are skipped and counted; with catch-up on,
//! the most recent of them runs once, at once, never a burst.

use crate::Schedule;
use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// How late a fire may start and still count as on time.
pub const LATE: TimeDelta = TimeDelta::seconds(1);

/// The next fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// When the fire was planned (in the past for a catch-up).
    pub planned: DateTime<Utc>,
    /// Fires missed before this one and not run.
    pub skipped: u64,
    /// Whether this is the one catch-up fire for missed ones.
    pub catch_up: bool,
}

/// Walks a schedule forward, one fire at a time.
#[derive(Debug, Clone)]
pub struct Ticker {
    schedule: Schedule,
    cursor: DateTime<Utc>,
    catch_up: bool,
    /// How late a fire may be and still be on time: [`LATE`] plus the
    /// schedule's jitter (a jittered fire is late by design, not missed).
    tolerance: TimeDelta,
}

impl Ticker {
    /// A ticker that starts after `last_fire` (the persisted last planned
    /// fire, if any) or else after `now`.
    pub fn new(
        schedule: Schedule,
        last_fire: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        catch_up: bool,
        jitter: Duration,
    ) -> Self {
        let cursor = match last_fire {
            Some(last) if last < now => last,
            _ => now,
        };
        Self {
            schedule,
            cursor,
            catch_up,
            tolerance: LATE + TimeDelta::from_std(jitter).unwrap_or(TimeDelta::zero()),
        }
    }

    /// Starts again from `now`, after the wall clock went backwards: the
    /// next fire is the schedule's first after `now`.
    pub fn rewind(&mut self, now: DateTime<Utc>) {
        self.cursor = now;
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The next fire as of `now`, or `None` if the schedule has ended.
    pub fn next(&mut self, now: DateTime<Utc>) -> Option<Due> {
        let planned = self.schedule.next_after(self.cursor)?;
        if planned + self.tolerance >= now {
            self.cursor = planned;
            return Some(Due {
                planned,
                skipped: 0,
                catch_up: false,
            });
        }
        // Missed: from `planned` up to the last fire at or before now.
        let last_missed = self
            .schedule
            .last_at_or_before(now)
            .unwrap_or(planned)
            .max(planned);
        let missed = self.count(planned, last_missed);
        if self.catch_up {
            self.cursor = last_missed;
            return Some(Due {
                planned: last_missed,
                skipped: missed - 1,
                catch_up: true,
            });
        }
        self.cursor = now;
        let next = self.schedule.next_after(now)?;
        self.cursor = next;
        Some(Due {
            planned: next,
            skipped: missed,
            catch_up: false,
        })
    }

    /// Fires from `first` to `last` inclusive, counted up to 1 000 (the
    /// count is for the log; this runs on the trigger's task).
    fn count(&self, first: DateTime<Utc>, last: DateTime<Utc>) -> u64 {
        const BOUND: u64 = 1_000;
        let mut count = 1;
        let mut at = first;
        while count < BOUND {
            match self.schedule.next_after(at) {
                Some(next) if next <= last => {
                    at = next;
                    count += 1;
                }
                _ => break,
            }
        }
        count
    }
}

/// A delay in `[0, max)` for one fire of one schedule, spread evenly but
/// the same for the same inputs (`seed` differs per device).
pub fn jitter(seed: u64, schedule: &str, planned: DateTime<Utc>, max: Duration) -> Duration {
    let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if max_ms == 0 {
        return Duration::ZERO;
    }
    // FNV-1a over the inputs, then a splitmix64 finish for an even spread.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in schedule
        .bytes()
        .chain(planned.timestamp_millis().to_le_bytes())
    {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    Duration::from_millis(hash % max_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn hourly() -> Schedule {
        Schedule::parse("@hourly", "UTC").unwrap()
    }

    #[test]
    fn on_time_fires_follow_the_schedule() {
        let now = utc("2026-01-01T00:30:00Z");
        let mut ticker = Ticker::new(hourly(), None, now, false, Duration::ZERO);
        let due = ticker.next(now).unwrap();
        assert_eq!(
            (due.planned, due.skipped, due.catch_up),
            (utc("2026-01-01T01:00:00Z"), 0, false)
        );
        // Fired a little late (within LATE): still the next one in line.
        let due = ticker.next(utc("2026-01-01T01:00:00.500Z")).unwrap();
        assert_eq!(due.planned, utc("2026-01-01T02:00:00Z"));
    }

    #[test]
    fn after_downtime_without_catch_up_the_missed_fires_are_skipped_and_counted() {
        let last = utc("2026-01-01T01:00:00Z");
        let now = utc("2026-01-01T05:30:00Z");
        let mut ticker = Ticker::new(hourly(), Some(last), now, false, Duration::ZERO);
        let due = ticker.next(now).unwrap();
        assert_eq!(
            (due.planned, due.skipped, due.catch_up),
            (utc("2026-01-01T06:00:00Z"), 4, false)
        );
    }

    #[test]
    fn after_downtime_with_catch_up_exactly_one_missed_fire_runs() {
        let last = utc("2026-01-01T01:00:00Z");
        let now = utc("2026-01-01T05:30:00Z");
        let mut ticker = Ticker::new(hourly(), Some(last), now, true, Duration::ZERO);
        let due = ticker.next(now).unwrap();
        // 02:00..05:00 were missed: the latest runs now, three are skipped.
        assert_eq!(
            (due.planned, due.skipped, due.catch_up),
            (utc("2026-01-01T05:00:00Z"), 3, true)
        );
        // Then back on schedule, no burst.
        let due = ticker.next(now).unwrap();
        assert_eq!(
            (due.planned, due.skipped, due.catch_up),
            (utc("2026-01-01T06:00:00Z"), 0, false)
        );
    }

    #[test]
    fn a_clock_jump_forward_while_running_is_a_gap_like_downtime() {
        let start = utc("2026-01-01T00:30:00Z");
        let mut ticker = Ticker::new(hourly(), None, start, true, Duration::ZERO);
        assert_eq!(
            ticker.next(start).unwrap().planned,
            utc("2026-01-01T01:00:00Z")
        );
        // The clock jumps to 09:10 before the 02:00 fire.
        let due = ticker.next(utc("2026-01-01T09:10:00Z")).unwrap();
        assert_eq!(
            (due.planned, due.skipped, due.catch_up),
            (utc("2026-01-01T09:00:00Z"), 7, true)
        );
    }

    #[test]
    fn a_last_fire_in_the_future_is_ignored() {
        // The clock went backwards since the last run was persisted.
        let now = utc("2026-01-01T00:30:00Z");
        let mut ticker = Ticker::new(
            hourly(),
            Some(utc("2026-06-01T00:00:00Z")),
            now,
            true,
            Duration::ZERO,
        );
        assert_eq!(
            ticker.next(now).unwrap().planned,
            utc("2026-01-01T01:00:00Z")
        );
    }

    #[test]
    fn a_fire_late_by_its_jitter_is_on_time_not_missed() {
        let every = Schedule::parse("every 1s", "UTC").unwrap();
        let start = utc("2026-01-01T00:00:00.500Z");
        let mut ticker = Ticker::new(every, None, start, false, Duration::from_secs(5));
        assert_eq!(
            ticker.next(start).unwrap().planned,
            utc("2026-01-01T00:00:01Z")
        );
        // It fired 4.5 s after its planned time (jitter): the next is due.
        let due = ticker.next(utc("2026-01-01T00:00:05.500Z")).unwrap();
        assert_eq!((due.planned, due.skipped), (utc("2026-01-01T00:00:02Z"), 0));
    }

    #[test]
    fn after_the_clock_goes_back_a_rewind_plans_from_the_new_now() {
        let start = utc("2026-01-01T05:30:00Z");
        let mut ticker = Ticker::new(hourly(), None, start, false, Duration::ZERO);
        assert_eq!(
            ticker.next(start).unwrap().planned,
            utc("2026-01-01T06:00:00Z")
        );
        // The clock is set back three hours (an RTC-less board syncing NTP).
        let now = utc("2026-01-01T02:40:00Z");
        ticker.rewind(now);
        assert_eq!(
            ticker.next(now).unwrap().planned,
            utc("2026-01-01T03:00:00Z")
        );
    }

    #[test]
    fn jitter_stays_within_bounds_spreads_and_repeats() {
        let max = Duration::from_millis(2_000);
        let mut seen = std::collections::BTreeSet::new();
        let base = utc("2026-01-01T00:00:00Z");
        for i in 0..1_000 {
            let planned = base + TimeDelta::seconds(i);
            let delay = jitter(7, "sample", planned, max);
            assert!(delay < max);
            assert_eq!(delay, jitter(7, "sample", planned, max));
            seen.insert(delay.as_millis() / 200);
        }
        assert_eq!(seen.len(), 10, "all ten 200 ms buckets are used");
        assert_eq!(jitter(7, "sample", base, Duration::ZERO), Duration::ZERO);
    }
}
