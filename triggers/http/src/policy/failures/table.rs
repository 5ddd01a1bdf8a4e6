//! The failure records by client, bounded: when full, the quiet ones are
//! forgotten (in a sweep at most once a [`SWEEP`]), then the oldest under
//! no penalty.

use super::FailureLimit;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most addresses held.
pub const MAX_ADDRESSES: usize = 10_000;

/// Least time between two sweeps of a full table.
pub const SWEEP: Duration = Duration::from_secs(1);

/// The records, and when the table is full, the addresses that may make
/// room, oldest first (as of the last sweep).
#[derive(Debug, Default)]
pub(super) struct Table {
    records: HashMap<IpAddr, Record>,
    swept: Option<Instant>,
    spare: VecDeque<IpAddr>,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    count: u32,
    since: Instant,
    until: Option<Instant>,
}

impl Table {
    /// When the penalty of `client` (a client key) ends, if it has one.
    pub(super) fn until(&self, client: IpAddr) -> Option<Instant> {
        self.records.get(&client).and_then(|record| record.until)
    }

    /// Counts a failure of `client` (a client key) at `now` under `limit`;
    /// the penalty when this one starts it.
    pub(super) fn failed(
        &mut self,
        client: IpAddr,
        now: Instant,
        limit: FailureLimit,
    ) -> Option<Duration> {
        let FailureLimit { limit, penalty } = limit;
        if self.records.len() >= MAX_ADDRESSES && !self.records.contains_key(&client) {
            self.make_room(now, penalty);
            if self.records.len() >= MAX_ADDRESSES {
                return None;
            }
        }
        let record = self.records.entry(client).or_insert(Record {
            count: 0,
            since: now,
            until: None,
        });
        if record.is_quiet(now, penalty) {
            *record = Record {
                count: 0,
                since: now,
                until: None,
            };
        }
        record.count += 1;
        if record.count < limit {
            return None;
        }
        *record = Record {
            count: 0,
            since: now,
            until: Some(now + penalty),
        };
        Some(penalty)
    }

    /// Records held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    /// Forgets the quiet records (in a sweep, at most once a [`SWEEP`]),
    /// then the oldest one under no penalty, if one is.
    fn make_room(&mut self, now: Instant, penalty: Duration) {
        if self
            .swept
            .is_none_or(|swept| now.saturating_duration_since(swept) >= SWEEP)
        {
            self.swept = Some(now);
            self.records
                .retain(|_, record| !record.is_quiet(now, penalty));
            let mut spare: Vec<(Instant, IpAddr)> = self
                .records
                .iter()
                .filter(|(_, record)| !record.is_penalized(now))
                .map(|(address, record)| (record.since, *address))
                .collect();
            spare.sort_unstable();
            self.spare = spare.into_iter().map(|(_, address)| address).collect();
        }
        while self.records.len() >= MAX_ADDRESSES {
            let Some(address) = self.spare.pop_front() else {
                return;
            };
            if self
                .records
                .get(&address)
                .is_some_and(|record| !record.is_penalized(now))
            {
                self.records.remove(&address);
            }
        }
    }
}

impl Record {
    /// A penalty is running.
    fn is_penalized(&self, now: Instant) -> bool {
        self.until.is_some_and(|until| until > now)
    }

    /// No penalty running and no failure counted within `penalty`.
    fn is_quiet(&self, now: Instant, penalty: Duration) -> bool {
        !self.is_penalized(now) && now.saturating_duration_since(self.since) >= penalty
    }
}
