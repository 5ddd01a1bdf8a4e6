//! A function's response as HTTP: plainly, or in seed 002's envelope.
//!
//! Plain mode answers with the function's status, headers and body (a
//! base64 body decoded first). Envelope mode (seed 002's "function API")
//! always answers JSON:
//! `{"custom":{"message":"<the response as JSON text>"},"status":{"code":200,"text":""}}`;
//! the message's keys are in the seed's order (alphabetical) and `headers`
//! is `null` when the function set none, so seed 002's example comes out
//! byte for byte.

use crate::GatewayError;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use fenn_abi::Response;
use serde_json::json;

/// How a route answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResponseMode {
    /// The function's response, as HTTP (the default).
    #[default]
    Plain,
    /// Seed 002's `{"custom":…,"status":…}` envelope.
    Envelope,
}

/// Headers a function may not set: the server owns the framing.
const OWNED_BY_SERVER: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// Turns a function's response into the HTTP answer for `mode`.
///
/// # Errors
///
/// [`GatewayError::Function`] with a bad-output error when the response
/// has an invalid header or a body that claims base64 and is not.
pub fn to_http(
    response: Response,
    mode: ResponseMode,
) -> Result<axum::response::Response, GatewayError> {
    match mode {
        ResponseMode::Plain => plain(response),
        ResponseMode::Envelope => Ok(envelope(StatusCode::OK, &envelope_message(&response))),
    }
}

fn plain(response: Response) -> Result<axum::response::Response, GatewayError> {
    let bad = |reason: String| GatewayError::Function(fenn_runtime::Error::BadOutput { reason });
    let fenn_runtime::output::Reply {
        status_code,
        headers,
        body,
    } = fenn_runtime::output::into_reply(response)?;
    let status =
        StatusCode::from_u16(status_code).map_err(|_| bad(format!("statusCode {status_code}")))?;
    let mut http = axum::response::Response::new(Body::from(body));
    *http.status_mut() = status;
    for (name, value) in &headers {
        if OWNED_BY_SERVER
            .iter()
            .any(|owned| owned.eq_ignore_ascii_case(name))
        {
            continue;
        }
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(format!("header name {name:?} is not valid HTTP")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| bad(format!("header {name} has a value that is not valid HTTP")))?;
        http.headers_mut().append(name, value);
    }
    Ok(http)
}

/// The function's response as seed 002's message text.
pub fn envelope_message(response: &Response) -> String {
    let headers = if response.headers.is_empty() {
        serde_json::Value::Null
    } else {
        json!(response.headers)
    };
    json!({
        "body": response.body,
        "headers": headers,
        "isBase64Encoded": response.is_base64_encoded,
        "statusCode": response.status_code,
    })
    .to_string()
}

/// An envelope answer with `status` as both the HTTP status and the code.
pub fn envelope(status: StatusCode, message: &str) -> axum::response::Response {
    let text = json!({
        "custom": {"message": message},
        "status": {"code": status.as_u16(), "text": ""},
    })
    .to_string();
    let mut http = axum::response::Response::new(Body::from(text));
    *http.status_mut() = status;
    http.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    http
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
    async fn seed_002_envelope_comes_out_verbatim() {
        let response = to_http(
            Response::ok("Jason requested the API"),
            ResponseMode::Envelope,
        )
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let text = body_text(response).await;
        let seed = r#"{"custom":{"message":"{\"body\":\"Jason requested the API\",\"headers\":null,\"isBase64Encoded\":false,\"statusCode\":200}"},"status":{"code":200,"text":""}}"#;
        assert_eq!(text, seed);
    }

    #[tokio::test]
    async fn plain_mode_decodes_base64_and_keeps_headers() {
        let mut response = Response::with_status(201, "AAH/").header("x-a", "b");
        response.is_base64_encoded = true;
        let http = to_http(response, ResponseMode::Plain).unwrap();
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
        let http = to_http(response, ResponseMode::Plain).unwrap();
        assert!(http.headers().get("content-length").is_none());
        assert!(http.headers().get("transfer-encoding").is_none());
        assert_eq!(body_text(http).await, "four");
    }

    #[test]
    fn an_invalid_header_is_a_bad_output() {
        let response = Response::ok("x").header("bad header", "v");
        let error = to_http(response, ResponseMode::Plain).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_GATEWAY);
    }
}
