//! A function's response as HTTP: plainly, or in the function API envelope.
//!
//! Plain mode answers with the function's status, headers and body (a
//! base64 body decoded first). Envelope mode (the function API envelope)
//! always answers JSON:
//! `{"custom":{"message":"<the response as JSON text>"},"status":{"code":200,"text":""}}`;
//! the message's keys are in the function API's order (alphabetical) and
//! `headers` is `null` when the function set none, so the function API's
//! example comes out byte for byte.

use crate::GatewayError;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use fenn_abi::Response;

/// How a route answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResponseMode {
    /// The function's response, as HTTP (the default).
    #[default]
    Plain,
    /// The function API's `{"custom":…,"status":…}` envelope.
    Envelope,
}

/// Headers a function may not set: the server owns the framing.
const OWNED_BY_SERVER: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// Turns a function's response into the HTTP answer for `mode`; an
/// envelope larger than `max_response` bytes is refused, so escaping the
/// response twice cannot multiply what the gateway holds.
///
/// # Errors
///
/// [`GatewayError::Function`] with a bad-output error when the response
/// has an invalid header, a body that claims base64 and is not, or an
/// envelope over `max_response`.
pub fn to_http(
    response: Response,
    mode: ResponseMode,
    max_response: usize,
) -> Result<axum::response::Response, GatewayError> {
    match mode {
        ResponseMode::Plain => plain(response),
        ResponseMode::Envelope => {
            let message =
                envelope_message(&response, max_response).ok_or_else(|| too_large(max_response))?;
            envelope_within(StatusCode::OK, &message, max_response)
                .ok_or_else(|| too_large(max_response))
        }
    }
}

fn bad(reason: String) -> GatewayError {
    GatewayError::Function(fenn_runtime::Error::BadOutput { reason })
}

fn too_large(max_response: usize) -> GatewayError {
    bad(format!(
        "the response in its envelope is over max_response ({max_response} bytes)"
    ))
}

fn plain(response: Response) -> Result<axum::response::Response, GatewayError> {
    let fenn_runtime::output::Reply {
        status_code,
        headers,
        body,
    } = fenn_runtime::output::into_reply(response)?;
    let status =
        StatusCode::from_u16(status_code).map_err(|_| bad(format!("statusCode {status_code}")))?;
    // 204, 205 and 304 answers carry no body (RFC 9110, 15.3.5, 15.3.6
    // and 15.4.5); the runtime already refused 1xx.
    let body = if bodyless(status) {
        Body::empty()
    } else {
        Body::from(body)
    };
    let mut http = axum::response::Response::new(body);
    *http.status_mut() = status;
    for (name, value) in &headers {
        if OWNED_BY_SERVER
            .iter()
            .any(|owned| owned.eq_ignore_ascii_case(name))
        {
            continue;
        }
        // The runtime checked every header; these cannot fail.
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(format!("header name {name:?} is not valid HTTP")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| bad(format!("header {name} has a value that is not valid HTTP")))?;
        http.headers_mut().append(name, value);
    }
    Ok(http)
}

/// A status whose answer has no body.
fn bodyless(status: StatusCode) -> bool {
    status.is_informational()
        || matches!(
            status,
            StatusCode::NO_CONTENT | StatusCode::RESET_CONTENT | StatusCode::NOT_MODIFIED
        )
}

/// The envelope's message: the response as JSON text, keys in alphabetical
/// order and `headers` null when there are none.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    body: &'a str,
    headers: Option<&'a fenn_abi::Map>,
    is_base64_encoded: bool,
    status_code: u16,
}

#[derive(serde::Serialize)]
struct Envelope<'a> {
    custom: Custom<'a>,
    status: Status,
}

#[derive(serde::Serialize)]
struct Custom<'a> {
    message: &'a str,
}

#[derive(serde::Serialize)]
struct Status {
    code: u16,
    text: &'static str,
}

/// The function's response as the envelope's message text, or `None` when
/// it is over `max` bytes.
pub fn envelope_message(response: &Response, max: usize) -> Option<String> {
    let message = Message {
        body: &response.body,
        headers: Some(&response.headers).filter(|headers| !headers.is_empty()),
        is_base64_encoded: response.is_base64_encoded,
        status_code: response.status_code,
    };
    capped_json(&message, max).and_then(|bytes| String::from_utf8(bytes).ok())
}

/// An envelope answer with `status` as both the HTTP status and the code.
pub fn envelope(status: StatusCode, message: &str) -> axum::response::Response {
    envelope_within(status, message, usize::MAX).unwrap_or_default()
}

fn envelope_within(
    status: StatusCode,
    message: &str,
    max: usize,
) -> Option<axum::response::Response> {
    let text = capped_json(
        &Envelope {
            custom: Custom { message },
            status: Status {
                code: status.as_u16(),
                text: "",
            },
        },
        max,
    )?;
    let mut http = axum::response::Response::new(Body::from(text));
    *http.status_mut() = status;
    http.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Some(http)
}

/// JSON text of `value`, or `None` as soon as it passes `max` bytes.
fn capped_json(value: &impl serde::Serialize, max: usize) -> Option<Vec<u8>> {
    struct Capped {
        bytes: Vec<u8>,
        max: usize,
    }
    impl std::io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.bytes.len().saturating_add(buf.len()) > self.max {
                return Err(std::io::Error::other("over the limit"));
            }
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped {
        bytes: Vec::new(),
        max,
    };
    serde_json::to_writer(&mut out, value).ok()?;
    Some(out.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn body_text(response: axum::response::Response) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_function_api_envelope_comes_out_verbatim() {
        let response = to_http(
            Response::ok("Jason requested the API"),
            ResponseMode::Envelope,
            1 << 20,
        )
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let text = body_text(response).await;
        let expected = r#"{"custom":{"message":"{\"body\":\"Jason requested the API\",\"headers\":null,\"isBase64Encoded\":false,\"statusCode\":200}"},"status":{"code":200,"text":""}}"#;
        assert_eq!(text, expected);
    }

    #[tokio::test]
    async fn plain_mode_decodes_base64_and_keeps_headers() {
        let mut response = Response::with_status(201, "AAH/").header("x-a", "b");
        response.is_base64_encoded = true;
        let http = to_http(response, ResponseMode::Plain, 1 << 20).unwrap();
        assert_eq!(http.status(), StatusCode::CREATED);
        assert_eq!(http.headers()["x-a"], "b");
        let bytes = http.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes.as_ref(), &[0, 1, 255]);
    }

    #[tokio::test]
    async fn a_function_cannot_set_the_framing_headers() {
        let response = Response::ok("four")
            .header("content-length", "999")
            .header("transfer-encoding", "chunked");
        let http = to_http(response, ResponseMode::Plain, 1 << 20).unwrap();
        assert!(http.headers().get("content-length").is_none());
        assert!(http.headers().get("transfer-encoding").is_none());
        assert_eq!(body_text(http).await, "four");
    }

    #[test]
    fn an_envelope_that_escaping_would_blow_past_max_response_is_refused() {
        // Each control byte is 6 bytes in the message and 7 in the envelope.
        let response = Response::ok("\u{1}".repeat(1000));
        let error = to_http(response.clone(), ResponseMode::Envelope, 4000).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_GATEWAY);
        assert!(error.to_string().contains("over max_response"), "{error}");
        assert!(to_http(response, ResponseMode::Envelope, 8000).is_ok());
    }

    #[tokio::test]
    async fn bodyless_statuses_drop_the_functions_body() {
        for status in [204, 205, 304] {
            let http = to_http(
                Response::with_status(status, "a body to drop"),
                ResponseMode::Plain,
                1 << 20,
            )
            .unwrap();
            assert_eq!(http.status().as_u16(), status);
            assert_eq!(body_text(http).await, "", "{status}");
        }
    }

    #[test]
    fn an_invalid_header_is_a_bad_output() {
        let response = Response::ok("x").header("bad header", "v");
        let error = to_http(response, ResponseMode::Plain, 1 << 20).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_GATEWAY);
    }
}
