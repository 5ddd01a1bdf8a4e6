//! The gateway through the registry's seam: settings read from tables,
//! routes from JSON, a set checked, the gateway started.

mod gateway;
mod routes;

use super::{HttpKind, HttpSetup};
use fenn_runtime::Limits;
use fenn_runtime::trigger::{
    Binding, Common, FunctionInfo, KeyError, Table, Tables, TriggerKind, TriggerSetup,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The gateway's settings from `[server]` and the other sections, with
/// the errors found.
pub(super) fn read(
    dir: &Path,
    server: Value,
    sections: Value,
) -> (Arc<dyn TriggerSetup>, Vec<KeyError>) {
    let table = |value: Value| -> Table { serde_json::from_value(value).unwrap() };
    let common = Common {
        config_dir: dir,
        state_dir: None,
        shutdown_grace: Duration::from_secs(7),
    };
    let (server, sections) = (table(server), table(sections));
    let tables = Tables {
        sections: &sections,
        server: &server,
        common: &common,
    };
    let mut errors = Vec::new();
    let setup = HttpKind.settings(&tables, &mut errors);
    (setup, errors)
}

pub(super) fn keys(errors: &[KeyError]) -> Vec<&str> {
    errors.iter().map(|error| error.key.as_str()).collect()
}

pub(super) fn as_http(setup: &dyn TriggerSetup) -> &HttpSetup {
    setup.as_any().downcast_ref().unwrap()
}

/// The routes of `function` (whose answers may be `max_response` bytes).
pub(super) fn routes(
    setup: &dyn TriggerSetup,
    function: &str,
    max_response: usize,
    raw: &[Value],
) -> Vec<Arc<dyn Binding>> {
    let limits = Limits {
        max_response,
        ..Limits::default()
    };
    let info = FunctionInfo {
        name: function,
        limits: &limits,
        apps: &[],
    };
    let found = setup.bindings(&info, raw, &BTreeMap::new());
    found.into_iter().map(Result::unwrap).collect()
}

#[test]
fn the_gateways_keys_of_server_are_read_and_the_others_left_alone() {
    let server = json!({"listen": "0.0.0.0:9000", "max_body": "64KiB", "workers": 2,
        "max_connections": 10, "state_dir": "state"});
    let (setup, errors) = read(Path::new("."), server, json!({}));
    assert_eq!(errors, []);
    let http = as_http(&*setup);
    assert_eq!(http.listen().port(), 9000);
    assert_eq!(http.settings().max_body_bytes, 64 << 10);
    assert_eq!(http.settings().max_connections, 10);
    assert_eq!(http.settings().shutdown_grace, Duration::from_secs(7));
    let (setup, _) = read(Path::new("."), json!({}), json!({}));
    assert_eq!(as_http(&*setup).listen(), super::DEFAULT_LISTEN);
}

#[test]
fn every_error_in_the_gateways_keys_is_reported_at_once() {
    let server = json!({"listen": "nowhere", "max_connections": 0, "header_read_timeout": "2x",
        "max_body": 5, "write_timeout": "1s"});
    let (setup, errors) = read(Path::new("."), server, json!({}));
    assert_eq!(
        keys(&errors),
        [
            "server.max_body",
            "server.listen",
            "server.header_read_timeout",
            "server.max_connections"
        ]
    );
    assert_eq!(
        errors[1].reason,
        "'nowhere' is not an address such as 127.0.0.1:8080"
    );
    assert!(
        errors[0].reason.starts_with("invalid type: integer `5`"),
        "{errors:?}"
    );
    // The keys without errors are read all the same.
    assert_eq!(
        as_http(&*setup).settings().write_timeout,
        Duration::from_secs(1)
    );
}

#[test]
fn a_body_that_could_never_be_buffered_is_refused() {
    let server = json!({"max_body": "2MiB", "buffer_memory": "1MiB"});
    let (_, errors) = read(Path::new("."), server, json!({}));
    assert_eq!(keys(&errors), ["server.max_body"]);
    assert_eq!(
        errors[0].reason,
        "2097152 bytes is over server.buffer_memory (1048576 bytes), so no body could be read"
    );
}

#[test]
fn a_value_in_error_does_not_make_errors_of_its_own() {
    // Were the bad buffer_memory's default (64 MiB) checked against,
    // max_body and max_response would be reported too.
    for buffer in [json!("lots"), json!(64)] {
        let server = json!({"buffer_memory": buffer, "max_body": "100MiB"});
        let (setup, errors) = read(Path::new("."), server, json!({}));
        assert_eq!(keys(&errors), ["server.buffer_memory"]);
        let routes = routes(&*setup, "hello", 100 << 20, &[json!({"route": "/hello"})]);
        let limits = Limits {
            max_response: 100 << 20,
            ..Limits::default()
        };
        let info = FunctionInfo {
            name: "hello",
            limits: &limits,
            apps: &[],
        };
        assert_eq!(setup.function_check(&info, &routes), None);
    }
}

#[test]
fn an_answer_over_the_buffers_is_the_functions_error_when_it_has_routes() {
    let (setup, _) = read(Path::new("."), json!({"buffer_memory": "1MiB"}), json!({}));
    let limits = Limits {
        max_response: 2 << 20,
        ..Limits::default()
    };
    let info = FunctionInfo {
        name: "hello",
        limits: &limits,
        apps: &[],
    };
    let routes = routes(&*setup, "hello", 2 << 20, &[json!({"route": "/hello"})]);
    assert_eq!(
        setup.function_check(&info, &routes),
        Some(KeyError::new(
            "max_response",
            "2097152 bytes is over server.buffer_memory (1048576 bytes), so such an answer could never be sent"
        ))
    );
    assert_eq!(setup.function_check(&info, &[]), None);
}
