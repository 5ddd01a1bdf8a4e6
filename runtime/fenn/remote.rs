//! The CLI's side of the management API: one request at a time to a
//! running fenn (`--remote URL`, `FENN_REMOTE`), with the token from
//! `FENN_ADMIN_TOKEN`. A refusal is an error carrying the server's reason.

use crate::config::TOKEN_VARIABLE;
use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// Where the CLI finds the management API unless told.
pub(crate) const DEFAULT_REMOTE: &str = "http://127.0.0.1:8081";
/// Largest answer read.
const MAX_ANSWER: usize = 64 << 20;

/// A management API to call.
pub(crate) struct Remote {
    url: String,
    authority: String,
    token: String,
}

impl Remote {
    /// The API at `url` (`http://host:port`), with the token from the
    /// environment.
    pub(crate) fn new(url: &str) -> anyhow::Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("--remote {url}: the management API is reached as http://host:port");
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            bail!("--remote {url}: not http://host:port");
        }
        let token = std::env::var(TOKEN_VARIABLE)
            .map_err(|_| anyhow::anyhow!("set {TOKEN_VARIABLE} to the management API's token"))?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            authority: authority.to_owned(),
            token,
        })
    }

    /// Sends one request and answers the JSON reply of a success.
    ///
    /// # Errors
    ///
    /// fenn cannot be reached, or refused: the error carries its status
    /// and reason.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let cannot = || format!("cannot reach the management API at {}", self.url);
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .with_context(cannot)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(cannot)?;
        tokio::spawn(connection);
        let bytes = body.map(|body| body.to_string()).unwrap_or_default();
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &self.authority)
            .header(
                hyper::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            )
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(bytes)))?;
        let response = sender.send_request(request).await.with_context(cannot)?;
        let status = response.status();
        let limited = http_body_util::Limited::new(response.into_body(), MAX_ANSWER);
        let bytes = limited
            .collect()
            .await
            .map_err(|error| anyhow::anyhow!("{}: cannot read the answer: {error}", self.url))?
            .to_bytes();
        let answer: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::json!({"error": String::from_utf8_lossy(&bytes)}));
        if status.is_success() {
            return Ok(answer);
        }
        let reason = answer["error"].as_str().unwrap_or("no reason given");
        let mut message = format!(
            "{} {}: {reason}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        if let Some(errors) = answer["errors"].as_array().filter(|errors| {
            errors.len() > 1 || errors.first().and_then(Value::as_str) != Some(reason)
        }) {
            for error in errors.iter().filter_map(Value::as_str) {
                message.push_str("\n  ");
                message.push_str(error);
            }
        }
        bail!(message)
    }
}
