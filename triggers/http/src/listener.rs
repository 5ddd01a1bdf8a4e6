//! The listener loop: accepting connections within their limits, plain or
//! over TLS, serving each with HTTP/1.1 under the header read and write
//! timeouts, and draining them at shutdown. The gateway and the
//! management API both serve through it.

use crate::connections::{ConnectionLimits, Refused};
use crate::io::WriteTimeout;
use crate::settings::HttpSettings;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::timeout;
pub use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// Largest request line and headers, and hyper's read buffer per
/// connection.
pub const MAX_HEAD_BYTES: usize = 64 << 10;

/// Serves `router` on `listener` as the gateway serves its routes (HTTP/1.1,
/// the connection limits, the header read and write timeouts of
/// `settings`) until `shutdown` completes, then lets in-flight requests
/// finish within the shutdown grace. `name` names the listener in the log.
///
/// # Errors
///
/// Never, today; accept errors are logged and the loop goes on.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    settings: HttpSettings,
    tls: Option<TlsAcceptor>,
    name: &'static str,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    {
        // HTTP/1.1 only: devices and their clients speak it, and leaving
        // HTTP/2 out keeps the h2 stack out of the binary. A TLS-terminating
        // proxy in front can still offer HTTP/2 to browsers.
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            // A request's line and headers in at most 64 KiB (hyper's
            // default is ~400 KiB a connection), so that many connections
            // with large headers cannot hold memory no budget counts.
            .max_buf_size(MAX_HEAD_BYTES);
        let graceful = GracefulShutdown::new();
        let limits = ConnectionLimits::new(
            settings.max_connections,
            settings.max_connections_per_client,
        );
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off briefly.
                        fenn_runtime::limited!(warn, "accept failed", "", %error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let place = match limits.open(peer.ip()) {
                Ok(place) => place,
                Err(refused) => {
                    refuse(refused, peer.ip(), &settings);
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let stream = WriteTimeout::new(stream, settings.write_timeout);
            // Each request knows its peer: the gateway's IP lists, rate
            // limits and trusted proxies start from it.
            let service = TowerToHyperService::new(router.clone().map_request(
                move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    request
                },
            ));
            let (builder, watcher, tls) = (builder.clone(), graceful.watcher(), tls.clone());
            let handshake = settings.header_read_timeout;
            tokio::spawn(async move {
                let _place = place;
                let served = match tls {
                    None => {
                        let connection = builder.serve_connection(TokioIo::new(stream), service);
                        watcher.watch(connection).await
                    }
                    // The handshake in the header read timeout: a client
                    // that opens a connection and says nothing is cut.
                    Some(acceptor) => match timeout(handshake, acceptor.accept(stream)).await {
                        Ok(Ok(secured)) => {
                            let connection =
                                builder.serve_connection(TokioIo::new(secured), service);
                            watcher.watch(connection).await
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    },
                };
                if let Err(error) = served {
                    ended(&error);
                }
            });
        }
        drop(listener);
        tracing::info!("{name}: draining in-flight requests");
        if tokio::time::timeout(settings.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?settings.shutdown_grace, "{name}: shutdown grace ran out");
        }
        Ok(())
    }
}

/// Logs why a connection ended early: a client cut at the write timeout
/// at info (fenn did it on purpose), anything else at debug.
fn ended(error: &hyper::Error) {
    let io =
        std::error::Error::source(error).and_then(|source| source.downcast_ref::<std::io::Error>());
    match io {
        Some(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            fenn_runtime::limited!(info, "connection cut", "", reason = %io, "HTTP: connection cut");
        }
        _ => tracing::debug!(%error, "connection ended with an error"),
    }
}

/// Closes a connection over a limit (the caller drops the socket), with
/// a log line rate-limited so that a flood cannot flood the log.
fn refuse(refused: Refused, client: std::net::IpAddr, settings: &HttpSettings) {
    let (limit, key) = match refused {
        Refused::Total => (settings.max_connections, "server.max_connections"),
        Refused::Client => (
            settings.max_connections_per_client,
            "server.max_connections_per_client",
        ),
    };
    fenn_runtime::limited!(
        warn,
        "connection refused",
        "",
        %client,
        limit,
        "HTTP: connection refused, {key} reached"
    );
}
