//! The web console: one HTML page, a style sheet and a script, built into
//! the binary (no CDN, no fonts: devices often have no internet). They
//! are served without the token, holding no data; the script asks the
//! management API for everything with the token the person logs in with.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;

const INDEX: &str = include_str!("console/index.html");
const STYLE: &str = include_str!("console/console.css");
const SCRIPT: &str = include_str!("console/console.js");
const PANELS: &str = include_str!("console/panels.js");
const FLOWS: &str = include_str!("console/flows.js");
const LIVE: &str = include_str!("console/live.js");

/// The page only loads what fenn serves, and is never framed.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's asset at `path`, if it is one.
pub(crate) fn asset(path: &str) -> Option<Response> {
    let (body, kind) = match path {
        "/" | "/index.html" => (INDEX, "text/html; charset=utf-8"),
        "/console.css" => (STYLE, "text/css; charset=utf-8"),
        "/console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/panels.js" => (PANELS, "text/javascript; charset=utf-8"),
        "/flows.js" => (FLOWS, "text/javascript; charset=utf-8"),
        "/live.js" => (LIVE, "text/javascript; charset=utf-8"),
        "/favicon.ico" => {
            let mut none = Response::new(Body::empty());
            *none.status_mut() = axum::http::StatusCode::NO_CONTENT;
            return Some(none);
        }
        _ => return None,
    };
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

/// The console's assets stay small: under 100 KB together.
const _: () = assert!(
    INDEX.len() + STYLE.len() + SCRIPT.len() + PANELS.len() + FLOWS.len() + LIVE.len() < 100 << 10
);

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_assets_are_served_without_the_token() {
        for path in [
            "/",
            "/console.css",
            "/console.js",
            "/panels.js",
            "/flows.js",
            "/live.js",
        ] {
            assert!(super::asset(path).is_some(), "{path}");
        }
        assert!(super::asset("/v1/functions").is_none() && super::asset("/metrics").is_none());
    }
}
