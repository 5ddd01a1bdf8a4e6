//! `[[function.http]]`: a route as a config or a deploy writes it, and its
//! validation into a [`RouteSpec`]. The gateway's keys live here, not in
//! the binary.

use crate::{ResponseMode, RouteSpec};
use fenn_runtime::trigger::BindingError;
use serde::Deserialize;

/// Most distinct methods one route names.
pub const MAX_METHODS: usize = 16;

/// One route of the HTTP gateway, as written.
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
    pub fn validate(&self, function: &str, max_response: usize) -> Result<RouteSpec, BindingError> {
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
            max_response,
        })
    }
}
