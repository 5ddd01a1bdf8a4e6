//! An HTTP request as an event in the API-gateway event format of Alibaba
//! Cloud Function Compute.
//!
//! Header names are lower case and repeated headers are joined with `", "`;
//! `x-fenn-*` headers are fenn's own, so a client's are dropped and
//! `x-fenn-trigger: http` is set. The query string fills
//! `queryParameters` (the last value wins when a name repeats). A body that
//! is valid UTF-8 travels as text; any other body travels base64-encoded
//! with `isBase64Encoded: true`.

use axum::http::{HeaderMap, Method, Uri};
use fenn_abi::{Event, Map};
use fenn_runtime::EventBuilder;

/// Builds the event for a request.
pub fn to_event(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Vec<u8>,
    path_parameters: Map,
) -> Event {
    to_admitted_event(method, uri, headers, body, path_parameters, None)
}

/// Builds the event for a request to a protected route, which `caller`
/// called: the credentials (`Authorization`, `X-Ca-*`) stay out of it,
/// `x-fenn-app` names the app or the token's subject and `x-fenn-auth`
/// how it proved it (`appcode`, `signature`, `jwt`).
pub fn to_admitted_event(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Vec<u8>,
    path_parameters: Map,
    caller: Option<(&str, crate::policy::Credential)>,
) -> Event {
    let mut event = EventBuilder::new("http", uri.path(), method.as_str());
    for (name, value) in headers {
        if caller.is_some() && crate::policy::is_credential(name.as_str()) {
            continue;
        }
        event.header(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
    }
    if let Some((app, credential)) = caller {
        event.fenn_header("app", app);
        event.fenn_header("auth", credential.as_str());
    }
    if let Some(query) = uri.query() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        for (name, value) in pairs {
            event.query(name, value);
        }
    }
    event.path_parameters(path_parameters);
    event.body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_function_api_request_becomes_an_event() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        let uri: Uri = "/testfunc?name=Jason".parse().unwrap();
        let event = to_event(
            &Method::POST,
            &uri,
            &headers,
            b"requested the API".to_vec(),
            Map::new(),
        );
        assert_eq!(event.path, "/testfunc");
        assert_eq!(event.http_method, "POST");
        assert_eq!(event.query("name"), Some("Jason"));
        assert_eq!(event.header("content-type"), Some("text/plain"));
        assert_eq!(event.header("x-fenn-trigger"), Some("http"));
        assert_eq!(event.body, "requested the API");
        assert!(!event.is_base64_encoded);
    }

    #[test]
    fn binary_bodies_travel_base64_and_repeated_headers_are_joined() {
        let mut headers = HeaderMap::new();
        headers.append("accept", HeaderValue::from_static("a/b"));
        headers.append("accept", HeaderValue::from_static("c/d"));
        headers.insert("x-fenn-trigger", HeaderValue::from_static("cron"));
        let uri: Uri = "/bin?x=%20y&x=z".parse().unwrap();
        let event = to_event(
            &Method::PUT,
            &uri,
            &headers,
            vec![0, 159, 146, 150],
            Map::new(),
        );
        assert_eq!(event.body, "AJ+Slg==");
        assert!(event.is_base64_encoded);
        assert_eq!(event.header("accept"), Some("a/b, c/d"));
        assert_eq!(
            event.header("x-fenn-trigger"),
            Some("http"),
            "a client cannot forge it"
        );
        assert_eq!(event.query("x"), Some("z"));
    }
}
