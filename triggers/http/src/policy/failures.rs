//! Failed authentication by client address: after `limit` failures within
//! `penalty`, an address is refused for `penalty` (429 with `Retry-After`)
//! before its credentials are looked at, so that guessing AppCodes,
//! signatures, tokens or the management API's token costs a client
//! `penalty` per `limit` tries.
//!
//! Addresses are counted, IPv6 ones by their /64 (one host usually holds
//! a whole /64). At most [`MAX_ADDRESSES`] are held; when they are, those
//! quiet for a whole `penalty` are forgotten (in a sweep at most once a
//! [`SWEEP`]), then the oldest ones under no penalty, so that a new
//! address is still counted while a flood lasts and no penalty is lifted
//! early. Plain state with the time passed in, tested below.

mod table;

pub use table::{MAX_ADDRESSES, SWEEP};

use super::{GatewayPolicy, Refusal};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many failures an address may have, and for how long it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit {
    /// Failures within `penalty` that start one; 0 turns it off.
    pub limit: u32,
    /// The window failures are counted in, and the wait after `limit`.
    pub penalty: Duration,
}

impl Default for FailureLimit {
    fn default() -> Self {
        Self {
            limit: 10,
            penalty: Duration::from_secs(60),
        }
    }
}

/// The failures of every address, and their totals.
#[derive(Debug, Default)]
pub struct AuthFailures {
    limit: FailureLimit,
    addresses: Mutex<table::Table>,
    failures: AtomicU64,
    refused: AtomicU64,
}

impl AuthFailures {
    /// Failures counted under `limit`.
    pub fn new(limit: FailureLimit) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// Whether `client` may present credentials at `now`.
    ///
    /// # Errors
    ///
    /// The wait, while a penalty lasts.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let Ok(addresses) = self.addresses.lock() else {
            return Ok(());
        };
        let until = addresses.until(client_key(client));
        match until {
            Some(until) if until > now => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(until - now)
            }
            _ => Ok(()),
        }
    }

    /// Counts a failure of `client` at `now`; the penalty when this one
    /// starts it.
    pub fn failed(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if self.limit.limit == 0 {
            return None;
        }
        let mut addresses = self.addresses.lock().ok()?;
        addresses.failed(client_key(client), now, self.limit)
    }

    /// Counts a failure in the totals only, for a client never throttled.
    pub fn failed_unthrottled(&self) -> Option<Duration> {
        self.failures.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Failures counted, and requests refused for a penalty, since start.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.failures.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }
}

impl GatewayPolicy {
    /// A 429 for `client` while it waits out a penalty for failed
    /// authentications.
    ///
    /// # Errors
    ///
    /// The 429, with the wait.
    pub fn not_penalized(&self, client: IpAddr) -> Result<(), Refusal> {
        if self.is_trusted_proxy(client) {
            return Ok(());
        }
        self.failures
            .check(client, std::time::Instant::now())
            .map_err(|wait| Refusal::limited("Too Many Failed Authentications", wait))
    }

    /// `refusal`, after counting it against `client` when it is a 401 (a
    /// missing or wrong AppCode, signature or token), with a rate-limited
    /// log line. A trusted proxy that forwarded no address fenn believes
    /// is not throttled: a penalty would refuse every client behind it.
    pub fn counted(&self, refusal: Refusal, client: IpAddr) -> Refusal {
        if refusal.status == 401 {
            let throttled = !self.is_trusted_proxy(client);
            self.failures
                .counted(client, throttled, refusal.message, Listener::Gateway);
        }
        refusal
    }
}

/// The listener a failure is counted on, as its log lines name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The gateway.
    Gateway,
    /// The management API.
    Admin,
}

impl AuthFailures {
    /// Counts a failure of `client` for `reason`, against its address
    /// when it is `throttled` (else in the totals only), and logs it
    /// rate-limited: the failure at info, a penalty it starts at warn.
    pub fn counted(&self, client: IpAddr, throttled: bool, reason: &str, listener: Listener) {
        let penalty = if throttled {
            self.failed(client, Instant::now())
        } else {
            self.failed_unthrottled()
        };
        let (name, failed, penalized) = match listener {
            Listener::Gateway => ("gateway", "authentication failed", "authentication penalty"),
            Listener::Admin => (
                "admin",
                "admin authentication failed",
                "admin authentication penalty",
            ),
        };
        match penalty {
            Some(penalty) => fenn_runtime::limited!(
                warn,
                penalized,
                "",
                %client,
                ?penalty,
                "{name}: too many failed authentications, the address is refused for a while"
            ),
            None => fenn_runtime::limited!(
                info,
                failed,
                "",
                %client,
                reason,
                throttled,
                "{name}: authentication failed"
            ),
        }
    }
}

impl GatewayPolicy {
    /// Whether `client` is one of the trusted proxies: fenn found no
    /// forwarded address it believes beyond it.
    fn is_trusted_proxy(&self, client: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&client))
    }
}

/// The address counted for `client`: itself, or an IPv6 address's /64
/// (one host usually holds a whole /64); an IPv4-mapped address as the
/// IPv4 one. Failures and connections are counted by it.
pub(crate) fn client_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: FailureLimit = FailureLimit {
        limit: 3,
        penalty: Duration::from_secs(60),
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_limit_th_failure_starts_a_penalty_for_that_address_only() {
        let failures = AuthFailures::new(LIMIT);
        let t0 = Instant::now();
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        assert_eq!(failures.failed(a, t0), None);
        assert_eq!(failures.failed(a, t0), None);
        assert!(failures.check(a, t0).is_ok());
        assert_eq!(failures.failed(a, t0), Some(LIMIT.penalty));
        let later = t0 + Duration::from_secs(20);
        assert_eq!(failures.check(a, later), Err(Duration::from_secs(40)));
        assert!(failures.check(b, later).is_ok());
        assert!(failures.check(a, t0 + LIMIT.penalty).is_ok());
        assert_eq!(failures.totals(), (3, 1));
    }

    #[test]
    fn failures_spread_wider_than_the_window_start_no_penalty() {
        let failures = AuthFailures::new(LIMIT);
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for minute in 0..10 {
            let now = t0 + Duration::from_secs(61 * minute);
            assert_eq!(failures.failed(a, now), None);
            assert!(failures.check(a, now).is_ok());
        }
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        let failures = AuthFailures::new(LIMIT);
        let t0 = Instant::now();
        for host in ["2001:db8::1", "2001:db8::2"] {
            assert_eq!(failures.failed(ip(host), t0), None);
        }
        assert!(failures.failed(ip("2001:db8::ffff:3"), t0).is_some());
        assert!(failures.check(ip("2001:db8::9"), t0).is_err());
        assert!(failures.check(ip("2001:db8:0:1::9"), t0).is_ok());
    }

    #[test]
    fn a_full_table_still_counts_a_newcomer_and_keeps_every_penalty() {
        let failures = AuthFailures::new(LIMIT);
        let t0 = Instant::now();
        let penalized = ip("192.0.2.1");
        for _ in 0..3 {
            failures.failed(penalized, t0);
        }
        for i in 1..MAX_ADDRESSES as u32 {
            failures.failed(IpAddr::V4((0x0a00_0000 + i).into()), t0);
        }
        // Full, and nobody quiet: the oldest under no penalty make room.
        for n in 0..100u32 {
            let newcomer = IpAddr::V4((0xc633_6400 + n).into());
            failures.failed(newcomer, t0);
            failures.failed(newcomer, t0);
            assert!(failures.failed(newcomer, t0).is_some(), "{newcomer}");
        }
        assert!(failures.check(penalized, t0).is_err());
        assert_eq!(failures.addresses.lock().unwrap().len(), MAX_ADDRESSES);
    }

    #[test]
    fn a_trusted_proxy_without_a_forwarded_address_is_never_penalized() {
        let policy = GatewayPolicy {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            failures: std::sync::Arc::new(AuthFailures::new(LIMIT)),
            ..GatewayPolicy::default()
        };
        let (proxy, client) = (ip("10.0.0.1"), ip("192.0.2.1"));
        for _ in 0..5 {
            policy.counted(Refusal::unauthorized("Invalid AppCode"), proxy);
            policy.counted(Refusal::unauthorized("Invalid AppCode"), client);
        }
        assert!(policy.not_penalized(proxy).is_ok());
        assert_eq!(policy.not_penalized(client).unwrap_err().status, 429);
        assert_eq!(policy.failures.totals().0, 10);
    }

    #[test]
    fn a_limit_of_zero_counts_but_never_refuses() {
        let failures = AuthFailures::new(FailureLimit {
            limit: 0,
            penalty: Duration::from_secs(60),
        });
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(failures.failed(ip("192.0.2.1"), t0), None);
        }
        assert!(failures.check(ip("192.0.2.1"), t0).is_ok());
        assert_eq!(failures.totals(), (100, 0));
    }
}
