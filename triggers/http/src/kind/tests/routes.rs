//! Routes through the seam: validated from JSON, shown, checked as a set,
//! and served by the started gateway.

use super::{read, routes};
use fenn_runtime::trigger::{Collision, FunctionInfo, Host, Metric};
use fenn_runtime::{Dispatcher, Limits};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

#[test]
fn a_route_from_json_is_validated_and_shown() {
    let (setup, _) = read(Path::new("."), json!({}), json!({}));
    let raw = [
        json!({"route": "/testfunc", "methods": ["post", "get"], "response": "envelope"}),
        json!({"route": "/any"}),
    ];
    let found = routes(&*setup, "hello", 1 << 20, &raw);
    assert_eq!(found[0].function(), "hello");
    assert_eq!(found[0].summary(), "POST,GET /testfunc");
    assert_eq!(found[1].summary(), "ANY /any");
    assert_eq!(
        found[0].announce(),
        ["POST,GET", "/testfunc", " (envelope)"]
    );
    assert_eq!(found[1].announce(), ["ANY", "/any", ""]);
    assert_eq!(
        found[0].view(),
        json!({"route": "/testfunc", "methods": ["POST", "GET"]})
    );
    let info = FunctionInfo {
        name: "hello",
        limits: &Limits::default(),
        apps: &[],
    };
    let refused = setup.bindings(
        &info,
        &[
            json!({"route": "/x", "methods": ["p0st"]}),
            json!({"route": "/x", "rout": 1}),
            json!({"route": "/y", "jwt": true}),
        ],
        &BTreeMap::new(),
    );
    let refused: Vec<_> = refused.into_iter().map(Result::unwrap_err).collect();
    assert_eq!(
        refused[0].to_string(),
        "methods: 'p0st' is not an HTTP method"
    );
    assert!(
        refused[1].reason.contains("unknown field `rout`"),
        "{}",
        refused[1]
    );
    assert_eq!(
        refused[2].to_string(),
        "jwt: needs [gateway.jwt] in the config"
    );
}

#[test]
fn a_collision_names_the_later_route_and_the_function_that_holds_the_other() {
    let (setup, _) = read(Path::new("."), json!({}), json!({}));
    let mut set = routes(&*setup, "c", 1 << 20, &[json!({"route": "/c/{x}"})]);
    set.extend(routes(
        &*setup,
        "a",
        1 << 20,
        &[json!({"route": "/a", "methods": ["GET"]})],
    ));
    assert_eq!(setup.check(&set), Ok(()));
    let mut overlap = set.clone();
    overlap.extend(routes(&*setup, "d", 1 << 20, &[json!({"route": "/c/{y}"})]));
    assert_eq!(
        setup.check(&overlap),
        Err(Collision {
            at: 2,
            field: "route".into(),
            reason: "route '/c/{y}': Insertion failed due to conflict with previously registered route: /c/{x} (served by function 'c' as /c/{x})".into(),
        })
    );
    let mut twice = set;
    twice.extend(routes(
        &*setup,
        "b",
        1 << 20,
        &[json!({"route": "/a", "methods": ["get"]})],
    ));
    let collision = setup.check(&twice).unwrap_err();
    assert_eq!(collision.at, 2);
    assert_eq!(
        collision.reason,
        "route '/a': method GET is already served by function 'a'"
    );
}

/// The first series of the counter `name` with `labels`.
fn counted(metrics: &[Metric], name: &str, labels: &[(&str, &str)]) -> Option<u64> {
    metrics.iter().find_map(|metric| match metric {
        Metric::Counter {
            name: found,
            series,
            ..
        } if *found == name => series.iter().find_map(|(have, n)| {
            let same = have.len() == labels.len()
                && have
                    .iter()
                    .zip(labels)
                    .all(|((k, v), (l, w))| k == l && v == w);
            same.then_some(*n)
        }),
        _ => None,
    })
}

#[tokio::test]
async fn the_started_gateway_answers_counts_and_changes_its_routes() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (setup, _) = read(Path::new("."), json!({"listen": "127.0.0.1:0"}), json!({}));
    let set = routes(&*setup, "hello", 1 << 20, &[json!({"route": "/testfunc"})]);
    let sinks = BTreeMap::new();
    let running = setup
        .start(Host {
            dispatcher: Arc::new(Dispatcher::new(1, 16 << 20)),
            bindings: set,
            listener: None,
            sinks: &sinks,
        })
        .unwrap();
    let address = running.address.unwrap();
    assert_ne!(address.port(), 0);
    assert_eq!(
        running.report.hints(),
        [format!(
            "try: curl -X POST 'http://{address}/testfunc?name=Jason' -H 'content-type: text/plain' -d 'requested the API'"
        )]
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(running.trigger.run(Box::pin(async {
        let _ = stopped.await;
    })));
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = b"GET /nowhere HTTP/1.1\r\nhost: fenn\r\nconnection: close\r\n\r\n";
    stream.write_all(request).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let metrics = running.report.metrics();
    let unmatched = [("route", "(unmatched)"), ("code", "404")];
    assert_eq!(counted(&metrics, "fenn_http_requests", &unmatched), Some(1));
    let gateway = [("listener", "gateway")];
    assert_eq!(counted(&metrics, "fenn_auth_failures", &gateway), Some(0));
    assert_eq!(counted(&metrics, "fenn_auth_throttled", &gateway), Some(0));
    running.apply.apply(&[]).unwrap();
    assert_eq!(running.report.hints(), Vec::<String>::new());
    let twice = routes(
        &*setup,
        "a",
        1 << 20,
        &[json!({"route": "/a"}), json!({"route": "/a"})],
    );
    let refused = running.apply.apply(&twice).unwrap_err();
    assert_eq!(
        refused,
        "route '/a': method * is already served by function 'a'"
    );
    stop.send(()).unwrap();
    serving.await.unwrap();
}

#[tokio::test]
async fn an_address_in_use_is_refused_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let server = json!({"listen": address.to_string()});
    let (setup, _) = read(Path::new("."), server, json!({}));
    let sinks = BTreeMap::new();
    let refused = setup
        .start(Host {
            dispatcher: Arc::new(Dispatcher::new(1, 16 << 20)),
            bindings: Vec::new(),
            listener: None,
            sinks: &sinks,
        })
        .unwrap_err();
    assert!(
        refused.starts_with(&format!("cannot listen on {address}: ")),
        "{refused}"
    );
}
