//! Reconnect delays: exponential from 0.5 s up to 30 s, each drawn from
//! the upper half of its step so a fleet does not reconnect in lockstep;
//! and [`Poison`], which tells a broker that sends the same unreadable
//! packet after every reconnect from a connection that merely fails.

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

/// Losses on the same unreadable packet, in a row, that make a poison
/// message: one the broker sends again after each reconnect (retained, or
/// queued in the persistent session) and that fenn can never read.
pub const POISON_AFTER: u32 = 3;

/// What a loss on an unreadable packet means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not (yet) a poison message: say so as any lost connection.
    Lost,
    /// Now known to be a poison message: say it, once.
    Poison,
    /// The poison message again: nothing new to say.
    Again,
}

/// Connection losses on an unreadable packet, in a row. While a poison
/// message is known, a connection that succeeds does not reset the
/// backoff: the next loss waits longer, up to its ceiling.
#[derive(Debug, Clone, Default)]
pub struct Poison {
    /// The last unreadable packet's error (it names the packet's size),
    /// and how many losses in a row it made.
    last: Option<(String, u32)>,
}

impl Poison {
    /// The connection was lost on an unreadable packet, with `error`.
    pub fn unreadable(&mut self, error: &str) -> Verdict {
        let times = match &mut self.last {
            Some((last, times)) if last == error => {
                *times = times.saturating_add(1);
                *times
            }
            _ => {
                self.last = Some((error.to_owned(), 1));
                1
            }
        };
        match times {
            n if n < POISON_AFTER => Verdict::Lost,
            POISON_AFTER => Verdict::Poison,
            _ => Verdict::Again,
        }
    }

    /// The connection was lost for another reason: whatever came before
    /// is over.
    pub fn clear(&mut self) {
        self.last = None;
    }

    /// Whether a poison message is known now.
    pub fn known(&self) -> bool {
        self.last
            .as_ref()
            .is_some_and(|(_, times)| *times >= POISON_AFTER)
    }
}

/// The reconnect delays, and the poison message that holds them up.
#[derive(Debug, Clone, Default)]
pub struct Reconnect {
    backoff: Backoff,
    poison: Poison,
}

impl Reconnect {
    /// Connected: the delays start over, unless a poison message is known
    /// (it breaks the connection again at once: the delays keep growing
    /// meanwhile).
    pub fn connected(&mut self) {
        if !self.poison.known() {
            self.backoff.reset();
        }
    }

    /// Lost on an unreadable packet, with `error`: what that means, and
    /// the delay before the next try (`random` is any random number).
    pub fn unreadable(&mut self, error: &str, random: u64) -> (Verdict, Duration) {
        let verdict = self.poison.unreadable(error);
        (verdict, self.backoff.next(random))
    }

    /// Lost for another reason, after being connected if `was_up`: the
    /// delay before the next try. Whatever came before is over; and a
    /// connection that was up and ended otherwise than on the poison
    /// message shows that message purged: the delays start over then,
    /// not at the ceiling the poison message left them at.
    pub fn lost(&mut self, was_up: bool, random: u64) -> Duration {
        if was_up && self.poison.known() {
            self.backoff.reset();
        }
        self.poison.clear();
        self.backoff.next(random)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_unreadable_packet_three_times_in_a_row_is_a_poison_message_said_once() {
        let mut poison = Poison::default();
        let big = "payload size limit exceeded: 2097166";
        assert_eq!(poison.unreadable(big), Verdict::Lost);
        assert_eq!(poison.unreadable(big), Verdict::Lost);
        assert!(!poison.known());
        assert_eq!(poison.unreadable(big), Verdict::Poison);
        assert!(poison.known());
        assert_eq!(poison.unreadable(big), Verdict::Again);
        assert_eq!(poison.unreadable(big), Verdict::Again);
        // Another packet starts the count anew, and so does another loss.
        assert_eq!(poison.unreadable("Malformed packet"), Verdict::Lost);
        assert!(!poison.known());
        poison.unreadable(big);
        poison.unreadable(big);
        poison.clear();
        assert_eq!(poison.unreadable(big), Verdict::Lost);
    }

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

    #[test]
    fn once_a_poison_message_is_purged_the_next_loss_waits_the_first_delay() {
        let mut reconnect = Reconnect::default();
        let big = "payload size limit exceeded: 2097166";
        for _ in 0..12 {
            reconnect.connected();
            reconnect.unreadable(big, 0);
        }
        assert!(reconnect.poison.known());
        // Purged: the next connection holds, then ends for another reason.
        reconnect.connected();
        assert!(reconnect.lost(true, 0) < FIRST);
        assert!(!reconnect.poison.known());
        // A broker that cannot be reached only grows the delays.
        assert!(reconnect.lost(false, 0) >= FIRST / 2);
        assert!(reconnect.lost(false, 0) >= FIRST);
    }

    #[test]
    fn a_known_poison_message_keeps_the_delays_growing_across_connections() {
        let mut reconnect = Reconnect::default();
        let big = "payload size limit exceeded: 2097166";
        let mut last = Duration::ZERO;
        for _ in 0..12 {
            reconnect.connected();
            let (_, delay) = reconnect.unreadable(big, 0);
            last = delay;
        }
        assert!(last >= Duration::from_secs(15), "{last:?}");
    }
}
