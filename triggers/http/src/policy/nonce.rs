//! Nonces of signed requests already seen, so that a replay is refused.
//!
//! A nonce must be remembered only while its timestamp is in the window;
//! past that, the timestamp refuses the replay. Each app has a cache of
//! its own, of at most its share of `max` nonces (a keyed hash and the
//! time, about 50 bytes each with the tables' overhead). When an app's is
//! full its oldest is forgotten and that one's timestamp becomes the app's
//! horizon: a request of that app stamped at or before it is refused as
//! stale, since fenn can no longer tell whether it was seen. Requests
//! stamped later pass, and one app's traffic never moves another's
//! horizon.

use std::collections::{HashMap, HashSet, VecDeque};
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
    apps: Mutex<HashMap<Box<str>, Inner>>,
    /// Nonces each app may have remembered.
    per_app: usize,
    hasher: RandomState,
}

/// Fewest nonces an app's cache holds, however many apps share `max`.
const MIN_PER_APP: usize = 1024;

#[derive(Debug, Default)]
struct Inner {
    seen: HashSet<u64>,
    /// In the order seen: the hash and the request's timestamp.
    order: VecDeque<(u64, u64)>,
    /// Timestamps at or before this are refused.
    horizon: u64,
}

impl Nonces {
    /// A cache of at most `max` nonces, shared out among `apps` apps (each
    /// keeps at least 1024).
    pub fn new(max: usize, apps: usize) -> Self {
        Self {
            apps: Mutex::default(),
            per_app: (max / apps.max(1)).max(MIN_PER_APP.min(max)).max(1),
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
        let hash = self.hasher.hash_one(nonce);
        let mut apps = self
            .apps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Apps are the config's, so this map is as bounded as they are.
        let inner = apps.entry(app.into()).or_default();
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
        if inner.order.len() >= self.per_app {
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
        self.apps
            .lock()
            .map_or(0, |apps| apps.values().map(|inner| inner.order.len()).sum())
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
        let nonces = Nonces::new(100, 2);
        assert_eq!(nonces.admit("a", "n1", 1_000, 1_000, WINDOW), Ok(()));
        assert_eq!(
            nonces.admit("a", "n1", 1_000, 2_000, WINDOW),
            Err(Stale::Used)
        );
        assert_eq!(nonces.admit("b", "n1", 1_000, 2_000, WINDOW), Ok(()));
    }

    #[test]
    fn nonces_out_of_the_window_are_forgotten() {
        let nonces = Nonces::new(100, 1);
        nonces.admit("a", "n1", 1_000, 1_000, WINDOW).unwrap();
        nonces
            .admit("a", "n2", 1_000 + WINDOW, 1_000 + 2 * WINDOW, WINDOW)
            .unwrap();
        assert_eq!(nonces.len(), 1);
    }

    #[test]
    fn a_full_cache_refuses_old_stamps_but_not_fresh_ones() {
        let nonces = Nonces::new(1000, 1);
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

    #[test]
    fn one_apps_flood_of_future_stamps_leaves_another_apps_requests_alone() {
        let nonces = Nonces::new(2048, 2);
        let now = 10_000_000;
        for i in 0..50_000u64 {
            // Stamped 13 minutes ahead: allowed, and they fill the cache.
            nonces
                .admit("flood", &i.to_string(), now + 780_000 + i, now, WINDOW)
                .unwrap();
        }
        assert_eq!(
            nonces.admit("flood", "late", now, now, WINDOW),
            Err(Stale::TooOld)
        );
        assert_eq!(nonces.admit("dash", "fresh", now, now, WINDOW), Ok(()));
        assert!(nonces.len() <= 2048);
    }
}
