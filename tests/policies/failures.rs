//! Failed authentication throttled by address, on the gateway and on the
//! management API, and counted in `/metrics`.

use super::private;
use crate::util::TempDir;
use crate::util::admin::{Managed, TOKEN};
use std::net::IpAddr;
use std::time::Duration;

/// A client whose connections come from `address` (any of 127.0.0.0/8).
fn client_from(address: [u8; 4]) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .local_address(IpAddr::from(address))
        .build()
        .unwrap()
}

/// The value of the metric line starting with `series`.
fn metric(managed: &Managed, series: &str) -> String {
    let text = client_from([127, 0, 0, 1])
        .get(managed.api("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
        .trim()
        .to_owned()
}

/// The `Retry-After` of a 429, checked to be within the penalty.
fn retry_after(response: &reqwest::blocking::Response) -> u64 {
    assert_eq!(response.status(), 429);
    let seconds: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&seconds), "{seconds}");
    seconds
}

#[test]
fn wrong_appcodes_from_one_address_are_throttled_and_other_addresses_served() {
    let dir = TempDir::new("failures");
    private(&dir, "dash.code", "right-code-0123456789");
    let managed = Managed::start_in(
        dir,
        r#"
        [admin]
        listen = "127.0.0.1:0"
        [gateway]
        auth_failures = 3
        auth_penalty = "1m"
        [[app]]
        name = "dashboard"
        code_file = "dash.code"
        [[function]]
        name = "hello"
        module = "example:hello"
        apps = ["dashboard"]
          [[function.http]]
          route = "/guarded"
        "#,
    );
    let url = managed.fenn.url("/guarded");
    let guesser = client_from([127, 0, 0, 2]);
    let guess = |code: &str| {
        guesser
            .get(&url)
            .header("authorization", format!("APPCODE {code}"))
            .send()
            .unwrap()
    };
    for n in 0..3 {
        assert_eq!(guess(&format!("guess-{n}")).status(), 401);
    }
    // Refused before its code is looked at, the right one too.
    retry_after(&guess("right-code-0123456789"));
    managed
        .fenn
        .log
        .wait_for("gateway: too many failed authentications");
    let response = client_from([127, 0, 0, 3])
        .get(&url)
        .header("authorization", "APPCODE right-code-0123456789")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let failed = metric(&managed, r#"fenn_auth_failures_total{listener="gateway"}"#);
    assert_eq!(failed, "3");
    let throttled = metric(&managed, r#"fenn_auth_throttled_total{listener="gateway"}"#);
    assert_eq!(throttled, "1");
}

#[test]
fn wrong_admin_tokens_from_loopback_are_counted_but_never_lock_the_operator_out() {
    let managed = Managed::start("");
    // Another local process, sharing the device's loopback addresses.
    let guesser = client_from([127, 0, 0, 1]);
    let call = |token: &str| {
        guesser
            .get(managed.api("/v1/functions"))
            .bearer_auth(token)
            .send()
            .unwrap()
    };
    for _ in 0..11 {
        assert_eq!(call("not-the-token").status(), 401);
    }
    assert_eq!(call(TOKEN).status(), 200);
    managed.fenn.log.wait_for("admin: wrong or missing token");
    let failed = metric(&managed, r#"fenn_auth_failures_total{listener="admin"}"#);
    assert_eq!(failed, "11");
    let throttled = metric(&managed, r#"fenn_auth_throttled_total{listener="admin"}"#);
    assert_eq!(throttled, "0");
}
