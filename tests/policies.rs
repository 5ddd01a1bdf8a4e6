//! Gateway policies as callers see them: apps signing with Alibaba Cloud
//! API Gateway's own Node.js SDK (npm `aliyun-api-gateway`) and sending
//! AppCodes with it, requests this test signs itself to get things wrong,
//! JWTs made with a JWT library, and a policy set by a deploy.

mod traffic;

use crate::util::{Fenn, Managed, TempDir, client, echo_wasm};
use base64::Engine as _;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

const DASH_KEY: &str = "203753456";
const DASH_SECRET: &str = "dash-secret-0123456789";
const DASH_CODE: &str = "6b0c2a6e7f1d4d2c9a51e3b8a7c4d210";
const PUMP_CODE: &str = "pump-code-31415926535";
const JWT_SECRET: &str = "jwt-hs256-secret-for-tests";

/// This directory's fixtures: test keys made with openssl for this test.
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/policies")
        .join(name)
}

/// A file only its owner may read, as fenn asks of a secret.
fn private(dir: &TempDir, name: &str, contents: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.write(name, contents);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// fenn with two apps, JWT keys of all three kinds, and the echo example
/// (which answers with the event it got) behind each kind of route.
fn fenn(dir: &TempDir) -> Fenn {
    private(dir, "dash.code", DASH_CODE);
    private(dir, "pump.secret", "pump-secret-987654321");
    let config = format!(
        r#"
        [gateway.jwt]
        secret_env = "TEST_JWT_SECRET"
        public_key = "{ec}"
        jwks = "{jwks}"
        issuer = "plant"
        audience = ["fenn"]

        [[app]]
        name = "dashboard"
        key = "{DASH_KEY}"
        secret_env = "TEST_DASH_SECRET"
        code_file = "dash.code"

        [[app]]
        name = "pump"
        key = "pump-key"
        secret_file = "pump.secret"
        code_env = "TEST_PUMP_CODE"

        [[function]]
        name = "echo"
        module = "example:echo"
        apps = ["dashboard"]
          [[function.http]]
          route = "/signed/{{*rest}}"
          [[function.http]]
          route = "/token"
          apps = ["pump"]
          jwt = true
        "#,
        ec = fixture("ec.pub.pem").display(),
        jwks = fixture("jwks.json").display(),
    );
    let file = dir.write("fenn.toml", config);
    Fenn::with_config_file(
        &file,
        &[
            ("TEST_DASH_SECRET", DASH_SECRET),
            ("TEST_PUMP_CODE", PUMP_CODE),
            ("TEST_JWT_SECRET", JWT_SECRET),
        ],
    )
}

/// One request through the SDK: `{status, body}` or `{status, message,
/// requestId}`.
fn sdk(options: &Value) -> Value {
    let script = fixture("sdk.js");
    let output = Command::new("node")
        .arg(&script)
        .arg(options.to_string())
        .output()
        .expect("node (tests/run installs it)");
    assert!(
        output.status.success(),
        "sdk.js failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The event the echo function answered with: what the function saw.
fn seen(answer: &Value) -> &Value {
    assert_eq!(answer["status"], 200, "{answer}");
    &answer["body"]
}

fn assert_no_credentials(event: &Value) {
    let headers = event["headers"].as_object().unwrap();
    for name in headers.keys() {
        assert!(
            name != "authorization" && !name.starts_with("x-ca-"),
            "{name} reached the function: {event}"
        );
    }
}

#[test]
fn the_gateways_own_sdk_signs_and_sends_appcodes_and_the_function_sees_the_app_only() {
    let dir = TempDir::new("policies");
    let fenn = fenn(&dir);
    let signed = |method: &str, path: &str, data: Value, headers: Value| {
        sdk(
            &json!({"url": fenn.url(path), "method": method, "key": DASH_KEY,
            "secret": DASH_SECRET, "data": data, "headers": headers}),
        )
    };
    // A GET whose query the SDK sorts into what it signs.
    let answer = signed(
        "get",
        "/signed/sensors?b=2&a=1",
        json!({"c": "3"}),
        json!({}),
    );
    let event = seen(&answer);
    assert_eq!(event["headers"]["x-fenn-app"], "dashboard");
    assert_eq!(event["headers"]["x-fenn-auth"], "signature");
    assert_eq!(event["queryParameters"]["c"], "3");
    assert_no_credentials(event);
    // A JSON POST, whose body the SDK signs through Content-MD5.
    let answer = signed("post", "/signed/readings", json!({"t": 21}), json!({}));
    assert_eq!(seen(&answer)["body"], r#"{"t":21}"#);
    // A form POST, whose parameters are signed with the query's.
    let form = json!({"content-type": "application/x-www-form-urlencoded"});
    let answer = signed(
        "post",
        "/signed/form?z=1",
        json!({"a": "1", "b": "x y"}),
        form,
    );
    assert_eq!(seen(&answer)["body"], "a=1&b=x%20y");
    // AppCodes: the dashboard's is let in; the pump's is not for this route.
    let code = |code: &str, path: &str| {
        sdk(&json!({"url": fenn.url(path), "method": "get", "code": code}))
    };
    let event = code(DASH_CODE, "/signed/x");
    assert_eq!(seen(&event)["headers"]["x-fenn-app"], "dashboard");
    assert_eq!(seen(&event)["headers"]["x-fenn-auth"], "appcode");
    assert_no_credentials(seen(&event));
    let refused = code(PUMP_CODE, "/signed/x");
    assert_eq!(
        (refused["status"].as_u64(), refused["message"].as_str()),
        (Some(403), Some("Unauthorized"))
    );
    assert_eq!(
        refused["requestId"].as_str().unwrap().len(),
        36,
        "{refused}"
    );
    assert_eq!(
        seen(&code(PUMP_CODE, "/token"))["headers"]["x-fenn-app"],
        "pump"
    );
    let refused = code("not-a-code-at-all", "/signed/x");
    assert_eq!(
        (refused["status"].as_u64(), refused["message"].as_str()),
        (Some(401), Some("Invalid AppCode"))
    );
    // A wrong secret.
    let answer = sdk(
        &json!({"url": fenn.url("/signed/x"), "method": "get", "key": DASH_KEY,
        "secret": "not-the-secret", "headers": {}}),
    );
    assert_eq!(
        (answer["status"].as_u64(), answer["message"].as_str()),
        (Some(401), Some("Invalid Signature"))
    );
    // No credentials at all, with a plain client: a JSON body and headers.
    let response = client().get(fenn.url("/signed/x")).send().unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["x-ca-error-message"],
        "Missing Credentials"
    );
    assert!(response.headers().contains_key("x-ca-request-id"));
    assert_eq!(
        response.json::<Value>().unwrap(),
        json!({"message": "Missing Credentials"})
    );
}

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

fn now_ms() -> u64 {
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
fn jwts_of_each_kind_are_accepted_and_bad_ones_refused() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let dir = TempDir::new("policies");
    let fenn = fenn(&dir);
    let now = now_ms() / 1000;
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

#[test]
fn a_deploy_sets_a_routes_policy() {
    let dir = TempDir::new("admin");
    private(&dir, "dash.code", DASH_CODE);
    let managed = Managed::start_in(
        dir,
        &format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\n[[app]]\nname = \"dashboard\"\nkey = \"{DASH_KEY}\"\ncode_file = \"dash.code\"\n"
        ),
    );
    let definition = json!({"http": [{"route": "/deployed", "apps": ["dashboard"], "rate_per_caller": "100/s"}]});
    let (status, body) = managed.deploy("echo", &echo_wasm(), &definition);
    assert_eq!(status, 201, "{body}");
    let url = managed.fenn.url("/deployed");
    assert_eq!(client().get(&url).send().unwrap().status(), 401);
    let response = client()
        .get(&url)
        .header("authorization", format!("APPCODE {DASH_CODE}"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().unwrap()["headers"]["x-fenn-app"],
        "dashboard"
    );
    // An app no config names is the definition's error, keyed.
    let ghost = json!({"http": [{"route": "/ghost", "apps": ["ghost"]}]});
    let (status, body) = managed.deploy("ghost", &echo_wasm(), &ghost);
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("http[0].apps[0]"), "{body}");
    assert!(
        body.to_string().contains("no [[app]] is named 'ghost'"),
        "{body}"
    );
}
