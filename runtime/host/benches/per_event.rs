//! Per-event cost in process: what one event costs fenn-runtime, against
//! the same handler written in native Rust as the baseline, measured in the
//! same process so the machine's noise hits both.
//!
//! `cargo bench -p fenn-runtime --bench per_event` (after a `cargo build`,
//! which builds the guests; `FENN_BENCH_MODULE` picks another module).

#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use fenn_abi::{Event, Response};
use fenn_runtime::invocation::{Invocation, Step};
use fenn_runtime::{Dispatcher, FunctionHost, FunctionModule, Limits, Trace};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FLOOR: &str = r#"(module
    (memory (export "memory") 1)
    (data (i32.const 1024) "\01{\"statusCode\":200}")
    (func (export "fenn_abi_v1"))
    (func (export "fenn_alloc") (param i32) (result i32) i32.const 4096)
    (func (export "fenn_handle") (param i32 i32) (result i64) i64.const 4398046511123))"#; // (1024 << 32) | 19

fn sample_event() -> Event {
    Event::new("/testfunc", "POST")
        .with_header("content-type", "text/plain")
        .with_query("name", "Jason")
        .with_body("requested the API")
}

// By value, as an SDK handler receives it: the clone is part of the cost.
#[allow(clippy::needless_pass_by_value)]
fn native_hello(event: Event) -> Response {
    let name = event.query("name").unwrap_or("world");
    Response::ok(format!("{name} {}", event.body))
}

/// Median ns per iteration over `rounds` rounds of `per_round` iterations.
fn measure(rounds: usize, per_round: u32, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..per_round {
                f();
            }
            started.elapsed().as_nanos() as f64 / f64::from(per_round)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Fuel one event uses (about one unit a wasm instruction), instantiation
/// included: a count that, unlike the time, a busy machine does not move.
fn fuel(module: &FunctionModule, event: &Event) -> u64 {
    let trace = Arc::new(Trace::default());
    let invocation = Invocation::start_traced(module, event, Some(trace.clone())).unwrap();
    let Step::Done(result) = invocation.run(u64::MAX) else {
        unreachable!("the bench's guests finish in one slice")
    };
    result.unwrap();
    trace.take().fuel_used
}

/// The allocator's setting the `fenn` binary makes at start (see its
/// `tune_allocator`): blocks of 4 MiB and more are mapped on their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_allocator() {
    // SAFETY: sets one of the allocator's parameters, before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() {
    tune_allocator();
    let path = std::env::var("FENN_BENCH_MODULE").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../functions/target/wasm32-unknown-unknown/release/hello.wasm"
        )
        .into()
    });
    let Ok(wasm) = std::fs::read(&path) else {
        println!("no module at {path}: run `cargo build` first (it builds the guests)");
        std::process::exit(1);
    };
    let module = FunctionModule::compile("hello", &wasm, Limits::default()).unwrap();
    let event = sample_event();

    let compile = measure(5, 20, || {
        black_box(FunctionModule::compile("hello", &wasm, Limits::default()).unwrap());
    });
    let native = measure(15, 20_000, || {
        black_box(native_hello(black_box(event.clone())));
    });
    let invocation = measure(15, 2_000, || {
        let Step::Done(result) = Invocation::start(&module, &event).unwrap().run(u64::MAX) else {
            unreachable!("hello finishes in one slice")
        };
        assert_eq!(result.unwrap().body, "Jason requested the API");
    });
    // The floor: a 1-page guest that answers a constant without reading
    // its input, so only the store, the instance and the call are paid.
    let floor_module =
        FunctionModule::compile("floor", &wat::parse_str(FLOOR).unwrap(), Limits::default())
            .unwrap();
    let floor = measure(15, 2_000, || {
        let Step::Done(result) = Invocation::start(&floor_module, &event)
            .unwrap()
            .run(u64::MAX)
        else {
            unreachable!("the floor guest finishes in one slice")
        };
        assert_eq!(result.unwrap().status_code, 200);
    });
    // The same floor with 16 MiB of initial memory (a toolchain's default
    // stack, as Zig's is): what each initial page costs an event.
    let big_module = FunctionModule::compile(
        "big",
        &wat::parse_str(FLOOR.replace(
            "(memory (export \"memory\") 1)",
            "(memory (export \"memory\") 256)",
        ))
        .unwrap(),
        Limits::default(),
    )
    .unwrap();
    let big = measure(15, 200, || {
        let Step::Done(result) = Invocation::start(&big_module, &event)
            .unwrap()
            .run(u64::MAX)
        else {
            unreachable!("the floor guest finishes in one slice")
        };
        assert_eq!(result.unwrap().status_code, 200);
    });
    let dispatcher = Dispatcher::new(1, 256 << 20);
    dispatcher
        .deploy("hello", &wasm, Limits::default())
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dispatched = measure(15, 2_000, || {
        let response = runtime
            .block_on(dispatcher.invoke("hello", event.clone()))
            .unwrap();
        black_box(response);
    });

    println!(
        "per event, SDK hello ({} bytes), median of 15 rounds:",
        wasm.len()
    );
    println!("  native Rust handler (baseline)      {native:>10.0} ns");
    println!(
        "  empty 1-page guest (instance floor)  {floor:>10.0} ns  ({} fuel)",
        fuel(&floor_module, &event)
    );
    println!(
        "  the floor with 16 MiB initial memory {big:>10.0} ns  ({:.1}x the floor)",
        big / floor
    );
    println!(
        "  fresh store + instantiate + call    {invocation:>10.0} ns  ({:.1}x baseline, {} fuel)",
        invocation / native,
        fuel(&module, &event)
    );
    println!(
        "  SDK hello / instance floor           {:>10.2}x",
        invocation / floor
    );
    println!(
        "  through the Dispatcher              {dispatched:>10.0} ns  ({:.1}x baseline, +{:.0} ns dispatch)",
        dispatched / native,
        dispatched - invocation
    );
    println!(
        "  deploy (eager compile + checks)     {:>10.1} us",
        Duration::from_nanos(compile as u64).as_secs_f64() * 1e6
    );
    wasi_hellos(&event, invocation, floor);
}

/// Each WASI hello in `FENN_BENCH_WASI` (a folder of `LANG-hello.wasm`, as
/// `functions/wasi/build.sh` writes them), against the SDK hello and the
/// floor measured above.
fn wasi_hellos(event: &Event, sdk: f64, floor: f64) {
    let Some(dir) = std::env::var_os("FENN_BENCH_WASI") else {
        println!("  (set FENN_BENCH_WASI to a folder of LANG-hello.wasm for the WASI hellos)");
        return;
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with("-hello.wasm"))
        .collect();
    paths.sort();
    for path in paths {
        let wasm = std::fs::read(&path).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let module = FunctionModule::compile(&name, &wasm, Limits::default()).unwrap();
        let ns = measure(15, 500, || {
            let Step::Done(result) = Invocation::start(&module, event).unwrap().run(u64::MAX)
            else {
                unreachable!("hello finishes in one slice")
            };
            assert_eq!(result.unwrap().status_code, 200);
        });
        println!(
            "  WASI {name:<24} {ns:>10.0} ns  ({:.2}x SDK hello, {:.1}x floor, {} fuel, {} bytes)",
            ns / sdk,
            ns / floor,
            fuel(&module, event),
            wasm.len()
        );
    }
}
