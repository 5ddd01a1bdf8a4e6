//! IP lists on IPv4 and IPv6, rate limits crossed and refilled, a flood of
//! callers against them, CORS preflights, and config errors that name
//! their key.

use super::private;
use crate::util::{Fenn, TempDir, client, rss_kib};
use serde_json::Value;

/// fenn on every address (IPv4 and IPv6), trusting 127.0.0.1 as a proxy.
fn fenn(dir: &TempDir) -> (Fenn, u16) {
    let config = r#"
        [gateway]
        trusted_proxies = ["127.0.0.1"]
        deny = ["198.51.100.0/24"]

        [[function]]
        name = "echo"
        module = "example:echo"
          [[function.http]]
          route = "/v6-only"
          allow = ["::1"]
          [[function.http]]
          route = "/not-v4"
          deny = ["127.0.0.0/8"]
          [[function.http]]
          route = "/limited"
          rate_per_caller = "60/min"
          [[function.http]]
          route = "/flooded"
          rate_per_caller = "2/h"
          [[function.http]]
          route = "/web"
          methods = ["GET", "PUT"]
          cors = { origins = ["https://ui.example"], max_age = "1m" }
          [[function.http]]
          route = "/anyone"
          cors = { origins = ["*"] }
    "#;
    let file = dir.write("fenn.toml", config);
    let fenn = Fenn::with_config_file_on(&file, &[], "[::]:0");
    let port = fenn.addr.port();
    (fenn, port)
}

fn status(url: &str, forwarded: Option<&str>) -> u16 {
    let mut request = client().get(url);
    if let Some(address) = forwarded {
        request = request.header("x-forwarded-for", address);
    }
    request.send().unwrap().status().as_u16()
}

#[test]
fn ip_lists_hold_for_ipv4_and_ipv6_and_forwarded_addresses_only_from_trusted_proxies() {
    let dir = TempDir::new("policies");
    let (_fenn, port) = fenn(&dir);
    let v4 = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let v6 = |path: &str| format!("http://[::1]:{port}{path}");
    assert_eq!(status(&v4("/v6-only"), None), 403);
    assert_eq!(status(&v6("/v6-only"), None), 200);
    assert_eq!(status(&v4("/not-v4"), None), 403);
    assert_eq!(status(&v6("/not-v4"), None), 200);
    let response = client().get(v4("/not-v4")).send().unwrap();
    assert_eq!(
        response.headers()["x-ca-error-message"],
        "Access Denied by IP Control"
    );
    assert_eq!(
        response.json::<Value>().unwrap()["message"],
        "Access Denied by IP Control"
    );
    // Through the trusted proxy at 127.0.0.1, the forwarded address counts:
    // the global deny list refuses it on every path, routed or not.
    assert_eq!(status(&v4("/v6-only"), Some("198.51.100.7")), 403);
    assert_eq!(status(&v4("/nowhere"), Some("198.51.100.7")), 403);
    // ... and a client forwarded as ::1 may use the IPv6-only route.
    assert_eq!(status(&v4("/v6-only"), Some("::1")), 200);
    // From ::1, not a trusted proxy, the header is the client's own claim.
    assert_eq!(status(&v6("/not-v4"), Some("198.51.100.7")), 200);
}

#[test]
fn a_rate_limit_is_crossed_with_retry_after_while_others_keep_their_share() {
    let dir = TempDir::new("policies");
    let (fenn, port) = fenn(&dir);
    let url = format!("http://127.0.0.1:{port}/limited");
    let limited = (0..1000)
        .map(|_| {
            client()
                .get(&url)
                .header("x-forwarded-for", "203.0.113.5")
                .send()
                .unwrap()
        })
        .find(|response| response.status() == 429)
        .expect("60/min is crossed within 1000 requests");
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(
        limited.headers()["x-ca-error-message"],
        "Throttled by Flow Control"
    );
    // Another caller has its own bucket.
    assert_eq!(status(&url, Some("203.0.113.6")), 200);
    // The refill, a request a second, is tested on a paused clock
    // (tests/in_process.rs), not by waiting here.
    drop(fenn);
}

#[test]
fn a_flood_from_100_000_addresses_stays_bounded_and_known_callers_keep_their_share() {
    let dir = TempDir::new("policies");
    let (fenn, port) = fenn(&dir);
    let url = format!("http://127.0.0.1:{port}/flooded");
    // A caller known before the flood: one of its two requests an hour used.
    assert_eq!(status(&url, Some("192.0.2.1")), 200);
    let before = rss_kib(fenn.pid());
    let passed: usize = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4u32)
            .map(|thread| {
                let url = url.clone();
                scope.spawn(move || {
                    let client = client();
                    (0..25_000u32)
                        .filter(|i| {
                            let n = thread * 25_000 + i;
                            let ip = format!("10.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255);
                            let response = client
                                .get(&url)
                                .header("x-forwarded-for", ip)
                                .send()
                                .unwrap();
                            response.status() == 200
                        })
                        .count()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .sum()
    });
    let grown = rss_kib(fenn.pid()).saturating_sub(before);
    // 10 000 callers get a bucket of their own; the rest share one.
    assert!((10_000..=10_002).contains(&passed), "{passed} passed");
    assert!(grown < 16 << 10, "RSS grew by {grown} KiB");
    // The known caller still has its second request, and no more.
    assert_eq!(status(&url, Some("192.0.2.1")), 200);
    assert_eq!(status(&url, Some("192.0.2.1")), 429);
}

#[test]
fn a_cors_preflight_is_answered_by_fenn_for_allowed_origins_only() {
    let dir = TempDir::new("policies");
    let (_fenn, port) = fenn(&dir);
    let url = format!("http://127.0.0.1:{port}/web");
    let preflight = |origin: &str| {
        client()
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "content-type")
            .send()
            .unwrap()
    };
    let allowed = preflight("https://ui.example");
    assert_eq!(allowed.status(), 204);
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], "https://ui.example");
    assert_eq!(headers["access-control-allow-methods"], "GET, PUT");
    assert_eq!(headers["access-control-allow-headers"], "content-type");
    assert_eq!(headers["access-control-max-age"], "60");
    // A route serving every method still has its preflight answered by
    // fenn, not by the function.
    let any = client()
        .request(
            reqwest::Method::OPTIONS,
            format!("http://127.0.0.1:{port}/anyone"),
        )
        .header("origin", "https://elsewhere.example")
        .header("access-control-request-method", "DELETE")
        .send()
        .unwrap();
    assert_eq!(any.status(), 204);
    assert_eq!(any.headers()["access-control-allow-origin"], "*");
    assert_eq!(any.headers()["access-control-allow-methods"], "DELETE");
    let refused = preflight("https://evil.example");
    assert_eq!(refused.status(), 403);
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
    // The request itself carries the origin back; one from elsewhere not.
    let answer = client()
        .get(&url)
        .header("origin", "https://ui.example")
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["access-control-allow-origin"],
        "https://ui.example"
    );
    let other = client()
        .get(&url)
        .header("origin", "https://evil.example")
        .send()
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[test]
fn policy_config_errors_name_their_key() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new("policies");
    private(&dir, "good.secret", "a-secret-of-some-length");
    let open = dir.write("open.secret", "a-secret-of-some-length");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = r#"
        [gateway]
        deny = ["10.0.0.0/33"]

        [[app]]
        name = "a"
        key = "ka"
        secret_file = "missing.secret"

        [[app]]
        name = "b"
        key = "kb"
        secret_file = "open.secret"

        [[app]]
        name = "c"
        key = "kc"
        secret_file = "good.secret"

        [[app]]
        name = "d"
        secret_file = "good.secret"

        [[function]]
        name = "echo"
        module = "example:echo"
          [[function.http]]
          route = "/x"
          apps = ["ghost"]
          [[function.http]]
          route = "/y"
          rate = "lots"
          jwt = true

        [[function]]
        name = "echo2"
        module = "example:echo"
        apps = ["cc"]
          [[function.http]]
          route = "/z"
          [[function.http]]
          route = "/refused-app"
          apps = ["b"]
    "#;
    let file = dir.write("fenn.toml", config);
    let output = crate::util::fenn()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let errors = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "app[0].secret_file: cannot read",
        "app[1].secret_file:",
        "may be read by other users (mode 644): chmod 600 it",
        "gateway.deny[0]: '10.0.0.0/33' is not an IP address or a CIDR block",
        "function[0].http[0].apps[0]: no [[app]] is named 'ghost'",
        "function[0].http[1].jwt: needs [gateway.jwt] in the config",
        "app[3].key: an app that signs requests needs its AppKey",
        "function[1].http[0]: the function's apps[0]: no [[app]] is named 'cc' (there are: c)",
    ] {
        assert!(
            errors.contains(expected),
            "{expected:?} missing from:\n{errors}"
        );
    }
    // An app refused for its own keys is one error, not one more for each
    // route naming it.
    assert!(
        !errors.contains("no [[app]] is named 'b'"),
        "a second error for app b:\n{errors}"
    );
}
