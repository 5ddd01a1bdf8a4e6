//! How many connections may be open: in all, and from one client address;
//! and which one gives way when they are all taken.
//!
//! A [`ConnectionLimits`] hands out a [`Connection`] per accepted socket and
//! takes it back when the connection ends. A connection is idle while no
//! request is in flight on it (from accept to its first request head, and
//! between requests). At a limit, an idle connection gives its place to
//! the new one and is told to close ([`Connection::evicted`]): one of the
//! client holding the most places, of its preferably one that never
//! finished a request, then the one idle the longest. Only when none is
//! idle is the new socket closed at once. A few places (`reserved`) are
//! kept for loopback peers, so that an operator on the device itself gets
//! in while peers from the network hold the rest. Clients are counted as
//! failed authentications are (`client_key`): an IPv6 one by its /64.
//! Plain counting, no I/O, so it is tested on its own.

use crate::policy::failures::client_key;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The counts, shared by the accept loop and every open connection.
#[derive(Debug)]
pub struct ConnectionLimits {
    max: usize,
    per_client: usize,
    reserved: usize,
    open: Mutex<Open>,
}

/// The open connections, and the idle ones by how long they have been.
#[derive(Debug, Default)]
struct Open {
    clients: HashMap<IpAddr, usize>,
    connections: HashMap<u64, Entry>,
    /// Idle connections by the order they became idle: the first is the
    /// one idle the longest.
    idle: BTreeMap<u64, u64>,
    next: u64,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    /// The client, by [`client_key`].
    client: IpAddr,
    loopback: bool,
    /// A request has been answered on it.
    finished: bool,
    idle_since: Option<u64>,
    evict: Arc<Notify>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `max_connections` are open and none is idle.
    Total,
    /// `max_connections_per_client` are open from this address and none
    /// is idle.
    Client,
}

/// Why a connection was let in: in a free place, or in an idle one's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// A place was free.
    Free,
    /// An idle connection (from this address, or from any)
    /// was told to close.
    Evicted(Refused),
}

/// One open connection; dropping it frees its place.
#[derive(Debug)]
pub struct Connection {
    activity: Activity,
    evict: Arc<Notify>,
}

/// A handle that marks requests in flight on a connection.
#[derive(Debug, Clone)]
pub struct Activity {
    limits: Arc<ConnectionLimits>,
    id: u64,
    /// Requests in flight, counted by the connection itself so that the
    /// count holds once its entry is gone (after an eviction).
    in_flight: Arc<AtomicUsize>,
}

/// A request in flight; dropping it (when its response is sent) makes the
/// connection idle again, once none other is in flight.
#[derive(Debug)]
pub struct InFlight(Activity);

impl ConnectionLimits {
    /// At most `max` connections, `per_client` from one address, and the
    /// last `reserved` of `max` for loopback peers only.
    pub fn new(max: usize, per_client: usize, reserved: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            per_client,
            reserved: reserved.min(max.saturating_sub(1)),
            open: Mutex::new(Open::default()),
        })
    }

    /// A place for a connection from `client`: a free one, or the place of
    /// an idle connection's (`Open::victim`), which is told to close.
    ///
    /// # Errors
    ///
    /// [`Refused`] naming the limit that is reached, when no connection
    /// that could give way is idle.
    pub fn open(self: &Arc<Self>, client: IpAddr) -> Result<(Connection, Admitted), Refused> {
        let client = client.to_canonical();
        let loopback = client.is_loopback();
        let client = client_key(client);
        let mut open = self.open.lock().map_err(|_| Refused::Total)?;
        // Both places chosen before either is taken, so that no connection
        // is closed for one that is then refused.
        let mut admitted = Admitted::Free;
        let mut victims = Vec::new();
        if open.clients.get(&client).copied().unwrap_or(0) >= self.per_client {
            victims.push(
                open.victim(|entry| entry.client == client)
                    .ok_or(Refused::Client)?,
            );
            admitted = Admitted::Evicted(Refused::Client);
        }
        let max = if loopback {
            self.max
        } else {
            self.max - self.reserved
        };
        if open.connections.len() - victims.len() >= max {
            // A peer from the network takes the place of one of its own
            // kind, so that the reserved places stay with loopback.
            victims.push(
                open.victim(|entry| (loopback || !entry.loopback) && !victims.contains(&entry.id))
                    .ok_or(Refused::Total)?,
            );
            admitted = Admitted::Evicted(Refused::Total);
        }
        for victim in victims {
            if let Some(entry) = open.remove(victim) {
                entry.evict.notify_one();
            }
        }
        let id = open.next;
        open.next += 1;
        let evict = Arc::new(Notify::new());
        open.connections.insert(
            id,
            Entry {
                id,
                client,
                loopback,
                finished: false,
                idle_since: Some(id),
                evict: evict.clone(),
            },
        );
        open.idle.insert(id, id);
        *open.clients.entry(client).or_insert(0) += 1;
        let activity = Activity {
            limits: self.clone(),
            id,
            in_flight: Arc::new(AtomicUsize::new(0)),
        };
        Ok((Connection { activity, evict }, admitted))
    }

    /// Connections open now.
    pub fn open_now(&self) -> usize {
        self.open.lock().map_or(0, |open| open.connections.len())
    }
}

impl Open {
    /// The idle connection among those `eligible` that gives way: one of
    /// the client holding the most places, so that a flood from many
    /// addresses evicts its own before anyone's kept-alive ones; of its,
    /// one that never finished a request, then the one idle the longest.
    fn victim(&self, eligible: impl Fn(&Entry) -> bool) -> Option<u64> {
        let rank = |(since, id): (&u64, &u64)| {
            let entry = self.connections.get(id).filter(|entry| eligible(entry))?;
            let places = self.clients.get(&entry.client).copied().unwrap_or(0);
            Some(((places, !entry.finished, std::cmp::Reverse(*since)), *id))
        };
        self.idle
            .iter()
            .filter_map(rank)
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, id)| id)
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.connections.remove(&id)?;
        if let Some(since) = entry.idle_since {
            self.idle.remove(&since);
        }
        if let Some(count) = self.clients.get_mut(&entry.client) {
            *count -= 1;
            if *count == 0 {
                self.clients.remove(&entry.client);
            }
        }
        Some(entry)
    }
}

impl Connection {
    /// Completes when the connection has given its place to a new one and
    /// should close (after the request in flight, if one just came in).
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }

    /// Whether a request is in flight on the connection now, counted from
    /// its head to the end of its response, also after an eviction.
    pub fn busy(&self) -> bool {
        self.activity.in_flight.load(Ordering::SeqCst) > 0
    }

    /// The handle the connection's requests mark themselves with.
    pub fn activity(&self) -> Activity {
        self.activity.clone()
    }
}

impl Activity {
    /// Marks a request in flight until the returned value is dropped.
    pub fn begin(&self) -> InFlight {
        self.update(|in_flight, idle, _, entry| {
            in_flight.fetch_add(1, Ordering::SeqCst);
            if let Some(since) = entry.and_then(|entry| entry.idle_since.take()) {
                idle.remove(&since);
            }
        });
        InFlight(self.clone())
    }

    /// Applies `change` to the requests in flight and to this connection's
    /// entry, unless it is gone (with the idle ones and the next number),
    /// under the lock, so that the count and the idle order agree.
    fn update(
        &self,
        change: impl FnOnce(&AtomicUsize, &mut BTreeMap<u64, u64>, &mut u64, Option<&mut Entry>),
    ) {
        let mut open = self
            .limits
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Open {
            connections,
            idle,
            next,
            ..
        } = &mut *open;
        change(&self.in_flight, idle, next, connections.get_mut(&self.id));
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let id = self.0.id;
        self.0.update(|in_flight, idle, next, entry| {
            let was = in_flight
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    Some(n.saturating_sub(1))
                })
                .unwrap_or(0);
            if let (1, Some(entry)) = (was, entry) {
                entry.finished = true;
                let since = *next;
                *next += 1;
                entry.idle_since = Some(since);
                idle.insert(since, id);
            }
        });
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Ok(mut open) = self.activity.limits.open.lock() {
            // Nothing when it was evicted: its place went to another then.
            open.remove(self.activity.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future as _;

    fn ip(last: u8) -> IpAddr {
        [10, 0, 0, last].into()
    }

    /// Whether `connection` was told to close.
    fn was_evicted(connection: &Connection) -> bool {
        let waiting = connection.evicted();
        let mut waiting = std::pin::pin!(waiting);
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        waiting.as_mut().poll(&mut context).is_ready()
    }

    #[test]
    fn one_client_is_held_to_its_share_and_places_come_back() {
        let limits = ConnectionLimits::new(3, 2, 0);
        let (first, _) = limits.open(ip(1)).unwrap();
        let (second, _) = limits.open(ip(1)).unwrap();
        let (_busy_a, _busy_b) = (first.activity().begin(), second.activity().begin());
        assert_eq!(limits.open(ip(1)).unwrap_err(), Refused::Client);
        let (third, _) = limits.open(ip(2)).unwrap();
        let _busy_c = third.activity().begin();
        assert_eq!(limits.open(ip(2)).unwrap_err(), Refused::Total);
        drop(first);
        assert_eq!(limits.open_now(), 2);
        assert!(limits.open(ip(1)).is_ok());
    }

    #[test]
    fn at_the_cap_the_connection_idle_the_longest_gives_way() {
        let limits = ConnectionLimits::new(3, 3, 0);
        let (oldest, _) = limits.open(ip(1)).unwrap();
        let (busy, _) = limits.open(ip(1)).unwrap();
        let (younger, _) = limits.open(ip(2)).unwrap();
        let in_flight = busy.activity().begin();
        let (newcomer, admitted) = limits.open(ip(3)).unwrap();
        assert_eq!(admitted, Admitted::Evicted(Refused::Total));
        assert!(was_evicted(&oldest));
        assert!(!was_evicted(&younger) && !was_evicted(&busy));
        assert_eq!(limits.open_now(), 3);
        // The evicted one's end frees nothing more.
        drop(oldest);
        assert_eq!(limits.open_now(), 3);
        // Idle again after its request: now it has been idle the least.
        drop(in_flight);
        let _ = limits.open(ip(4)).unwrap();
        assert!(was_evicted(&younger) && !was_evicted(&busy));
        let _ = (newcomer, busy);
    }

    #[test]
    fn a_client_at_its_share_replaces_its_own_idle_connection() {
        let limits = ConnectionLimits::new(10, 2, 0);
        let (other, _) = limits.open(ip(9)).unwrap();
        let (mine, _) = limits.open(ip(1)).unwrap();
        let (_second, _) = limits.open(ip(1)).unwrap();
        let (_third, admitted) = limits.open(ip(1)).unwrap();
        assert_eq!(admitted, Admitted::Evicted(Refused::Client));
        assert!(was_evicted(&mine) && !was_evicted(&other));
    }

    #[test]
    fn a_mapped_loopback_peer_gets_the_reserved_place_and_a_64_counts_as_one_client() {
        let limits = ConnectionLimits::new(3, 2, 1);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let (network, _) = limits.open(ip(1)).unwrap();
        let (other, _) = limits.open(ip(2)).unwrap();
        let (_a, _b) = (network.activity().begin(), other.activity().begin());
        assert_eq!(limits.open(ip(3)).unwrap_err(), Refused::Total);
        let (_operator, admitted) = limits.open(mapped).unwrap();
        assert_eq!(admitted, Admitted::Free);
        let limits = ConnectionLimits::new(10, 2, 0);
        let hosts = ["2001:db8::1", "2001:db8::2", "2001:db8::ffff:3"];
        let held: Vec<_> = hosts[..2]
            .iter()
            .map(|host| {
                let (connection, _) = limits.open(host.parse().unwrap()).unwrap();
                (connection.activity().begin(), connection)
            })
            .collect();
        assert_eq!(
            limits.open(hosts[2].parse().unwrap()).unwrap_err(),
            Refused::Client
        );
        assert!(limits.open("2001:db8:0:1::1".parse().unwrap()).is_ok());
        drop(held);
    }

    #[test]
    fn a_network_peer_never_evicts_the_operator_though_it_is_idle_the_longest() {
        // Two places for the network: the operator's counts among them.
        let limits = ConnectionLimits::new(3, 3, 1);
        let (operator, _) = limits.open([127, 0, 0, 1].into()).unwrap();
        let (first, _) = limits.open(ip(1)).unwrap();
        let (_second, admitted) = limits.open(ip(2)).unwrap();
        assert_eq!(admitted, Admitted::Evicted(Refused::Total));
        assert!(!was_evicted(&operator));
        assert!(was_evicted(&first));
    }

    #[test]
    fn no_connection_is_closed_for_a_newcomer_that_is_then_refused() {
        // Two places for the network, taken by loopback peers.
        let limits = ConnectionLimits::new(4, 1, 2);
        let (mine, _) = limits.open(ip(1)).unwrap();
        let (operator, _) = limits.open([127, 0, 0, 1].into()).unwrap();
        let (script, _) = limits.open([127, 0, 0, 2].into()).unwrap();
        let _busy = (operator.activity().begin(), script.activity().begin());
        // Its own idle one would make way for it, but the network's share
        // is still over with none else idle: refused, and nothing closed.
        assert_eq!(limits.open(ip(1)).unwrap_err(), Refused::Total);
        assert!(!was_evicted(&mine));
        assert_eq!(limits.open_now(), 3);
    }

    #[test]
    fn the_client_holding_the_most_places_gives_way_first_and_its_unused_ones_first() {
        let limits = ConnectionLimits::new(4, 4, 0);
        // A kept-alive client, idle the longest.
        let (kept, _) = limits.open(ip(1)).unwrap();
        drop(kept.activity().begin());
        // A flood from another address: one used, then two never used.
        let (used, _) = limits.open(ip(2)).unwrap();
        drop(used.activity().begin());
        let (unused, _) = limits.open(ip(2)).unwrap();
        let (newest, _) = limits.open(ip(2)).unwrap();
        let _third = limits.open(ip(3)).unwrap();
        assert!(was_evicted(&unused));
        assert!(!was_evicted(&kept) && !was_evicted(&used) && !was_evicted(&newest));
        let _ = limits.open(ip(4)).unwrap();
        assert!(was_evicted(&newest) && !was_evicted(&kept));
    }

    #[test]
    fn the_reserved_place_is_for_loopback_and_network_peers_never_evict_it() {
        let limits = ConnectionLimits::new(3, 3, 1);
        let (network, _) = limits.open(ip(1)).unwrap();
        let _busy = network.activity().begin();
        let (_second, _) = limits.open(ip(2)).unwrap();
        // Two places for the network: the third peer takes an idle one's.
        let (_third, admitted) = limits.open(ip(3)).unwrap();
        assert_eq!(admitted, Admitted::Evicted(Refused::Total));
        let (operator, admitted) = limits.open([127, 0, 0, 1].into()).unwrap();
        assert_eq!(admitted, Admitted::Free);
        // A network peer does not take the loopback peer's place...
        let (_fourth, _) = limits.open(ip(4)).unwrap();
        assert!(!was_evicted(&operator));
    }
}
