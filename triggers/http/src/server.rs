//! The HTTP trigger: the axum router over the route table, and the listener
//! loop that owns connections, their limits, timeouts and graceful shutdown.

use crate::RequestStats;
use crate::handler::{Gateway, handle};
use crate::policy::GatewayPolicy;
use crate::route::{RouteError, RouteSpec, RouteTable};
use crate::settings::HttpSettings;
use arc_swap::ArcSwap;
use axum::Router;
use fenn_runtime::FunctionHost;
use fenn_runtime::trigger::{Bindings, BoxFuture, Stage, Trigger};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// A handle that changes the gateway's routes while it serves: requests
/// already routed finish as they are, every request that arrives after
/// [`Bindings::apply`] returns is routed by the new table.
#[derive(Clone)]
pub struct HttpBindings {
    routes: Arc<ArcSwap<RouteTable>>,
    stats: Arc<RequestStats>,
}

impl Bindings for HttpBindings {
    type Binding = RouteSpec;
    type Error = RouteError;

    fn apply(&self, routes: Vec<RouteSpec>) -> Result<(), RouteError> {
        let table = RouteTable::new(routes)?;
        // A route gone takes its counts along: the series stay bounded by
        // the routes served.
        self.stats.keep(|route| table.serves_template(route));
        self.routes.store(Arc::new(table));
        Ok(())
    }
}

impl HttpBindings {
    /// Whether a route of `template`, as written, is served now.
    pub fn serves_template(&self, template: &str) -> bool {
        self.routes.load().serves_template(template)
    }
}

/// The gateway on its listener: the HTTP [`Trigger`].
pub struct HttpServing<H> {
    trigger: HttpTrigger<H>,
    listener: TcpListener,
}

impl<H: FunctionHost> Trigger for HttpServing<H> {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn stage(&self) -> Stage {
        Stage::Sources
    }

    fn run(self: Box<Self>, shutdown: BoxFuture) -> BoxFuture {
        Box::pin(async move {
            if let Err(error) = self.trigger.run(self.listener, shutdown).await {
                tracing::error!(%error, "HTTP: the gateway stopped");
            }
        })
    }
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
    /// A trigger serving `routes` with the functions of `host`, and no
    /// apps, JWT keys or global IP lists.
    pub fn new(routes: RouteTable, host: H, settings: HttpSettings) -> Self {
        Self::with_policy(routes, host, settings, GatewayPolicy::default())
    }

    /// A trigger serving `routes` with the functions of `host` under
    /// `policy`.
    pub fn with_policy(
        routes: RouteTable,
        host: H,
        settings: HttpSettings,
        policy: GatewayPolicy,
    ) -> Self {
        Self {
            gateway: Arc::new(Gateway {
                routes: Arc::new(ArcSwap::from_pointee(routes)),
                host,
                // The budget counts bytes; tokio's semaphores hold fewer
                // permits than usize::MAX.
                buffer: Arc::new(Semaphore::new(
                    settings.buffer_bytes.min(Semaphore::MAX_PERMITS),
                )),
                settings,
                stats: Arc::default(),
                unmatched: Arc::from(crate::stats::UNMATCHED),
                policy: Arc::new(policy),
            }),
        }
    }

    /// The gateway's answers by route and status, as they are counted.
    pub fn stats(&self) -> Arc<RequestStats> {
        self.gateway.stats.clone()
    }

    /// The gateway's failed authentications, as they are counted.
    pub fn auth_failures(&self) -> Arc<crate::policy::failures::AuthFailures> {
        self.gateway.policy.failures.clone()
    }

    /// The handle that changes the routes while the gateway serves.
    pub fn bindings(&self) -> HttpBindings {
        HttpBindings {
            routes: self.gateway.routes.clone(),
            stats: self.gateway.stats.clone(),
        }
    }

    /// The gateway as a [`Trigger`], serving `listener`.
    pub fn on(self, listener: TcpListener) -> HttpServing<H> {
        HttpServing {
            trigger: self,
            listener,
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
        crate::listener::serve_router(listener, self.router(), settings, None, "HTTP", shutdown)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ResponseMode, RouteSpec};
    use axum::body::Body;
    use axum::extract::Request;
    use fenn_abi::{Event, Response};
    use fenn_runtime::Error;
    use http_body_util::BodyExt as _;
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
            web: false,
            max_response: 1 << 20,
            policy: Default::default(),
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
    async fn new_routes_apply_to_the_next_request_without_a_restart() {
        let trigger = trigger(HttpSettings::default());
        assert_eq!(send(&trigger, "POST", "/x", "").await.0, 200);
        let routes = vec![RouteSpec {
            route: "/v2/{name}".into(),
            methods: vec!["GET".into()],
            function: "g".into(),
            response: ResponseMode::Plain,
            web: false,
            max_response: 1 << 20,
            policy: Default::default(),
        }];
        trigger.bindings().apply(routes).unwrap();
        assert_eq!(send(&trigger, "POST", "/x", "").await.0, 404);
        let (status, body) = send(&trigger, "GET", "/v2/y", "").await;
        assert_eq!((status, body.as_str()), (200, r#"g GET  {"name": "y"}"#));
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
