//! The management API's deploys, measured on the release binary:
//!
//! - deploy latency (the request to its answer: upload, compile, ABI
//!   check, trial instantiation, fsync of module and manifest, swap) of
//!   the bundled 21 KB hello and of a generated 1 MiB module;
//! - the gateway's p50/p99 and throughput at 16 connections while the
//!   function it serves is redeployed every second, against the same load
//!   without deploys, in the same run.
//!
//! `cargo bench --bench deploy`.

#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

// The test suite's starters, shared rather than copied.
mod load;
#[allow(dead_code, unused_imports)]
#[path = "../../../tests/util/mod.rs"]
mod util;

const DEPLOYS: u32 = 30;
const LOAD: Duration = Duration::from_secs(8);
const CONNECTIONS: usize = 16;

fn main() {
    let admin = "[admin]\nlisten = \"127.0.0.1:0\"\nmax_module_size = \"4MiB\"\n";
    let fenn = util::Managed::start_in(util::TempDir::new("bench"), admin);
    let route = json!({"http": [{"route": "/bench"}]});
    let hello = util::hello_wasm();
    let large = large_module(1 << 20);
    println!("deploy latency, {DEPLOYS} deploys each (each module another hash):");
    for (name, wasm) in [("hello", &hello), ("1 MiB", &large)] {
        let mut took: Vec<f64> = (0..DEPLOYS)
            .map(|n| {
                let module = util::tagged(wasm, n);
                let started = Instant::now();
                let (status, answer) = fenn.deploy("bench", &module, &route);
                assert_eq!(status, 201, "{answer}");
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        took.sort_by(f64::total_cmp);
        println!(
            "  {name:<6} {:>8} bytes: p50 {:.1} ms, p99 {:.1} ms",
            wasm.len(),
            took[took.len() / 2],
            took[took.len() * 99 / 100]
        );
    }
    assert_eq!(fenn.deploy("bench", &hello, &route).0, 201);
    let url = fenn.fenn.url("/bench?name=load");
    println!("gateway at {CONNECTIONS} connections, {LOAD:?} each:");
    for (label, deploying) in [
        ("no deploys", false),
        ("a deploy a second", true),
        ("no deploys", false),
    ] {
        let stop = Arc::new(AtomicBool::new(false));
        let deployer = deploying.then(|| {
            let stop = stop.clone();
            let api = fenn.api("/v1/functions/bench");
            let (hello, route) = (hello.clone(), route.clone());
            std::thread::spawn(move || {
                let client = util::client();
                let mut n = 1000;
                while !stop.load(Ordering::Relaxed) {
                    let body = util::admin::deployment(&util::tagged(&hello, n), &route);
                    let sent = client
                        .put(&api)
                        .bearer_auth(util::admin::TOKEN)
                        .body(body)
                        .send();
                    assert_eq!(sent.unwrap().status(), 201);
                    n += 1;
                    std::thread::sleep(Duration::from_secs(1));
                }
                n - 1000
            })
        });
        let (mut latencies, failed) = load::load(&url, CONNECTIONS, LOAD);
        stop.store(true, Ordering::Relaxed);
        let deploys = deployer.map_or(0, |d| d.join().unwrap());
        latencies.sort_by(f64::total_cmp);
        println!(
            "  {label:<18} {:>7.0} req/s, p50 {:.0} µs, p99 {:.0} µs, {failed} failed, {deploys} deploys",
            latencies.len() as f64 / LOAD.as_secs_f64(),
            latencies[latencies.len() / 2],
            latencies[latencies.len() * 99 / 100],
        );
    }
}

/// An ABI v1 module of about `size` bytes of code: many small functions
/// of arithmetic, so the compile has that much to translate.
fn large_module(size: usize) -> Vec<u8> {
    let body: String = (0..60)
        .map(|i| format!("local.get 0 i32.const {i} i32.add local.set 0 "))
        .collect();
    let mut wat = String::from(
        r#"(module (memory (export "memory") 1)
             (data (i32.const 1024) "\01{\"statusCode\":200,\"body\":\"ok\"}")
             (func (export "fenn_abi_v1"))
             (func (export "fenn_alloc") (param i32) (result i32) i32.const 4096)
             (func (export "fenn_handle") (param i32 i32) (result i64) i64.const 4398046511135)"#,
    );
    loop {
        for _ in 0..100 {
            wat.push_str(&format!(
                "(func (param i32) (result i32) {body} local.get 0)"
            ));
        }
        let wasm = wat::parse_str(format!("{wat})")).unwrap();
        if wasm.len() >= size {
            return wasm;
        }
    }
}
