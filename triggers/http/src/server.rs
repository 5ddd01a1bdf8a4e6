//! The HTTP trigger: the axum router over the route table, and the listener
//! loop that owns connections, timeouts and graceful shutdown.

use crate::route::{Match, RouteTable};
use crate::{GatewayError, ResponseMode, request, response};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use fenn_runtime::FunctionHost;
use http_body_util::{BodyExt as _, Limited};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Limits and timeouts of the HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Largest request body accepted; larger is a 413.
    pub max_body_bytes: usize,
    /// Time a client has to send its request headers (slow clients are cut).
    pub header_read_timeout: Duration,
    /// Time a client has to send its request body; longer is a 408.
    pub body_read_timeout: Duration,
    /// Time in-flight requests get to finish at shutdown.
    pub shutdown_grace: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

struct Gateway<H> {
    routes: RouteTable,
    host: H,
    settings: HttpSettings,
}

/// The HTTP API gateway trigger.
pub struct HttpTrigger<H> {
    gateway: Arc<Gateway<H>>,
}

impl<H> Clone for HttpTrigger<H> {
    fn clone(&self) -> Self {
        Self {
            gateway: self.gateway.clone(),
        }
    }
}

impl<H: FunctionHost> HttpTrigger<H> {
    /// A trigger serving `routes` with the functions of `host`.
    pub fn new(routes: RouteTable, host: H, settings: HttpSettings) -> Self {
        Self {
            gateway: Arc::new(Gateway {
                routes,
                host,
                settings,
            }),
        }
    }

    /// The axum router: every request goes through the route table.
    pub fn router(&self) -> Router {
        Router::new()
            .fallback(handle::<H>)
            .with_state(self.gateway.clone())
    }

    /// Serves `listener` until `shutdown` completes, then stops accepting
    /// and lets in-flight requests finish within the shutdown grace.
    ///
    /// # Errors
    ///
    /// Never, today; accept errors are logged and the loop goes on.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let settings = self.gateway.settings.clone();
        let router = self.router();
        // HTTP/1.1 only: devices and their clients speak it, and leaving
        // HTTP/2 out keeps the h2 stack out of the binary. A TLS-terminating
        // proxy in front can still offer HTTP/2 to browsers.
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout);
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(error) => {
                        // Out of file descriptors and the like: back off briefly.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(router.clone());
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
            });
        }
        drop(listener);
        tracing::info!("HTTP: draining in-flight requests");
        if tokio::time::timeout(settings.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?settings.shutdown_grace, "HTTP: shutdown grace ran out");
        }
        Ok(())
    }
}

async fn handle<H: FunctionHost>(
    State(gateway): State<Arc<Gateway<H>>>,
    request: Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let (spec, path_parameters) = match gateway.routes.find(parts.uri.path(), parts.method.as_str())
    {
        Match::Found {
            spec,
            path_parameters,
        } => (spec, path_parameters),
        Match::MethodNotAllowed(allowed) => {
            return GatewayError::MethodNotAllowed { allowed }
                .into_response_for(ResponseMode::Plain);
        }
        Match::NotFound => {
            return GatewayError::NoRoute {
                path: parts.uri.path().to_owned(),
            }
            .into_response_for(ResponseMode::Plain);
        }
    };
    let mode = spec.response;
    let answer = async {
        let body = read_body(body, &gateway.settings).await?;
        let event = request::to_event(
            &parts.method,
            &parts.uri,
            &parts.headers,
            body,
            path_parameters,
        );
        let output = gateway.host.invoke(&spec.function, event).await?;
        response::to_http(output, mode)
    };
    match answer.await {
        Ok(response) => response,
        Err(error) => error.into_response_for(mode),
    }
}

async fn read_body(body: Body, settings: &HttpSettings) -> Result<Vec<u8>, GatewayError> {
    let limit = settings.max_body_bytes;
    let collect = Limited::new(body, limit).collect();
    match tokio::time::timeout(settings.body_read_timeout, collect).await {
        Err(_) => Err(GatewayError::BodyTimeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            Err(GatewayError::BodyTooLarge { limit })
        }
        Ok(Err(error)) => Err(GatewayError::BadBody {
            reason: error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RouteSpec;
    use fenn_abi::{Event, Response};
    use fenn_runtime::Error;
    use tower::ServiceExt as _;

    /// A host that answers with the event it got, or fails as the path says.
    struct FakeHost;

    impl FunctionHost for FakeHost {
        async fn invoke(&self, function: &str, event: Event) -> Result<Response, Error> {
            match event.path.as_str() {
                "/busy" => Err(Error::Busy {
                    function: function.into(),
                }),
                _ => Ok(Response::ok(format!(
                    "{function} {} {} {:?}",
                    event.http_method, event.body, event.path_parameters
                ))),
            }
        }
    }

    fn trigger(settings: HttpSettings) -> HttpTrigger<FakeHost> {
        let routes = RouteTable::new([RouteSpec {
            route: "/{name}".into(),
            methods: vec!["POST".into()],
            function: "f".into(),
            response: ResponseMode::Plain,
        }])
        .unwrap();
        HttpTrigger::new(routes, FakeHost, settings)
    }

    async fn send(
        trigger: &HttpTrigger<FakeHost>,
        method: &str,
        path: &str,
        body: &str,
    ) -> (u16, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = trigger.router().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn a_route_hands_the_function_its_event() {
        let (status, body) = send(&trigger(HttpSettings::default()), "POST", "/x", "hi").await;
        assert_eq!((status, body.as_str()), (200, r#"f POST hi {"name": "x"}"#));
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_are_404_and_405() {
        let trigger = trigger(HttpSettings::default());
        assert_eq!(send(&trigger, "POST", "/a/b", "").await.0, 404);
        assert_eq!(send(&trigger, "GET", "/a", "").await.0, 405);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413() {
        let settings = HttpSettings {
            max_body_bytes: 4,
            ..HttpSettings::default()
        };
        let (status, body) = send(&trigger(settings), "POST", "/x", "12345").await;
        assert_eq!(status, 413);
        assert!(body.contains("over the limit of 4 bytes"), "{body}");
    }

    #[tokio::test]
    async fn a_busy_function_is_503() {
        assert_eq!(
            send(&trigger(HttpSettings::default()), "POST", "/busy", "")
                .await
                .0,
            503
        );
    }
}
