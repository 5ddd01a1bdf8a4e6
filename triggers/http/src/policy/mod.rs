//! Gateway policies: who may call a route (apps by AppCode or signature,
//! JWT bearer tokens), from where (IP allow and deny lists), how often
//! (rate limits), and from which web origins (CORS).
//!
//! - [`GatewayPolicy`]: what all routes share: the apps, the JWT keys, the
//!   global IP lists and trusted proxies, the nonces seen.
//! - [`RoutePolicy`]: one route's, built from its keys
//!   ([`RawRoute`](crate::RawRoute)).
//! - [`admit`] decides on a request's headers; [`Admission::finish`] on
//!   its body, for a signature.
//! - [`failures`]: failed authentications by client address, and the
//!   penalty after too many.
//!
//! Plain values, no I/O: the handler asks them and answers.

pub mod apps;
pub mod cors;
pub mod failures;
pub mod ip;
#[cfg_attr(not(feature = "jwt"), path = "jwt_off.rs")]
pub mod jwt;
pub mod nonce;
pub mod rate;
pub mod signature;

use apps::Apps;
use axum::http::{HeaderMap, Uri};
use failures::AuthFailures;
use ipnet::IpNet;
use rate::{Caller, RateLimits};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Longest `Authorization` header looked at.
const MAX_AUTHORIZATION: usize = 8 << 10;

/// A request refused by a policy: its status and the reason, which the
/// client reads in `X-Ca-Error-Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 401, 403 or 429.
    pub status: u16,
    /// The reason, as the gateway words it.
    pub message: &'static str,
    /// Seconds until a rate-limited request would pass.
    pub retry_after: Option<u64>,
}

impl Refusal {
    /// No or bad credentials.
    pub const fn unauthorized(message: &'static str) -> Self {
        Self {
            status: 401,
            message,
            retry_after: None,
        }
    }

    /// Credentials fine, but not for this; or an address refused.
    pub const fn forbidden(message: &'static str) -> Self {
        Self {
            status: 403,
            message,
            retry_after: None,
        }
    }

    /// Over a rate limit, for `wait`.
    pub fn limited(message: &'static str, wait: Duration) -> Self {
        Self {
            status: 429,
            message,
            retry_after: Some(seconds_up(wait)),
        }
    }
}

/// `wait` in whole seconds, rounded up, as `Retry-After` gives it.
pub fn seconds_up(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// What every route shares.
#[derive(Debug)]
pub struct GatewayPolicy {
    /// The apps.
    pub apps: Arc<Apps>,
    /// How bearer tokens are checked, when they are.
    pub jwt: Option<jwt::Jwt>,
    /// The lists every request passes.
    pub ip: ip::IpList,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Nonces of signed requests seen.
    pub nonces: nonce::Nonces,
    /// How far a signed request's timestamp may be from now.
    pub window: Duration,
    /// Failed authentications by client address.
    pub failures: Arc<AuthFailures>,
}

impl Default for GatewayPolicy {
    fn default() -> Self {
        Self {
            apps: Arc::default(),
            jwt: None,
            ip: ip::IpList::default(),
            trusted_proxies: Vec::new(),
            nonces: nonce::Nonces::new(DEFAULT_NONCES, 1),
            window: Duration::from_secs(15 * 60),
            failures: Arc::default(),
        }
    }
}

/// Nonces remembered by default.
pub const DEFAULT_NONCES: usize = 65_536;

impl GatewayPolicy {
    /// `window` in milliseconds, as timestamps are written.
    fn window_ms(&self) -> u64 {
        u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX)
    }

    /// The client's address, as fenn believes it.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        ip::client_ip(peer, headers, &self.trusted_proxies)
    }
}

/// One route's policy.
#[derive(Debug, Clone, Default)]
pub struct RoutePolicy {
    /// Apps it authorizes; with `jwt`, none means the route is open.
    pub apps: Vec<Arc<str>>,
    /// It accepts a JWT.
    pub jwt: bool,
    /// Its IP lists.
    pub ip: ip::IpList,
    /// Its rate limits, shared by the route's clones.
    pub rate: Option<Arc<RateLimits>>,
    /// Its CORS policy.
    pub cors: Option<cors::Cors>,
}

impl PartialEq for RoutePolicy {
    fn eq(&self, other: &Self) -> bool {
        let same_rate = match (&self.rate, &other.rate) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        self.apps == other.apps
            && self.jwt == other.jwt
            && self.ip == other.ip
            && same_rate
            && self.cors == other.cors
    }
}

impl Eq for RoutePolicy {}

impl RoutePolicy {
    /// Only callers with credentials may call it.
    pub fn is_protected(&self) -> bool {
        self.jwt || !self.apps.is_empty()
    }
}

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: APPCODE`.
    AppCode,
    /// An `X-Ca-Signature`.
    Signature,
    /// A JWT bearer token; the caller is its subject, never an app.
    Jwt,
}

impl Credential {
    /// As the function is told it in `x-fenn-auth`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AppCode => "appcode",
            Self::Signature => "signature",
            Self::Jwt => "jwt",
        }
    }
}

/// A request let in by its headers.
pub struct Admission {
    /// The app (or the token's subject) that called, and how it proved
    /// it, when the route asks.
    pub caller: Option<(Arc<str>, Credential)>,
    /// A signed request's checked headers, and when they were checked.
    pending: Option<(signature::Pending, u64)>,
}

/// Decides on a request by its headers, for `route`, from `client`.
///
/// # Errors
///
/// The [`Refusal`] to answer with.
pub fn admit(
    gateway: &GatewayPolicy,
    route: &RoutePolicy,
    headers: &HeaderMap,
    client: IpAddr,
) -> Result<Admission, Refusal> {
    if !route.ip.admits(client) {
        return Err(Refusal::forbidden("Access Denied by IP Control"));
    }
    if !route.is_protected() {
        return Ok(Admission {
            caller: None,
            pending: None,
        });
    }
    if let Some(admission) = by_authorization(gateway, route, headers)? {
        return Ok(admission);
    }
    if !route.apps.is_empty() && signature::is_signed(headers) {
        return by_signature(gateway, route, headers);
    }
    Err(Refusal::unauthorized("Missing Credentials"))
}

/// Decides by the `Authorization` header: an AppCode or a JWT bearer
/// token, as the route accepts them. None when there is no such header,
/// or when it goes with a signature, which decides instead.
fn by_authorization(
    gateway: &GatewayPolicy,
    route: &RoutePolicy,
    headers: &HeaderMap,
) -> Result<Option<Admission>, Refusal> {
    let mut values = headers.get_all(axum::http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() || value.len() > MAX_AUTHORIZATION {
        return Err(Refusal::unauthorized("Invalid Authorization"));
    }
    let text = value
        .to_str()
        .map_err(|_| Refusal::unauthorized("Invalid Authorization"))?;
    let (scheme, credential) = text.split_once(' ').unwrap_or((text, ""));
    let credential = credential.trim();
    if scheme.eq_ignore_ascii_case("APPCODE") && !route.apps.is_empty() {
        return by_app_code(gateway, route, credential).map(Some);
    }
    if scheme.eq_ignore_ascii_case("Bearer") && route.jwt {
        let jwt = gateway
            .jwt
            .as_ref()
            .ok_or(Refusal::unauthorized("Invalid Token"))?;
        return Ok(Some(Admission {
            caller: Some((jwt.verify(credential)?, Credential::Jwt)),
            pending: None,
        }));
    }
    if !signature::is_signed(headers) {
        return Err(Refusal::unauthorized("Invalid Authorization"));
    }
    Ok(None)
}

/// Admits the app whose AppCode is `code`, when the route authorizes it.
fn by_app_code(
    gateway: &GatewayPolicy,
    route: &RoutePolicy,
    code: &str,
) -> Result<Admission, Refusal> {
    let app = gateway
        .apps
        .by_code(code)
        .ok_or(Refusal::unauthorized("Invalid AppCode"))?;
    if !authorizes(route, &app.name) {
        return Err(Refusal::forbidden("Unauthorized"));
    }
    Ok(Admission {
        caller: Some((app.name.clone(), Credential::AppCode)),
        pending: None,
    })
}

/// Checks a signed request's headers and admits its app, when the route
/// authorizes it; the signature over the body is checked later
/// ([`Admission::finish`]).
fn by_signature(
    gateway: &GatewayPolicy,
    route: &RoutePolicy,
    headers: &HeaderMap,
) -> Result<Admission, Refusal> {
    // The clock is read for signed requests only.
    let now = now_ms();
    let pending = signature::check_headers(headers, &gateway.apps, now, gateway.window_ms())?;
    if !authorizes(route, &pending.app.name) {
        return Err(Refusal::forbidden("Unauthorized"));
    }
    Ok(Admission {
        caller: Some((pending.app.name.clone(), Credential::Signature)),
        pending: Some((pending, now)),
    })
}

/// Whether the route lets the app `name` call it.
fn authorizes(route: &RoutePolicy, name: &Arc<str>) -> bool {
    route.apps.iter().any(|app| app == name)
}

impl Admission {
    /// Its signature is to be checked over the body.
    pub fn needs_body(&self) -> bool {
        self.pending.is_some()
    }

    /// Verifies a signed request's signature over its `body`, then
    /// records its nonce; nothing for other requests.
    ///
    /// # Errors
    ///
    /// The [`Refusal`] to answer with.
    pub fn finish(
        &self,
        gateway: &GatewayPolicy,
        method: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), Refusal> {
        let Some((pending, now)) = &self.pending else {
            return Ok(());
        };
        pending.verify(method, uri, headers, body)?;
        gateway
            .nonces
            .admit(
                &pending.app.name,
                &pending.nonce,
                pending.stamp,
                *now,
                gateway.window_ms(),
            )
            .map_err(|stale| match stale {
                nonce::Stale::Used => Refusal::unauthorized("Nonce Used"),
                nonce::Stale::TooOld => Refusal::unauthorized("Invalid Timestamp"),
            })
    }

    /// The rate limits of `route` for this caller, who is at `client`.
    ///
    /// # Errors
    ///
    /// A 429 with the wait.
    pub fn rate(&self, route: &RoutePolicy, client: IpAddr) -> Result<(), Refusal> {
        let Some(limits) = &route.rate else {
            return Ok(());
        };
        let caller = match &self.caller {
            Some((subject, Credential::Jwt)) => Caller::Subject(subject.clone()),
            Some((app, _)) => Caller::App(app.clone()),
            None => Caller::Ip(client),
        };
        limits
            .check(&caller)
            .map_err(|wait| Refusal::limited("Throttled by Flow Control", wait))
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Whether a request header is a credential, never passed to a function
/// of a protected route.
pub fn is_credential(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization")
        || name
            .get(..5)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("x-ca-"))
}
