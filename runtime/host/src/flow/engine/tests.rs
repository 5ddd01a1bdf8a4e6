use super::*;
use crate::flow::graph::{FlowSpec, Retry, StepSpec};
use crate::services::KeptRun;
use crate::{FunctionHost as _, Limits};
use std::sync::Mutex;

/// A guest that answers 200, or traps.
fn guest(handle: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
             (memory (export "memory") 1)
             (data (i32.const 1024) "\01{{\22statusCode\22:200}}")
             (func (export "fenn_abi_v1"))
             (func (export "fenn_alloc") (param i32) (result i32) i32.const 4096)
             (func (export "fenn_handle") (param i32 i32) (result i64) {handle}))"#
    ))
    .unwrap()
}

fn step(name: &str, function: &str, next: &[&str], on_error: &[&str]) -> StepSpec {
    let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
    StepSpec {
        name: name.into(),
        function: function.into(),
        next: names(next),
        on_error: names(on_error),
        ..StepSpec::default()
    }
}

/// A journal in memory: what was kept, what ended, a kept run to resume,
/// and whether writing a step fails.
#[derive(Default)]
struct Journal {
    steps: Mutex<Vec<String>>,
    ended: Mutex<Vec<String>>,
    kept: Mutex<Vec<KeptRun>>,
    failing: bool,
    end: tokio::sync::Notify,
}

impl FlowJournal for Journal {
    fn begin(&self, _: &str, _: &str, _: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn step(&self, _: &str, step: &str, _: &[u8]) -> Result<(), String> {
        self.steps.lock().unwrap().push(step.into());
        if self.failing {
            Err("disk full".into())
        } else {
            Ok(())
        }
    }
    fn end(&self, run: &str) {
        self.ended.lock().unwrap().push(run.into());
        self.end.notify_one();
    }
    fn unfinished(&self, after: &str, _: usize) -> Vec<KeptRun> {
        let kept = self.kept.lock().unwrap();
        kept.iter()
            .filter(|run| run.run.as_str() > after)
            .cloned()
            .collect()
    }
    fn newest(&self) -> Option<String> {
        self.kept
            .lock()
            .unwrap()
            .iter()
            .map(|run| run.run.clone())
            .max()
    }
}

/// `spec` served as `flow` with `limits`, by a dispatcher with `ok` and
/// `trap` deployed, its runs kept in `journal`.
fn serve(spec: &FlowSpec, limits: FlowLimits, journal: &Arc<Journal>) -> Arc<Dispatcher> {
    let dispatcher = Arc::new(Dispatcher::new(2, 64 << 20));
    dispatcher
        .deploy("ok", &guest("i64.const 4398046511123"), Limits::default())
        .unwrap();
    dispatcher
        .deploy("trap", &guest("unreachable"), Limits::default())
        .unwrap();
    let graph = Graph::build(spec, &|_| true).unwrap();
    dispatcher
        .flows()
        .install(Flow::new("flow", 0, graph, limits));
    let journal = journal.clone() as Arc<dyn FlowJournal>;
    dispatcher.flows().start(&dispatcher, Some(journal));
    dispatcher
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_passing_while_a_step_waits_to_retry_ends_every_step_and_the_run() {
    let mut a = step("a", "trap", &["r"], &["e"]);
    a.retry = Retry {
        attempts: 2,
        backoff: Duration::from_secs(30),
        jitter: false,
        ..Retry::default()
    };
    let spec = FlowSpec {
        response: Some("r".into()),
        steps: vec![
            a,
            step("r", "ok", &[], &[]),
            step("e", "ok", &[], &["f"]),
            step("f", "ok", &[], &[]),
        ],
        ..FlowSpec::default()
    };
    let limits = FlowLimits {
        deadline: Duration::from_millis(100),
        ..FlowLimits::default()
    };
    let journal = Arc::new(Journal::default());
    let dispatcher = serve(&spec, limits, &journal);
    let ended = journal.end.notified();
    let answer = dispatcher.invoke("flow", Event::new("/", "GET")).await;
    assert!(
        matches!(answer, Err(Error::FlowFailed { status: 504, .. })),
        "{answer:?}"
    );
    ended.await;
    // `a` failed late; `e`, which its failure feeds, and `f`, which e's
    // feeds, ended late without running; `r` was skipped: each ending kept.
    assert_eq!(*journal.steps.lock().unwrap(), ["a", "e", "f"]);
    assert_eq!(dispatcher.flows().get("flow").unwrap().running(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_run_resumes_at_the_step_it_had_not_completed() {
    let spec = FlowSpec {
        steps: vec![step("a", "ok", &["b"], &[]), step("b", "ok", &[], &[])],
        ..FlowSpec::default()
    };
    let journal = Arc::new(Journal::default());
    let done = serde_json::to_vec(&serde_json::json!({"outcome": {"done": {
        "isBase64Encoded": false, "statusCode": 200, "headers": {}, "body": "a"}}}))
    .unwrap();
    journal.kept.lock().unwrap().push(KeptRun {
        run: "0000000000000001".into(),
        flow: "flow".into(),
        event: serde_json::to_vec(&Event::new("/", "GET")).unwrap(),
        steps: vec![("a".into(), done)],
    });
    let ended = journal.end.notified();
    let dispatcher = serve(&spec, FlowLimits::default(), &journal);
    ended.await;
    assert_eq!(*journal.steps.lock().unwrap(), ["b"], "a is not run again");
    assert_eq!(*journal.ended.lock().unwrap(), ["0000000000000001"]);
    // New runs take ids past the kept one's.
    assert!(dispatcher.flows().run_id().as_str() > "0000000000000001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_that_cannot_be_written_stops_the_run_before_the_next_step() {
    let spec = FlowSpec {
        steps: vec![step("a", "ok", &["b"], &[]), step("b", "ok", &[], &[])],
        ..FlowSpec::default()
    };
    let journal = Arc::new(Journal {
        failing: true,
        ..Journal::default()
    });
    let dispatcher = serve(&spec, FlowLimits::default(), &journal);
    let answer = dispatcher.invoke("flow", Event::new("/", "GET")).await;
    assert!(
        matches!(answer, Err(Error::FlowFailed { status: 503, .. })),
        "{answer:?}"
    );
    let kept = journal.steps.lock().unwrap().clone();
    assert_eq!(kept, ["a", "b"], "b ended without running: {kept:?}");
}
