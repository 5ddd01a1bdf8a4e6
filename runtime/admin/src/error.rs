//! How a management API request fails, and the one place each failure
//! gets its HTTP status and its JSON body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A refused or failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or not the token.
    #[error("unauthorized")]
    Unauthorized,
    /// Too many wrong tokens from the client's address: it waits this
    /// many seconds.
    #[error("too many failed authentications, retry later")]
    Throttled(u64),
    /// A request fenn cannot read (a bad name, JSON that does not parse).
    #[error("{0}")]
    BadRequest(String),
    /// No such function, version or path.
    #[error("{0}")]
    NotFound(String),
    /// A method the path does not take.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The change collides with what is served, or with the config file.
    #[error("{0}")]
    Conflict(String),
    /// A body over its limit.
    #[error("{0}")]
    TooLarge(String),
    /// The module or the definition is refused; nothing changed.
    #[error("{reason}")]
    Refused {
        /// What is refused, for a person.
        reason: String,
        /// Each error, one a line, for a definition with several.
        errors: Vec<String>,
    },
    /// The body did not arrive in time.
    #[error("{0}")]
    Timeout(String),
    /// Other large requests are in progress; try again.
    #[error("{0}")]
    Busy(String),
    /// The store's disk is full: nothing changed.
    #[error("{0}")]
    DiskFull(String),
    /// fenn could not do it (the disk failed): nothing changed.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A refusal with one reason.
    pub fn refused(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::Refused {
            errors: vec![reason.clone()],
            reason,
        }
    }

    /// The whole reason, every error of a refusal included.
    pub fn detail(&self) -> String {
        match self {
            Self::Refused { errors, .. } => errors.join("; "),
            other => other.to_string(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::DiskFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::Refused { reason, errors } => {
                serde_json::json!({"error": reason, "errors": errors})
            }
            other => serde_json::json!({"error": other.to_string()}),
        };
        let mut response = super::api::json(status, &body);
        if matches!(self, Self::Busy(_)) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        if let Self::Throttled(seconds) = self {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        if matches!(self, Self::Unauthorized) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"fenn\""),
            );
        }
        response
    }
}
