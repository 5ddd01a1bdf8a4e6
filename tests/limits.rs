//! Every limit crossed, as a client sees it: the answer, the log line, and
//! fenn still serving everything else.

use crate::util::{Fenn, client, hello_works};
use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

const MISBEHAVE: &str = r#"
    [server]
    max_body = "1KiB"
    header_read_timeout = "1s"

    [[function]]
    name = "misbehave"
    module = "{misbehave}"
    timeout = "500ms"
    fuel = 1_000_000_000_000
    memory = "4MiB"
      [[function.http]]
      route = "/m/{what}"

    [[function]]
    name = "hello"
    module = "example:hello"
      [[function.http]]
      route = "/hello"
"#;

#[test]
fn an_endless_loop_is_answered_504_at_its_deadline_while_others_keep_succeeding() {
    let fenn = Fenn::with_config(MISBEHAVE);
    let looping = std::thread::scope(|scope| {
        let looping = scope.spawn(|| {
            let started = Instant::now();
            let response = client().get(fenn.url("/m/loop")).send().unwrap();
            (response.status(), started.elapsed())
        });
        let mut served = 0;
        while !looping.is_finished() || served < 20 {
            hello_works(&fenn);
            served += 1;
        }
        looping.join().unwrap()
    });
    let (status, elapsed) = looping;
    assert_eq!(status, 504);
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(3),
        "answered after {elapsed:?}, the deadline is 500ms"
    );
    let log = fenn.log.wait_for("ran past its deadline");
    assert!(
        log.contains("function ran past its deadline of 500ms"),
        "{log}"
    );
}

#[test]
fn a_memory_bomb_a_stack_overflow_and_a_panic_are_contained() {
    let fenn = Fenn::with_config(MISBEHAVE);
    for (what, message, logged) in [
        (
            "bomb",
            "function exceeded its memory limit",
            "memory limit of 4194304 bytes",
        ),
        ("recurse", "function failed", "function trapped"),
        (
            "deep",
            "function overflowed its stack",
            "function overflowed its stack",
        ),
        ("panic", "function failed", "asked to panic"),
    ] {
        let response = client()
            .get(fenn.url(&format!("/m/{what}")))
            .send()
            .unwrap();
        assert_eq!(response.status(), 502, "{what}");
        let body: serde_json::Value = response.json().unwrap();
        assert_eq!(body["message"], message, "{what}");
        let log = fenn.log.wait_for(logged);
        assert!(log.contains(logged), "{what}: {log}");
        hello_works(&fenn);
    }
}

#[test]
fn a_function_cannot_break_the_connection_with_framing_headers() {
    let fenn = Fenn::with_config(MISBEHAVE);
    let client = client();
    for _ in 0..3 {
        // The same keep-alive connection: a wrong Content-Length would
        // desynchronise the next answer.
        let response = client.get(fenn.url("/m/framing")).send().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-length"], "10");
        assert_eq!(response.text().unwrap(), "framing ok");
    }
}

#[test]
fn a_body_over_the_limit_is_413_and_one_at_the_limit_passes() {
    let fenn = Fenn::with_config(MISBEHAVE);
    let response = client()
        .post(fenn.url("/m/ok"))
        .body(vec![b'x'; 1025])
        .send()
        .unwrap();
    assert_eq!(response.status(), 413);
    let response = client()
        .post(fenn.url("/m/ok"))
        .body(vec![b'x'; 1024])
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn a_function_at_its_concurrency_limit_answers_503_with_retry_after() {
    let fenn = Fenn::with_config(
        r#"
        [[function]]
        name = "misbehave"
        module = "{misbehave}"
        concurrency = 1
        timeout = "10s"
        fuel = 1_000_000_000_000
          [[function.http]]
          route = "/m/{what}"
        "#,
    );
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| {
            client()
                .get(fenn.url("/m/sleep?ms=1500"))
                .send()
                .unwrap()
                .status()
        });
        // The guest logs as it starts sleeping: from then on it holds the slot.
        fenn.log.wait_for("sleeping 1500 ms");
        assert!(!slow.is_finished());
        let started = Instant::now();
        let response = client().get(fenn.url("/m/ok")).send().unwrap();
        let elapsed = started.elapsed();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        assert!(
            elapsed < Duration::from_millis(500),
            "refused after {elapsed:?}"
        );
        assert_eq!(slow.join().unwrap(), 200);
    });
}

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let fenn = Fenn::with_config(MISBEHAVE);
    let mut stream = std::net::TcpStream::connect(fenn.addr).unwrap();
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    let elapsed = started.elapsed();
    assert!(read.is_ok(), "fenn closed the connection: {read:?}");
    assert!(
        elapsed < Duration::from_secs(5),
        "cut off after {elapsed:?}"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    hello_works(&fenn);
}

#[test]
fn shutdown_lets_an_in_flight_request_finish() {
    let mut fenn = Fenn::with_config(
        r#"
        [[function]]
        name = "misbehave"
        module = "{misbehave}"
        timeout = "10s"
        fuel = 1_000_000_000_000
          [[function.http]]
          route = "/m/{what}"
        "#,
    );
    let status = std::thread::scope(|scope| {
        let slow = scope.spawn(|| {
            client()
                .get(fenn.url("/m/sleep?ms=800"))
                .send()
                .map(|r| r.status())
        });
        // The guest logs as it starts: the request is in flight from then on.
        fenn.log.wait_for("sleeping 800 ms");
        let pid = fenn.pid().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        slow.join().unwrap()
    });
    assert_eq!(status.unwrap(), 200, "the in-flight request finished");
    let exit = fenn.wait_exit(Duration::from_secs(10)).expect("fenn exits");
    assert!(exit.success(), "{exit:?}");
}
