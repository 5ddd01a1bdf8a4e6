//! The route table: which function answers which path and method.
//!
//! Templates use `{name}` for one segment and `{*name}` for the rest of the
//! path; the names become the event's `pathParameters`. The table is built
//! once, before the listener starts, and every conflict is an error then.

use crate::ResponseMode;
use crate::policy::RoutePolicy;
use fenn_abi::Map;
use std::collections::BTreeSet;
use std::sync::Arc;

/// One route as the config declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// Path template, such as `/users/{id}`.
    pub route: String,
    /// Methods served (upper case); empty serves every method.
    pub methods: Vec<String>,
    /// The function that answers.
    pub function: String,
    /// Plain responses or the function API's envelope.
    pub response: ResponseMode,
    /// A web function: the request and response go to a WASI guest as CGI.
    pub web: bool,
    /// The function's `max_response`: the envelope may be no larger.
    pub max_response: usize,
    /// Who may call it, from where, how often.
    pub policy: RoutePolicy,
}

/// Why a route table could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The template is not valid, or conflicts with another one.
    #[error("route '{route}': {reason}")]
    Template {
        /// The template.
        route: String,
        /// What is wrong.
        reason: String,
    },
    /// Two routes serve the same method on the same template.
    #[error("route '{route}': method {method} is already served by function '{function}'")]
    Duplicate {
        /// The template.
        route: String,
        /// The method served twice.
        method: String,
        /// The function that serves it first.
        function: String,
    },
}

/// What a request matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match<'a> {
    /// A route serves this path and method.
    Found {
        /// The route.
        spec: &'a RouteSpec,
        /// Its template, shared (the request stats count by it).
        template: &'a Arc<str>,
        /// Named segments, percent-decoded.
        path_parameters: Map,
    },
    /// The path exists but not for this method; the methods it has.
    MethodNotAllowed(Vec<String>),
    /// No route has this path.
    NotFound,
}

/// Routes by path template, then by method.
#[derive(Debug, Clone)]
pub struct RouteTable {
    router: matchit::Router<(Arc<str>, Vec<RouteSpec>)>,
    templates: std::collections::HashSet<Arc<str>>,
    len: usize,
}

impl RouteTable {
    /// Builds the table, refusing invalid templates and conflicts.
    ///
    /// # Errors
    ///
    /// [`RouteError`] naming the route and the reason.
    pub fn new(specs: impl IntoIterator<Item = RouteSpec>) -> Result<Self, RouteError> {
        // By template, in the order first seen; the index keeps building
        // linear in the number of routes.
        let mut grouped: Vec<(String, Vec<RouteSpec>)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut len = 0;
        for spec in specs {
            len += 1;
            if let Err(reason) = check_template(&spec.route) {
                return Err(RouteError::Template {
                    route: spec.route,
                    reason,
                });
            }
            match index.get(&spec.route).map(|&at| &mut grouped[at]) {
                Some((_, same)) => {
                    if let Some(method) = first_shared_method(same, &spec) {
                        return Err(RouteError::Duplicate {
                            route: spec.route.clone(),
                            method,
                            function: same[0].function.clone(),
                        });
                    }
                    same.push(spec);
                }
                None => {
                    index.insert(spec.route.clone(), grouped.len());
                    grouped.push((spec.route.clone(), vec![spec]));
                }
            }
        }
        let mut router = matchit::Router::new();
        let mut templates = std::collections::HashSet::new();
        for (route, specs) in grouped {
            let template: Arc<str> = Arc::from(route.as_str());
            templates.insert(template.clone());
            router
                .insert(route.clone(), (template, specs))
                .map_err(|error| RouteError::Template {
                    route,
                    reason: error.to_string(),
                })?;
        }
        Ok(Self {
            router,
            templates,
            len,
        })
    }

    /// Whether `template` is one of the table's routes, as written.
    pub fn serves_template(&self, template: &str) -> bool {
        self.templates.contains(template)
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no routes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Finds the route for `path` and `method`.
    pub fn find(&self, path: &str, method: &str) -> Match<'_> {
        let Ok(matched) = self.router.at(path) else {
            return Match::NotFound;
        };
        let serves =
            |spec: &&RouteSpec| spec.methods.is_empty() || spec.methods.iter().any(|m| m == method);
        let (template, specs) = matched.value;
        match specs.iter().find(serves) {
            Some(spec) => Match::Found {
                spec,
                template,
                path_parameters: matched
                    .params
                    .iter()
                    .map(|(name, value)| (name.to_owned(), decode(value)))
                    .collect(),
            },
            None => {
                let allowed: BTreeSet<String> = specs
                    .iter()
                    .flat_map(|spec| spec.methods.iter().cloned())
                    .collect();
                Match::MethodNotAllowed(allowed.into_iter().collect())
            }
        }
    }
}

/// Parameters one template may name: the router names them `a` to `y`
/// inside, and a 26th would stop fenn where it builds the table.
pub const MAX_PARAMETERS: usize = 25;

/// A template must start with '/', hold only what a request path can
/// (printable ASCII, no spaces: anything else percent-encoded), name each
/// parameter once, and name at most [`MAX_PARAMETERS`].
fn check_template(route: &str) -> Result<(), String> {
    if !route.starts_with('/') {
        return Err("must start with '/'".into());
    }
    if let Some(c) = route.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "{c:?} cannot appear in a request path (percent-encode it)"
        ));
    }
    if let Some(c) = route.chars().find(|c| matches!(c, '?' | '#')) {
        return Err(format!(
            "'{c}' starts the query or fragment, which are not part of the path a route matches"
        ));
    }
    // Every '{' but an escaped "{{" opens a parameter (or is refused by
    // the router with a message of its own).
    let opened = route.replace("{{", "").matches('{').count();
    if opened > MAX_PARAMETERS {
        return Err(format!(
            "{opened} parameters: a route names at most {MAX_PARAMETERS}"
        ));
    }
    let mut names = BTreeSet::new();
    for segment in route.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let name = name.trim_start_matches('*');
            if !names.insert(name) {
                return Err(format!("parameter '{{{name}}}' appears twice"));
            }
        }
    }
    Ok(())
}

fn first_shared_method(existing: &[RouteSpec], new: &RouteSpec) -> Option<String> {
    for spec in existing {
        if spec.methods.is_empty() || new.methods.is_empty() {
            return Some(new.methods.first().cloned().unwrap_or_else(|| "*".into()));
        }
        if let Some(method) = new.methods.iter().find(|m| spec.methods.contains(m)) {
            return Some(method.clone());
        }
    }
    None
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(route: &str, methods: &[&str], function: &str) -> RouteSpec {
        RouteSpec {
            route: route.into(),
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            function: function.into(),
            response: ResponseMode::Plain,
            web: false,
            max_response: 1 << 20,
            policy: Default::default(),
        }
    }

    fn found<'a>(table: &'a RouteTable, path: &str, method: &str) -> (&'a str, Map) {
        match table.find(path, method) {
            Match::Found {
                spec,
                path_parameters,
                ..
            } => (spec.function.as_str(), path_parameters),
            other => panic!("{path} {method}: {other:?}"),
        }
    }

    /// A route of `n` parameters, `/{p0}/{p1}/…`.
    fn many(n: usize) -> String {
        (0..n).map(|i| format!("/{{p{i}}}")).collect()
    }

    #[test]
    fn a_route_of_the_most_parameters_is_served() {
        let table = RouteTable::new([spec(&many(MAX_PARAMETERS), &[], "f")]).unwrap();
        let path: String = (0..MAX_PARAMETERS).map(|i| format!("/v{i}")).collect();
        let (function, params) = found(&table, &path, "GET");
        assert_eq!((function, params["p24"].as_str()), ("f", "v24"));
    }

    #[test]
    fn a_repeated_parameter_too_many_and_characters_no_path_can_hold_are_refused() {
        let too_many = many(MAX_PARAMETERS + 1);
        for (route, says) in [
            ("/{a}/{a}", "parameter '{a}' appears twice"),
            ("/{a}/x/{*a}", "parameter '{a}' appears twice"),
            ("/a b", "' ' cannot appear"),
            ("/a\u{0}", "'\\0' cannot appear"),
            ("/caf\u{e9}", "'é' cannot appear"),
            (too_many.as_str(), "26 parameters: a route names at most 25"),
        ] {
            let error = RouteTable::new([spec(route, &[], "f")]).unwrap_err();
            assert!(error.to_string().contains(says), "{route}: {error}");
        }
    }

    #[test]
    fn templates_fill_path_parameters_decoded() {
        let table = RouteTable::new([
            spec("/users/{id}", &[], "user"),
            spec("/files/{*rest}", &["GET"], "files"),
        ])
        .unwrap();
        let (function, params) = found(&table, "/users/j%C3%A4son", "DELETE");
        assert_eq!((function, params["id"].as_str()), ("user", "jäson"));
        let (function, params) = found(&table, "/files/a/b.txt", "GET");
        assert_eq!((function, params["rest"].as_str()), ("files", "a/b.txt"));
    }

    #[test]
    fn methods_pick_the_function_and_others_are_not_allowed() {
        let table = RouteTable::new([
            spec("/item", &["GET"], "read"),
            spec("/item", &["POST", "PUT"], "write"),
        ])
        .unwrap();
        assert_eq!(found(&table, "/item", "GET").0, "read");
        assert_eq!(found(&table, "/item", "PUT").0, "write");
        assert_eq!(
            table.find("/item", "DELETE"),
            Match::MethodNotAllowed(vec!["GET".into(), "POST".into(), "PUT".into()])
        );
        assert_eq!(table.find("/nothing", "GET"), Match::NotFound);
    }

    #[test]
    fn the_same_method_twice_on_one_template_is_refused() {
        let error = RouteTable::new([spec("/a", &["GET"], "f"), spec("/a", &["GET", "POST"], "g")])
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "route '/a': method GET is already served by function 'f'"
        );
    }

    #[test]
    fn invalid_and_conflicting_templates_are_refused() {
        assert!(RouteTable::new([spec("no-slash", &[], "f")]).is_err());
        assert!(RouteTable::new([spec("/a/{id", &[], "f")]).is_err());
        let error =
            RouteTable::new([spec("/u/{id}", &[], "f"), spec("/u/{name}", &[], "g")]).unwrap_err();
        assert!(error.to_string().contains("/u/{name}"), "{error}");
    }
}
