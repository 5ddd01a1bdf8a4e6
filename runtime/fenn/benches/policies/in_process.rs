//! Each policy's check alone, in this process: nanoseconds a request,
//! without the HTTP stack's noise around it.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use fenn_http::policy::apps::{AppSpec, Apps};
use fenn_http::policy::ip::IpList;
use fenn_http::policy::jwt::{Jwt, JwtKey};
use fenn_http::policy::rate::{RateLimits, parse_rate};
use fenn_http::policy::{GatewayPolicy, RoutePolicy, admit, now_ms};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

const N: usize = 50_000;

fn gateway() -> GatewayPolicy {
    let apps = Apps::new(&[AppSpec {
        name: "bench".into(),
        key: Some("bench-key".into()),
        secret: Some(super::SECRET.as_bytes().to_vec()),
        code: Some(super::CODE.into()),
        debug_signature: false,
    }])
    .unwrap();
    GatewayPolicy {
        apps: Arc::new(apps),
        jwt: Some(Jwt {
            keys: vec![JwtKey::secret(super::JWT_SECRET.as_bytes())],
            issuer: None,
            audience: Vec::new(),
            leeway: 30,
        }),
        ..GatewayPolicy::default()
    }
}

fn headers(pairs: &[(&str, String)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
    }
    headers
}

/// Nanoseconds a call of `check`, over `N` calls.
fn time(mut check: impl FnMut(usize)) -> f64 {
    // Warm up on calls numbered past the measured ones (each signed
    // request is sent once).
    for i in N..N + N / 10 {
        check(i);
    }
    let started = Instant::now();
    for i in 0..N {
        check(i);
    }
    started.elapsed().as_nanos() as f64 / N as f64
}

pub(crate) fn report() {
    let gateway = gateway();
    let client: IpAddr = [127, 0, 0, 1].into();
    let uri: axum::http::Uri = "/signed".parse().unwrap();
    let apps = vec![Arc::from("bench")];
    let open = RoutePolicy::default();
    let protected = RoutePolicy {
        apps,
        ..RoutePolicy::default()
    };
    let jwt_route = RoutePolicy {
        jwt: true,
        ..RoutePolicy::default()
    };
    let nets: Vec<String> = (0..15)
        .map(|i| format!("10.1.{i}.0/24"))
        .chain(["127.0.0.0/8".into()])
        .collect();
    let denied: Vec<String> = (0..16).map(|i| format!("10.2.{i}.0/24")).collect();
    let ip_route = RoutePolicy {
        ip: IpList::parse(&nets, &denied).unwrap(),
        ..RoutePolicy::default()
    };
    let quota = || Some(parse_rate("rate", "1000000/s").unwrap());
    let rate_route = RoutePolicy {
        rate: Some(Arc::new(RateLimits::new(quota(), quota()))),
        ..RoutePolicy::default()
    };
    let code = headers(&[("authorization", format!("APPCODE {}", super::CODE))]);
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": "bench", "exp": jsonwebtoken::get_current_timestamp() + 3600}),
        &jsonwebtoken::EncodingKey::from_secret(super::JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let bearer = headers(&[("authorization", format!("Bearer {token}"))]);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, super::SECRET.as_bytes());
    let stamp = now_ms();
    let signed: Vec<HeaderMap> = (0..N + N / 10)
        .map(|i| {
            let text = format!("GET\napplication/json\n\n\n\nx-ca-key:bench-key\nx-ca-nonce:n{i}\nx-ca-timestamp:{stamp}\n/signed");
            let signature = base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, text.as_bytes()));
            headers(&[
                ("accept", "application/json".into()),
                ("x-ca-key", "bench-key".into()),
                ("x-ca-nonce", format!("n{i}")),
                ("x-ca-timestamp", stamp.to_string()),
                ("x-ca-signature-headers", "x-ca-key,x-ca-nonce,x-ca-timestamp".into()),
                ("x-ca-signature", signature),
            ])
        })
        .collect();
    let empty = HeaderMap::new();
    let ok = |route: &RoutePolicy, headers: &HeaderMap| {
        let admission = admit(&gateway, route, headers, client).unwrap();
        admission.rate(route, client).unwrap();
        admission
    };
    let base = time(|_| drop(ok(&open, &empty)));
    let rows = [
        ("appcode", time(|_| drop(ok(&protected, &code)))),
        (
            "signature",
            time(|i| {
                let headers = &signed[i];
                let admission = ok(&protected, headers);
                admission
                    .finish(&gateway, "GET", &uri, headers, b"")
                    .unwrap();
            }),
        ),
        ("jwt", time(|_| drop(ok(&jwt_route, &bearer)))),
        ("ip list", time(|_| drop(ok(&ip_route, &empty)))),
        ("rate limit", time(|_| drop(ok(&rate_route, &empty)))),
    ];
    println!("in process, each policy's check alone ({N} calls; an open route's {base:.0} ns):");
    for (label, ns) in rows {
        println!("  {label:<10} {:>8.0} ns a request", ns - base);
    }
}
