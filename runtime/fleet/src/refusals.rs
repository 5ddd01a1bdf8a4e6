//! Refused deployments, told without letting a flood of them fill the
//! device's log or its broker: a message refused before is not checked
//! again, and a refusal is logged and reported at most once a period,
//! with how many were held back meanwhile.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The least time between two refusals told.
pub(crate) const PERIOD: Duration = Duration::from_secs(10);

/// What was refused, and when a refusal was last told.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    /// The hash of the last message refused, by topic (a device has a
    /// few desired-state topics).
    last: BTreeMap<String, [u8; 32]>,
    told: Option<Instant>,
    held: u64,
}

fn hash(payload: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, payload);
    let mut hash = [0; 32];
    hash.copy_from_slice(digest.as_ref());
    hash
}

impl Refusals {
    /// Whether `payload` is the message last refused on `topic`.
    pub(crate) fn again(&self, topic: &str, payload: &[u8]) -> bool {
        self.last.get(topic) == Some(&hash(payload))
    }

    /// Notes `payload` refused on `topic` at `now`: Some with the number
    /// held back since the last one told when this one is to be told.
    pub(crate) fn refused(&mut self, topic: &str, payload: &[u8], now: Instant) -> Option<u64> {
        self.last.insert(topic.to_owned(), hash(payload));
        if self
            .told
            .is_some_and(|told| now.duration_since(told) < PERIOD)
        {
            self.held += 1;
            return None;
        }
        self.told = Some(now);
        Some(std::mem::take(&mut self.held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_message_is_known_and_a_flood_is_told_once_a_period() {
        let mut refusals = Refusals::default();
        let start = Instant::now();
        assert!(!refusals.again("t", b"a"));
        assert_eq!(refusals.refused("t", b"a", start), Some(0));
        assert!(refusals.again("t", b"a"));
        assert!(!refusals.again("u", b"a"));
        for i in 0..100u32 {
            assert_eq!(
                refusals.refused("t", &i.to_le_bytes(), start + Duration::from_millis(1)),
                None
            );
        }
        assert!(!refusals.again("t", b"a"));
        assert_eq!(refusals.refused("t", b"b", start + PERIOD), Some(100));
    }
}
