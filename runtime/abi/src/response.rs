//! The response: what a function returns, whatever triggered it.

use crate::Map;
use alloc::string::String;
use serde::{Deserialize, Serialize};

/// A function's result, in the API-gateway response format of Alibaba Cloud
/// Function Compute:
/// `isBase64Encoded`, `statusCode`, `headers`, `body`.
///
/// The gateway decodes a base64 body before answering the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Whether `body` is base64-encoded.
    pub is_base64_encoded: bool,
    /// The HTTP status code (also sent as a user property over MQTT).
    pub status_code: u16,
    /// Response headers.
    pub headers: Map,
    /// The body: UTF-8 text, or base64 when `is_base64_encoded`.
    pub body: String,
}

impl Default for Response {
    fn default() -> Self {
        Self {
            is_base64_encoded: false,
            status_code: 200,
            headers: Map::new(),
            body: String::new(),
        }
    }
}

impl Response {
    /// A 200 response with a UTF-8 body.
    pub fn ok(body: impl Into<String>) -> Self {
        Self::with_status(200, body)
    }

    /// A response with a status code and a UTF-8 body.
    pub fn with_status(status_code: u16, body: impl Into<String>) -> Self {
        Self {
            status_code,
            body: body.into(),
            ..Self::default()
        }
    }

    /// Adds a header; the name is lower-cased.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.insert(name.to_ascii_lowercase(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_json_uses_the_api_gateway_field_names() {
        let response = Response::ok("...").header("x-a", "b");
        let json = serde_json::to_string(&response).unwrap();
        assert_eq!(
            json,
            r#"{"isBase64Encoded":false,"statusCode":200,"headers":{"x-a":"b"},"body":"..."}"#
        );
    }
}
