//! Hostile WASI guests, each served on a route and crossed as a client
//! sees it, with fenn serving everything else all along.

use crate::util::{Fenn, TempDir, client, hello_works, run};

/// A command module whose `_start` is `body`; `$out` writes 64 KiB from
/// address 0 to a descriptor, `$deep` recurses N calls and exits 7.
fn hostile(body: &str) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func $out (param $fd i32)
    (i32.store (i32.const 0) (i32.const 0))
    (i32.store (i32.const 4) (i32.const 65536))
    (drop (call $write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $in
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 4096))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $deep (param i32) (if (i32.eqz (local.get 0)) (then (call $exit (i32.const 7))))
    (call $deep (i32.sub (local.get 0) (i32.const 1))))
  (func (export "_start") {body}))"#
    )
}

const CASES: [(&str, &str); 5] = [
    // A gigabyte to stdout, 64 KiB a write.
    ("stdout", "(loop $l (call $out (i32.const 1)) (br $l))"),
    // The same to stderr: log lines, bounded.
    ("stderr", "(loop $l (call $out (i32.const 2)) (br $l))"),
    ("stdin", "(loop $l (call $in) (br $l))"),
    (
        "random",
        "(loop $l (drop (call $random (i32.const 0) (i32.const 65536))) (br $l))",
    ),
    ("exit", "(call $deep (i32.const 900))"),
];

fn config(dir: &TempDir) -> String {
    let mut config = String::from(
        r#"
        [[function]]
        name = "hello"
        module = "example:hello"
          [[function.http]]
          route = "/hello"
        "#,
    );
    for (name, body) in CASES {
        let wasm = dir.write(
            &format!("{name}.wasm"),
            wat::parse_str(hostile(body)).unwrap(),
        );
        config.push_str(&format!(
            r#"
            [[function]]
            name = "{name}"
            module = "{}"
            max_response = "256KiB"
              [[function.http]]
              route = "/h/{name}"
            "#,
            wasm.display()
        ));
    }
    config
}

#[test]
fn hostile_wasi_guests_are_contained_and_fenn_keeps_serving() {
    let dir = TempDir::new("contain-wasi");
    let fenn = Fenn::with_config(&config(&dir));
    for (path, status, message, logged) in [
        (
            "stdout",
            502,
            "function returned an invalid response",
            "stdout is over max_response (262144 bytes)",
        ),
        (
            "stderr",
            504,
            "function exceeded its CPU budget",
            "dropped guest log lines",
        ),
        (
            "stdin",
            504,
            "function exceeded its CPU budget",
            "function=\"stdin\"",
        ),
        (
            "random",
            504,
            "function exceeded its CPU budget",
            "function=\"random\"",
        ),
        ("exit", 502, "function failed", "exited with code 7"),
    ] {
        let response = client()
            .get(fenn.url(&format!("/h/{path}")))
            .send()
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        let body: serde_json::Value = response.json().unwrap();
        assert_eq!(body["message"], message, "{path}");
        let log = fenn.log.wait_for(logged);
        assert!(log.contains(logged), "{path}: {log}");
        hello_works(&fenn);
    }
}

#[test]
fn a_wasi_guest_importing_a_socket_is_refused_at_start_by_name() {
    let dir = TempDir::new("contain-wasi");
    let wasm = dir.write(
        "socket.wasm",
        wat::parse_str(
            r#"(module (import "wasi_snapshot_preview1" "sock_accept"
                 (func (param i32 i32 i32) (result i32)))
               (memory (export "memory") 1) (func (export "_start")))"#,
        )
        .unwrap(),
    );
    let file = dir.write(
        "fenn.toml",
        format!(
            "[[function]]\nname = \"net\"\nmodule = \"{}\"\n",
            wasm.display()
        ),
    );
    let (ok, _, stderr) = run(&["serve", "--config", file.to_str().unwrap()], None);
    assert!(!ok);
    assert!(
        stderr.contains("wasi_snapshot_preview1.sock_accept") && stderr.contains("no sockets"),
        "{stderr}"
    );
}
