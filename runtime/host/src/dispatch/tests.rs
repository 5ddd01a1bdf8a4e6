//! The dispatcher's unit tests: deploys, deadlines, workers, concurrency
//! limits and what an observer is told.

use super::*;

fn wat_guest(handle: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
                 (memory (export "memory") 1)
                 (data (i32.const 1024) "\01{{\"statusCode\":200,\"body\":\"ok\"}}")
                 (func (export "fenn_abi_v1"))
                 (func (export "fenn_alloc") (param i32) (result i32) i32.const 4096)
                 (func (export "fenn_handle") (param i32 i32) (result i64) {handle}))"#
    ))
    .unwrap()
}

const OK: &str = "i64.const 4398046511135"; // (1024 << 32) | 31
const SPIN: &str = "(loop $l (br $l)) i64.const 0";

fn dispatcher(workers: usize, spin_limits: Limits) -> Dispatcher {
    let dispatcher = Dispatcher::new(workers, 256 << 20);
    dispatcher
        .deploy("ok", &wat_guest(OK), Limits::default())
        .unwrap();
    dispatcher
        .deploy("spin", &wat_guest(SPIN), spin_limits)
        .unwrap();
    dispatcher
}

fn endless(timeout_ms: u64, concurrency: usize) -> Limits {
    Limits {
        fuel: u64::MAX,
        timeout: Duration::from_millis(timeout_ms),
        concurrency,
        ..Limits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redeploy_serves_new_events_while_a_running_one_keeps_its_version() {
    let dispatcher = Arc::new(dispatcher(2, endless(300, 4)));
    dispatcher
        .deploy("f", &wat_guest(SPIN), endless(300, 4))
        .unwrap();
    let running = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.invoke("f", Event::default()).await }
    });
    // Wait until the old version holds its permit: it is running.
    let old = dispatcher.functions.load().get("f").unwrap().clone();
    while old.permits.available_permits() == 4 {
        tokio::task::yield_now().await;
    }
    dispatcher
        .deploy("f", &wat_guest(OK), Limits::default())
        .unwrap();
    let response = dispatcher.invoke("f", Event::default()).await.unwrap();
    assert_eq!(response.body, "ok");
    let old = running.await.unwrap();
    assert!(matches!(old, Err(Error::Deadline { .. })), "{old:?}");
    // A refused module changes nothing; a removal ends it.
    assert!(
        dispatcher
            .deploy("f", b"not wasm", Limits::default())
            .is_err()
    );
    assert_eq!(
        dispatcher.invoke("f", Event::default()).await.unwrap().body,
        "ok"
    );
    assert!(dispatcher.remove("f"));
    let gone = dispatcher.invoke("f", Event::default()).await;
    assert!(matches!(gone, Err(Error::NotFound { .. })), "{gone:?}");
    assert!(!dispatcher.remove("f"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_guest_meets_its_deadline_while_others_keep_answering() {
    let dispatcher = Arc::new(dispatcher(2, endless(300, 4)));
    let spinning = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move {
            let started = Instant::now();
            let result = dispatcher.invoke("spin", Event::default()).await;
            (result, started.elapsed())
        }
    });
    for _ in 0..50 {
        let response = dispatcher.invoke("ok", Event::default()).await.unwrap();
        assert_eq!(response.body, "ok");
    }
    let (result, elapsed) = spinning.await.unwrap();
    assert!(matches!(result, Err(Error::Deadline { .. })), "{result:?}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(800),
        "answered after {elapsed:?}, the deadline is 300ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_heavy_to_instantiate_waits_for_a_worker_while_others_answer_inline() {
    let dispatcher = Arc::new(dispatcher(1, endless(2_000, 1)));
    let heavy = crate::module::declared::declaring(19_993, 992, 1_000, (1_000, 10_000), 9_998);
    // It answers, given time (a loaded machine takes long to instantiate
    // it); then it is served with a deadline short enough to wait out.
    let patient = Limits {
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    dispatcher.deploy("heavy", &heavy, patient).unwrap();
    assert_eq!(
        dispatcher
            .invoke("heavy", Event::default())
            .await
            .unwrap()
            .body,
        "ok"
    );
    let limits = Limits {
        timeout: Duration::from_millis(100),
        ..Limits::default()
    };
    dispatcher.deploy("heavy", &heavy, limits).unwrap();
    // The one worker taken, the heavy module's event cannot start
    // inline: it waits for a worker until its deadline.
    let spinning = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.invoke("spin", Event::default()).await }
    });
    // Wait until the spinning guest holds the worker (its own share's
    // permit taken, then the pool's).
    let spin = dispatcher.functions.load().get("spin").unwrap().clone();
    let held = async {
        while spin.workers.available_permits() > 0 || dispatcher.workers.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the spinning invocation never held the worker: did it fail early?");
    let waited = dispatcher.invoke("heavy", Event::default()).await;
    assert!(matches!(waited, Err(Error::Deadline { .. })), "{waited:?}");
    assert_eq!(
        dispatcher
            .invoke("ok", Event::default())
            .await
            .unwrap()
            .body,
        "ok"
    );
    spinning.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_at_its_concurrency_limit_is_refused_at_once() {
    let dispatcher = Arc::new(dispatcher(4, endless(500, 1)));
    let first = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.invoke("spin", Event::default()).await }
    });
    // The first call holds the only permit until its deadline; wait
    // until it does, then a second one must be refused straight away.
    let deployed = dispatcher.functions.load().get("spin").unwrap().clone();
    let held = async {
        while deployed.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the first invocation never held the permit: did it fail early?");
    let started = Instant::now();
    let second = dispatcher.invoke("spin", Event::default()).await;
    assert!(matches!(second, Err(Error::Busy { .. })), "{second:?}");
    assert!(started.elapsed() < Duration::from_millis(100));
    assert!(matches!(first.await.unwrap(), Err(Error::Deadline { .. })));
}

fn logging_guest() -> Vec<u8> {
    wat::parse_str(
        r#"(module
                 (import "fenn" "log" (func $log (param i32 i32 i32)))
                 (memory (export "memory") 1)
                 (data (i32.const 1024) "\01{\"statusCode\":200,\"body\":\"ok\"}")
                 (data (i32.const 2048) "hello\nforged")
                 (func (export "fenn_abi_v1"))
                 (func (export "fenn_alloc") (param i32) (result i32) i32.const 4096)
                 (func (export "fenn_handle") (param i32 i32) (result i64)
                   (call $log (i32.const 2) (i32.const 2048) (i32.const 12))
                   i64.const 4398046511135))"#,
    )
    .unwrap()
}

/// Trigger, source, status, lines and peak memory of an invocation.
type Told = (String, String, String, usize, usize);

/// Keeps what it is told.
#[derive(Default)]
struct Seen(std::sync::Mutex<Vec<Told>>);

impl Observer for Seen {
    fn log_bytes(&self) -> usize {
        1024
    }

    fn invoked(&self, invoked: Invoked<'_>) {
        let status = match invoked.result {
            Ok(response) => response.status_code.to_string(),
            Err(error) => error.kind().to_owned(),
        };
        self.0.lock().unwrap().push((
            invoked.trigger.to_owned(),
            invoked.source.to_owned(),
            status,
            invoked.recorded.lines.len(),
            invoked.recorded.peak_memory,
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_is_told_of_every_invocation_with_its_lines() {
    let seen = Arc::new(Seen::default());
    let dispatcher = Dispatcher::new(2, 256 << 20).with_observer(seen.clone());
    dispatcher
        .deploy("logs", &logging_guest(), Limits::default())
        .unwrap();
    dispatcher
        .deploy("spin", &wat_guest(SPIN), endless(50, 1))
        .unwrap();
    let event = Event::new("/sensors/1", "PUBLISH").with_header("x-fenn-trigger", "mqtt");
    dispatcher.invoke("logs", event).await.unwrap();
    let trace = Arc::new(Trace::default());
    dispatcher
        .invoke_traced("logs", Event::default(), trace.clone())
        .await
        .unwrap();
    let late = dispatcher.invoke("spin", Event::new("/", "GET")).await;
    assert!(matches!(late, Err(Error::Deadline { .. })), "{late:?}");
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(
        seen[0],
        ("mqtt".into(), "/sensors/1".into(), "200".into(), 1, 65536)
    );
    // A test event is named so, and its caller still reads its trace.
    assert_eq!((seen[1].0.as_str(), seen[1].3), ("test", 1));
    assert_eq!(trace.recorded().lines.len(), 1);
    assert_eq!(seen[2].2, "deadline");
}

#[tokio::test]
async fn a_traced_invocation_keeps_its_log_lines_and_fuel() {
    let dispatcher = Dispatcher::new(1, 256 << 20);
    dispatcher
        .deploy("logs", &logging_guest(), Limits::default())
        .unwrap();
    let trace = Arc::new(Trace::default());
    let response = dispatcher
        .invoke_traced("logs", Event::default(), trace.clone())
        .await
        .unwrap();
    assert_eq!(response.body, "ok");
    let recorded = trace.recorded();
    assert_eq!(recorded.lines.len(), 1);
    assert_eq!(recorded.lines[0].level, "warn");
    assert_eq!(recorded.lines[0].message, "hello\\nforged");
    // The log call's host charge alone is 1 000 fuel.
    assert!(recorded.fuel_used > 1_000, "{recorded:?}");
}

#[tokio::test]
async fn an_unknown_function_is_not_found() {
    let dispatcher = dispatcher(1, Limits::default());
    let error = dispatcher
        .invoke("nope", Event::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }));
}
