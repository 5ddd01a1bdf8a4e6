//! What the flow engine costs, in one process, against the same functions
//! invoked one after another: a chain and a diamond of six steps, with
//! the runs' journal off and on (SQLite, one fsync a step); how long a
//! 1,000-step flow takes to validate; and the latency of one flow's runs
//! while another flow's backlog of 100,000 runs drains.
//!
//! ```sh
//! cargo bench -p fenn-kv --bench flows
//! ```

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use fenn_abi::Event;
use fenn_runtime::flow::{Flow, FlowLimits, FlowSpec, Graph, StepSpec};
use fenn_runtime::{Dispatcher, FunctionHost as _, Limits};
use futures_util::StreamExt as _;
use std::sync::Arc;
use std::time::Instant;

const RUNS: u32 = 200;
const ROUNDS: usize = 5;
const BACKLOG: usize = 100_000;

/// A guest that answers `{"statusCode":200}` at once.
fn guest() -> Vec<u8> {
    wat::parse_str(
        r#"(module
             (memory (export "memory") 1)
             (data (i32.const 1024) "\01{\22statusCode\22:200}")
             (func (export "fenn_abi_v1"))
             (func (export "fenn_alloc") (param i32) (result i32) i32.const 8192)
             (func (export "fenn_handle") (param i32 i32) (result i64)
               i64.const 4398046511123))"#,
    )
    .unwrap()
}

fn step(name: &str, next: &[&str]) -> StepSpec {
    StepSpec {
        name: name.into(),
        function: "f".into(),
        next: next.iter().map(|s| (*s).to_owned()).collect(),
        ..StepSpec::default()
    }
}

fn chain(steps: usize) -> FlowSpec {
    let names: Vec<String> = (0..steps).map(|at| format!("s{at}")).collect();
    FlowSpec {
        steps: (0..steps)
            .map(|at| match names.get(at + 1) {
                Some(next) => step(&names[at], &[next]),
                None => step(&names[at], &[]),
            })
            .collect(),
        ..FlowSpec::default()
    }
}

fn diamond() -> FlowSpec {
    FlowSpec {
        steps: vec![
            step("in", &["a", "b", "c"]),
            step("a", &["join"]),
            step("b", &["join"]),
            step("c", &["join"]),
            step("join", &["out"]),
            step("out", &[]),
        ],
        ..FlowSpec::default()
    }
}

/// One step fanning out to 31, each of them to 31 more, all joined by a
/// last one: 994 steps, a join of 961 inputs.
fn fan_out() -> FlowSpec {
    let groups: Vec<String> = (0..31).map(|at| format!("g{at}")).collect();
    let mut first = step("in", &[]);
    first.next = groups.clone();
    let mut steps = vec![first];
    let mut leaves = Vec::new();
    for group in &groups {
        let mine: Vec<String> = (0..31).map(|at| format!("{group}-{at}")).collect();
        let mut step_of = step(group, &[]);
        step_of.next = mine.clone();
        steps.push(step_of);
        leaves.extend(mine);
    }
    steps.extend(leaves.iter().map(|name| step(name, &["join"])));
    steps.push(step("join", &[]));
    FlowSpec {
        steps,
        ..FlowSpec::default()
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// µs per run of `flow`, or of six invocations of `f` one after another.
async fn per_run(dispatcher: &Dispatcher, flow: Option<&str>) -> f64 {
    let started = Instant::now();
    for _ in 0..RUNS {
        match flow {
            Some(flow) => {
                dispatcher
                    .invoke(flow, Event::new("/", "GET"))
                    .await
                    .unwrap();
            }
            None => {
                for _ in 0..6 {
                    dispatcher
                        .invoke("f", Event::new("/", "GET"))
                        .await
                        .unwrap();
                }
            }
        }
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(RUNS)
}

fn dispatcher(journal: Option<Arc<fenn_kv::Store>>) -> Arc<Dispatcher> {
    let dispatcher = Arc::new(Dispatcher::new(2, 256 << 20));
    // The live flow's steps run a function of their own: a backlog of
    // another flow's runs holds `f`'s concurrency, not `g`'s.
    for function in ["f", "g"] {
        dispatcher
            .deploy(function, &guest(), Limits::default())
            .unwrap();
    }
    let mut live = chain(6);
    for step in &mut live.steps {
        step.function = "g".into();
    }
    for (name, spec) in [("chain", chain(6)), ("diamond", diamond()), ("live", live)] {
        let graph = Graph::build(&spec, &|_| true).unwrap();
        let flow = Flow::new(name, 0, graph, FlowLimits::default());
        dispatcher.flows().install(flow);
    }
    let journal = journal.map(|store| store as Arc<dyn fenn_runtime::services::FlowJournal>);
    dispatcher.flows().start(&dispatcher, journal);
    dispatcher
}

fn percentile(values: &mut [f64], at: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() as f64 * at) as usize).min(values.len() - 1)]
}

#[tokio::main]
async fn main() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fenn-flows-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = dispatcher(None);
    let kept = dispatcher(Some(Arc::new(fenn_kv::Store::open(&dir).unwrap())));
    let cases: [(&str, &Dispatcher, Option<&str>); 5] = [
        ("6 invocations one after another", &plain, None),
        ("chain of 6 steps, journal off", &plain, Some("chain")),
        ("diamond of 6 steps, journal off", &plain, Some("diamond")),
        ("chain of 6 steps, journal on", &kept, Some("chain")),
        ("diamond of 6 steps, journal on", &kept, Some("diamond")),
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..ROUNDS {
        for (at, (_, dispatcher, flow)) in cases.iter().enumerate() {
            times[at].push(per_run(dispatcher, *flow).await);
        }
    }
    let floor = median(times[0].clone());
    println!("flows, in process, median of {ROUNDS} rounds of {RUNS} runs (one at a time)");
    println!("| case | µs a run | µs a step over a plain invocation |");
    println!("|---|---|---|");
    for (at, (name, ..)) in cases.iter().enumerate() {
        let run = median(times[at].clone());
        println!("| {name} | {run:.1} | {:.1} |", (run - floor) / 6.0);
    }
    for (name, spec) in [("chain", chain(1000)), ("fan-out and join", fan_out())] {
        let started = Instant::now();
        let graph = Graph::build(&spec, &|_| true).unwrap();
        println!(
            "validating a {}-step {name}: {:.2} ms",
            graph.steps.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    backlog(&plain).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Live runs of one flow, one at a time, while `BACKLOG` runs of another
/// drain through its bounds: a source that keeps `WINDOW` waiting at once,
/// as MQTT's in-flight window does (the flow runs 64 at a time).
async fn backlog(dispatcher: &Arc<Dispatcher>) {
    const WINDOW: usize = 256;
    let live_run = || async {
        let started = Instant::now();
        dispatcher
            .invoke("live", Event::new("/", "GET"))
            .await
            .unwrap();
        started.elapsed().as_secs_f64() * 1e6
    };
    let mut quiet = Vec::new();
    for _ in 0..2000 {
        quiet.push(live_run().await);
    }
    let before = fenn_rss();
    let source = dispatcher.clone();
    let started = Instant::now();
    let draining = tokio::spawn(async move {
        let mut waiting = futures_util::stream::FuturesUnordered::new();
        for _ in 0..BACKLOG {
            if waiting.len() >= WINDOW {
                waiting.next().await;
            }
            let source = source.clone();
            waiting
                .push(async move { source.invoke_queued("chain", Event::new("/", "GET")).await });
        }
        while waiting.next().await.is_some() {}
    });
    let mut live = Vec::new();
    let mut peak = before;
    while !draining.is_finished() {
        live.push(live_run().await);
        if live.len() % 256 == 0 {
            peak = peak.max(fenn_rss());
        }
    }
    let drained = started.elapsed();
    println!(
        "live 6-step runs, p50 / p99 µs: quiet {:.0} / {:.0}; while {BACKLOG} runs of another flow drain ({WINDOW} waiting, 64 in flight; {:.1} s, {} live runs) {:.0} / {:.0}; RSS {before} -> {peak} KiB",
        percentile(&mut quiet, 0.5),
        percentile(&mut quiet, 0.99),
        drained.as_secs_f64(),
        live.len(),
        percentile(&mut live, 0.5),
        percentile(&mut live, 0.99),
    );
}

/// This process's resident memory, in KiB.
fn fenn_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))?
                .to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}
