//! Reconnect delays: exponential from 0.5 s up to 30 s, each drawn from
//! the upper half of its step so a fleet does not reconnect in lockstep.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(500);
const LAST: Duration = Duration::from_secs(30);

/// Delays between reconnect attempts.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// The delay before the next attempt; `random` is any random number.
    pub fn next(&mut self, random: u64) -> Duration {
        let step = FIRST.saturating_mul(1 << self.attempt.min(10)).min(LAST);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
        half + Duration::from_millis(random % spread)
    }

    /// Back to the first delay, after a connection succeeded.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_thirty_seconds_within_their_upper_half() {
        let mut backoff = Backoff::default();
        let bounds = [(250, 500), (500, 1_000), (1_000, 2_000), (2_000, 4_000)];
        for (low, high) in bounds {
            for random in [0, u64::MAX / 3, u64::MAX] {
                let mut probe = backoff.clone();
                let delay = probe.next(random).as_millis();
                assert!((low..high).contains(&delay), "{delay} not in {low}..{high}");
            }
            backoff.next(0);
        }
        for _ in 0..20 {
            backoff.next(7);
        }
        let delay = backoff.next(u64::MAX);
        assert!(
            delay >= Duration::from_secs(15) && delay < LAST,
            "{delay:?}"
        );
        backoff.reset();
        assert!(backoff.next(0) < FIRST);
    }
}
