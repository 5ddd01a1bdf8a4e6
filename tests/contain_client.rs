//! Containment of clients and inputs: slow and greedy HTTP clients, files
//! that never end, and config values past what fenn can hold, each crossed
//! and answered with a clear refusal while fenn keeps serving.

use crate::util::{Fenn, TempDir, client, hello_works, run};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const SERVER: &str = r#"
    [server]
    max_body = "1MiB"
    buffer_memory = "2MiB"

    [[function]]
    name = "misbehave"
    module = "{misbehave}"
      [[function.http]]
      route = "/m/{what}"

    [[function]]
    name = "hello"
    module = "example:hello"
      [[function.http]]
      route = "/hello"
"#;

/// Sends `head` (request line and headers) and what follows on a new
/// connection, without reading.
fn send(fenn: &Fenn, head: &str, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(fenn.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    stream
}

/// The status line and headers of the answer on `stream`.
fn answer_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Whether an answer (or the end) waits on `stream`, without blocking.
fn answered(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let waiting = !matches!(
        stream.peek(&mut [0u8; 1]),
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock
    );
    stream.set_nonblocking(false).unwrap();
    waiting
}

#[test]
fn slow_bodies_are_held_to_the_buffer_budget_and_others_get_a_fast_503() {
    let fenn = Fenn::with_config(SERVER);
    let head = "POST /m/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n";
    // Two slow clients reserve the whole 2 MiB budget with their first bytes.
    let mut slow: Vec<TcpStream> = (0..2).map(|_| send(&fenn, head, b"x")).collect();
    let mut refused = None;
    for _ in 0..200 {
        // The third waits for "100 Continue" before its body, so a refusal
        // arrives before any of the body is sent.
        let expect = head.replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n");
        let mut third = send(&fenn, &expect, b"");
        let mut answer = answer_head(&mut third);
        if answer.starts_with("HTTP/1.1 100") {
            third.write_all(&vec![b'x'; 1 << 20]).unwrap();
            answer = answer_head(&mut third);
        }
        if answer.starts_with("HTTP/1.1 503") {
            refused = Some(answer);
            break;
        }
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // The third came first and a slow client was refused instead: a
        // refused one has its answer waiting; replace it and try again.
        for stream in &mut slow {
            if answered(stream) {
                *stream = send(&fenn, head, b"x");
            }
        }
    }
    let refused = refused.unwrap_or_else(|| {
        panic!(
            "a third 1 MiB body is refused while two are held:\n{}",
            fenn.log.text()
        )
    });
    assert!(refused.contains("retry-after: 1"), "{refused}");
    // A request without a body reserves nothing.
    hello_works(&fenn);
    drop(slow);
    // The slow clients' reservations come back when they go away.
    let served = (0..1000).any(|_| {
        let response = client()
            .post(fenn.url("/m/ok"))
            .body(vec![b'x'; 1 << 20])
            .send()
            .unwrap();
        response.status() == 200
    });
    assert!(served);
}

#[test]
fn a_declared_length_over_max_body_is_413_at_once_without_100_continue() {
    let fenn = Fenn::with_config(SERVER);
    for head in [
        "POST /m/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n",
        "POST /m/ok HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n",
    ] {
        let started = Instant::now();
        let mut stream = send(&fenn, head, b"");
        let answer = answer_head(&mut stream);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        // Not the body read timeout (30 s): the answer needs no body.
        assert!(started.elapsed() < Duration::from_secs(15));
    }
    hello_works(&fenn);
}

#[test]
fn one_client_is_held_to_its_connections_while_they_all_have_requests_in_flight() {
    let fenn =
        Fenn::with_config(&SERVER.replace("[server]", "[server]\nmax_connections_per_client = 6"));
    // Requests in flight up to the per-client limit: each body waits for
    // its last byte (the 100 Continue says fenn has the request).
    let head =
        "POST /m/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
    let mut held: Vec<TcpStream> = (0..6)
        .map(|_| {
            let mut stream = send(&fenn, head, b"");
            assert!(answer_head(&mut stream).starts_with("HTTP/1.1 100"));
            stream.write_all(b"x").unwrap();
            stream
        })
        .collect();
    let mut over = send(&fenn, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", b"");
    let mut rest = Vec::new();
    let _ = over.read_to_end(&mut rest);
    assert!(rest.is_empty(), "the 7th connection got an answer");
    fenn.log
        .wait_for("server.max_connections_per_client reached and none idle");
    // The held requests are still served.
    for stream in &mut held {
        stream.write_all(b"y").unwrap();
        assert!(answer_head(stream).starts_with("HTTP/1.1 200"));
    }
    // Idle now, they make way for a new connection from the same client.
    let mut stream = send(&fenn, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", b"");
    assert!(answer_head(&mut stream).starts_with("HTTP/1.1 200"));
}

#[test]
fn a_client_that_never_reads_its_response_is_cut_at_the_write_timeout() {
    let fenn = Fenn::with_config(
        r#"
        [server]
        write_timeout = "1s"
        [[function]]
        name = "misbehave"
        module = "{misbehave}"
        max_response = "32MiB"
        memory = "128MiB"
        fuel = 1_000_000_000_000
          [[function.http]]
          route = "/m/{what}"
        [[function]]
        name = "hello"
        module = "example:hello"
          [[function.http]]
          route = "/hello"
        "#,
    );
    // 24 MiB: more than the sockets on both sides can buffer.
    let mut stream = send(
        &fenn,
        "GET /m/control?kb=24576 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"",
    );
    fenn.log
        .wait_for("the client did not read its response in time");
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    assert!(got.len() < 24 << 20, "the whole response was sent");
    hello_works(&fenn);
}

#[test]
fn shutdown_ends_within_its_grace_while_a_long_guest_runs() {
    let mut fenn = Fenn::with_config(
        r#"
        [server]
        shutdown_grace = "1s"
        [[function]]
        name = "misbehave"
        module = "{misbehave}"
        timeout = "60s"
        fuel = 1_000_000_000_000
          [[function.http]]
          route = "/m/{what}"
        "#,
    );
    let _slow = send(
        &fenn,
        "GET /m/sleep?ms=50000 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"",
    );
    fenn.log.wait_for("sleeping 50000 ms");
    let started = Instant::now();
    let exit = fenn.terminate();
    assert!(exit.success(), "{exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "waited for the guest: {:?}",
        started.elapsed()
    );
}

#[test]
fn files_that_never_end_are_refused_unread() {
    let dir = TempDir::new("files");
    let fifo = dir.0.join("module.wasm");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for args in [
        vec!["check", "/dev/zero"],
        vec!["check", fifo.to_str().unwrap()],
        vec!["serve", "--config", "/dev/zero"],
        vec!["invoke", "example:hello", "--event", "/dev/zero"],
    ] {
        let (ok, _, stderr) = run(&args, None);
        assert!(!ok, "{args:?}");
        assert!(
            stderr.contains("is not a regular file"),
            "{args:?}: {stderr}"
        );
    }
    let big = dir.write("big.toml", vec![b'#'; (1 << 20) + 1]);
    let (ok, _, stderr) = run(&["serve", "--config", big.to_str().unwrap()], None);
    assert!(!ok);
    assert!(stderr.contains("1048577 bytes, over"), "{stderr}");
}

#[test]
fn config_values_past_what_fenn_can_hold_are_config_errors() {
    let (ok, _, stderr) = {
        let dir = TempDir::new("buffer");
        let file = dir.write(
            "fenn.toml",
            "[server]\nbuffer_memory = \"1MiB\"\nmax_body = \"64KiB\"\n[[function]]\nname = \"f\"\nmodule = \"example:hello\"\nmax_response = \"2MiB\"\n[[function.http]]\nroute = \"/f\"\n",
        );
        run(&["serve", "--config", file.to_str().unwrap()], None)
    };
    assert!(!ok);
    assert!(
        stderr.contains("function[0].max_response: 2097152 bytes is over server.buffer_memory"),
        "{stderr}"
    );
    let dir = TempDir::new("limits");
    for (body, says) in [
        (
            "concurrency = 9223372036854775807",
            "function[0].concurrency: 9223372036854775807 is over the most fenn allows",
        ),
        (
            "[[function.http]]\nroute = \"/{a}/{a}\"",
            "parameter '{a}' appears twice",
        ),
        (
            "[[function.http]]\nroute = \"/a b\"",
            "' ' cannot appear in a request path",
        ),
    ] {
        let config = format!("[[function]]\nname = \"f\"\nmodule = \"example:hello\"\n{body}\n");
        let file = dir.write("fenn.toml", config);
        let (ok, _, stderr) = run(&["serve", "--config", file.to_str().unwrap()], None);
        assert!(!ok);
        assert!(stderr.contains(says), "{body}: {stderr}");
    }
    let file = dir.write(
        "fenn.toml",
        "[server]\nworkers = 9223372036854775807\n[[function]]\nname = \"f\"\nmodule = \"example:hello\"\n",
    );
    let (ok, _, stderr) = run(&["serve", "--config", file.to_str().unwrap()], None);
    assert!(!ok);
    assert!(stderr.contains("server.workers"), "{stderr}");
}
