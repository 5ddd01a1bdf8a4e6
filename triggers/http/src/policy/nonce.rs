//! Nonces of signed requests already seen, so that a replay is refused.
//!
//! A nonce must be remembered only while its timestamp is in the window;
//! past that, the timestamp refuses the replay. The cache holds at most
//! `max` nonces (a keyed hash of app and nonce, 16 bytes each with its
//! time). When it is full the oldest is forgotten and its timestamp
//! becomes a horizon: a request stamped at or before it is refused as
//! stale, since fenn can no longer tell whether it was seen. Requests
//! stamped now pass, so the bound costs only replays of old ones.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher as _, RandomState};
use std::sync::Mutex;

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// Seen before: a replay.
    Used,
    /// Stamped before what the cache still remembers.
    TooOld,
}

/// The nonces seen, bounded in number.
#[derive(Debug)]
pub struct Nonces {
    inner: Mutex<Inner>,
    max: usize,
    hasher: RandomState,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashSet<u64>,
    /// In the order seen: the hash and the request's timestamp.
    order: VecDeque<(u64, u64)>,
    /// Timestamps at or before this are refused.
    horizon: u64,
}

impl Nonces {
    /// A cache of at most `max` nonces.
    pub fn new(max: usize) -> Self {
        Self {
            inner: Mutex::default(),
            max: max.max(1),
            hasher: RandomState::new(),
        }
    }

    /// Records `nonce` of `app`, stamped `stamp` (ms), at `now` (ms), in
    /// a window of `window` ms either side.
    ///
    /// # Errors
    ///
    /// [`Stale`]: the nonce was seen, or its stamp is past the horizon.
    pub fn admit(
        &self,
        app: &str,
        nonce: &str,
        stamp: u64,
        now: u64,
        window: u64,
    ) -> Result<(), Stale> {
        let hash = self.hasher.hash_one((app, nonce));
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Out of the window: the timestamp check refuses these now.
        while let Some(&(old, stamped)) = inner.order.front() {
            if stamped.saturating_add(window) >= now {
                break;
            }
            inner.order.pop_front();
            inner.seen.remove(&old);
        }
        if inner.seen.contains(&hash) {
            return Err(Stale::Used);
        }
        if inner.order.len() >= self.max {
            if let Some((old, stamped)) = inner.order.pop_front() {
                inner.seen.remove(&old);
                inner.horizon = inner.horizon.max(stamped);
            }
        }
        if stamp <= inner.horizon {
            return Err(Stale::TooOld);
        }
        inner.seen.insert(hash);
        inner.order.push_back((hash, stamp));
        Ok(())
    }

    /// Nonces remembered now.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |inner| inner.order.len())
    }

    /// None remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: u64 = 900_000;

    #[test]
    fn a_replay_is_refused_and_another_app_may_use_the_same_nonce() {
        let nonces = Nonces::new(100);
        assert_eq!(nonces.admit("a", "n1", 1_000, 1_000, WINDOW), Ok(()));
        assert_eq!(
            nonces.admit("a", "n1", 1_000, 2_000, WINDOW),
            Err(Stale::Used)
        );
        assert_eq!(nonces.admit("b", "n1", 1_000, 2_000, WINDOW), Ok(()));
    }

    #[test]
    fn nonces_out_of_the_window_are_forgotten() {
        let nonces = Nonces::new(100);
        nonces.admit("a", "n1", 1_000, 1_000, WINDOW).unwrap();
        nonces
            .admit("a", "n2", 1_000 + WINDOW, 1_000 + 2 * WINDOW, WINDOW)
            .unwrap();
        assert_eq!(nonces.len(), 1);
    }

    #[test]
    fn a_full_cache_refuses_old_stamps_but_not_fresh_ones() {
        let nonces = Nonces::new(1000);
        for i in 0..100_000u64 {
            let now = 1_000_000 + i;
            nonces.admit("a", &i.to_string(), now, now, WINDOW).unwrap();
        }
        assert_eq!(nonces.len(), 1000);
        // A replay of one forgotten is refused by its stamp.
        assert_eq!(
            nonces.admit("a", "5", 1_000_005, 1_100_000, WINDOW),
            Err(Stale::TooOld)
        );
        // A replay of one remembered is refused as used.
        assert_eq!(
            nonces.admit("a", "99999", 1_099_999, 1_100_000, WINDOW),
            Err(Stale::Used)
        );
        assert_eq!(
            nonces.admit("a", "new", 1_100_000, 1_100_000, WINDOW),
            Ok(())
        );
    }
}
