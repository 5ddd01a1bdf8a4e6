//! Signature vectors derived by hand: each string to sign written out
//! from the rules, its HMAC computed apart from fenn with
//! `printf '<string>' | openssl dgst -sha256 -hmac secret -binary | base64`.

use super::*;
use crate::policy::apps::AppSpec;
use axum::http::HeaderValue;

const NOW: u64 = 1_700_000_000_000;
const WINDOW: u64 = 900_000;

fn apps() -> Apps {
    Apps::new(&[AppSpec {
        name: "dash".into(),
        key: Some("k".into()),
        secret: Some(b"secret".to_vec()),
        code: None,
        debug_signature: true,
    }])
    .unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

const SIGNED: &str = "x-ca-key,x-ca-nonce,x-ca-timestamp";

fn get_request(signature: &str) -> HeaderMap {
    headers(&[
        ("accept", "application/json"),
        ("x-ca-key", "k"),
        ("x-ca-nonce", "n-1"),
        ("x-ca-timestamp", "1700000000000"),
        ("x-ca-signature-headers", SIGNED),
        ("x-ca-signature", signature),
    ])
}

const GET_SIGNATURE: &str = "vgdLAg+LljwPsjp5g9QLI3XQpX5roOfiln6R3acx2zY=";

#[test]
fn a_get_signs_its_headers_and_its_sorted_query() {
    let uri: Uri = "/sensors/7?b=2&a=1".parse().unwrap();
    let headers = get_request(GET_SIGNATURE);
    let pending = check_headers(&headers, &apps(), NOW, WINDOW).unwrap();
    assert_eq!(
        string_to_sign("GET", &headers, &pending.signed, &uri, b"").unwrap(),
        "GET\napplication/json\n\n\n\nx-ca-key:k\nx-ca-nonce:n-1\nx-ca-timestamp:1700000000000\n/sensors/7?a=1&b=2"
    );
    assert_eq!(pending.verify("GET", &uri, &headers, b""), Ok(()));
    // Another method, path or query is another string.
    let refused = Err(Refusal::unauthorized("Invalid Signature"));
    assert_eq!(pending.verify("POST", &uri, &headers, b""), refused);
    let other: Uri = "/sensors/7?b=3&a=1".parse().unwrap();
    assert_eq!(pending.verify("GET", &other, &headers, b""), refused);
}

#[test]
fn a_form_signs_its_parameters_with_the_query_and_sha1_when_asked() {
    let headers = headers(&[
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        ),
        ("x-ca-key", "k"),
        ("x-ca-nonce", "n-2"),
        ("x-ca-timestamp", "1700000000000"),
        ("x-ca-signature-method", "HmacSHA1"),
        ("x-ca-signature-headers", SIGNED),
        ("x-ca-signature", "jsw7dKMOJs8DB9pnffNuY6Mh1UA="),
    ]);
    let uri: Uri = "/p?a=1".parse().unwrap();
    let pending = check_headers(&headers, &apps(), NOW, WINDOW).unwrap();
    assert_eq!(pending.verify("POST", &uri, &headers, b"z=9&m="), Ok(()));
    assert!(pending.verify("POST", &uri, &headers, b"z=8&m=").is_err());
}

#[test]
fn content_md5_is_checked_against_the_body() {
    let mut headers = get_request(GET_SIGNATURE);
    headers.insert(
        "content-md5",
        HeaderValue::from_static("XUFAKrxLKna5cZ2REBfFkg=="),
    );
    let uri: Uri = "/".parse().unwrap();
    let pending = check_headers(&headers, &apps(), NOW, WINDOW).unwrap();
    assert_eq!(
        pending.verify("GET", &uri, &headers, b"hellO"),
        Err(Refusal::unauthorized("Invalid Content-MD5"))
    );
    // The right body gets as far as the signature (made without it).
    assert_eq!(
        pending.verify("GET", &uri, &headers, b"hello"),
        Err(Refusal::unauthorized("Invalid Signature"))
    );
}

#[test]
fn bad_headers_are_refused_with_the_gateways_messages() {
    let refused = |mut headers: HeaderMap, change: &dyn Fn(&mut HeaderMap)| {
        change(&mut headers);
        check_headers(&headers, &apps(), NOW, WINDOW)
            .err()
            .map(|r| r.message)
    };
    let base = get_request(GET_SIGNATURE);
    assert_eq!(refused(base.clone(), &|_| {}), None);
    let set = |name: &'static str, value: &'static str| {
        move |h: &mut HeaderMap| {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    type Change = Box<dyn Fn(&mut HeaderMap)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(set("x-ca-key", "nobody")), "Invalid AppKey"),
        (
            Box::new(|h: &mut HeaderMap| {
                h.remove("x-ca-key");
            }),
            "Invalid AppKey",
        ),
        (
            Box::new(|h: &mut HeaderMap| {
                h.append("x-ca-nonce", HeaderValue::from_static("again"));
            }),
            "Duplicated X-Ca Header",
        ),
        (
            Box::new(set("x-ca-timestamp", "1700000900001")),
            "Invalid Timestamp",
        ),
        (
            Box::new(set("x-ca-timestamp", "1699999099999")),
            "Invalid Timestamp",
        ),
        (Box::new(set("x-ca-timestamp", "soon")), "Invalid Timestamp"),
        (
            Box::new(|h: &mut HeaderMap| {
                h.remove("x-ca-nonce");
            }),
            "Invalid Nonce",
        ),
        (
            Box::new(set("x-ca-signature-headers", "x-ca-key,x-ca-timestamp")),
            "Invalid Signature Headers",
        ),
        (
            Box::new(set("x-ca-signature-method", "HmacMD5")),
            "Invalid Signature Method",
        ),
        (Box::new(set("x-ca-signature", "%%%")), "Invalid Signature"),
    ];
    for (change, message) in cases {
        assert_eq!(refused(base.clone(), &*change), Some(message));
    }
}

#[test]
fn a_signature_over_other_headers_than_it_declares_is_refused() {
    // Declares accept among the signed, but the signature is the one made
    // without it.
    let mut headers = get_request(GET_SIGNATURE);
    headers.insert(
        "x-ca-signature-headers",
        HeaderValue::from_static("accept,x-ca-key,x-ca-nonce,x-ca-timestamp"),
    );
    let uri: Uri = "/sensors/7?b=2&a=1".parse().unwrap();
    let pending = check_headers(&headers, &apps(), NOW, WINDOW).unwrap();
    assert!(pending.verify("GET", &uri, &headers, b"").is_err());
    // A declared header that is not sent.
    headers.insert(
        "x-ca-signature-headers",
        HeaderValue::from_static("x-ca-key,x-ca-nonce,x-ca-timestamp,x-ca-stage"),
    );
    let pending = check_headers(&headers, &apps(), NOW, WINDOW).unwrap();
    assert!(pending.verify("GET", &uri, &headers, b"").is_err());
}

#[test]
fn requests_that_would_sign_alike_are_refused() {
    // Each of these, signed as the rules read it, could stand for another
    // request: refused whatever the signature.
    let cases = [
        ("/p?a=1&a=2", ""),
        ("/p?a=1%26b%3D2", ""),
        ("/p?a%3Db=1", ""),
        ("/p?a=%FF", ""),
        ("/p?amount=999", "amount=1"),
    ];
    let form = headers(&[("content-type", "application/x-www-form-urlencoded")]);
    for (uri, body) in cases {
        let uri: Uri = uri.parse().unwrap();
        assert_eq!(
            string_to_sign("POST", &form, &[], &uri, body.as_bytes()),
            Err(Refusal::unauthorized("Invalid Signature")),
            "{uri} {body}"
        );
    }
    // A value with '=' (base64, say) is one value only.
    let uri: Uri = "/p?token=YWJj%3D%3D".parse().unwrap();
    assert!(
        string_to_sign("GET", &HeaderMap::new(), &[], &uri, b"")
            .unwrap()
            .ends_with("/p?token=YWJj==")
    );
}
