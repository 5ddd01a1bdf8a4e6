//! Waiting for a fire time on the wall clock: long waits on tokio's timer,
//! in steps that notice a clock that jumps, and the last few milliseconds
//! on the [`FineTimer`], so that a fire starts within tens of microseconds
//! of its time rather than the 1-2 ms tokio's millisecond ticks add.

use crate::ticker::LATE;
use crate::timer::FineTimer;
use chrono::{DateTime, TimeDelta, Utc};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest single sleep: the wall clock is looked at again after it, so a
/// clock that jumps (NTP on a device without a battery-backed clock) is
/// noticed within this time.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// The end of a wait that the [`FineTimer`] waits: more than tokio's timer
/// oversleeps (2 ms, more on a busy device), so that its wake-up comes
/// before the fire time.
pub(crate) const MARGIN: Duration = Duration::from_millis(5);

/// The next step of a wait, from the time left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The time has come (or passed).
    Fire,
    /// A sleep on tokio's timer, ending [`MARGIN`] before the time at the
    /// latest, and at most [`MAX_SLEEP`].
    Coarse(Duration),
    /// The rest of the wait, on the [`FineTimer`].
    Fine(Duration),
}

impl Step {
    /// The step to take with `left` to wait.
    fn towards(left: TimeDelta) -> Self {
        let Ok(left) = left.to_std() else {
            return Step::Fire;
        };
        if left.is_zero() {
            Step::Fire
        } else if left <= MARGIN {
            Step::Fine(left)
        } else {
            Step::Coarse((left - MARGIN).min(MAX_SLEEP))
        }
    }

    /// Takes the step (not [`Step::Fire`], which waits for nothing).
    async fn take(self, timer: &FineTimer) {
        match self {
            Step::Fire => {}
            Step::Coarse(sleep) => tokio::time::sleep(sleep).await,
            Step::Fine(rest) => timer.sleep_until(Instant::now() + rest).await,
        }
    }

    /// How long the step waits.
    fn length(self) -> Duration {
        match self {
            Step::Fire => Duration::ZERO,
            Step::Coarse(length) | Step::Fine(length) => length,
        }
    }
}

/// Why [`sleep_until`] returned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// The fire time came (or passed: the clock jumped forward).
    Fire,
    /// The trigger is stopping.
    Stop,
    /// The wall clock went backwards while waiting.
    ClockBack,
}

/// Whether the wall clock went back: the wait left is longer than what was
/// left before minus what was slept, by more than a small margin.
fn clock_went_back(expected: TimeDelta, left: TimeDelta) -> bool {
    left > expected + LATE + LATE
}

/// Sleeps until the wall clock reaches `at`, in steps of at most
/// [`MAX_SLEEP`] so that a clock that jumps is noticed, the last of them
/// on `timer`.
pub(crate) async fn sleep_until(
    at: DateTime<Utc>,
    stop: &mut watch::Receiver<bool>,
    timer: &FineTimer,
) -> Wake {
    let mut expected = at - Utc::now();
    loop {
        if *stop.borrow() {
            return Wake::Stop;
        }
        let left = at - Utc::now();
        let step = Step::towards(left);
        if step == Step::Fire {
            return Wake::Fire;
        }
        if clock_went_back(expected, left) {
            return Wake::ClockBack;
        }
        tokio::select! {
            () = step.take(timer) => {}
            _ = stop.changed() => return Wake::Stop,
        }
        expected = left - TimeDelta::from_std(step.length()).unwrap_or(TimeDelta::zero());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_sleeps_on_tokio_until_the_margin_then_on_the_fine_timer() {
        let ms = TimeDelta::milliseconds;
        assert_eq!(Step::towards(ms(-3)), Step::Fire);
        assert_eq!(Step::towards(ms(0)), Step::Fire);
        let fine = Step::towards(TimeDelta::microseconds(300));
        assert_eq!(fine, Step::Fine(Duration::from_micros(300)));
        assert_eq!(Step::towards(ms(5)), Step::Fine(MARGIN));
        let coarse = Step::towards(ms(100));
        assert_eq!(coarse, Step::Coarse(Duration::from_millis(100) - MARGIN));
        assert_eq!(Step::towards(TimeDelta::hours(2)), Step::Coarse(MAX_SLEEP));
    }

    #[test]
    fn a_wait_that_grows_means_the_clock_went_back() {
        let minute = TimeDelta::minutes(1);
        assert!(!clock_went_back(minute, minute));
        assert!(!clock_went_back(minute, minute - TimeDelta::seconds(10)));
        assert!(!clock_went_back(
            minute,
            minute + TimeDelta::milliseconds(500)
        ));
        assert!(clock_went_back(minute, minute + TimeDelta::hours(1)));
    }

    #[tokio::test]
    async fn a_time_passed_fires_and_a_stop_ends_a_long_wait() {
        let timer = FineTimer::start();
        let (stop, mut stopped) = watch::channel(false);
        let past = Utc::now() - TimeDelta::seconds(1);
        assert_eq!(sleep_until(past, &mut stopped, &timer).await, Wake::Fire);
        let waiting = tokio::spawn(async move {
            let later = Utc::now() + TimeDelta::hours(1);
            sleep_until(later, &mut stopped, &timer).await
        });
        stop.send(true).unwrap();
        assert_eq!(waiting.await.unwrap(), Wake::Stop);
    }
}
