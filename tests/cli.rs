//! `fenn check`, `fenn invoke`, and config and module errors at start.

use crate::util::{TempDir, fenn, misbehave_wasm, run};

#[test]
fn check_describes_a_module_that_fits_the_abi() {
    let (ok, stdout, _) = run(&["check", misbehave_wasm()], None);
    assert!(ok);
    for expected in [
        "fenn_handle: func[I32, I32] -> [I64]",
        "fenn.log",
        "ok: fits the fenn ABI v1",
    ] {
        assert!(stdout.contains(expected), "{expected} missing:\n{stdout}");
    }
}

#[test]
fn check_refuses_garbage_and_a_module_without_the_abi_with_the_reason() {
    let dir = TempDir::new("check");
    // Not a module at all (a README, say): said plainly.
    let garbage = dir.write("garbage.wasm", b"not wasm at all");
    let (ok, _, stderr) = run(&["check", garbage.to_str().unwrap()], None);
    assert!(!ok);
    assert!(stderr.contains("not a WebAssembly module"), "{stderr}");
    // A module that starts right and then does not compile.
    let broken = dir.write("broken.wasm", b"\0asm\x01\0\0\0garbage");
    let (ok, _, stderr) = run(&["check", broken.to_str().unwrap()], None);
    assert!(!ok);
    assert!(stderr.contains("module does not compile"), "{stderr}");
    // The smallest valid module: no exports at all.
    let empty = dir.write("empty.wasm", b"\0asm\x01\0\0\0");
    let (ok, stdout, stderr) = run(&["check", empty.to_str().unwrap()], None);
    assert!(!ok);
    assert!(stdout.contains("exports:"), "{stdout}");
    assert!(stderr.contains("missing export 'fenn_abi_v1'"), "{stderr}");
}

#[test]
fn check_prints_names_holding_terminal_escapes_escaped() {
    let dir = TempDir::new("check-escapes");
    let wasm = wat::parse_str(
        r#"(module (import "env" "\1b[2J\0a2026-01-01 forged" (func))
             (memory (export "memory") 1) (func (export "\1b]0;owned\07"))
             (func (export "fenn_abi_v1"))
             (func (export "fenn_alloc") (param i32) (result i32) i32.const 0)
             (func (export "fenn_handle") (param i32 i32) (result i64) i64.const 0))"#,
    )
    .unwrap();
    let module = dir.write("names.wasm", wasm);
    let (ok, stdout, stderr) = run(&["check", module.to_str().unwrap()], None);
    assert!(!ok);
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text}"
        );
        assert!(!text.contains("\n2026-01-01 forged"), "{text}");
    }
    assert!(stdout.contains(r"\u{1b}]0;owned\u{7}: func"), "{stdout}");
    assert!(
        stdout.contains(r"env.\u{1b}[2J\n2026-01-01 forged"),
        "{stdout}"
    );
    assert!(stderr.contains(r"imports 'env.\u{1b}[2J\n2026"), "{stderr}");
}

#[test]
fn invoke_runs_the_function_api_example_from_stdin() {
    let event = r#"{"path":"/testfunc","httpMethod":"POST","headers":{"content-type":"text/plain"},
                   "queryParameters":{"name":"Jason"},"pathParameters":{},
                   "body":"requested the API","isBase64Encoded":false}"#;
    let (ok, stdout, stderr) = run(&["invoke", "example:hello", "--event", "-"], Some(event));
    assert!(ok, "{stderr}");
    let response: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(response["body"], "Jason requested the API");
    assert_eq!(response["statusCode"], 200);
}

#[test]
fn invoke_reads_a_piped_event_without_the_option_and_runs_get_on_empty_input() {
    let event =
        r#"{"path":"/hi","httpMethod":"POST","queryParameters":{"name":"Ada"},"body":"piped"}"#;
    let (ok, stdout, stderr) = run(&["invoke", "example:hello"], Some(event));
    assert!(ok, "{stderr}");
    let response: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(response["body"], "Ada piped");
    let (ok, stdout, stderr) = run(&["invoke", "example:echo"], Some(""));
    assert!(ok, "{stderr}");
    let response: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let seen: serde_json::Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (seen["httpMethod"].as_str(), seen["path"].as_str()),
        (Some("GET"), Some("/"))
    );
}

#[test]
fn invoke_reports_a_trap_and_fails() {
    let dir = TempDir::new("invoke");
    let event = dir.write("event.json", r#"{"path":"/panic","httpMethod":"GET"}"#);
    let (ok, _, stderr) = run(
        &[
            "invoke",
            misbehave_wasm(),
            "--event",
            event.to_str().unwrap(),
        ],
        None,
    );
    assert!(!ok);
    assert!(stderr.contains("function trapped"), "{stderr}");
    assert!(stderr.contains("asked to panic"), "{stderr}");
}

fn serve_fails(config: &str) -> String {
    let dir = TempDir::new("config");
    let file = dir.write("fenn.toml", config);
    let output = fenn()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success(), "fenn started with a bad config");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains(&file.display().to_string()),
        "the file is named: {stderr}"
    );
    stderr
}

#[test]
fn a_bad_config_is_refused_at_start_naming_file_and_key() {
    let stderr = serve_fails(
        "[[function]]\nname = \"hello\"\nmodule = \"example:hello\"\nmemroy = \"1MiB\"\n",
    );
    assert!(
        stderr.contains("function[0].memroy: unknown field `memroy`"),
        "{stderr}"
    );
    let stderr = serve_fails(
        "[[function]]\nname = \"hello\"\nmodule = \"example:hello\"\ntimeout = \"soon\"\n",
    );
    assert!(
        stderr.contains("function[0].timeout: 'soon' is not a duration"),
        "{stderr}"
    );
}

#[test]
fn a_module_that_does_not_fit_is_refused_at_start_not_at_the_first_event() {
    let stderr = serve_fails("[[function]]\nname = \"broken\"\nmodule = \"broken.wasm\"\n");
    assert!(
        stderr.contains("function[0].module: cannot read"),
        "{stderr}"
    );
    let dir = TempDir::new("module");
    let empty = dir.write("empty.wasm", b"\0asm\x01\0\0\0");
    let stderr = serve_fails(&format!(
        "[[function]]\nname = \"empty\"\nmodule = \"{}\"\n",
        empty.display()
    ));
    assert!(
        stderr.contains("function[0].module: module refused: module does not fit the fenn ABI: missing export 'fenn_abi_v1'"),
        "{stderr}"
    );
    // A memory limit below what the module needs names `memory`, and every
    // function that cannot load is named, not only the first.
    let stderr = serve_fails(&format!(
        "[[function]]\nname = \"small\"\nmodule = \"example:hello\"\nmemory = \"32KiB\"\n\
         [[function]]\nname = \"empty\"\nmodule = \"{}\"\n",
        empty.display()
    ));
    assert!(
        stderr.contains("function[0].memory: 32768 bytes is less than the module needs to start"),
        "{stderr}"
    );
    assert!(
        stderr.contains("function[1].module: module refused"),
        "{stderr}"
    );
}
