//! What each host call costs from inside a guest, against an invocation
//! that makes no call, in one process: variables, the store's get and
//! durable set (SQLite, one fsync a set), and emit (kept in the store's
//! journal before it returns). Each guest makes the call `CALLS` times an
//! event (emit: 16, the most an invocation may); the figure is (event -
//! empty event) / calls.
//!
//! ```sh
//! cargo bench -p fenn-kv --bench calls
//! ```

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use fenn_abi::Event;
use fenn_runtime::grants::{Grants, KvGrant, Var};
use fenn_runtime::{Dispatcher, FunctionHost as _, Limits};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CALLS: u32 = 100;
const EVENTS: u32 = 40;
const ROUNDS: usize = 3;

/// A guest that makes `call` (the body of one call, leaving nothing on
/// the stack, trapping when the call fails) `CALLS` times.
fn guest(imports: &str, call: &str, calls: u32) -> Vec<u8> {
    let wat = format!(
        r#"(module {imports}
             (import "fenn" "last_error" (func $last_error (result i64)))
             (import "fenn" "log" (func $log (param i32 i32 i32)))
             ;; A failed call logs its reason at error level, then traps:
             ;; the trap's reason names it.
             (func $failed (local $r i64)
               (local.set $r (call $last_error))
               (call $log (i32.const 3)
                 (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32)))
                 (i32.wrap_i64 (local.get $r)))
               unreachable)
             (memory (export "memory") 1)
             (data (i32.const 0) "X")
             (data (i32.const 16) "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789")
             (data (i32.const 128) "sink")
             (data (i32.const 256) "{{\22path\22:\22/s\22,\22httpMethod\22:\22POST\22}}")
             (data (i32.const 1024) "\01{{\22statusCode\22:200}}")
             (func (export "fenn_abi_v1"))
             (func (export "fenn_alloc") (param i32) (result i32) i32.const 8192)
             (func (export "fenn_handle") (param i32 i32) (result i64) (local $n i32)
               (block $done (loop $again
                 (br_if $done (i32.ge_u (local.get $n) (i32.const {calls})))
                 {call}
                 (local.set $n (i32.add (local.get $n) (i32.const 1)))
                 (br $again)))
               i64.const 4398046511123))"#
    );
    wat::parse_str(wat).unwrap()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn per_event(dispatcher: &Dispatcher, function: &str) -> Duration {
    let started = Instant::now();
    for _ in 0..EVENTS {
        dispatcher
            .invoke(function, Event::new("/", "GET"))
            .await
            .unwrap();
    }
    started.elapsed() / EVENTS
}

#[tokio::main]
async fn main() {
    // On the target directory's disk, not /tmp, which may be memory
    // (where an fsync costs nothing).
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fenn-calls-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(fenn_kv::Store::open(&dir).unwrap());
    let dispatcher = Arc::new(Dispatcher::new(2, 256 << 20));
    dispatcher.services().bind_kv(store.clone());
    let emitter = fenn_runtime::emit::Emitter::start(&dispatcher, 64 << 20, Some(store.clone()));
    dispatcher.services().bind_emit(emitter);
    let mut grants = Grants {
        kv: Some(KvGrant {
            max_keys: 1 << 20,
            max_bytes: 1 << 30,
            ..KvGrant::own("bench")
        }),
        emit: vec!["sink".into()],
        ..Grants::default()
    };
    grants.vars.insert(
        "X".into(),
        Var {
            value: "a value".into(),
            secret: false,
        },
    );
    let limits = Limits {
        grants: Arc::new(grants),
        ..Limits::default()
    };
    let import = |name: &str, ty: &str| format!(r#"(import "fenn" "{name}" (func ${name} {ty}))"#);
    let cases = [
        ("no call", String::new(), "nop"),
        (
            "var",
            import("var", "(param i32 i32) (result i64)"),
            "(if (i64.lt_s (call $var (i32.const 0) (i32.const 1)) (i64.const 0)) (then (call $failed)))",
        ),
        (
            "kv_get",
            import("kv_get", "(param i32 i32) (result i64)"),
            "(if (i64.lt_s (call $kv_get (i32.const 0) (i32.const 1)) (i64.const 0)) (then (call $failed)))",
        ),
        (
            "kv_set, durable",
            import("kv_set", "(param i32 i32 i32 i32 i64) (result i32)"),
            "(i32.store (i32.const 16) (local.get $n)) (if (i32.lt_s (call $kv_set (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 100) (i64.const 0)) (i32.const 0)) (then (call $failed)))",
        ),
        (
            "emit, journaled",
            import("emit", "(param i32 i32 i32 i32) (result i32)"),
            "(if (i32.lt_s (call $emit (i32.const 128) (i32.const 4) (i32.const 256) (i32.const 33)) (i32.const 0)) (then (call $failed)))",
        ),
    ];
    let calls = |name: &str| if name.starts_with("emit") { 16 } else { CALLS };
    let sink = guest("", "nop", 0);
    dispatcher.deploy("sink", &sink, Limits::default()).unwrap();
    for (name, imports, call) in &cases {
        let module = guest(imports, call, calls(name));
        dispatcher.deploy(name, &module, limits.clone()).unwrap();
    }
    // Set the key get reads.
    dispatcher
        .invoke("kv_set, durable", Event::new("/", "GET"))
        .await
        .unwrap();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..ROUNDS {
        for (i, (name, ..)) in cases.iter().enumerate() {
            times[i].push(per_event(&dispatcher, name).await.as_secs_f64() * 1e6);
        }
    }
    let floor = median(times[0].clone());
    println!(
        "host calls, {CALLS} an event (emit 16), median of {ROUNDS} rounds of {EVENTS} events"
    );
    println!("| call | µs an event | µs a call over an event with no call | calls a second |");
    println!("|---|---|---|---|");
    for (i, (name, ..)) in cases.iter().enumerate() {
        let event = median(times[i].clone());
        let call = (event - floor) / f64::from(calls(name));
        let rate = if call > 0.0 {
            format!("{:.0}", 1e6 / call)
        } else {
            "-".into()
        };
        println!("| {name} | {event:.1} | {call:.2} | {rate} |");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
