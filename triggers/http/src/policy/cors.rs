//! CORS for a route: which web origins may call it from a browser, the
//! preflight fenn answers itself, and the headers an answer carries.

use axum::http::{HeaderMap, HeaderValue, header};
use fenn_runtime::trigger::BindingError;

/// Longest `Access-Control-Request-Headers` mirrored back.
const MAX_MIRRORED: usize = 1024;

/// A route's CORS policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// `*` was given: any origin.
    any: bool,
    origins: Vec<String>,
    methods: Option<HeaderValue>,
    headers: Option<HeaderValue>,
    /// The refusal headers, and those given.
    expose: HeaderValue,
    max_age: HeaderValue,
    credentials: bool,
}

fn list(key: &str, items: &[String]) -> Result<Option<HeaderValue>, BindingError> {
    if items.is_empty() {
        return Ok(None);
    }
    let joined = items.join(", ");
    if items
        .iter()
        .any(|item| item.is_empty() || !item.bytes().all(|b| b.is_ascii_graphic() && b != b','))
    {
        return Err(BindingError::new(
            key,
            "names must be single header names or methods",
        ));
    }
    HeaderValue::from_str(&joined)
        .map(Some)
        .map_err(|_| BindingError::new(key, "is not a header value"))
}

impl Cors {
    /// The policy, as its keys give it.
    ///
    /// # Errors
    ///
    /// An origin that is not `*` or `scheme://host[:port]`, or a name that
    /// is not one, keyed `cors.origins` and so on.
    pub fn new(
        origins: &[String],
        methods: &[String],
        headers: &[String],
        expose: &[String],
        max_age_secs: u64,
        credentials: bool,
    ) -> Result<Self, BindingError> {
        let any = origins.iter().any(|origin| origin == "*");
        if any && credentials {
            return Err(BindingError::new(
                "cors.origins",
                "\"*\" cannot be used with credentials = true: name the origins",
            ));
        }
        if origins.is_empty() {
            return Err(BindingError::new("cors.origins", "names no origin"));
        }
        for origin in origins.iter().filter(|origin| *origin != "*") {
            let fits = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.ends_with('/')
                && origin.len() <= 256
                && HeaderValue::from_str(origin).is_ok();
            if !fits {
                return Err(BindingError::new(
                    "cors.origins",
                    format!("'{origin}' is not an origin such as https://app.example.com"),
                ));
            }
        }
        Ok(Self {
            any,
            origins: origins.to_vec(),
            methods: list("cors.methods", methods)?,
            headers: list("cors.headers", headers)?,
            expose: {
                // A page can read why it was refused, and the request id.
                let mut all = vec![
                    "x-ca-error-message".to_owned(),
                    "x-ca-request-id".to_owned(),
                ];
                all.extend(expose.iter().cloned());
                list("cors.expose", &all)?.unwrap_or(HeaderValue::from_static(""))
            },
            max_age: HeaderValue::from(max_age_secs),
            credentials,
        })
    }

    /// `Origin` of `request`, when this policy allows it.
    pub fn allowed<'r>(&self, request: &'r HeaderMap) -> Option<&'r HeaderValue> {
        let origin = request.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        (self.any || self.origins.iter().any(|allowed| allowed == text)).then_some(origin)
    }

    /// The headers of an answer to a request from `origin`.
    pub fn decorate(&self, origin: &HeaderValue, response: &mut HeaderMap) {
        let allow = if self.any {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        };
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        if self.credentials {
            response.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, self.expose.clone());
    }

    /// Marks an answer of a route with this policy as depending on
    /// `Origin`, allowed or not, so that no cache serves it to another.
    pub fn vary(response: &mut HeaderMap) {
        response.append(header::VARY, HeaderValue::from_static("origin"));
    }

    /// The headers of a preflight's answer: the methods given, else the
    /// route's (or the one asked for, when the route serves all); the
    /// headers given, else those the browser asked for.
    pub fn preflight(
        &self,
        origin: &HeaderValue,
        request: &HeaderMap,
        route_methods: &[String],
        response: &mut HeaderMap,
    ) {
        self.decorate(origin, response);
        let methods = self.methods.clone().or_else(|| {
            if route_methods.is_empty() {
                request.get(header::ACCESS_CONTROL_REQUEST_METHOD).cloned()
            } else {
                HeaderValue::from_str(&route_methods.join(", ")).ok()
            }
        });
        if let Some(methods) = methods {
            response.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        let headers = self.headers.clone().or_else(|| {
            request
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .filter(|asked| asked.len() <= MAX_MIRRORED)
                .cloned()
        });
        if let Some(headers) = headers {
            response.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, headers);
        }
        response.insert(header::ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_named_origin_gets_its_headers_and_another_none() {
        let cors = Cors::new(
            &strings(&["https://ui.example"]),
            &[],
            &[],
            &strings(&["x-total"]),
            600,
            true,
        )
        .unwrap();
        let mut request = HeaderMap::new();
        request.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(cors.allowed(&request).is_none());
        request.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://ui.example"),
        );
        request.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        let origin = cors.allowed(&request).unwrap().clone();
        let mut response = HeaderMap::new();
        cors.preflight(&origin, &request, &strings(&["GET", "POST"]), &mut response);
        assert_eq!(
            response[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://ui.example"
        );
        assert_eq!(response[header::ACCESS_CONTROL_ALLOW_METHODS], "GET, POST");
        assert_eq!(
            response[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "authorization, content-type"
        );
        assert_eq!(response[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(response[header::ACCESS_CONTROL_MAX_AGE], "600");
        assert_eq!(
            response[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            "x-ca-error-message, x-ca-request-id, x-total"
        );
    }

    #[test]
    fn bad_policies_are_refused_by_key() {
        let error = Cors::new(&strings(&["*"]), &[], &[], &[], 0, true).unwrap_err();
        assert_eq!(error.field, "cors.origins");
        let error = Cors::new(&strings(&["ui.example"]), &[], &[], &[], 0, false).unwrap_err();
        assert!(error.reason.contains("'ui.example'"), "{}", error.reason);
        let error = Cors::new(
            &strings(&["*"]),
            &strings(&["GET,POST"]),
            &[],
            &[],
            0,
            false,
        )
        .unwrap_err();
        assert_eq!(error.field, "cors.methods");
    }
}
