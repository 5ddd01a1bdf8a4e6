//! What recording every invocation costs (the history with its log
//! lines, the counts behind `/metrics`): the gateway's throughput at 16
//! connections and its p50 at one, with recording on (a fenn with the
//! management API) and off (the same config without it), both running
//! the same function, measured in alternating rounds of the same run.
//!
//! The load is wrk's (Debian's `wrk`), which takes little of the CPU the
//! server needs. `cargo bench --bench observe`.

#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::time::Duration;

// The test suite's starters, shared rather than copied.
#[allow(dead_code, unused_imports)]
#[path = "../../../tests/util/mod.rs"]
mod util;

mod wrk;

const ROUNDS: usize = 4;
const LOAD: Duration = Duration::from_secs(6);
const CONNECTIONS: usize = 16;

/// wrk on `url`: requests a second, and the median latency in µs.
fn wrk(url: &str, connections: usize) -> (f64, f64) {
    wrk::wrk(url, connections, LOAD, &[], &[])
}

fn main() {
    let function = "[[function]]\nname = \"hello\"\nmodule = \"example:hello\"\nhttp = [{ route = \"/hello\" }]\n";
    let on = util::Managed::start_in(
        util::TempDir::new("bench-on"),
        &format!("[admin]\nlisten = \"127.0.0.1:0\"\n{function}"),
    );
    let off = util::Fenn::with_config(&format!("[server]\nlisten = \"127.0.0.1:0\"\n{function}"));
    let urls = [
        ("off", off.url("/hello?name=load")),
        ("on", on.fenn.url("/hello?name=load")),
    ];
    println!("recording off and on, {ROUNDS} rounds each, alternating:");
    let mut rates = [Vec::new(), Vec::new()];
    let mut p50s = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        for (at, (label, url)) in urls.iter().enumerate() {
            let (rate, _) = wrk(url, CONNECTIONS);
            let (_, p50) = wrk(url, 1);
            println!(
                "  round {round} {label:<3}: {rate:>7.0} req/s at {CONNECTIONS} connections, p50 {p50:.1} µs at one"
            );
            rates[at].push(rate);
            p50s[at].push(p50);
        }
    }
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let (off_rate, on_rate) = (mean(&rates[0]), mean(&rates[1]));
    let (off_p50, on_p50) = (mean(&p50s[0]), mean(&p50s[1]));
    println!(
        "throughput: off {off_rate:.0} req/s, on {on_rate:.0} req/s ({:+.1}%)",
        (on_rate - off_rate) / off_rate * 100.0
    );
    println!(
        "p50 at one connection: off {off_p50:.1} µs, on {on_p50:.1} µs ({:+.2} µs an event)",
        on_p50 - off_p50
    );
    let (_, history) = on.call("GET", "/v1/status", None);
    println!("history held {} bytes", history["history_bytes"]);
}
