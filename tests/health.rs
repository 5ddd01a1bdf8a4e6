//! Health and readiness on the management API's listener: no token, for
//! service managers and load balancers; readiness follows the MQTT link.

use crate::util::{Broker, Managed, client, wait_until};
use serde_json::Value;
use std::time::Duration;

fn get(fenn: &Managed, path: &str) -> (u16, Value) {
    let response = client().get(fenn.api(path)).send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

/// Asks `/readyz` until it answers `status`; returns the answer.
fn ready_becomes(fenn: &Managed, status: u16) -> Value {
    let what = format!("/readyz to answer {status}");
    wait_until(
        &what,
        Duration::from_secs(30),
        Duration::from_millis(20),
        || {
            let (got, answer) = get(fenn, "/readyz");
            (got == status).then_some(answer)
        },
    )
}

#[test]
fn health_needs_no_token_and_readiness_follows_the_broker() {
    let mut broker = Broker::start();
    let mqtt = format!("[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n", broker.port);
    let fenn = Managed::start(&mqtt);
    assert_eq!(
        get(&fenn, "/healthz"),
        (200, serde_json::json!({"status": "ok"}))
    );
    let ready = ready_becomes(&fenn, 200);
    assert_eq!(ready["mqtt"], "connected", "{ready}");
    broker.stop();
    let waiting = ready_becomes(&fenn, 503);
    assert_eq!(waiting["mqtt"], "disconnected", "{waiting}");
    assert_eq!(get(&fenn, "/healthz").0, 200);
    broker.start_again();
    ready_becomes(&fenn, 200);
    // Everything else still needs the token.
    assert_eq!(get(&fenn, "/v1/functions").0, 401);
}

#[test]
fn without_mqtt_fenn_is_ready_once_it_serves() {
    let fenn = Managed::start("");
    let (status, ready) = get(&fenn, "/readyz");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["mqtt"], Value::Null);
}
