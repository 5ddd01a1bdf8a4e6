//! [`HttpSetup`] as a [`TriggerSetup`]: routes validated against the
//! gateway's apps and tokens, a set checked whole, and the gateway started.

use super::HttpSetup;
use super::running::{HttpApply, HttpReport, route};
use crate::route::RouteError;
use crate::{HttpTrigger, PolicyContext, RawRoute, RouteSpec, RouteTable};
use fenn_runtime::trigger::kind::parse;
use fenn_runtime::trigger::{
    Binding, BindingError, Collision, FunctionInfo, Host, KeyError, Running, Sinks, TriggerSetup,
};
use serde_json::Value;
use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

impl TriggerSetup for HttpSetup {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn bindings(
        &self,
        function: &FunctionInfo<'_>,
        raw: &[Value],
        _sinks: &Sinks,
    ) -> Vec<Result<Arc<dyn Binding>, BindingError>> {
        let context = PolicyContext {
            known_apps: self.gateway.apps.names(),
            refused_apps: &self.gateway.refused,
            jwt: self.gateway.jwt.is_some() || self.jwt_refused,
            function_apps: function.apps,
        };
        let validate = |value: &Value| -> Result<Arc<dyn Binding>, BindingError> {
            let route: RawRoute = parse(value)?;
            let spec = route.validate(function.name, function.limits.max_response, &context)?;
            // A template the router cannot take is the route's own error;
            // routes that collide are the set's (see `check`).
            RouteTable::new([spec.clone()])
                .map_err(|error| BindingError::new("route", error.to_string()))?;
            Ok(Arc::new(spec))
        };
        raw.iter().map(validate).collect()
    }

    fn function_check(
        &self,
        function: &FunctionInfo<'_>,
        bindings: &[Arc<dyn Binding>],
    ) -> Option<KeyError> {
        let buffer = self.buffer?;
        let max_response = function.limits.max_response;
        (max_response > buffer && !bindings.is_empty()).then(|| {
            KeyError::new(
                "max_response",
                format!(
                    "{max_response} bytes is over server.buffer_memory ({buffer} bytes), so such an answer could never be sent"
                ),
            )
        })
    }

    fn check(&self, bindings: &[Arc<dyn Binding>]) -> Result<(), Collision> {
        let specs = bindings
            .iter()
            .filter_map(|binding| route(binding))
            .cloned();
        match RouteTable::new(specs) {
            Ok(_) => Ok(()),
            Err(error) => Err(collision(bindings, &error)),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn start(&self, host: Host<'_>) -> Result<Running, String> {
        let listener = match host.listener {
            Some(listener) => listener,
            None => bind(self.listen)?,
        };
        let address = listener.local_addr().map_err(|error| error.to_string())?;
        let specs = host.bindings.iter().filter_map(route).cloned();
        let routes =
            RouteTable::new(specs).map_err(|error| format!("the routes collide: {error}"))?;
        let trigger = HttpTrigger::with_policy(
            routes,
            host.dispatcher,
            self.settings.clone(),
            self.gateway.policy(),
        );
        let bindings = trigger.bindings();
        let report = HttpReport {
            stats: trigger.stats(),
            auth_failures: trigger.auth_failures(),
            bindings: bindings.clone(),
            address,
        };
        Ok(Running {
            trigger: Box::new(trigger.on(listener)),
            apply: Box::new(HttpApply(bindings)),
            report: Arc::new(report),
            sink: None,
            address: Some(address),
        })
    }
}

/// A listener on `address`, for the gateway to serve.
fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    let cannot = |error: std::io::Error| format!("cannot listen on {address}: {error}");
    let listener = std::net::TcpListener::bind(address).map_err(cannot)?;
    listener.set_nonblocking(true).map_err(cannot)?;
    tokio::net::TcpListener::from_std(listener).map_err(cannot)
}

/// Why `bindings` cannot be served together: the later route with the
/// template at fault; a template that overlaps another names the function
/// that serves the other.
fn collision(bindings: &[Arc<dyn Binding>], error: &RouteError) -> Collision {
    let (RouteError::Template {
        route: at_fault, ..
    }
    | RouteError::Duplicate {
        route: at_fault, ..
    }) = error;
    let at = bindings
        .iter()
        .rposition(|binding| route(binding).is_some_and(|spec| spec.route == *at_fault))
        .unwrap_or(0);
    Collision {
        at,
        field: "route".to_owned(),
        reason: name_holder(bindings, error),
    }
}

/// A route collision as a person reads it: a template that overlaps
/// another names the function that serves the other.
fn name_holder(bindings: &[Arc<dyn Binding>], error: &RouteError) -> String {
    let RouteError::Template { reason, .. } = error else {
        return error.to_string();
    };
    let holder = bindings
        .iter()
        .filter_map(route)
        .find(|spec| reason.ends_with(&format!(": {}", spec.route)));
    match holder {
        Some(RouteSpec {
            function, route, ..
        }) => format!("{error} (served by function '{function}' as {route})"),
        None => error.to_string(),
    }
}
