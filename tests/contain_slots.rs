//! Connection slots under idle clients: connections that hold a place
//! without sending a request make way for connections that do, on the
//! gateway and on the management API.

use crate::util::admin::Managed;
use crate::util::{Fenn, client, hello_works};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// `count` connections to `addr` that say nothing.
fn idle(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            stream
        })
        .collect()
}

/// Whether fenn closed `stream` (it answers nothing to a silent client)
/// before the read timeout.
fn closed(stream: &mut TcpStream) -> bool {
    use std::io::ErrorKind::{TimedOut, WouldBlock};
    match stream.read(&mut [0u8; 1]) {
        Ok(read) => read == 0,
        Err(error) => !matches!(error.kind(), TimedOut | WouldBlock),
    }
}

#[test]
fn idle_connections_at_the_cap_make_way_for_a_request() {
    let fenn = Fenn::with_config(
        r#"
        [server]
        max_connections = 4
        # Long: only an eviction closes a connection within the test.
        header_read_timeout = "60s"
        [[function]]
        name = "hello"
        module = "example:hello"
          [[function.http]]
          route = "/hello"
        "#,
    );
    let mut held = idle(fenn.addr, 4);
    // A fifth connection, with a request: the one idle the longest goes.
    hello_works(&fenn);
    fenn.log
        .wait_for("server.max_connections reached, an idle connection closed");
    assert!(
        closed(&mut held[0]),
        "the oldest idle connection stays open"
    );
    // A connection with a request in flight is not the one that goes,
    // though it is the oldest (the 100 Continue says fenn has the request).
    let mut busy = TcpStream::connect(fenn.addr).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    busy.write_all(
        b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut answer = [0u8; 12];
    busy.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 100");
    let _more = idle(fenn.addr, 6);
    // Served after fenn has taken the six in.
    hello_works(&fenn);
    busy.write_all(b"ok").unwrap();
    read_through(&mut busy, "world ok");
    // Kept alive: it was never told to close.
    busy.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    read_through(&mut busy, "Hello, world!");
}

/// Reads `stream` up to the end of `text`; what was read before it.
fn read_through(stream: &mut TcpStream, text: &str) -> String {
    let mut read = Vec::new();
    while !read.ends_with(text.as_bytes()) {
        let mut byte = [0u8; 1];
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "{}",
            String::from_utf8_lossy(&read)
        );
        read.push(byte[0]);
    }
    String::from_utf8_lossy(&read).into_owned()
}

#[test]
fn idle_connections_cannot_keep_the_operator_out_of_the_management_api() {
    let managed = Managed::start("");
    // Eight from one address: the most it may hold.
    let _held = idle(managed.admin, 8);
    let response = client().get(managed.api("/healthz")).send().unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn a_silent_connection_is_cut_at_the_header_read_timeout_from_accept_and_between_requests() {
    let fenn = Fenn::with_config(
        r#"
        [server]
        header_read_timeout = "1s"
        [[function]]
        name = "hello"
        module = "example:hello"
          [[function.http]]
          route = "/hello"
        "#,
    );
    // Nothing sent after accept: cut (the read would wait 20 s otherwise).
    let mut silent = idle(fenn.addr, 1).remove(0);
    assert!(closed(&mut silent));
    // Kept alive after an answer, then silent: cut too.
    let mut kept = idle(fenn.addr, 1).remove(0);
    kept.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"Hello, world!") {
        assert_eq!(kept.read(&mut byte).unwrap(), 1, "{answer:?}");
        answer.push(byte[0]);
    }
    assert!(closed(&mut kept));
}

#[test]
fn an_evicted_connection_that_sent_part_of_a_head_is_closed_at_once() {
    // A long header read timeout: only the eviction can close it in time.
    let fenn = Fenn::with_config(
        r#"
        [server]
        max_connections = 2
        header_read_timeout = "60s"
        [[function]]
        name = "hello"
        module = "example:hello"
          [[function.http]]
          route = "/hello"
        "#,
    );
    let mut started = idle(fenn.addr, 1).remove(0);
    started.write_all(b"G").unwrap();
    let _other = idle(fenn.addr, 1);
    // A third connection, with a request: the one idle the longest goes,
    // though it has begun a request head.
    hello_works(&fenn);
    assert!(closed(&mut started), "the evicted connection stays open");
}
