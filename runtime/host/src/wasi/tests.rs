//! WASI guests written in the text format: what a command or a reactor
//! reads and writes, and the hostile ones contained.

use crate::invocation::{Invocation, Step};
use crate::{Error, FunctionModule, Limits};
use fenn_abi::{Event, Response};

/// A command module whose `_start` body is `body`. It imports the calls
/// it uses; memory page 0 holds scratch space: an iovec at 0, a count at
/// 8, a buffer from 1024; `text` is a data segment at 512.
fn command(body: &str, text: &str) -> String {
    format!(
        r#"(module
             (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "environ_get" (func $env (param i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
             (memory (export "memory") 2)
             (data (i32.const 512) "{text}")
             ;; writes len bytes at ptr to fd
             (func $out (param $fd i32) (param $ptr i32) (param $len i32)
               (i32.store (i32.const 0) (local.get $ptr))
               (i32.store (i32.const 4) (local.get $len))
               (drop (call $write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
             ;; reads stdin into 1024.. until its end; answers the length
             (func $slurp (result i32) (local $at i32)
               (local.set $at (i32.const 1024))
               (block $done (loop $more
                 (i32.store (i32.const 0) (local.get $at))
                 (i32.store (i32.const 4) (i32.const 4096))
                 (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
                 (br_if $done (i32.eqz (i32.load (i32.const 8))))
                 (local.set $at (i32.add (local.get $at) (i32.load (i32.const 8))))
                 (br $more)))
               (i32.sub (local.get $at) (i32.const 1024)))
             (func $deep (param i32) (if (i32.eqz (local.get 0)) (then (call $exit (i32.const 7))))
               (call $deep (i32.sub (local.get 0) (i32.const 1))))
             (func (export "_start") (local $n i32) {body}))"#
    )
}

fn compile(wat: &str, limits: Limits) -> Result<FunctionModule, Error> {
    FunctionModule::compile("w", &wat::parse_str(wat).unwrap(), limits)
}

fn run(module: &FunctionModule, event: &Event) -> Result<Response, Error> {
    let mut invocation = Invocation::start(module, event)?;
    loop {
        match invocation.run(1_000_000) {
            Step::Done(result) => return result,
            Step::Paused(paused) => invocation = *paused,
        }
    }
}

fn run_command(body: &str, text: &str) -> Result<Response, Error> {
    let module = compile(&command(body, text), Limits::default()).unwrap();
    run(
        &module,
        &Event::new("/w", "GET").with_query("name", "Jason"),
    )
}

// Writes `{"statusCode":200,"body":` + stdin + `}`: the event, as the body.
const ECHO_EVENT: &str = r#"
    (local.set $n (call $slurp))
    (call $out (i32.const 1) (i32.const 512) (i32.const 25))
    (call $out (i32.const 1) (i32.const 1024) (local.get $n))
    (call $out (i32.const 1) (i32.const 537) (i32.const 1))"#;
const ECHO_TEXT: &str = r#"{\"statusCode\":200,\"body\":}"#;

#[test]
fn a_command_reads_the_event_as_json_and_answers_on_stdout() {
    let response = run_command(ECHO_EVENT, ECHO_TEXT).unwrap();
    assert_eq!(response.status_code, 200);
    let event: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(event["path"], "/w");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["queryParameters"]["name"], "Jason");
}

#[test]
fn a_non_zero_exit_fails_the_event_naming_the_code_and_the_last_stderr_line() {
    let body = r#"(call $out (i32.const 2) (i32.const 512) (i32.const 18))
                  (call $exit (i32.const 3))"#;
    let error = run_command(body, r"error: no reading\0a").unwrap_err();
    assert!(matches!(error, Error::Trap { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("exited with code 3"), "{message}");
    assert!(message.contains("no reading"), "{message}");
}

#[test]
fn exit_zero_answers_what_stdout_holds() {
    let body = format!("{ECHO_EVENT} (call $exit (i32.const 0)) unreachable");
    let response = run_command(&body, ECHO_TEXT).unwrap();
    assert_eq!(response.status_code, 200);
}

#[test]
fn nothing_on_stdout_is_a_bad_output_that_says_where_to_write() {
    let error = run_command("", "").unwrap_err();
    assert!(error.to_string().contains("nothing to stdout"), "{error}");
}

#[test]
fn a_gigabyte_to_stdout_stops_at_max_response() {
    // 64 KiB a write, for ever.
    let body = "(loop $l (call $out (i32.const 1) (i32.const 0) (i32.const 65536)) (br $l))";
    let error = run_command(body, "").unwrap_err();
    assert!(matches!(error, Error::BadOutput { .. }), "{error:?}");
    assert!(error.to_string().contains("stdout is over max_response"));
}

#[test]
fn reading_stdin_past_its_end_for_ever_runs_out_of_fuel() {
    let body = "(loop $l (drop (call $slurp)) (br $l))";
    let error = run_command(body, "").unwrap_err();
    assert!(matches!(error, Error::OutOfFuel { .. }), "{error:?}");
}

#[test]
fn a_gigabyte_of_random_bytes_runs_out_of_fuel() {
    // 64 KiB a call, 16,384 calls: each byte is charged.
    let body = "(loop $l (drop (call $random (i32.const 0) (i32.const 65536))) (br $l))";
    let started = std::time::Instant::now();
    let error = run_command(body, "").unwrap_err();
    assert!(matches!(error, Error::OutOfFuel { .. }), "{error:?}");
    // 100 M fuel covers at most ~100 MB; not the gigabyte.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn an_exit_from_deep_recursion_ends_the_event_with_its_code() {
    let error = run_command("(call $deep (i32.const 500))", "").unwrap_err();
    assert!(error.to_string().contains("exited with code 7"), "{error}");
}

#[test]
fn the_file_system_is_not_there() {
    // path_open on the first descriptor a libc would try: EBADF (8),
    // answered as the exit code.
    let body = "(call $exit (call $open (i32.const 3) (i32.const 0) (i32.const 0) \
                (i32.const 4) (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 8)))";
    let error = run_command(body, "").unwrap_err();
    assert!(error.to_string().contains("exited with code 8"), "{error}");
}

#[test]
fn imports_fenn_does_not_provide_are_refused_at_deploy_by_name() {
    let socket = r#"(module (import "wasi_snapshot_preview1" "sock_accept"
        (func (param i32 i32 i32) (result i32))) (memory (export "memory") 1)
        (func (export "_start")))"#;
    let error = compile(socket, Limits::default()).unwrap_err();
    assert!(
        error.to_string().contains("sock_accept") && error.to_string().contains("no sockets"),
        "{error}"
    );
    let unknown = r#"(module (import "wasi_snapshot_preview1" "fd_bogus"
        (func (param i32) (result i32))) (memory (export "memory") 1)
        (func (export "_start")))"#;
    let error = compile(unknown, Limits::default()).unwrap_err();
    assert!(error.to_string().contains("fd_bogus"), "{error}");
    let mistyped = r#"(module (import "wasi_snapshot_preview1" "fd_write"
        (func (param i32) (result i32))) (memory (export "memory") 1)
        (func (export "_start")))"#;
    let error = compile(mistyped, Limits::default()).unwrap_err();
    assert!(error.to_string().contains("wrong type"), "{error}");
}

#[test]
fn a_module_without_an_entry_is_refused_saying_what_it_needs() {
    let wat = r#"(module (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
        (memory (export "memory") 1))"#;
    let error = compile(wat, Limits::default()).unwrap_err();
    assert!(error.to_string().contains("'_start'"), "{error}");
}

#[test]
fn the_functions_variables_are_its_environment() {
    let mut grants = crate::Grants::default();
    let var = |value: &str| crate::grants::Var {
        value: value.into(),
        secret: false,
    };
    grants.vars.insert("GREETING".into(), var("hi"));
    grants.vars.insert("UNIT".into(), var("C"));
    let limits = Limits {
        grants: std::sync::Arc::new(grants),
        ..Limits::default()
    };
    // Headers, then environ_get's strings at 2048 as the body.
    let body = r#"(drop (call $env_sizes (i32.const 16) (i32.const 20)))
        (drop (call $env (i32.const 1024) (i32.const 2048)))
        (call $out (i32.const 1) (i32.const 512) (i32.const 2))
        (call $out (i32.const 1) (i32.const 2048) (i32.load (i32.const 20)))"#;
    let module = compile(&command(body, r"\0a\0a"), limits).unwrap();
    let event = Event::new("/w", "GET").with_header("x-fenn-web", "1");
    let response = run(&module, &event).unwrap();
    assert!(
        response.body.contains("GREETING=hi\0") && response.body.contains("UNIT=C\0"),
        "{:?}",
        response.body
    );
    assert!(response.body.contains("REQUEST_METHOD=GET\0"));
}

#[test]
fn a_web_function_reads_its_body_on_stdin_and_answers_cgi() {
    let body = r#"(local.set $n (call $slurp))
        (call $out (i32.const 1) (i32.const 512) (i32.const 31))
        (call $out (i32.const 1) (i32.const 1024) (local.get $n))"#;
    let module = compile(
        &command(body, r"Status: 201\0aContent-Type: a/b\0a\0a"),
        Limits::default(),
    )
    .unwrap();
    let event = Event::new("/w", "POST")
        .with_header("x-fenn-web", "1")
        .with_body("the body");
    let response = run(&module, &event).unwrap();
    assert_eq!(response.status_code, 201);
    assert_eq!(response.headers["content-type"], "a/b");
    assert_eq!(response.body, "the body");
}

#[test]
fn a_reactor_is_initialised_then_handled() {
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (global $ready (mut i32) (i32.const 0))
        (data (i32.const 512) "{\"statusCode\":204}")
        (func (export "_initialize") (global.set $ready (i32.const 1)))
        (func (export "handle")
          (if (i32.eqz (global.get $ready)) (then unreachable))
          (i32.store (i32.const 0) (i32.const 512))
          (i32.store (i32.const 4) (i32.const 18))
          (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;
    let module = compile(wat, Limits::default()).unwrap();
    assert_eq!(
        module.wasi,
        Some(super::Entry::Reactor { initialize: true })
    );
    let response = run(&module, &Event::new("/w", "GET")).unwrap();
    assert_eq!(response.status_code, 204);
}

#[test]
fn a_call_the_budget_left_cannot_pay_is_refused_before_its_work() {
    // One block, no fuel check between the calls: each is refused on its
    // own cost, 16 fuel a byte against a budget of 1 M.
    let limits = Limits {
        fuel: 1_000_000,
        ..Limits::default()
    };
    let body = "(drop (call $random (i32.const 0) (i32.const 65536)))".repeat(10);
    let module = compile(&command(&body, ""), limits).unwrap();
    let error = run(&module, &Event::new("/w", "GET")).unwrap_err();
    assert!(matches!(error, Error::OutOfFuel { .. }), "{error:?}");
}

#[test]
fn a_wasi_guest_reaches_fenns_host_calls_it_may_declare() {
    let wat = r#"(module
        (import "fenn" "log" (func $log (param i32 i32 i32)))
        (import "fenn" "now_ms" (func $now (result i64)))
        (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 512) "{\"statusCode\":200}")
        (data (i32.const 600) "from fenn.log")
        (func (export "_start")
          (if (i64.eqz (call $now)) (then unreachable))
          (call $log (i32.const 3) (i32.const 600) (i32.const 13))
          (i32.store (i32.const 0) (i32.const 512))
          (i32.store (i32.const 4) (i32.const 18))
          (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;
    let module = compile(wat, Limits::default()).unwrap();
    let trace = std::sync::Arc::new(crate::Trace::default());
    let invocation =
        Invocation::start_traced(&module, &Event::new("/w", "GET"), Some(trace.clone())).unwrap();
    let Step::Done(result) = invocation.run(u64::MAX) else {
        unreachable!("it finishes in one slice")
    };
    assert_eq!(result.unwrap().status_code, 200);
    let lines = trace.take().lines;
    assert!(
        lines
            .iter()
            .any(|line| line.message == "from fenn.log" && line.level == "error"),
        "{lines:?}"
    );
}

#[test]
fn a_call_that_hands_bytes_back_needs_fenn_alloc_and_deploy_says_so() {
    let wat = r#"(module
        (import "fenn" "var" (func (param i32 i32) (result i64)))
        (memory (export "memory") 1) (func (export "_start")))"#;
    let mut grants = crate::Grants::default();
    grants.vars.insert(
        "A".into(),
        crate::grants::Var {
            value: "1".into(),
            secret: false,
        },
    );
    let limits = Limits {
        grants: std::sync::Arc::new(grants),
        ..Limits::default()
    };
    let error = compile(wat, limits).unwrap_err();
    assert!(error.to_string().contains("fenn_alloc"), "{error}");
}
