//! The host calls through the dispatcher, on WAT guests: a call near the
//! end of a fuel slice pauses the guest instead of failing it, and a
//! refused call's reason reaches the guest.

use crate::grants::{Grants, Var};
use crate::{Dispatcher, FunctionHost as _, Limits};
use fenn_abi::Event;
use std::sync::Arc;

/// A guest that reads the variable `X` `times` times, trapping when a
/// read fails, and answers 200.
fn reader(times: u32) -> Vec<u8> {
    let wat = format!(
        r#"(module
             (import "fenn" "var" (func $var (param i32 i32) (result i64)))
             (memory (export "memory") 1)
             (data (i32.const 0) "X")
             (data (i32.const 1024) "\01{{\22statusCode\22:200}}")
             (func (export "fenn_abi_v1"))
             (func (export "fenn_alloc") (param i32) (result i32) i32.const 8192)
             (func (export "fenn_handle") (param i32 i32) (result i64) (local $n i32)
               (block $done (loop $again
                 (br_if $done (i32.ge_u (local.get $n) (i32.const {times})))
                 (if (i64.lt_s (call $var (i32.const 0) (i32.const 1)) (i64.const 0))
                   (then unreachable))
                 (local.set $n (i32.add (local.get $n) (i32.const 1)))
                 (br $again)))
               i64.const 4398046511123))"#
    );
    wat::parse_str(wat).unwrap()
}

fn with_x() -> Limits {
    let mut grants = Grants::default();
    let var = Var {
        value: "value".into(),
        secret: false,
    };
    grants.vars.insert("X".into(), var);
    Limits {
        grants: Arc::new(grants),
        ..Limits::default()
    }
}

#[tokio::test]
async fn calls_across_fuel_slices_pause_the_guest_and_it_goes_on() {
    let dispatcher = Dispatcher::new(1, 64 << 20);
    // 1 000 fuel a call: 1 000 calls cross the inline slice and several
    // of the workers' slices.
    dispatcher
        .deploy("reader", &reader(1_000), with_x())
        .unwrap();
    let response = dispatcher
        .invoke("reader", Event::new("/", "GET"))
        .await
        .unwrap();
    assert_eq!(response.status_code, 200);
}

#[tokio::test]
async fn a_call_without_its_grant_is_refused_at_deploy_and_past_the_count_at_the_call() {
    let dispatcher = Dispatcher::new(1, 64 << 20);
    // Over the calls an invocation may make: the read that passes it fails.
    dispatcher
        .deploy("reader", &reader(super::MAX_CALLS + 1), with_x())
        .unwrap();
    let refused = dispatcher
        .invoke("reader", Event::new("/", "GET"))
        .await
        .unwrap_err();
    assert!(matches!(refused, crate::Error::Trap { .. }), "{refused}");
    let store = r#"(module
        (import "fenn" "kv_get" (func (param i32 i32) (result i64)))
        (memory (export "memory") 1)
        (func (export "fenn_abi_v1"))
        (func (export "fenn_alloc") (param i32) (result i32) i32.const 0)
        (func (export "fenn_handle") (param i32 i32) (result i64) i64.const 0))"#;
    let refused = dispatcher
        .deploy("store", &wat::parse_str(store).unwrap(), Limits::default())
        .unwrap_err();
    assert!(refused.to_string().contains("kv = true"), "{refused}");
}
