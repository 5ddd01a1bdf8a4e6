//! Reading what a guest returns, within bounds.
//!
//! A guest answers with a postcard [`Response`] or with JSON text in the
//! API-gateway response format (read leniently, see [`json`]). Anything
//! that is not a response is [`Error::BadOutput`], a 502 at the gateway.
//!
//! Every bound is checked here, once, for every trigger: the output may be
//! at most the function's `max_response` bytes, and since decoding never
//! makes anything larger than its input (JSON is kept as text, base64
//! shrinks), neither is the response. A response has at most
//! [`MAX_HEADERS`] headers of at most [`MAX_HEADER_BYTES`] in all, each a
//! valid HTTP header, and a base64 body must decode.

pub mod json;

use crate::Error;
use base64::Engine as _;
use fenn_abi::{Map, Response, abi};
pub use json::from_json;

/// Most headers a response may carry: common HTTP clients take at most
/// 100 in all, and the server adds its own.
pub const MAX_HEADERS: usize = 64;
/// Largest total size of a response's header names and values.
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// Decodes a guest's tagged output of at most `max_response` bytes.
///
/// # Errors
///
/// [`Error::BadOutput`] naming what is wrong.
pub fn decode(output: &[u8], max_response: usize) -> Result<Response, Error> {
    if output.len() > max_response {
        return Err(bad(format!(
            "output of {} bytes is over max_response ({max_response} bytes)",
            output.len()
        )));
    }
    let response = match output.split_first() {
        Some((&abi::OUTPUT_POSTCARD, rest)) => abi::decode_response(rest)
            .map_err(|error| bad(format!("undecodable postcard response: {error}")))?,
        Some((&abi::OUTPUT_JSON, rest)) => from_json(rest)?,
        Some((tag, _)) => return Err(bad(format!("unknown output tag {tag}"))),
        None => return Err(bad("empty output".into())),
    };
    check(response)
}

/// A response as a trigger sends it: the status, the headers and the
/// body's bytes (base64-decoded when the response says so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status_code: u16,
    /// The headers, names in lower case.
    pub headers: Map,
    /// The body as bytes.
    pub body: Vec<u8>,
}

/// Unpacks a response for sending, decoding a base64 body.
///
/// # Errors
///
/// [`Error::BadOutput`] when the body claims base64 and is not.
pub fn into_reply(response: Response) -> Result<Reply, Error> {
    let Response {
        is_base64_encoded,
        status_code,
        headers,
        body,
    } = response;
    let body = if is_base64_encoded {
        base64_body(&body)?
    } else {
        body.into_bytes()
    };
    Ok(Reply {
        status_code,
        headers,
        body,
    })
}

/// Final checks for both encodings: a final HTTP status (1xx would break
/// the client's connection), headers within their bounds and valid HTTP,
/// names in lower case so that the server's own framing headers are
/// recognised however a guest spells them, and a base64 body that decodes.
pub(crate) fn check(mut response: Response) -> Result<Response, Error> {
    if !(200..=599).contains(&response.status_code) {
        return Err(bad(format!(
            "statusCode {} is not a final HTTP status (200-599)",
            response.status_code
        )));
    }
    check_headers(&response.headers)?;
    if response.is_base64_encoded {
        check_base64(&response.body)?;
    }
    if response
        .headers
        .keys()
        .any(|name| name.bytes().any(|b| b.is_ascii_uppercase()))
    {
        response.headers = std::mem::take(&mut response.headers)
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
    }
    Ok(response)
}

fn check_headers(headers: &Map) -> Result<(), Error> {
    if headers.len() > MAX_HEADERS {
        return Err(bad(format!(
            "{} headers, over the limit of {MAX_HEADERS}",
            headers.len()
        )));
    }
    let total: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if total > MAX_HEADER_BYTES {
        return Err(bad(format!(
            "headers of {total} bytes, over the limit of {MAX_HEADER_BYTES}"
        )));
    }
    for (name, value) in headers {
        // RFC 9110 token characters; values without control characters.
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(token) {
            return Err(bad(format!(
                "header name {:?} is not valid HTTP",
                cut(name)
            )));
        }
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(bad(format!(
                "header {:?} has a value that is not valid HTTP",
                cut(name)
            )));
        }
    }
    Ok(())
}

fn base64_body(body: &str) -> Result<Vec<u8>, Error> {
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(not_base64)
}

fn not_base64(error: impl std::fmt::Display) -> Error {
    bad(format!(
        "isBase64Encoded is true but body is not base64: {error}"
    ))
}

/// Whether `body` decodes, as [`base64_body`] would decode it, without
/// allocating its bytes: the check runs on every base64 response, and the
/// trigger decodes it once more to send it. Whole groups of four decode on
/// their own, so pieces of 4 KiB are decoded into a buffer on the stack;
/// padding may only end the last piece.
fn check_base64(body: &str) -> Result<(), Error> {
    use base64::Engine as _;
    const PIECE: usize = 4096;
    let text = body.trim().as_bytes();
    let mut out = [0u8; PIECE / 4 * 3];
    let mut pieces = text.chunks(PIECE).peekable();
    while let Some(piece) = pieces.next() {
        if pieces.peek().is_some() && piece.contains(&b'=') {
            return Err(not_base64("padding before the end"));
        }
        base64::engine::general_purpose::STANDARD
            .decode_slice(piece, &mut out)
            .map_err(not_base64)?;
    }
    Ok(())
}

/// At most 40 characters of `text`, for an error message.
fn cut(text: &str) -> &str {
    text.char_indices()
        .nth(40)
        .map_or(text, |(end, _)| &text[..end])
}

fn bad(reason: String) -> Error {
    Error::BadOutput { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Result<Response, Error> {
        let mut output = vec![abi::OUTPUT_JSON];
        output.extend_from_slice(text.as_bytes());
        decode(&output, 1 << 20)
    }

    #[test]
    fn the_nodejs_sample_shape_is_accepted() {
        // statusCode as a string, body as an object (the API gateway's Node.js
        // sample, Alibaba Cloud Function Compute).
        let response = json(
            r#"{"isBase64Encoded": false, "statusCode": "200",
                "headers": {"x-custom-header": "header value"},
                "body": {"path": "/a", "method": "GET"}}"#,
        )
        .unwrap();
        assert_eq!(response.status_code, 200);
        assert_eq!(response.headers["x-custom-header"], "header value");
        assert_eq!(response.headers["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(body["path"], "/a");
    }

    #[test]
    fn the_python_sample_shape_is_accepted() {
        // isBase64Encoded and statusCode as strings (the API gateway's Python
        // sample, Alibaba Cloud Function Compute).
        let response = json(
            r#"{"isBase64Encoded": "false", "statusCode": "200",
                "headers": {"x-custom-header": "no"}, "body": {"body": "hi"}}"#,
        )
        .unwrap();
        assert!(!response.is_base64_encoded);
        assert_eq!(response.status_code, 200);
    }

    #[test]
    fn an_object_body_keeps_the_content_type_the_function_set() {
        let response = json(
            r#"{"statusCode": 200, "headers": {"Content-Type": "application/vnd.x+json"},
                "body": {"a": 1}}"#,
        )
        .unwrap();
        assert_eq!(response.headers["content-type"], "application/vnd.x+json");
        assert_eq!(response.body, r#"{"a":1}"#);
    }

    #[test]
    fn outputs_that_are_not_responses_are_bad_output() {
        for text in [
            "not json",
            "[1,2]",
            r#"{"body":"no status"}"#,
            r#"{"statusCode":"two hundred"}"#,
            r#"{"statusCode":700}"#,
            r#"{"statusCode":200,"isBase64Encoded":"maybe"}"#,
            r#"{"statusCode":200,"headers":"x"}"#,
        ] {
            let error = json(text).unwrap_err();
            assert!(matches!(error, Error::BadOutput { .. }), "{text}: {error}");
        }
        assert!(matches!(decode(&[], 1), Err(Error::BadOutput { .. })));
        assert!(matches!(decode(&[9, 1], 9), Err(Error::BadOutput { .. })));
        assert!(matches!(
            decode(&[0, 0xff], 9),
            Err(Error::BadOutput { .. })
        ));
    }

    #[test]
    fn postcard_header_names_are_lower_cased_and_1xx_is_refused() {
        let mut response = Response::ok("x");
        response
            .headers
            .insert("Content-Length".into(), "999".into());
        let decoded = decode(&abi::encode_output(&response).unwrap(), 1 << 20).unwrap();
        assert_eq!(
            decoded.headers.keys().collect::<Vec<_>>(),
            ["content-length"]
        );
        let early = Response::with_status(101, "");
        let error = decode(&abi::encode_output(&early).unwrap(), 1 << 20).unwrap_err();
        assert!(
            error.to_string().contains("not a final HTTP status"),
            "{error}"
        );
    }

    #[test]
    fn an_output_over_max_response_is_refused_before_it_is_read() {
        let output = abi::encode_output(&Response::ok("x".repeat(100))).unwrap();
        let error = decode(&output, 64).unwrap_err();
        assert!(
            error.to_string().contains("over max_response (64 bytes)"),
            "{error}"
        );
        assert!(decode(&output, output.len()).is_ok());
    }

    #[test]
    fn too_many_headers_too_large_headers_and_invalid_ones_are_bad_output() {
        let mut many = Response::ok("x");
        for i in 0..=MAX_HEADERS {
            many.headers.insert(format!("x-{i}"), "v".into());
        }
        let large = Response::ok("x").header("x-big", "v".repeat(MAX_HEADER_BYTES));
        let name = Response::ok("x").header("bad header", "v");
        let value = Response::ok("x").header("x-a", "a\r\nx-forged: 1");
        for (response, says) in [
            (many, "65 headers"),
            (large, "headers of"),
            (name, "\"bad header\" is not valid"),
            (value, "\"x-a\" has a value"),
        ] {
            let error = decode(&abi::encode_output(&response).unwrap(), 1 << 20).unwrap_err();
            assert!(error.to_string().contains(says), "{error}");
        }
    }

    #[test]
    fn the_base64_check_agrees_with_decoding() {
        let long = "QUJD".repeat(3000);
        for body in [
            "",
            "AAH/",
            " aGk= ",
            "%%%",
            "AA==AAAA",
            "AAH",
            long.as_str(),
            &format!("{}AA==", "QUJD".repeat(1023)),
            &format!("{}AA==QUJD", "QUJD".repeat(1023)),
            &format!("{long}%"),
        ] {
            assert_eq!(
                check_base64(body).is_ok(),
                base64_body(body).is_ok(),
                "{:?}",
                cut(body)
            );
        }
    }

    #[test]
    fn postcard_output_round_trips() {
        let response = Response::ok("hi").header("x-a", "b");
        let output = abi::encode_output(&response).unwrap();
        assert_eq!(decode(&output, 1 << 20).unwrap(), response);
    }

    #[test]
    fn base64_bodies_are_decoded_and_bad_base64_is_bad_output() {
        let mut response = Response::ok("AAH/").header("x-a", "b");
        assert_eq!(into_reply(response.clone()).unwrap().body, b"AAH/");
        response.is_base64_encoded = true;
        let reply = into_reply(response.clone()).unwrap();
        assert_eq!((reply.status_code, reply.body), (200, vec![0, 1, 255]));
        assert_eq!(reply.headers["x-a"], "b");
        response.body = "%%%".into();
        assert!(matches!(into_reply(response), Err(Error::BadOutput { .. })));
    }
}
