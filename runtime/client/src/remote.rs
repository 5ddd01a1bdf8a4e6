//! The CLI's side of the management API: one request at a time to a
//! running fenn (`--remote URL`, `FENN_REMOTE`), with the token from
//! `FENN_ADMIN_TOKEN`. A refusal is an error carrying the server's reason.

use crate::remote_tls::{Trust, client_config};
use anyhow::{Context as _, bail};
use fenn_config::TOKEN_VARIABLE;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

/// Where the CLI finds the management API unless told.
pub const DEFAULT_REMOTE: &str = "http://127.0.0.1:8081";
/// Largest answer read.
const MAX_ANSWER: usize = 64 << 20;

/// A management API to call.
pub struct Remote {
    url: String,
    authority: String,
    token: String,
    /// For `https://`: the TLS client and the name the certificate must
    /// carry.
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
}

impl Remote {
    /// The API at `url` (`http://host:port`, or `https://host:port`
    /// trusted as `trust` says), with the token from the environment.
    pub fn new(url: &str, trust: Option<Trust<'_>>) -> anyhow::Result<Self> {
        let (secure, rest) = match url.split_once("://") {
            Some(("http", rest)) => (false, rest),
            Some(("https", rest)) => (true, rest),
            _ => bail!(
                "--remote {url}: the management API is reached as http://host:port or https://host:port"
            ),
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            bail!("--remote {url}: not http(s)://host:port");
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() => (host, port.to_owned()),
            _ => (authority, if secure { "443" } else { "80" }.to_owned()),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let tls = match (secure, trust) {
            (true, Some(trust)) => {
                let name = ServerName::try_from(host.to_owned())
                    .with_context(|| format!("--remote {url}: '{host}' is not a host name"))?;
                Some((
                    tokio_rustls::TlsConnector::from(client_config(&trust)?),
                    name,
                ))
            }
            (true, None) => bail!(
                "--remote {url}: say how to trust its certificate: --ca-file FILE, or --fingerprint SHA256 (fenn prints it at start)"
            ),
            (false, _) => None,
        };
        let token = std::env::var(TOKEN_VARIABLE)
            .map_err(|_| anyhow::anyhow!("set {TOKEN_VARIABLE} to the management API's token"))?;
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            authority,
            token,
            tls,
        })
    }

    /// Sends one request and answers the JSON reply of a success.
    ///
    /// # Errors
    ///
    /// fenn cannot be reached, or refused: the error carries its status
    /// and reason.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let limited = http_body_util::Limited::new(response.into_body(), MAX_ANSWER);
        let bytes = limited
            .collect()
            .await
            .map_err(|error| anyhow::anyhow!("cannot read the answer: {error}"))?
            .to_bytes();
        let answer: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::json!({"error": String::from_utf8_lossy(&bytes)}));
        if status.is_success() {
            return Ok(answer);
        }
        Err(refusal(status, &answer))
    }

    /// Sends one request; the response's body is the caller's to read
    /// (a stream's, as it comes).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        let cannot = || format!("cannot reach the management API at {}", self.url);
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .with_context(cannot)?;
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
        match &self.tls {
            None => exchange(stream, request).await.map_err(|error| {
                // An HTTPS listener answers plain HTTP with a TLS record.
                let hint = format!("{error:#}").contains("invalid HTTP version");
                let hint = if hint {
                    " (does it serve HTTPS? then https://…)"
                } else {
                    ""
                };
                error.context(format!("{}{hint}", cannot()))
            }),
            Some((connector, name)) => {
                let secured = connector
                    .connect(name.clone(), stream)
                    .await
                    .map_err(|error| {
                        let hint = error.to_string().contains("CaUsedAsEndEntity");
                        let hint = if hint {
                            " (a self-signed certificate: pin it with --fingerprint)"
                        } else {
                            ""
                        };
                        anyhow::Error::new(error).context(format!("{}{hint}", cannot()))
                    })?;
                exchange(secured, request).await.with_context(cannot)
            }
        }
    }
}

/// The error of a refused request: its status and the server's reasons.
pub fn refusal(status: hyper::StatusCode, answer: &Value) -> anyhow::Error {
    if status == hyper::StatusCode::UNAUTHORIZED {
        return anyhow::anyhow!(
            "401 Unauthorized: {TOKEN_VARIABLE} is not the token this fenn was started with"
        );
    }
    {
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
        anyhow::anyhow!(message)
    }
}

/// One request over `io`, and its response.
async fn exchange(
    io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    request: hyper::Request<Full<Bytes>>,
) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    Ok(sender.send_request(request).await?)
}
