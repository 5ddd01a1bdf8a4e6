//! The event: one structure for HTTP requests, MQTT messages and cron fires.

use alloc::{collections::BTreeMap, string::String};
use serde::{Deserialize, Serialize};

/// A string-to-string map (headers, query and path parameters), sorted by key
/// so that its JSON and postcard forms are deterministic.
pub type Map = BTreeMap<String, String>;

/// Header that tells a function which trigger delivered the event
/// (`http`, `mqtt` or `cron`). Set by fenn; a client cannot forge it.
pub const HEADER_TRIGGER: &str = "x-fenn-trigger";
/// Header that carries the invocation id, the same one fenn logs.
pub const HEADER_INVOCATION: &str = "x-fenn-invocation-id";

/// An event, in the API-gateway event format of Alibaba Cloud Function Compute.
///
/// JSON field names are exactly the API-gateway event's: `path`,
/// `httpMethod`, `headers`, `queryParameters`, `pathParameters`, `body`,
/// `isBase64Encoded`. A body that is not valid UTF-8 is carried
/// base64-encoded with `is_base64_encoded` set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The request path, the MQTT topic or the schedule's name.
    pub path: String,
    /// `GET`, `POST`, …; `PUBLISH` for MQTT; `SCHEDULE` for cron.
    pub http_method: String,
    /// Header names in lower case; repeated headers joined with `", "`.
    #[serde(default)]
    pub headers: Map,
    /// Query string parameters (the last value wins when repeated).
    #[serde(default)]
    pub query_parameters: Map,
    /// Named segments of the route template or topic filter.
    #[serde(default)]
    pub path_parameters: Map,
    /// The payload: UTF-8 text, or base64 when `is_base64_encoded`.
    #[serde(default)]
    pub body: String,
    /// Whether `body` is base64-encoded.
    #[serde(default)]
    pub is_base64_encoded: bool,
}

impl Event {
    /// An event with a path and a method and nothing else.
    pub fn new(path: impl Into<String>, http_method: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            http_method: http_method.into(),
            ..Self::default()
        }
    }

    /// Sets a UTF-8 body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self.is_base64_encoded = false;
        self
    }

    /// Adds a header; the name is lower-cased.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.insert(name.to_ascii_lowercase(), value.into());
        self
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn with_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query_parameters.insert(name.into(), value.into());
        self
    }

    /// A header's value, looked up case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// A query parameter's value.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_parameters.get(name).map(String::as_str)
    }

    /// A path parameter's value.
    pub fn path_parameter(&self, name: &str) -> Option<&str> {
        self.path_parameters.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API-gateway event of the function API's example request, verbatim.
    const SAMPLE_EVENT: &str = r#"{
        "path": "/testfunc",
        "httpMethod": "POST",
        "headers": {"content-type": "text/plain"},
        "queryParameters": {"name": "Jason"},
        "pathParameters": {},
        "body": "requested the API",
        "isBase64Encoded": false
    }"#;

    #[test]
    fn sample_event_json_round_trips_with_the_api_gateway_field_names() {
        let event: Event = serde_json::from_str(SAMPLE_EVENT).unwrap();
        assert_eq!(event.path, "/testfunc");
        assert_eq!(event.http_method, "POST");
        assert_eq!(event.header("Content-Type"), Some("text/plain"));
        assert_eq!(event.query("name"), Some("Jason"));
        assert_eq!(event.body, "requested the API");
        let json = serde_json::to_value(&event).unwrap();
        let expected: serde_json::Value = serde_json::from_str(SAMPLE_EVENT).unwrap();
        assert_eq!(json, expected);
    }

    #[test]
    fn function_api_event_without_path_parameters_is_accepted() {
        // The function API's request format has no pathParameters nor
        // isBase64Encoded.
        let json = r#"{"path":"/testfunc","httpMethod":"POST","headers":{},
                       "queryParameters":{"name":"Jason"},"body":"requested the API"}"#;
        let event: Event = serde_json::from_str(json).unwrap();
        assert!(event.path_parameters.is_empty());
        assert!(!event.is_base64_encoded);
    }
}
