//! Rate limits: token buckets (governor's GCRA) for a whole route and for
//! each caller of it, the callers held in a store of bounded size.
//!
//! A caller is its app or its JWT's subject when it has one, else its IP
//! address. The store keeps at most [`MAX_CALLERS`] of them; a caller
//! whose bucket is full again is as good as new and is forgotten first.
//! Callers that still find the store full share one bucket, so a flood
//! from many addresses is held to one caller's rate while the callers
//! already known keep their own.

use fenn_runtime::trigger::BindingError;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Most callers one route keeps a bucket for.
pub const MAX_CALLERS: usize = 10_000;

/// Who a per-caller bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// An app, by name.
    App(Arc<str>),
    /// A JWT's subject (apart from apps of the same name).
    Subject(Arc<str>),
    /// A client without credentials, by address.
    Ip(IpAddr),
}

/// A rate as written: `"10/s"`, `"600/min"`, `"5000/h"`; the count is also
/// the burst.
///
/// # Errors
///
/// Text of another form, or a count of 0 or over a million.
pub fn parse_rate(key: &str, text: &str) -> Result<Quota, BindingError> {
    let refuse = || {
        BindingError::new(
            key,
            format!("'{text}' is not a rate such as \"10/s\", \"600/min\" or \"5000/h\""),
        )
    };
    let (count, per) = text.split_once('/').ok_or_else(refuse)?;
    let count: u32 = count.trim().parse().map_err(|_| refuse())?;
    let per = match per.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        _ => return Err(refuse()),
    };
    let count = NonZeroU32::new(count)
        .filter(|count| count.get() <= 1_000_000)
        .ok_or_else(|| {
            BindingError::new(key, format!("'{text}': the count must be 1 to 1000000"))
        })?;
    Quota::with_period(per / count.get())
        .map(|quota| quota.allow_burst(count))
        .ok_or_else(refuse)
}

/// The buckets' clock: tokio's, which a test may pause and move on (an
/// hour's refill at once); in a build without tokio's test clock it is the
/// monotonic clock.
#[derive(Debug, Clone)]
pub struct TokioClock {
    start: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        Self {
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

type Limiter<K, S> = RateLimiter<K, S, TokioClock, NoOpMiddleware<Duration>>;

/// A route's limits: one bucket for the route, one per caller.
#[derive(Debug)]
pub struct RateLimits {
    route: Option<Limiter<NotKeyed, InMemoryState>>,
    per_caller: Option<(Limiter<Caller, Shared>, Arc<Callers>)>,
    clock: TokioClock,
}

impl RateLimits {
    /// Limits of `route` for the route and `per_caller` for each caller.
    pub fn new(route: Option<Quota>, per_caller: Option<Quota>) -> Self {
        let clock = TokioClock::default();
        Self {
            route: route.map(|quota| RateLimiter::direct_with_clock(quota, clock.clone())),
            per_caller: per_caller.map(|quota| {
                let idle = quota.burst_size_replenished_in();
                let callers = Arc::new(Callers::new(MAX_CALLERS, idle));
                let limiter = RateLimiter::new(quota, Shared(callers.clone()), clock.clone());
                (limiter, callers)
            }),
            clock,
        }
    }

    /// A cell for `caller`, or how long until there is one.
    ///
    /// # Errors
    ///
    /// The wait before the next request would pass.
    pub fn check(&self, caller: &Caller) -> Result<(), Duration> {
        let now = self.clock.now();
        if let Some((limiter, _)) = &self.per_caller {
            limiter
                .check_key(caller)
                .map_err(|until| until.wait_time_from(now))?;
        }
        if let Some(limiter) = &self.route {
            limiter.check().map_err(|until| until.wait_time_from(now))?;
        }
        Ok(())
    }

    /// Callers with a bucket of their own now.
    pub fn callers(&self) -> usize {
        self.per_caller
            .as_ref()
            .map_or(0, |(_, callers)| callers.len())
    }
}

/// The per-caller buckets: at most `max`, and one shared past them.
#[derive(Debug)]
pub struct Callers {
    inner: Mutex<Inner>,
    max: usize,
    /// A bucket untouched this long is full again (the quota's refill).
    idle: Duration,
}

#[derive(Debug)]
struct Inner {
    buckets: HashMap<Caller, (Nanos, Instant)>,
    shared: Option<Nanos>,
    last_sweep: Option<Instant>,
}

impl Callers {
    fn new(max: usize, idle: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner {
                buckets: HashMap::new(),
                shared: None,
                last_sweep: None,
            }),
            max,
            idle,
        }
    }

    fn len(&self) -> usize {
        self.inner.lock().map_or(0, |inner| inner.buckets.len())
    }
}

/// The store as governor holds it; fenn keeps a second handle to count.
#[derive(Debug)]
pub struct Shared(Arc<Callers>);

impl StateStore for Shared {
    type Key = Caller;

    fn measure_and_replace<T, F, E>(&self, key: &Caller, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let callers = &self.0;
        // A poisoned lock only means a panic elsewhere mid-update; the
        // buckets are still numbers.
        let mut inner = callers
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if let Some(bucket) = inner.buckets.get_mut(key) {
            let (outcome, next) = f(Some(bucket.0))?;
            *bucket = (next, now);
            return Ok(outcome);
        }
        if inner.buckets.len() >= callers.max {
            callers.sweep(&mut inner, now);
        }
        if inner.buckets.len() >= callers.max {
            let (outcome, next) = f(inner.shared)?;
            inner.shared = Some(next);
            return Ok(outcome);
        }
        let (outcome, next) = f(None)?;
        inner.buckets.insert(key.clone(), (next, now));
        Ok(outcome)
    }
}

impl Callers {
    /// Forgets the callers whose buckets are full again, at most once a
    /// second (a sweep walks every bucket).
    fn sweep(&self, inner: &mut Inner, now: Instant) {
        if inner
            .last_sweep
            .is_some_and(|last| now.duration_since(last) < Duration::from_secs(1))
        {
            return;
        }
        inner.last_sweep = Some(now);
        let idle = self.idle;
        inner
            .buckets
            .retain(|_, (_, touched)| now.duration_since(*touched) < idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u32) -> Caller {
        Caller::Ip(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + last)))
    }

    #[test]
    fn rates_parse_and_refuse_with_their_key() {
        let quota = parse_rate("rate", "600/min").unwrap();
        assert_eq!(quota.burst_size().get(), 600);
        assert_eq!(quota.replenish_interval(), Duration::from_millis(100));
        for bad in ["10", "0/s", "10/day", "x/s", "2000000/s"] {
            assert_eq!(parse_rate("rate", bad).unwrap_err().field, "rate", "{bad}");
        }
    }

    #[test]
    fn a_caller_over_its_rate_waits_and_others_keep_theirs() {
        let limits = RateLimits::new(None, Some(parse_rate("r", "2/h").unwrap()));
        assert!(limits.check(&ip(1)).is_ok());
        assert!(limits.check(&ip(1)).is_ok());
        let wait = limits.check(&ip(1)).unwrap_err();
        assert!(
            wait > Duration::from_secs(1700) && wait <= Duration::from_secs(1800),
            "{wait:?}"
        );
        assert!(limits.check(&ip(2)).is_ok());
        assert!(limits.check(&Caller::App("a".into())).is_ok());
    }

    #[test]
    fn the_route_bucket_holds_all_callers_together() {
        let limits = RateLimits::new(Some(parse_rate("r", "3/h").unwrap()), None);
        for caller in 0..3 {
            assert!(limits.check(&ip(caller)).is_ok());
        }
        assert!(limits.check(&ip(99)).is_err());
    }

    #[test]
    fn a_flood_of_callers_is_bounded_and_known_callers_keep_their_share() {
        let limits = RateLimits::new(None, Some(parse_rate("r", "2/h").unwrap()));
        assert!(limits.check(&ip(0)).is_ok());
        let mut passed = 0;
        for caller in 1..100_000 {
            passed += usize::from(limits.check(&ip(caller)).is_ok());
        }
        assert_eq!(limits.callers(), MAX_CALLERS);
        // Each with a bucket of its own once, and the shared bucket's two.
        assert_eq!(passed, MAX_CALLERS - 1 + 2);
        // The caller known before the flood still has its second request.
        assert!(limits.check(&ip(0)).is_ok());
        assert!(limits.check(&ip(0)).is_err());
        assert!(limits.check(&ip(200_000)).is_err());
    }
}
