//! Gateway policies as callers see them: apps signing with Alibaba Cloud
//! API Gateway's own Node.js SDK (npm `aliyun-api-gateway`) and sending
//! AppCodes with it, requests this test signs itself to get things wrong,
//! JWTs made with a JWT library, and a policy set by a deploy.

mod failures;
mod signed;
mod tokens;
mod traffic;

use crate::util::{Fenn, Managed, TempDir, client, echo_wasm};
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
        # These tests send many bad credentials on purpose.
        [gateway]
        auth_failures = 0

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
        debug_signature = true

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
