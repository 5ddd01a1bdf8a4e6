//! The started gateway's handles, as the rest of fenn keeps them: the one
//! that changes its routes, and its report (metrics, the `try:` hint); and
//! a route as a [`Binding`] the management API, `fenn ls` and the
//! announcement show.

use crate::policy::failures::AuthFailures;
use crate::{HttpBindings, RequestStats, ResponseMode, RouteSpec};
use fenn_runtime::trigger::{Apply, Binding, Bindings as _, Metric, Report};
use serde_json::{Value, json};
use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

/// `binding` as a route, when it is one.
pub(super) fn route(binding: &Arc<dyn Binding>) -> Option<&RouteSpec> {
    binding.as_any().downcast_ref::<RouteSpec>()
}

/// Changes the running gateway's routes.
pub(super) struct HttpApply(pub(super) HttpBindings);

impl Apply for HttpApply {
    fn apply(&self, bindings: &[Arc<dyn Binding>]) -> Result<(), String> {
        let routes = bindings.iter().filter_map(route).cloned().collect();
        self.0.apply(routes).map_err(|error| error.to_string())
    }
}

/// What the running gateway tells the management API.
pub(super) struct HttpReport {
    pub(super) stats: Arc<RequestStats>,
    pub(super) auth_failures: Arc<AuthFailures>,
    pub(super) bindings: HttpBindings,
    /// Where it listens.
    pub(super) address: SocketAddr,
}

impl Report for HttpReport {
    fn metrics(&self) -> Vec<Metric> {
        let requests = self.stats.snapshot().into_iter().map(|(route, code, n)| {
            let labels = vec![("route", route.to_string()), ("code", code.to_string())];
            (labels, n)
        });
        let (failed, throttled) = self.auth_failures.totals();
        let gateway = || vec![("listener", "gateway".to_owned())];
        vec![
            Metric::Counter {
                name: "fenn_http_requests",
                help: "HTTP requests answered by the gateway, by route template and status code",
                series: requests.collect(),
            },
            Metric::Counter {
                name: "fenn_auth_failures",
                help: "Requests refused for missing or wrong credentials (401), by listener",
                series: vec![(gateway(), failed)],
            },
            Metric::Counter {
                name: "fenn_auth_throttled",
                help: "Requests refused (429) while their address waited out a penalty for failed authentications, by listener",
                series: vec![(gateway(), throttled)],
            },
        ]
    }

    fn hints(&self) -> Vec<String> {
        if !self.bindings.serves_template("/testfunc") {
            return Vec::new();
        }
        vec![format!(
            "try: curl -X POST 'http://{}/testfunc?name=Jason' -H 'content-type: text/plain' -d 'requested the API'",
            self.address
        )]
    }
}

impl Binding for RouteSpec {
    fn function(&self) -> &str {
        &self.function
    }

    fn view(&self) -> Value {
        let mut view = json!({"route": self.route, "methods": self.methods});
        // Who may call it, when not everyone may.
        if self.policy.is_protected() {
            let apps: Vec<&str> = self.policy.apps.iter().map(|app| &**app).collect();
            view["apps"] = json!(apps);
            view["jwt"] = json!(self.policy.jwt);
        }
        view
    }

    fn summary(&self) -> String {
        format!("{} {}", methods(self), self.route)
    }

    fn announce(&self) -> [String; 3] {
        let mode = match (self.response, self.web) {
            (ResponseMode::Plain, false) => "",
            (ResponseMode::Plain, true) => " (web)",
            (ResponseMode::Envelope, false) => " (envelope)",
            (ResponseMode::Envelope, true) => " (web, envelope)",
        };
        [methods(self), self.route.clone(), mode.to_owned()]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The route's methods, `GET,POST`, or `ANY` when it serves every one.
fn methods(spec: &RouteSpec) -> String {
    if spec.methods.is_empty() {
        "ANY".to_owned()
    } else {
        spec.methods.join(",")
    }
}
