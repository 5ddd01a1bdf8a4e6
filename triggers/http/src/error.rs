//! The gateway's errors, and the one place each gets its HTTP status.
//!
//! A client's fault is a 4xx; a function's failure is a 5xx whose body says
//! what kind of failure it was but nothing of the function's internals (the
//! full reason is in the log). The two that matter most follow the API
//! gateway's documented behaviour: output that is not a response is a 502,
//! and a function that does not answer in time is a 504.

use crate::ResponseMode;
use crate::policy::Refusal;
use crate::response::envelope;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use fenn_runtime::Error as RuntimeError;

/// Why the gateway could not answer with a function's response.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The function, or the runtime running it, failed.
    #[error(transparent)]
    Function(#[from] RuntimeError),
    /// No route has this path.
    #[error("no route for {path}")]
    NoRoute {
        /// The path asked for.
        path: String,
    },
    /// The route does not serve this method.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods it serves.
        allowed: Vec<String>,
    },
    /// The body is over the limit.
    #[error("request body is over the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body did not arrive in time.
    #[error("request body did not arrive in time")]
    BodyTimeout,
    /// The bodies held at once are at `server.buffer_memory`.
    #[error("server is busy, retry later")]
    Overloaded,
    /// The body could not be read.
    #[error("request body could not be read: {reason}")]
    BadBody {
        /// Why.
        reason: String,
    },
    /// A gateway policy refused the request (credentials, IP lists, rate
    /// limits, CORS).
    #[error("{}", .0.message)]
    Refused(Refusal),
}

impl From<Refusal> for GatewayError {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

/// A request id as the API gateway's clients read it in `X-Ca-Request-Id`:
/// 128 random bits written as a UUID.
fn request_id() -> HeaderValue {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    let n = u128::from_be_bytes(bytes);
    let id = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        n >> 96,
        (n >> 80) & 0xffff,
        (n >> 64) & 0xffff,
        (n >> 48) & 0xffff,
        n & 0xffff_ffff_ffff
    );
    HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("0"))
}

impl GatewayError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoRoute { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadBody { .. } => StatusCode::BAD_REQUEST,
            Self::Refused(refusal) => {
                StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::FORBIDDEN)
            }
            Self::Function(error) => StatusCode::from_u16(error.status_code())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// What the client is told: the kind of failure, no internals.
    pub fn client_message(&self) -> String {
        match self {
            Self::Function(error) => error.client_message(),
            other => other.to_string(),
        }
    }

    /// The answer for a route in `mode`, naming no function.
    pub fn into_response_for(self, mode: ResponseMode) -> axum::response::Response {
        self.into_response_of(mode, "")
    }

    /// The answer for a route of `function` in `mode`; its log line is
    /// rate-limited per function.
    pub fn into_response_of(self, mode: ResponseMode, function: &str) -> axum::response::Response {
        let status = self.status();
        if status.is_server_error() {
            fenn_runtime::limited!(
                warn,
                "request failed",
                function,
                status = status.as_u16(),
                error = %self,
                "request failed"
            );
        } else {
            tracing::debug!(status = status.as_u16(), error = %self, "request refused");
        }
        let mut response = match mode {
            ResponseMode::Envelope => envelope(status, &self.client_message()),
            ResponseMode::Plain => {
                let body = serde_json::json!({ "message": self.client_message() }).to_string();
                let mut response = (status, body).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
        };
        match &self {
            Self::Function(RuntimeError::Busy { .. } | RuntimeError::Overloaded)
            | Self::Overloaded => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::Refused(refusal) => {
                let headers = response.headers_mut();
                headers.insert(
                    "x-ca-error-message",
                    HeaderValue::from_static(refusal.message),
                );
                headers.insert("x-ca-request-id", request_id());
                if let Some(wait) = refusal.retry_after {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(wait.max(1)));
                }
            }
            Self::MethodNotAllowed { allowed } => {
                if let Ok(allow) = HeaderValue::from_str(&allowed.join(", ")) {
                    response.headers_mut().insert(header::ALLOW, allow);
                }
            }
            _ => {}
        }
        response
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> axum::response::Response {
        self.into_response_for(ResponseMode::Plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_failure_has_its_status() {
        let cases = [
            (RuntimeError::BadOutput { reason: "x".into() }, 502),
            (RuntimeError::Trap { reason: "x".into() }, 502),
            (RuntimeError::MemoryLimit { limit: 1 }, 502),
            (RuntimeError::StackOverflow, 502),
            (
                RuntimeError::Deadline {
                    timeout: Duration::from_secs(1),
                },
                504,
            ),
            (RuntimeError::OutOfFuel { fuel: 1 }, 504),
            (
                RuntimeError::Busy {
                    function: "f".into(),
                },
                503,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(GatewayError::from(error).status().as_u16(), status);
        }
        assert_eq!(
            GatewayError::BodyTooLarge { limit: 1 }.status().as_u16(),
            413
        );
    }

    #[test]
    fn a_trap_tells_the_client_nothing_of_its_internals() {
        let error = GatewayError::from(RuntimeError::Trap {
            reason: "secret panic text".into(),
        });
        assert_eq!(error.client_message(), "function failed");
    }

    #[test]
    fn busy_answers_with_retry_after() {
        let error = GatewayError::from(RuntimeError::Busy {
            function: "f".into(),
        });
        let response = error.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
