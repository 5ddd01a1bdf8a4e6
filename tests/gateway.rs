//! The HTTP gateway as a client sees it: the function API's example, the
//! event a function receives, and how function output becomes the HTTP
//! answer.

use crate::util::{Fenn, client};
use serde_json::Value;

/// The misbehaving test guest on `/m/{what}`.
const MISBEHAVE: &str = r#"
    [[function]]
    name = "misbehave"
    module = "{misbehave}"
      [[function.http]]
      route = "/m/{what}"
"#;

const FUNCTION_API_ENVELOPE: &str = r#"{"custom":{"message":"{\"body\":\"Jason requested the API\",\"headers\":null,\"isBase64Encoded\":false,\"statusCode\":200}"},"status":{"code":200,"text":""}}"#;

#[test]
fn the_function_api_example_answers_its_documented_envelope_verbatim() {
    let fenn = Fenn::examples();
    let response = client()
        .post(fenn.url("/testfunc?name=Jason"))
        .header("content-type", "text/plain")
        .body("requested the API")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.text().unwrap(), FUNCTION_API_ENVELOPE);
}

#[test]
fn the_function_api_example_in_plain_mode_answers_the_body() {
    let fenn = Fenn::examples();
    let response = client()
        .post(fenn.url("/hello?name=Jason"))
        .header("content-type", "text/plain")
        .body("requested the API")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().unwrap(), "Jason requested the API");
}

#[test]
fn serve_without_config_says_what_it_serves() {
    let fenn = Fenn::examples();
    let announced = fenn.stdout.wait_for("try:");
    for line in [
        "/testfunc",
        "-> hello (envelope)",
        "/echo/{*anything}",
        "/sensor",
    ] {
        assert!(
            announced.contains(line),
            "{line} missing from:\n{announced}"
        );
    }
}

#[test]
fn echo_shows_the_event_exactly_as_sent() {
    let fenn = Fenn::examples();
    let response = client()
        .put(fenn.url("/echo/rooms/k%C3%BCche?unit=c&n=1"))
        .header("x-device", "pi-zero")
        .header("x-fenn-trigger", "forged")
        .body("21.5 °C")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let event: Value = response.json().unwrap();
    assert_eq!(event["path"], "/echo/rooms/k%C3%BCche");
    assert_eq!(event["httpMethod"], "PUT");
    assert_eq!(event["headers"]["x-device"], "pi-zero");
    assert_eq!(event["headers"]["x-fenn-trigger"], "http");
    let invocation = event["headers"]["x-fenn-invocation-id"].as_str().unwrap();
    assert!(invocation.parse::<u64>().is_ok(), "{invocation}");
    assert_eq!(
        event["queryParameters"],
        serde_json::json!({"unit": "c", "n": "1"})
    );
    assert_eq!(
        event["pathParameters"],
        serde_json::json!({"anything": "rooms/küche"})
    );
    assert_eq!(event["body"], "21.5 °C");
    assert_eq!(event["isBase64Encoded"], false);
    let fields: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "body",
        "headers",
        "httpMethod",
        "isBase64Encoded",
        "path",
        "pathParameters",
        "queryParameters",
    ];
    expected.sort_unstable();
    assert_eq!(fields, expected, "exactly the API-gateway event's fields");
}

#[test]
fn a_binary_body_travels_base64_to_the_function_and_back() {
    let fenn = Fenn::with_config(&format!(
        "[[function]]\nname = \"echo\"\nmodule = \"example:echo\"\n  \
         [[function.http]]\n  route = \"/echo\"\n{MISBEHAVE}"
    ));
    let bytes: Vec<u8> = vec![0x00, 0xff, 0xfe, 0x80, b'a', 0x00];
    let event: Value = client()
        .post(fenn.url("/echo"))
        .body(bytes.clone())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(event["body"], "AP/+gGEA");
    // The function answers the same bytes base64-encoded; the gateway
    // decodes them before answering the client.
    let response = client()
        .post(fenn.url("/m/binary"))
        .body(bytes.clone())
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().unwrap().to_vec(), bytes);
}

#[test]
fn the_sample_shapes_are_mapped_and_garbage_is_a_502_with_a_logged_reason() {
    let fenn = Fenn::with_config(MISBEHAVE);
    let response = client().get(fenn.url("/m/nodejs")).send().unwrap();
    assert_eq!(response.status(), 201, "statusCode \"201\" as a string");
    assert_eq!(response.headers()["x-custom-header"], "header value");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().unwrap();
    assert_eq!(
        body,
        serde_json::json!({"path": "/m/nodejs", "method": "GET"})
    );

    let response = client().get(fenn.url("/m/garbage")).send().unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().unwrap();
    assert_eq!(body["message"], "function returned an invalid response");
    let log = fenn.log.wait_for("not JSON");
    assert!(
        log.contains("function output is not a valid response: not JSON"),
        "{log}"
    );

    let response = client().get(fenn.url("/m/badbase64")).send().unwrap();
    assert_eq!(response.status(), 502);
    let log = fenn.log.wait_for("body is not base64");
    assert!(
        log.contains("isBase64Encoded is true but body is not base64"),
        "{log}"
    );
}

#[test]
fn the_sensor_example_converts_and_flags_a_reading() {
    let fenn = Fenn::examples();
    let response = client()
        .post(fenn.url("/sensor/25"))
        .body(r#"{"sensor":"attic","fahrenheit":86}"#)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let reading: Value = response.json().unwrap();
    assert_eq!(reading["celsius"], 30.0);
    assert_eq!(reading["alert"], true);
    assert_eq!(reading["sensor"], "attic");
    let response = client()
        .post(fenn.url("/sensor"))
        .body("warm")
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().unwrap().starts_with("not a reading"));
}

#[test]
fn unknown_routes_and_methods_are_404_and_405() {
    let fenn = Fenn::examples();
    assert_eq!(
        client().get(fenn.url("/nothing")).send().unwrap().status(),
        404
    );
    let response = client().get(fenn.url("/testfunc")).send().unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}

#[test]
fn bodyless_statuses_go_out_without_the_functions_body() {
    use std::io::{Read as _, Write as _};
    let fenn = Fenn::with_config(MISBEHAVE);
    for code in [204, 205, 304] {
        let mut stream = std::net::TcpStream::connect(fenn.addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let request =
            format!("GET /m/status?code={code} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with(&format!("HTTP/1.1 {code}")), "{answer}");
        assert_eq!(body, "", "{code} sent a body: {answer}");
        assert!(!head.contains("content-length: 14"), "{answer}");
    }
}
