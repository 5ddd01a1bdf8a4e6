//! `[[function.http]]`: a route as a config or a deploy writes it, and its
//! validation into a [`RouteSpec`]. The gateway's keys live here, not in
//! the binary.

use crate::policy::{RoutePolicy, cors::Cors, ip::IpList, rate};
use crate::{ResponseMode, RouteSpec};
use fenn_runtime::trigger::BindingError;
use serde::Deserialize;
use std::sync::Arc;

/// Most distinct methods one route names.
pub const MAX_METHODS: usize = 16;

/// `[[function.http]]`: one route of the HTTP gateway, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// `route`: path template, e.g. `/users/{id}` or `/files/{*rest}`.
    pub route: String,
    /// `methods`: e.g. `["GET", "POST"]`; absent or empty serves all.
    #[serde(default)]
    pub methods: Vec<String>,
    /// `response`: `"plain"` (default) or `"envelope"` (the function API envelope).
    #[serde(default)]
    pub response: RawMode,
    /// `web`: the function is a web function, a WASI guest that reads the
    /// request CGI-style (headers as `HTTP_*` variables, the query in
    /// `QUERY_STRING`, the body on stdin) and writes CGI headers and the
    /// body on stdout (default false).
    #[serde(default)]
    pub web: bool,
    /// `apps`: the apps that may call it, by AppCode or signature (default:
    /// the function's `apps`; none and no `jwt` leave it open).
    #[serde(default)]
    pub apps: Vec<String>,
    /// `jwt`: a JWT bearer token checked by `[gateway.jwt]` lets a caller in.
    #[serde(default)]
    pub jwt: bool,
    /// `allow`: addresses and CIDR blocks that may call it (default: all).
    #[serde(default)]
    pub allow: Vec<String>,
    /// `deny`: addresses and CIDR blocks refused (deny wins over allow).
    #[serde(default)]
    pub deny: Vec<String>,
    /// `rate`: requests to the route, all callers together (`"100/s"`).
    pub rate: Option<String>,
    /// `rate_per_caller`: requests of one caller: its app, else its IP address.
    pub rate_per_caller: Option<String>,
    /// `cors`: web origins that may call it from a browser.
    pub cors: Option<RawCors>,
}

/// `cors`, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCors {
    /// `origins`: `["https://ui.example.com"]`, or `["*"]` for any.
    pub origins: Vec<String>,
    /// `methods`: allowed methods (default: the route's).
    #[serde(default)]
    pub methods: Vec<String>,
    /// `headers`: allowed request headers (default: those asked for).
    #[serde(default)]
    pub headers: Vec<String>,
    /// `expose`: response headers a page may read.
    #[serde(default)]
    pub expose: Vec<String>,
    /// `max_age`: how long a browser keeps a preflight's answer (default `10m`).
    pub max_age: Option<String>,
    /// `credentials`: cookies and Authorization may be sent (default false).
    #[serde(default)]
    pub credentials: bool,
}

/// What a route's policy keys are checked against.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicyContext<'a> {
    /// The names of the apps configured.
    pub known_apps: &'a [Arc<str>],
    /// The names of apps configured but refused (their own error is
    /// reported): naming one is not an error of its own.
    pub refused_apps: &'a [Arc<str>],
    /// `[gateway.jwt]` is configured.
    pub jwt: bool,
    /// The function's own `apps`, for routes that name none.
    pub function_apps: &'a [String],
}

/// `response`, as written.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawMode {
    /// `"plain"`.
    #[default]
    Plain,
    /// `"envelope"`.
    Envelope,
}

impl RawRoute {
    /// The route of `function`, whose answers may be `max_response` bytes.
    /// The template itself is checked with the whole table
    /// ([`RouteTable::new`](crate::RouteTable::new)).
    ///
    /// # Errors
    ///
    /// A method that is not one.
    pub fn validate(
        &self,
        function: &str,
        max_response: usize,
        context: &PolicyContext<'_>,
    ) -> Result<RouteSpec, BindingError> {
        let mut methods: Vec<String> = Vec::new();
        for method in &self.methods {
            let upper = method.to_ascii_uppercase();
            if upper.is_empty()
                || upper.len() > 32
                || !upper.bytes().all(|b| b.is_ascii_alphabetic())
            {
                return Err(BindingError::new(
                    "methods",
                    format!("'{method}' is not an HTTP method"),
                ));
            }
            if !methods.contains(&upper) {
                methods.push(upper);
            }
            if methods.len() > MAX_METHODS {
                return Err(BindingError::new(
                    "methods",
                    format!("more than {MAX_METHODS} methods"),
                ));
            }
        }
        Ok(RouteSpec {
            route: self.route.clone(),
            methods,
            function: function.to_owned(),
            response: match self.response {
                RawMode::Plain => ResponseMode::Plain,
                RawMode::Envelope => ResponseMode::Envelope,
            },
            web: self.web,
            max_response,
            policy: self.policy(context)?,
        })
    }

    /// The route's policy: its apps, JWT, rate limits, CORS and IP lists.
    fn policy(&self, context: &PolicyContext<'_>) -> Result<RoutePolicy, BindingError> {
        let apps = self.allowed_apps(context)?;
        if self.jwt && !context.jwt {
            return Err(BindingError::new(
                "jwt",
                "needs [gateway.jwt] in the config",
            ));
        }
        let route = self
            .rate
            .as_deref()
            .map(|text| rate::parse_rate("rate", text))
            .transpose()?;
        let per_caller = self
            .rate_per_caller
            .as_deref()
            .map(|text| rate::parse_rate("rate_per_caller", text))
            .transpose()?;
        let cors = self.cors.as_ref().map(RawCors::validate).transpose()?;
        Ok(RoutePolicy {
            apps,
            jwt: self.jwt,
            ip: IpList::parse(&self.allow, &self.deny)?,
            rate: (route.is_some() || per_caller.is_some())
                .then(|| Arc::new(rate::RateLimits::new(route, per_caller))),
            cors,
        })
    }

    /// The apps that may call the route: its own `apps`, or else the
    /// function's; each one configured and not refused.
    fn allowed_apps(&self, context: &PolicyContext<'_>) -> Result<Vec<Arc<str>>, BindingError> {
        let from_function = self.apps.is_empty();
        let named = if from_function {
            context.function_apps
        } else {
            self.apps.as_slice()
        };
        let mut apps = Vec::new();
        for (i, name) in named.iter().enumerate() {
            // Refused, not left out: a route naming only refused apps
            // would be open to all.
            if context
                .refused_apps
                .iter()
                .any(|refused| **refused == **name)
            {
                return Err(BindingError::reported_elsewhere(format!(
                    "app '{name}' is refused"
                )));
            }
            let Some(app) = context.known_apps.iter().find(|known| ***known == **name) else {
                return Err(unknown_app(name, i, from_function, context));
            };
            apps.push(app.clone());
        }
        Ok(apps)
    }
}

/// The error for `apps[i]`, `name`, which no `[[app]]` is named: the
/// route's, or the function's when the route took the function's apps.
fn unknown_app(
    name: &str,
    i: usize,
    from_function: bool,
    context: &PolicyContext<'_>,
) -> BindingError {
    let known: Vec<&str> = context.known_apps.iter().map(|app| &**app).collect();
    let reason = format!(
        "no [[app]] is named '{name}' (there are: {})",
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    );
    // The function's apps are the function's error, not the route's.
    if from_function {
        BindingError::new("", format!("the function's apps[{i}]: {reason}"))
    } else {
        BindingError::new(&format!("apps[{i}]"), reason)
    }
}

impl RawCors {
    fn validate(&self) -> Result<Cors, BindingError> {
        let max_age = match &self.max_age {
            Some(text) => fenn_runtime::units::duration(text)
                .map_err(|reason| BindingError::new("cors.max_age", reason))?
                .as_secs(),
            None => 600,
        };
        Cors::new(
            &self.origins,
            &self.methods,
            &self.headers,
            &self.expose,
            max_age,
            self.credentials,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_naming_only_refused_apps_is_refused_not_opened() {
        let route: RawRoute =
            serde_json::from_value(serde_json::json!({"route": "/x", "apps": ["broken"]})).unwrap();
        let refused = [Arc::from("broken")];
        let context = PolicyContext {
            refused_apps: &refused,
            ..PolicyContext::default()
        };
        let error = route.validate("f", 1024, &context).unwrap_err();
        assert!(error.is_reported_elsewhere(), "{error}");
    }
}
