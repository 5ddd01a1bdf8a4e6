//! A flow through the gateway against the same functions called one after
//! another by a client: a diamond of six steps (one fans out to three, a
//! join, a last step) on one route, against six requests in a row to a
//! route of the same function, in alternating rounds of the same run, on
//! the release binary: the runs' journal off (no `state_dir`), and on, as
//! on a device that keeps them across a crash (one fsync a step).
//! `cargo bench --bench flows`.

#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::time::{Duration, Instant};

// The test suite's starters, shared rather than copied.
#[allow(dead_code, unused_imports)]
#[path = "../../../tests/util/mod.rs"]
mod util;

const ROUNDS: usize = 4;
const LOAD: Duration = Duration::from_secs(5);

const CONFIG: &str = r#"
[[function]]
name = "hello"
module = "example:hello"
concurrency = 256
http = [{ route = "/hello" }]

[[flow]]
name = "diamond"
max_runs = 256
http = [{ route = "/diamond" }]
step = [
  { name = "in", function = "hello", next = ["a", "b", "c"] },
  { name = "a", function = "hello", next = ["join"] },
  { name = "b", function = "hello", next = ["join"] },
  { name = "c", function = "hello", next = ["join"] },
  { name = "join", function = "hello", next = ["out"] },
  { name = "out", function = "hello" },
]
"#;

/// Over `LOAD` at `connections`, each doing `unit` in a loop: units a
/// second, and the median unit in µs.
fn load(connections: usize, unit: impl Fn(&reqwest::blocking::Client) + Sync) -> (f64, f64) {
    let until = Instant::now() + LOAD;
    let mut latencies: Vec<f64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|_| {
                scope.spawn(|| {
                    let client = util::client();
                    let mut latencies = Vec::new();
                    while Instant::now() < until {
                        let started = Instant::now();
                        unit(&client);
                        latencies.push(started.elapsed().as_secs_f64() * 1e6);
                    }
                    latencies
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    latencies.sort_by(f64::total_cmp);
    let rate = latencies.len() as f64 / LOAD.as_secs_f64();
    (rate, latencies[latencies.len() / 2])
}

/// One case's work: one unit, with a client.
type Unit = Box<dyn Fn(&reqwest::blocking::Client) + Sync>;

fn get(client: &reqwest::blocking::Client, url: &str) {
    let response = client.get(url).send().unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().unwrap();
}

fn main() {
    let dir = util::TempDir::new("bench-flows");
    let config = dir.write(
        "fenn.toml",
        format!("[server]\nstate_dir = \"state\"\n{CONFIG}"),
    );
    let kept = util::Fenn::with_config_file(&config, &[]);
    let plain = util::Fenn::with_config(CONFIG);
    let (diamond, hello) = (plain.url("/diamond?name=x"), plain.url("/hello?name=x"));
    let journaled = kept.url("/diamond?name=x");
    let cases: [(&str, Unit); 3] = [
        (
            "six requests in a row",
            Box::new(move |client| (0..6).for_each(|_| get(client, &hello))),
        ),
        (
            "a six-step diamond, journal off",
            Box::new(move |client| get(client, &diamond)),
        ),
        (
            "a six-step diamond, journal on",
            Box::new(move |client| get(client, &journaled)),
        ),
    ];
    println!("{ROUNDS} rounds, alternating; units a second at 16 connections, median µs at 1");
    let mut figures = vec![(Vec::new(), Vec::new()); cases.len()];
    for _ in 0..ROUNDS {
        for (at, (_, unit)) in cases.iter().enumerate() {
            figures[at].0.push(load(16, unit).0);
            figures[at].1.push(load(1, unit).1);
        }
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!("| case | a second at 16 connections | median µs at 1 |");
    println!("|---|---|---|");
    for ((label, _), (rates, p50s)) in cases.iter().zip(&mut figures) {
        println!("| {label} | {:.0} | {:.0} |", median(rates), median(p50s));
    }
}
