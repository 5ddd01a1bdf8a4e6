//! [`RequestStats`]: the gateway's requests counted by route template and
//! status code, for the metrics. Labels stay bounded: routes are
//! templates, never raw paths, and past [`MAX_SERIES`] pairs new ones are
//! counted under [`OTHER`] with their status (an HTTP status: at most 900
//! more).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The most (route, status) pairs counted apart.
pub const MAX_SERIES: usize = 4096;
/// The route of requests that matched none (404, 405).
pub const UNMATCHED: &str = "(unmatched)";
/// The route of pairs past [`MAX_SERIES`].
pub const OTHER: &str = "(other)";

/// Requests by route and status; see the module docs.
#[derive(Debug, Default)]
pub struct RequestStats {
    counts: Mutex<HashMap<(Arc<str>, u16), u64>>,
}

impl RequestStats {
    /// Counts one answer of `status` on `route`.
    pub fn count(&self, route: &Arc<str>, status: u16) {
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        if let Some(count) = counts.get_mut(&(route.clone(), status)) {
            *count += 1;
            return;
        }
        let key = if counts.len() < MAX_SERIES {
            (route.clone(), status)
        } else {
            (Arc::from(OTHER), status)
        };
        *counts.entry(key).or_default() += 1;
    }

    /// Keeps only the counts of routes for which `served` holds (and those
    /// of [`UNMATCHED`] and [`OTHER`]).
    pub fn keep(&self, served: impl Fn(&str) -> bool) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.retain(|(route, _), _| matches!(&**route, UNMATCHED | OTHER) || served(route));
        }
    }

    /// Every (route, status, count), in no order.
    pub fn snapshot(&self) -> Vec<(Arc<str>, u16, u64)> {
        self.counts
            .lock()
            .map(|counts| {
                counts
                    .iter()
                    .map(|((route, status), count)| (route.clone(), *status, *count))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_counted_apart_up_to_the_bound() {
        let stats = RequestStats::default();
        let hello: Arc<str> = Arc::from("/hello/{name}");
        stats.count(&hello, 200);
        stats.count(&hello, 200);
        stats.count(&hello, 502);
        let mut seen = stats.snapshot();
        seen.sort();
        assert_eq!(seen, vec![(hello.clone(), 200, 2), (hello, 502, 1)]);
        for n in 0..MAX_SERIES + 10 {
            stats.count(&Arc::from(format!("/x{n}").as_str()), 200);
        }
        let seen = stats.snapshot();
        assert_eq!(seen.len(), MAX_SERIES + 1);
        let other = seen.iter().find(|(route, ..)| &**route == OTHER).unwrap();
        assert_eq!((other.1, other.2), (200, 12));
        stats.keep(|route| route == "/hello/{name}");
        let mut kept = stats.snapshot();
        kept.sort();
        let routes: Vec<&str> = kept.iter().map(|(route, ..)| &**route).collect();
        assert_eq!(routes, [OTHER, "/hello/{name}", "/hello/{name}"]);
    }
}
