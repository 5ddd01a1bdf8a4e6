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
    let text = managed.metrics();
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
    managed.fenn.log.wait_for("admin: authentication failed");
    let failed = metric(&managed, r#"fenn_auth_failures_total{listener="admin"}"#);
    assert_eq!(failed, "11");
    let throttled = metric(&managed, r#"fenn_auth_throttled_total{listener="admin"}"#);
    assert_eq!(throttled, "0");
}

#[test]
fn a_signed_request_whose_body_arrives_after_a_penalty_began_is_refused_unchecked() {
    use std::io::{Read as _, Write as _};
    let fenn = crate::util::Fenn::with_config_env(
        r#"
        [gateway]
        auth_failures = 2
        auth_penalty = "1m"
        [[app]]
        name = "dashboard"
        key = "dash-key"
        secret_env = "TEST_DASH_SECRET"
        [[function]]
        name = "hello"
        module = "example:hello"
        apps = ["dashboard"]
          [[function.http]]
          route = "/guarded"
        "#,
        &[("TEST_DASH_SECRET", "dash-secret-0123456789")],
    );
    // Its head passed the penalty check: the 100 Continue asks for the body.
    let mut signed = std::net::TcpStream::connect(fenn.addr).unwrap();
    signed
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    signed
        .write_all(
            format!(
                "POST /guarded HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\
                 Expect: 100-continue\r\nx-ca-key: dash-key\r\nx-ca-nonce: n-1\r\n\
                 x-ca-timestamp: {}\r\nx-ca-signature-headers: x-ca-nonce,x-ca-timestamp\r\n\
                 x-ca-signature: bm90LWl0\r\n\r\n",
                super::signed::now_ms()
            )
            .as_bytes(),
        )
        .unwrap();
    let mut answer = [0u8; 12];
    signed.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 100");
    // Two failures from the same address start the penalty.
    let guesser = client_from([127, 0, 0, 1]);
    for code in ["guess-0", "guess-1"] {
        let response = guesser
            .get(fenn.url("/guarded"))
            .header("authorization", format!("APPCODE {code}"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    signed.write_all(b"ok").unwrap();
    let mut rest = Vec::new();
    let mut byte = [0u8; 1];
    // The rest of the 100's head, then the answer's.
    while !(rest.ends_with(b"\r\n\r\n") && rest.starts_with(b" Continue") && rest.len() > 16) {
        assert_eq!(signed.read(&mut byte).unwrap(), 1, "{rest:?}");
        rest.push(byte[0]);
    }
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("HTTP/1.1 429"), "{rest}");
}
