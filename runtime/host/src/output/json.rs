//! A response written as JSON text, read without ever building a JSON tree.
//!
//! Each field is kept as the raw text the guest wrote and converted on its
//! own, so what the host allocates is bounded by the output's size: a body
//! such as `[0,0,0,…]` is copied as text (minified), never expanded into a
//! value per element. Leniency, as the API-gateway samples in Node.js and
//! Python need: `"statusCode": "200"`, `"isBase64Encoded": "false"`, and an
//! object or array as `body` (sent as JSON text with `content-type:
//! application/json` unless the function set a content type).

use super::{bad, cut};
use crate::Error;
use fenn_abi::{Map, Response};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(rename = "statusCode", borrow)]
    status_code: Option<&'a RawValue>,
    #[serde(rename = "isBase64Encoded", borrow)]
    is_base64_encoded: Option<&'a RawValue>,
    #[serde(borrow)]
    headers: Option<&'a RawValue>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
}

/// Reads a response from JSON text, leniently as described above.
///
/// # Errors
///
/// [`Error::BadOutput`] naming the field that is wrong.
pub fn from_json(text: &[u8]) -> Result<Response, Error> {
    let fields: Fields<'_> = match serde_json::from_slice::<&RawValue>(text) {
        Ok(raw) if raw.get().starts_with('{') => serde_json::from_str(raw.get())
            .map_err(|error| bad(format!("not a response: {error}")))?,
        Ok(_) => return Err(bad("not a JSON object".into())),
        Err(error) => return Err(bad(format!("not JSON: {error}"))),
    };
    let status_code = match fields.status_code.map(RawValue::get) {
        None => return Err(bad("missing statusCode".into())),
        Some(raw) if raw.starts_with('"') => string(raw)?.trim().parse().ok(),
        Some(raw) => serde_json::from_str::<u64>(raw).ok(),
    }
    .and_then(|n| u16::try_from(n).ok())
    .ok_or_else(|| bad("statusCode is not a number".into()))?;
    let is_base64_encoded = match fields.is_base64_encoded.map(RawValue::get) {
        None | Some("null") => false,
        Some("true") => true,
        Some("false") => false,
        Some(raw) if raw.starts_with('"') => match string(raw)?.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(bad(format!("isBase64Encoded is {raw}, not a boolean"))),
        },
        Some(raw) => {
            return Err(bad(format!(
                "isBase64Encoded is {}, not a boolean",
                cut(raw)
            )));
        }
    };
    let mut headers = headers(fields.headers)?;
    let body = match fields.body.map(RawValue::get) {
        None | Some("null") => String::new(),
        Some(raw) if raw.starts_with('"') => string(raw)?,
        Some(raw) if raw.starts_with(['{', '[']) => {
            headers
                .entry("content-type".into())
                .or_insert_with(|| "application/json".into());
            minify(raw)
        }
        Some(scalar) => scalar.to_owned(),
    };
    Ok(Response {
        is_base64_encoded,
        status_code,
        headers,
        body,
    })
}

fn headers(raw: Option<&RawValue>) -> Result<Map, Error> {
    let mut headers = Map::new();
    let Some(raw) = raw.map(RawValue::get).filter(|raw| *raw != "null") else {
        return Ok(headers);
    };
    if !raw.starts_with('{') {
        return Err(bad("headers is not an object".into()));
    }
    // A map keeps the last of a repeated name, as a JSON object does.
    let map: std::collections::BTreeMap<String, &RawValue> =
        serde_json::from_str(raw).map_err(|error| bad(format!("headers: {error}")))?;
    for (name, value) in map {
        let value = match value.get() {
            "null" => continue,
            text if text.starts_with('"') => string(text)?,
            other => minify(other),
        };
        headers.insert(name.to_ascii_lowercase(), value);
    }
    Ok(headers)
}

fn string(raw: &str) -> Result<String, Error> {
    serde_json::from_str(raw).map_err(|error| bad(format!("bad JSON string: {error}")))
}

/// Valid JSON text without the white space outside strings: what a JSON
/// serializer writes, in one pass and never longer than the input.
fn minify(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in raw.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_white_space_inside_strings() {
        assert_eq!(
            minify("{ \"a b\" : [ 1, \"x \\\" y\" ],\n \"c\":{} }"),
            "{\"a b\":[1,\"x \\\" y\"],\"c\":{}}"
        );
    }

    #[test]
    fn a_huge_array_body_is_kept_as_text() {
        let mut text = String::from(r#"{"statusCode":200,"body":["#);
        text.push_str(&"0,".repeat(100_000));
        text.push_str("0]}");
        let response = from_json(text.as_bytes()).unwrap();
        assert_eq!(response.body.len(), 1 + 200_000 + 2);
        assert_eq!(response.headers["content-type"], "application/json");
    }

    #[test]
    fn headers_keep_the_last_of_a_repeated_name_and_render_non_strings_as_json() {
        let response = from_json(
            br#"{"statusCode":200,"headers":{"X-A":"1","x-a":"2","x-n":7,"x-o":{ "k" : 1 },"x-z":null}}"#,
        )
        .unwrap();
        assert_eq!(response.headers["x-a"], "2");
        assert_eq!(response.headers["x-n"], "7");
        assert_eq!(response.headers["x-o"], r#"{"k":1}"#);
        assert!(!response.headers.contains_key("x-z"));
    }
}
