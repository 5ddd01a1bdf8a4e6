//! The listener loop: accepting connections within their limits, plain or
//! over TLS, serving each with HTTP/1.1 under the header read and write
//! timeouts, and draining them at shutdown. The gateway and the
//! management API both serve through it.
//!
//! hyper's header read timeout runs from accept to a complete request
//! head, and again from the end of each response to the next head: it is
//! also the idle timeout of a kept-alive connection. At a connection
//! limit, an idle connection makes way for the new one
//! ([`ConnectionLimits`]).

use crate::connections::{Activity, Admitted, Connection, ConnectionLimits, Refused};
use crate::io::WriteTimeout;
use crate::settings::HttpSettings;
use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::timeout;
#[cfg(feature = "tls")]
pub use tokio_rustls::TlsAcceptor;

/// A TLS acceptor, in a build without the `tls` feature: none exists.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub enum TlsAcceptor {}
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
    let builder = http1_builder(&settings);
    let limits = ConnectionLimits::new(
        settings.max_connections,
        settings.max_connections_per_client,
        settings.reserved_for_loopback,
    );
    // Every connection holds a receiver; the sender sees them all gone
    // when the last connection has ended.
    let (stop, stopping) = watch::channel(false);
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
        let Some(place) = open(&limits, peer, &settings) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let stream = WriteTimeout::new(stream, settings.write_timeout);
        let service = service(router.clone(), peer, place.activity());
        let connection = Served {
            builder: builder.clone(),
            place,
            stopping: stopping.clone(),
            handshake: settings.header_read_timeout,
        };
        tokio::spawn(connection.serve(stream, tls.clone(), service));
    }
    drop((listener, stopping));
    drain(&stop, &settings, name).await;
    Ok(())
}

/// The HTTP/1.1 connection builder, with the header read timeout and the
/// head's size limit of `settings`.
fn http1_builder(settings: &HttpSettings) -> http1::Builder {
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
    builder
}

/// A place for a connection from `peer` within the connection limits
/// (an idle one evicted if need be), or None when it is refused; either
/// is logged.
fn open(
    limits: &Arc<ConnectionLimits>,
    peer: SocketAddr,
    settings: &HttpSettings,
) -> Option<Connection> {
    let client = peer.ip().to_canonical();
    match limits.open(client) {
        Ok((place, Admitted::Free)) => Some(place),
        Ok((place, Admitted::Evicted(limit))) => {
            at_limit(limit, true, client, settings);
            Some(place)
        }
        Err(refused) => {
            at_limit(refused, false, client, settings);
            None
        }
    }
}

/// Tells every connection to close after its request in flight, and
/// waits for them all to end within the shutdown grace.
async fn drain(stop: &watch::Sender<bool>, settings: &HttpSettings, name: &str) {
    tracing::info!("{name}: draining in-flight requests");
    stop.send_replace(true);
    if timeout(settings.shutdown_grace, stop.closed())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?settings.shutdown_grace, "{name}: shutdown grace ran out");
    }
}

/// The router as hyper calls it for one connection: each request knows
/// its peer (the gateway's IP lists, rate limits and trusted proxies start
/// from it) and counts as in flight until its response has been sent.
fn service(
    router: Router,
    peer: SocketAddr,
    activity: Activity,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone
+ Send {
    hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let in_flight = activity.begin();
        let answer = router.clone().oneshot(request);
        async move {
            let response = answer.await?;
            // The body holds the mark: hyper drops it once it is sent.
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _held = &in_flight;
                    frame
                }))
            }))
        }
    })
}

/// One accepted connection, before it is served.
struct Served {
    builder: http1::Builder,
    place: Connection,
    stopping: watch::Receiver<bool>,
    handshake: Duration,
}

impl Served {
    /// Serves the connection, over TLS when `tls` is set, until it ends or
    /// is told to close: at shutdown, or when a new connection takes its
    /// place. Told to close, it finishes the request in flight first.
    // Without the `tls` feature, no acceptor exists and the handshake's
    // timeout has nothing to bound.
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    async fn serve<S>(self, stream: WriteTimeout<TcpStream>, tls: Option<TlsAcceptor>, service: S)
    where
        S: hyper::service::HttpService<Incoming, ResBody = Body> + Send,
        S::Future: Send + 'static,
    {
        let Self {
            builder,
            place,
            mut stopping,
            handshake,
        } = self;
        let close = async {
            tokio::select! {
                _ = stopping.wait_for(|stop| *stop) => Close::Stop,
                () = place.evicted() => Close::Evicted,
            }
        };
        tokio::pin!(close);
        let served = match tls {
            None => {
                let connection = builder.serve_connection(TokioIo::new(stream), service);
                drive(connection, close, || place.busy()).await
            }
            #[cfg(not(feature = "tls"))]
            Some(never) => match never {},
            // The handshake in the header read timeout: a client that
            // opens a connection and says nothing is cut.
            #[cfg(feature = "tls")]
            Some(acceptor) => {
                let secured = tokio::select! {
                    secured = timeout(handshake, acceptor.accept(stream)) => secured,
                    _ = &mut close => return,
                };
                match secured {
                    Ok(Ok(secured)) => {
                        let connection = builder.serve_connection(TokioIo::new(secured), service);
                        drive(connection, close, || place.busy()).await
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                }
            }
        };
        if let Err(error) = served {
            ended(&error);
        }
    }
}

/// Why a connection is told to close.
enum Close {
    /// The listener stops: the connection finishes what it has begun.
    Stop,
    /// A new connection took its place.
    Evicted,
}

/// Runs `connection` to its end. Once `close` completes, it ends after the
/// request in flight; evicted with none in flight (`busy`), it is dropped
/// at once, so that a client that has sent part of a head does not keep
/// a socket the limits no longer count.
async fn drive<I, S>(
    connection: http1::Connection<I, S>,
    close: std::pin::Pin<&mut impl Future<Output = Close>>,
    busy: impl Fn() -> bool,
) -> hyper::Result<()>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<Incoming, ResBody = Body>,
{
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => served,
        why = close => {
            if matches!(why, Close::Evicted) && !busy() {
                return Ok(());
            }
            connection.as_mut().graceful_shutdown();
            connection.await
        }
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

/// Logs a connection at a limit: closed as it arrived, or let in in the
/// place of an idle one (`evicted`), rate-limited so a flood cannot flood
/// the log.
fn at_limit(limit: Refused, evicted: bool, client: std::net::IpAddr, settings: &HttpSettings) {
    let (max, key) = match limit {
        Refused::Total => (settings.max_connections, "server.max_connections"),
        Refused::Client => (
            settings.max_connections_per_client,
            "server.max_connections_per_client",
        ),
    };
    if evicted {
        fenn_runtime::limited!(
            info,
            "connection evicted",
            "",
            %client,
            limit = max,
            "HTTP: {key} reached, an idle connection closed for a new one"
        );
    } else {
        fenn_runtime::limited!(
            warn,
            "connection refused",
            "",
            %client,
            limit = max,
            "HTTP: connection refused, {key} reached and none idle"
        );
    }
}
