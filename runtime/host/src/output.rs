//! Reading what a guest returns.
//!
//! A guest answers with a postcard [`Response`] or with JSON text in the
//! seeds' format. JSON is read as leniently as the seeds' own samples need:
//! seed 001's Node.js and Python samples send `"statusCode": "200"` and
//! `"isBase64Encoded": "false"` as strings, and an object as `body`. An
//! object (or array) body becomes JSON text with `content-type:
//! application/json` unless the function set a content type. Anything else
//! that is not a response is [`Error::BadOutput`], a 502 at the gateway.

use crate::Error;
use base64::Engine as _;
use fenn_abi::{Map, Response, abi};
use serde_json::Value;

/// Decodes a guest's tagged output.
///
/// # Errors
///
/// [`Error::BadOutput`] naming what is wrong.
pub fn decode(output: &[u8]) -> Result<Response, Error> {
    let response = match output.split_first() {
        Some((&abi::OUTPUT_POSTCARD, rest)) => abi::decode_response(rest)
            .map_err(|error| bad(format!("undecodable postcard response: {error}")))?,
        Some((&abi::OUTPUT_JSON, rest)) => from_json(rest)?,
        Some((tag, _)) => return Err(bad(format!("unknown output tag {tag}"))),
        None => return Err(bad("empty output".into())),
    };
    check(response)
}

/// Reads a response from JSON text, leniently as described above.
///
/// # Errors
///
/// [`Error::BadOutput`] naming the field that is wrong.
pub fn from_json(text: &[u8]) -> Result<Response, Error> {
    let value: Value =
        serde_json::from_slice(text).map_err(|error| bad(format!("not JSON: {error}")))?;
    let Value::Object(mut fields) = value else {
        return Err(bad("not a JSON object".into()));
    };
    let status_code = match fields.remove("statusCode") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        None => return Err(bad("missing statusCode".into())),
        Some(_) => None,
    }
    .and_then(|n| u16::try_from(n).ok())
    .ok_or_else(|| bad("statusCode is not a number".into()))?;
    let is_base64_encoded = match fields.remove("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(other) => return Err(bad(format!("isBase64Encoded is {other}, not a boolean"))),
    };
    let mut headers = Map::new();
    match fields.remove("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let value = match value {
                    Value::String(s) => s,
                    Value::Null => continue,
                    other => other.to_string(),
                };
                headers.insert(name.to_ascii_lowercase(), value);
            }
        }
        Some(_) => return Err(bad("headers is not an object".into())),
    }
    let body = match fields.remove("body") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(structured @ (Value::Object(_) | Value::Array(_))) => {
            headers
                .entry("content-type".into())
                .or_insert_with(|| "application/json".into());
            structured.to_string()
        }
        Some(scalar) => scalar.to_string(),
    };
    Ok(Response {
        is_base64_encoded,
        status_code,
        headers,
        body,
    })
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
        base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .map_err(|error| {
                bad(format!(
                    "isBase64Encoded is true but body is not base64: {error}"
                ))
            })?
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
/// the client's connection), and header names in lower case so that the
/// server's own framing headers are recognised however a guest spells them.
fn check(mut response: Response) -> Result<Response, Error> {
    if !(200..=599).contains(&response.status_code) {
        return Err(bad(format!(
            "statusCode {} is not a final HTTP status (200-599)",
            response.status_code
        )));
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

fn bad(reason: String) -> Error {
    Error::BadOutput { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Result<Response, Error> {
        let mut output = vec![abi::OUTPUT_JSON];
        output.extend_from_slice(text.as_bytes());
        decode(&output)
    }

    #[test]
    fn seed_001_nodejs_sample_shape_is_accepted() {
        // statusCode as a string, body as an object (seed 001, Node.js).
        let response = json(
            r#"{"isBase64Encoded": false, "statusCode": "200",
                "headers": {"x-custom-header": "header value"},
                "body": {"path": "/a", "method": "GET"}}"#,
        )
        .unwrap();
        assert_eq!(response.status_code, 200);
        assert_eq!(response.headers["x-custom-header"], "header value");
        assert_eq!(response.headers["content-type"], "application/json");
        let body: Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(body["path"], "/a");
    }

    #[test]
    fn seed_001_python_sample_shape_is_accepted() {
        // isBase64Encoded and statusCode as strings (seed 001, Python).
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
        assert!(matches!(decode(&[]), Err(Error::BadOutput { .. })));
        assert!(matches!(decode(&[9, 1]), Err(Error::BadOutput { .. })));
        assert!(matches!(decode(&[0, 0xff]), Err(Error::BadOutput { .. })));
    }

    #[test]
    fn postcard_header_names_are_lower_cased_and_1xx_is_refused() {
        let mut response = Response::ok("x");
        response
            .headers
            .insert("Content-Length".into(), "999".into());
        let decoded = decode(&abi::encode_output(&response).unwrap()).unwrap();
        assert_eq!(
            decoded.headers.keys().collect::<Vec<_>>(),
            ["content-length"]
        );
        let early = Response::with_status(101, "");
        let error = decode(&abi::encode_output(&early).unwrap()).unwrap_err();
        assert!(
            error.to_string().contains("not a final HTTP status"),
            "{error}"
        );
    }

    #[test]
    fn postcard_output_round_trips() {
        let response = Response::ok("hi").header("x-a", "b");
        let output = abi::encode_output(&response).unwrap();
        assert_eq!(decode(&output).unwrap(), response);
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
