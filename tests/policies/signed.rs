//! Requests this test signs itself, to get each part wrong on purpose.

use super::{DASH_KEY, DASH_SECRET, fenn};
use crate::util::{Fenn, TempDir, client};
use base64::Engine as _;

/// Signs a request as the gateway's clients do, so that the test can get
/// each part wrong: (headers, the string signed).
fn sign(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    stamp: u64,
    nonce: &str,
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).into(), (*v).into()))
        .collect();
    // Sent explicitly: the HTTP client would add one of its own otherwise.
    all.push(("accept".into(), "application/json".into()));
    all.push(("x-ca-key".into(), DASH_KEY.into()));
    all.push(("x-ca-nonce".into(), nonce.into()));
    all.push(("x-ca-timestamp".into(), stamp.to_string()));
    let get = |name: &str| {
        all.iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
            .to_owned()
    };
    let mut text = format!(
        "{method}\n{}\n{}\n{}\n{}\n",
        get("accept"),
        get("content-md5"),
        get("content-type"),
        get("date")
    );
    for name in ["x-ca-key", "x-ca-nonce", "x-ca-timestamp"] {
        text.push_str(&format!("{name}:{}\n", get(name)));
    }
    text.push_str(path_and_query);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, DASH_SECRET.as_bytes());
    let signature =
        base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, text.as_bytes()));
    all.push((
        "x-ca-signature-headers".into(),
        "x-ca-key,x-ca-nonce,x-ca-timestamp".into(),
    ));
    all.push(("x-ca-signature".into(), signature));
    all
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn send(
    fenn: &Fenn,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, String) {
    let mut request = client()
        .request(method.parse().unwrap(), fenn.url(path))
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().unwrap();
    let message = response
        .headers()
        .get("x-ca-error-message")
        .map_or(String::new(), |m| m.to_str().unwrap().to_owned());
    (response.status().as_u16(), message)
}

#[test]
fn bad_signed_requests_are_refused_with_the_gateways_messages_and_nothing_more() {
    use md5::Digest as _;
    let dir = TempDir::new("policies");
    let fenn = fenn(&dir);
    let ok = sign("GET", "/signed/a", &[], now_ms(), "n-1");
    assert_eq!(
        send(&fenn, "GET", "/signed/a", &ok, ""),
        (200, String::new())
    );
    // The same request again: a replay.
    assert_eq!(send(&fenn, "GET", "/signed/a", &ok, "").1, "Nonce Used");
    // Timestamps past the window either way, and not a number.
    for stamp in [now_ms() - 16 * 60_000, now_ms() + 16 * 60_000] {
        let old = sign("GET", "/signed/a", &[], stamp, &format!("n-{stamp}"));
        assert_eq!(
            send(&fenn, "GET", "/signed/a", &old, ""),
            (401, "Invalid Timestamp".into())
        );
    }
    // Another path than the one signed.
    let moved = sign("GET", "/signed/a", &[], now_ms(), "n-2");
    assert_eq!(
        send(&fenn, "GET", "/signed/b", &moved, ""),
        (401, "Invalid Signature".into())
    );
    // A body changed after signing: Content-MD5 says so.
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(b"{\"t\":21}"));
    let headers = [
        ("content-type", "application/json"),
        ("content-md5", md5.as_str()),
    ];
    let body_signed = sign("POST", "/signed/a", &headers, now_ms(), "n-3");
    assert_eq!(
        send(&fenn, "POST", "/signed/a", &body_signed, "{\"t\":99}"),
        (401, "Invalid Content-MD5".into())
    );
    // A form changed after signing: its parameters are in the signature.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let form_signed = sign("POST", "/signed/a?t=21", &form, now_ms(), "n-4");
    assert_eq!(
        send(&fenn, "POST", "/signed/a", &form_signed, "t=99"),
        (401, "Invalid Signature".into())
    );
    // Declaring another header signed than the signature covers.
    let mut declared = sign("GET", "/signed/a", &[], now_ms(), "n-5");
    for (name, value) in &mut declared {
        if name == "x-ca-signature-headers" {
            *value = "accept,x-ca-key,x-ca-nonce,x-ca-timestamp".into();
        }
    }
    assert_eq!(
        send(&fenn, "GET", "/signed/a", &declared, ""),
        (401, "Invalid Signature".into())
    );
    // A duplicated nonce; no nonce; a key no app has.
    let mut twice = sign("GET", "/signed/a", &[], now_ms(), "n-6");
    twice.push(("x-ca-nonce".into(), "n-7".into()));
    assert_eq!(
        send(&fenn, "GET", "/signed/a", &twice, ""),
        (401, "Duplicated X-Ca Header".into())
    );
    let unnonced: Vec<_> = sign("GET", "/signed/a", &[], now_ms(), "n-8")
        .into_iter()
        .filter(|(n, _)| n != "x-ca-nonce")
        .collect();
    assert_eq!(
        send(&fenn, "GET", "/signed/a", &unnonced, ""),
        (401, "Invalid Nonce".into())
    );
    let mut stranger = sign("GET", "/signed/a", &[], now_ms(), "n-9");
    stranger.retain(|(n, _)| n != "x-ca-key");
    stranger.push(("x-ca-key".into(), "nobody".into()));
    assert_eq!(
        send(&fenn, "GET", "/signed/a", &stranger, ""),
        (401, "Invalid AppKey".into())
    );
    // A huge Authorization header.
    let huge = vec![(
        "authorization".to_owned(),
        format!("APPCODE {}", "x".repeat(40_000)),
    )];
    assert_eq!(
        send(&fenn, "GET", "/signed/a", &huge, ""),
        (401, "Invalid Authorization".into())
    );
    // The right request still passes after all that.
    let fine = sign("GET", "/signed/a", &[], now_ms(), "n-10");
    assert_eq!(send(&fenn, "GET", "/signed/a", &fine, "").0, 200);
}

#[test]
fn an_app_with_debug_signature_logs_the_string_fenn_signed_when_one_is_refused() {
    let dir = TempDir::new("policies");
    let fenn = fenn(&dir);
    // Signed over another path than the one sent.
    let stamp = now_ms();
    let headers = sign("GET", "/signed/elsewhere", &[], stamp, "n-debug");
    assert_eq!(
        send(&fenn, "GET", "/signed/a", &headers, ""),
        (401, "Invalid Signature".into())
    );
    let log = fenn.log.wait_for("gateway: signature refused");
    let signed = format!(
        r"GET\napplication/json\n\n\n\nx-ca-key:{DASH_KEY}\nx-ca-nonce:n-debug\nx-ca-timestamp:{stamp}\n/signed/a"
    );
    assert!(log.contains(&signed), "{signed} not in:\n{log}");
}
