//! JWTs made with a JWT library (HS256, RS256 through the JWKS, ES256
//! through the PEM key), and bad ones.

use super::{JWT_SECRET, assert_no_credentials, fenn, fixture};
use crate::util::{TempDir, client};
use base64::Engine as _;
use serde_json::{Value, json};

#[test]
fn jwts_of_each_kind_are_accepted_and_bad_ones_refused() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let dir = TempDir::new("policies");
    let fenn = fenn(&dir);
    let now = super::signed::now_ms() / 1000;
    let claims = |sub: &str, extra: Value| {
        let mut claims = json!({"sub": sub, "iss": "plant", "aud": "fenn", "exp": now + 300});
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        claims
    };
    let hs = |claims: &Value, secret: &str| {
        encode(
            &Header::default(),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let rsa = EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa.pem")).unwrap()).unwrap();
    let ec = EncodingKey::from_ec_pem(&std::fs::read(fixture("ec.pem")).unwrap()).unwrap();
    let mut rs_header = Header::new(Algorithm::RS256);
    rs_header.kid = Some("plant-rsa-1".into());
    let call = |token: &str| {
        let response = client()
            .get(fenn.url("/token"))
            .bearer_auth(token)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().unwrap_or(Value::Null);
        (status, body)
    };
    let tokens = [
        ("hs256", hs(&claims("hs-user", json!({})), JWT_SECRET)),
        (
            "rs256",
            encode(&rs_header, &claims("rs-user", json!({})), &rsa).unwrap(),
        ),
        (
            "es256",
            encode(
                &Header::new(Algorithm::ES256),
                &claims("es-user", json!({})),
                &ec,
            )
            .unwrap(),
        ),
    ];
    for (kind, token) in &tokens {
        let (status, event) = call(token);
        assert_eq!(status, 200, "{kind}: {event}");
        assert_eq!(
            event["headers"]["x-fenn-app"],
            format!("{}-user", &kind[..2])
        );
        assert_no_credentials(&event);
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims("none-user", json!({})).to_string())
    );
    let bad = [
        unsigned,
        hs(&claims("x", json!({})), "another-secret"),
        hs(&claims("x", json!({"exp": now - 600})), JWT_SECRET),
        hs(&claims("x", json!({"nbf": now + 600})), JWT_SECRET),
        hs(&claims("x", json!({"aud": "elsewhere"})), JWT_SECRET),
        hs(&claims("x", json!({"iss": "elsewhere"})), JWT_SECRET),
        // A date as a string, which a JWT library may skip rather than check.
        hs(
            &claims("x", json!({"nbf": (now + 600).to_string()})),
            JWT_SECRET,
        ),
        // A critical extension fenn does not understand.
        {
            let header = br#"{"alg":"HS256","typ":"JWT","crit":["x-unknown"],"x-unknown":1}"#;
            let claims = claims("x", json!({}));
            let message = format!("{}.{}", b64.encode(header), b64.encode(claims.to_string()));
            let key = EncodingKey::from_secret(JWT_SECRET.as_bytes());
            let signature =
                jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
            format!("{message}.{signature}")
        },
        "garbage".to_owned(),
    ];
    for token in &bad {
        let (status, body) = call(token);
        assert_eq!(
            (status, &body),
            (401, &json!({"message": "Invalid Token"})),
            "{token}"
        );
    }
    // A route without jwt does not take a token.
    let response = client()
        .get(fenn.url("/signed/x"))
        .bearer_auth(&tokens[0].1)
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
}
