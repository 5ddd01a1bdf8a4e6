//! Web functions: a WASI guest that speaks HTTP the way a CGI program
//! does (RFC 3875). The request's method, path, query and headers become
//! environment variables (`REQUEST_METHOD`, `PATH_INFO`, `QUERY_STRING`,
//! `HTTP_*`, …) and its body is stdin; the guest writes header lines
//! (`Status: 201 Created`, `Content-Type: …`), a blank line, and the body.
//! A route chooses this with `web = true`; the trigger marks the event with
//! [`HEADER_WEB`].

use crate::Error;
use base64::Engine as _;
use fenn_abi::{Event, Map, Response};

/// The header a trigger sets on an event for a web function (a client's
/// `x-fenn-*` headers never reach an event).
pub const HEADER_WEB: &str = "x-fenn-web";

/// Whether `event` is for a web function: one map lookup (event header
/// names are lower case), since every event of every function asks.
pub fn is_web(event: &Event) -> bool {
    event.headers.contains_key(HEADER_WEB)
}

/// The request's CGI variables, in the order they are set.
pub fn variables(event: &Event, body_len: usize) -> Vec<(String, String)> {
    let mut vars = vec![
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
        ("SERVER_PROTOCOL".into(), "HTTP/1.1".into()),
        ("SERVER_SOFTWARE".into(), "fenn".into()),
        ("REQUEST_METHOD".into(), event.http_method.clone()),
        ("SCRIPT_NAME".into(), String::new()),
        ("PATH_INFO".into(), event.path.clone()),
        ("QUERY_STRING".into(), query_string(&event.query_parameters)),
        ("CONTENT_LENGTH".into(), body_len.to_string()),
    ];
    if let Some(content_type) = event.header("content-type") {
        vars.push(("CONTENT_TYPE".into(), content_type.into()));
    }
    for (name, value) in &event.headers {
        // A name with `_` would read as the same variable as one with `-`
        // (`x_user` and `x-user`): left out, as web servers do for CGI.
        if name.eq_ignore_ascii_case("content-type")
            || name.eq_ignore_ascii_case("content-length")
            || name.contains('_')
        {
            continue;
        }
        vars.push((format!("HTTP_{}", cgi_name(name)), value.clone()));
    }
    for (name, value) in &event.path_parameters {
        vars.push((format!("PATH_PARAMETER_{}", cgi_name(name)), value.clone()));
    }
    vars
}

/// The request's body as bytes: a base64 body decoded.
pub fn body(event: &Event) -> Vec<u8> {
    if event.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(&event.body)
            .unwrap_or_default()
    } else {
        event.body.as_bytes().to_vec()
    }
}

fn cgi_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' => c.to_ascii_uppercase(),
            'A'..='Z' | '0'..='9' => c,
            _ => '_',
        })
        .collect()
}

/// The query parameters, percent-encoded again.
fn query_string(query: &Map) -> String {
    let mut out = String::new();
    for (name, value) in query {
        if !out.is_empty() {
            out.push('&');
        }
        encode(name, &mut out);
        out.push('=');
        encode(value, &mut out);
    }
    out
}

fn encode(text: &str, out: &mut String) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char);
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
}

/// Reads a CGI response: header lines, a blank line, the body. `Status`
/// sets the status (200 without it, 302 with only a `Location`); a body
/// that is not UTF-8 is carried as base64.
///
/// # Errors
///
/// [`Error::BadOutput`] when the header block does not end or a line is
/// not a header.
pub fn response(stdout: &[u8]) -> Result<Response, Error> {
    let bad = |reason: String| Error::BadOutput { reason };
    let (head, body) = split_head(stdout).ok_or_else(|| {
        bad("a web function's output needs header lines and a blank line before its body".into())
    })?;
    let head = std::str::from_utf8(head).map_err(|_| bad("CGI headers are not UTF-8".into()))?;
    let mut status = None;
    let mut headers = Map::new();
    for line in head.lines().filter(|line| !line.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("'{}' is not a CGI header line", cut(line))))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "status" {
            let code = value.split_whitespace().next().unwrap_or_default();
            status = Some(code.parse::<u16>().map_err(|_| {
                bad(format!(
                    "Status '{}' does not start with a code",
                    cut(value)
                ))
            })?);
            continue;
        }
        match headers.get_mut(&name) {
            Some(joined) => {
                joined.push_str(", ");
                joined.push_str(value);
            }
            None => {
                headers.insert(name, value.to_string());
            }
        }
    }
    let status_code = status.unwrap_or(if headers.contains_key("location") {
        302
    } else {
        200
    });
    let (body, is_base64_encoded) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    Ok(Response {
        is_base64_encoded,
        status_code,
        headers,
        body,
    })
}

/// The header block and the body, split at the first blank line.
fn split_head(output: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut start = 0;
    while let Some(end) = output[start..].iter().position(|&b| b == b'\n') {
        let line = &output[start..start + end];
        let next = start + end + 1;
        if line.is_empty() || line == b"\r" {
            return Some((&output[..start], &output[next..]));
        }
        start = next;
    }
    None
}

fn cut(text: &str) -> &str {
    match text.char_indices().nth(80) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgi_response_sets_status_headers_and_body() {
        let out =
            b"Status: 201 Created\r\nContent-Type: text/plain\r\nX-A: 1\r\nx-a: 2\r\n\r\nmade\n";
        let response = response(out).unwrap();
        assert_eq!(response.status_code, 201);
        assert_eq!(response.headers["content-type"], "text/plain");
        assert_eq!(response.headers["x-a"], "1, 2");
        assert_eq!(response.body, "made\n");
    }

    #[test]
    fn a_location_alone_redirects_and_binary_bodies_are_base64() {
        let response = response(b"Location: /next\n\n\xff\x00").unwrap();
        assert_eq!(response.status_code, 302);
        assert!(response.is_base64_encoded);
        assert_eq!(response.body, "/wA=");
    }

    #[test]
    fn output_without_a_header_block_is_refused_saying_why() {
        let error = response(b"just text").unwrap_err();
        assert!(error.to_string().contains("blank line"), "{error}");
        let error = response(b"no colon here\n\nbody").unwrap_err();
        assert!(error.to_string().contains("not a CGI header"), "{error}");
        let error = response(b"Status: teapot\n\n").unwrap_err();
        assert!(error.to_string().contains("Status"), "{error}");
    }

    #[test]
    fn the_request_becomes_cgi_variables() {
        let mut event = Event::new("/web/x", "POST")
            .with_query("q", "a b&c")
            .with_header("content-type", "text/plain")
            .with_header("x-trace-id", "7");
        event.path_parameters.insert("id".into(), "x".into());
        let vars = variables(&event, 5);
        let get = |name: &str| {
            vars.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("REQUEST_METHOD"), Some("POST"));
        assert_eq!(get("PATH_INFO"), Some("/web/x"));
        assert_eq!(get("QUERY_STRING"), Some("q=a%20b%26c"));
        assert_eq!(get("CONTENT_TYPE"), Some("text/plain"));
        assert_eq!(get("CONTENT_LENGTH"), Some("5"));
        assert_eq!(get("HTTP_X_TRACE_ID"), Some("7"));
        assert_eq!(get("PATH_PARAMETER_ID"), Some("x"));
        assert_eq!(get("HTTP_CONTENT_TYPE"), None);
    }
}
