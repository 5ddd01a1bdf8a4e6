//! Web functions: a route with `web = true` hands a WASI guest the request
//! CGI-style and sends its CGI response, as an HTTP client sees it.

use crate::util::{Fenn, TempDir, client, hello_works};

/// A command module that answers `Status: 201`, a content type, a header
/// holding its `QUERY_STRING` and `HTTP_X_TRACE` variables, and its stdin
/// (the request's body) as the body.
const WEB_GUEST: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 512) "Status: 201 Created\0aContent-Type: text/x-test\0aX-Env: ")
  (data (i32.const 600) "\0a\0a")
  (func $out (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  ;; writes each environment string that starts with Q or H (NULs as ';')
  (func $env (local $p i32) (local $end i32)
    (drop (call $sizes (i32.const 16) (i32.const 20)))
    (drop (call $environ (i32.const 4096) (i32.const 8192)))
    (local.set $p (i32.const 8192))
    (local.set $end (i32.add (i32.const 8192) (i32.load (i32.const 20))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (if (i32.eqz (i32.load8_u (local.get $p))) (then (i32.store8 (local.get $p) (i32.const 59))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next)))
    (call $out (i32.const 8192) (i32.load (i32.const 20))))
  (func (export "_start")
    (call $out (i32.const 512) (i32.const 53))
    (call $env)
    (call $out (i32.const 600) (i32.const 2))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 2048))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $out (i32.const 1024) (i32.load (i32.const 8)))))"#;

fn config(dir: &TempDir) -> String {
    let wasm = dir.write("web.wasm", wat::parse_str(WEB_GUEST).unwrap());
    format!(
        r#"
        [[function]]
        name = "web"
        module = "{}"
          [[function.http]]
          route = "/web/{{id}}"
          web = true

        [[function]]
        name = "hello"
        module = "example:hello"
          [[function.http]]
          route = "/hello"
          [[function.http]]
          route = "/not-web"
          web = true
        "#,
        wasm.display()
    )
}

#[test]
fn a_web_function_reads_the_request_as_cgi_and_answers_with_cgi_headers() {
    let dir = TempDir::new("web");
    let fenn = Fenn::with_config(&config(&dir));
    let response = client()
        .post(fenn.url("/web/7?q=a%20b"))
        .header("x-trace", "t-1")
        .header("content-type", "text/plain")
        .body("the request body")
        .send()
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "text/x-test");
    let env = response.headers()["x-env"].to_str().unwrap().to_owned();
    for expected in [
        "QUERY_STRING=q=a%20b;",
        "HTTP_X_TRACE=t-1;",
        "REQUEST_METHOD=POST;",
        "PATH_INFO=/web/7;",
        "PATH_PARAMETER_ID=7;",
        "CONTENT_TYPE=text/plain;",
        "CONTENT_LENGTH=16;",
    ] {
        assert!(env.contains(expected), "{expected} in {env}");
    }
    assert_eq!(response.text().unwrap(), "the request body");
}

#[test]
fn a_web_route_to_a_function_of_fenns_own_abi_fails_saying_why() {
    let dir = TempDir::new("web");
    let fenn = Fenn::with_config(&config(&dir));
    let response = client().get(fenn.url("/not-web")).send().unwrap();
    assert_eq!(response.status(), 500);
    let log = fenn.log.wait_for("needs a WASI module");
    assert!(log.contains("web = true"), "{log}");
    hello_works(&fenn);
}
