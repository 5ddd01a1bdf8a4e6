use super::*;
use crate::flow::graph::{FlowSpec, Graph, Join, StepSpec};
use std::time::Duration;

/// A step of `function` named after it, feeding `next`.
fn step(name: &str, next: &[&str]) -> StepSpec {
    StepSpec {
        name: name.into(),
        function: name.into(),
        next: next.iter().map(|s| (*s).to_owned()).collect(),
        ..StepSpec::default()
    }
}

fn graph(steps: Vec<StepSpec>, response: &str) -> Arc<Graph> {
    let spec = FlowSpec {
        response: Some(response.into()),
        steps,
        ..FlowSpec::default()
    };
    Arc::new(Graph::build(&spec, &|_| true).unwrap())
}

fn ok(body: &str) -> Outcome {
    Outcome::Done(Response::ok(body))
}

fn failed() -> Outcome {
    Outcome::Failed(Failure {
        kind: "trap".into(),
        reason: "function trapped: boom".into(),
        status: 502,
        response: None,
    })
}

/// A diamond: `parse` feeds `a`, `b` (only when the body's `hot` is
/// true) and `c`; `b`'s failure goes to `alarm`; `join` waits for all
/// three.
fn diamond() -> Arc<Graph> {
    let mut parse = step("parse", &["a", "b", "c"]);
    parse.when.insert("b".into(), "body.hot == true".into());
    let mut b = step("b", &["join"]);
    b.on_error = vec!["alarm".into()];
    graph(
        vec![
            parse,
            step("a", &["join"]),
            b,
            step("c", &["join"]),
            step("alarm", &[]),
            step("join", &[]),
        ],
        "join",
    )
}

fn names(graph: &Graph, steps: &[usize]) -> Vec<String> {
    steps
        .iter()
        .map(|&at| graph.steps[at].name.clone())
        .collect()
}

#[test]
fn a_diamond_fans_out_takes_the_branch_whose_condition_holds_and_joins() {
    let graph = diamond();
    let mut run = RunState::new(graph.clone(), 1 << 20);
    assert_eq!(names(&graph, &run.take_ready()), ["parse"]);
    run.complete(0, ok(r#"{"hot":true}"#));
    assert_eq!(names(&graph, &run.take_ready()), ["a", "b", "c"]);
    run.complete(1, ok("A"));
    run.complete(3, ok("C"));
    assert!(run.take_ready().is_empty(), "the join waits for b");
    run.complete(2, ok("B"));
    assert_eq!(names(&graph, &run.take_ready()), ["join"]);
    assert_eq!(run.arrived(5).len(), 3);
    assert!(run.answer().is_none());
    run.complete(5, ok("joined"));
    assert_eq!(run.answer(), Some(Ok(Response::ok("joined"))));
    assert_eq!(run.state(4), State::Skipped, "alarm: b did not fail");
    assert!(run.is_finished());
    assert_eq!(run.status(), "ok");
}

#[test]
fn a_branch_whose_condition_does_not_hold_is_skipped_and_the_join_goes_on_without_it() {
    let graph = diamond();
    let mut run = RunState::new(graph.clone(), 1 << 20);
    run.take_ready();
    run.complete(0, ok(r#"{"hot":false}"#));
    assert_eq!(names(&graph, &run.take_ready()), ["a", "c"]);
    assert_eq!(run.state(2), State::Skipped);
    assert_eq!(
        run.note(2),
        Some("body.hot == true did not hold on 'parse'")
    );
    assert_eq!(run.state(4), State::Skipped, "alarm is only b's");
    run.complete(1, ok("A"));
    run.complete(3, ok("C"));
    assert_eq!(names(&graph, &run.take_ready()), ["join"]);
    let arrived: Vec<usize> = run.arrived(5).iter().map(|(from, ..)| *from).collect();
    assert_eq!(arrived, [1, 3]);
}

#[test]
fn a_failure_takes_its_error_edge_and_its_result_edges_are_dead() {
    let graph = diamond();
    let mut run = RunState::new(graph.clone(), 1 << 20);
    run.take_ready();
    run.complete(0, ok(r#"{"hot":true}"#));
    run.take_ready();
    run.complete(2, failed());
    assert_eq!(names(&graph, &run.take_ready()), ["alarm"]);
    let arrived = run.arrived(4);
    assert_eq!(arrived[0].1, EdgeKind::Error);
    run.complete(1, ok("A"));
    run.complete(3, ok("C"));
    assert_eq!(names(&graph, &run.take_ready()), ["join"]);
    run.complete(5, ok("joined"));
    assert_eq!(run.status(), "ok", "the failure was handled");
}

#[test]
fn an_unhandled_failure_skips_what_it_feeds_and_answers_with_its_reason() {
    let graph = graph(vec![step("a", &["b"]), step("b", &[])], "b");
    let mut run = RunState::new(graph, 1 << 20);
    run.take_ready();
    run.complete(0, failed());
    assert!(run.is_finished());
    assert_eq!(run.status(), "failed");
    let failure = run.answer().unwrap().unwrap_err();
    assert_eq!(failure.status, 502);
    assert_eq!(failure.reason, "step 'a' failed: function trapped: boom");
}

#[test]
fn a_join_at_its_timeout_fails_or_goes_on_with_what_arrived() {
    for (on_timeout, ready) in [
        (OnTimeout::Fail, vec![]),
        (OnTimeout::Continue, vec!["join"]),
    ] {
        let mut join = step("join", &[]);
        join.join = Some(Join {
            timeout: Some(Duration::from_secs(1)),
            on_timeout,
        });
        let graph = graph(
            vec![
                step("s", &["a", "b"]),
                step("a", &["join"]),
                step("b", &["join"]),
                join,
            ],
            "join",
        );
        let mut run = RunState::new(graph.clone(), 1 << 20);
        run.take_ready();
        run.complete(0, ok("go"));
        run.take_ready();
        assert_eq!(run.complete(1, ok("A")), [3], "the join's timer starts");
        run.join_timeout(3);
        assert_eq!(names(&graph, &run.take_ready()), ready);
        if on_timeout == OnTimeout::Fail {
            let failure = run.answer().unwrap().unwrap_err();
            assert_eq!(failure.kind, "join_timeout");
            assert_eq!(failure.reason, "join timed out waiting for 'b'");
        }
        assert!(
            run.complete(2, ok("late")).is_empty(),
            "a late input is dropped"
        );
    }
}

#[test]
fn a_run_past_its_bytes_fails_the_step_that_would_cross_them() {
    let graph = graph(vec![step("a", &["b"]), step("b", &[])], "b");
    let mut run = RunState::new(graph, 100);
    run.take_ready();
    let outcome = run.bound(ok(&"x".repeat(101)));
    run.complete(0, outcome);
    let failure = run.answer().unwrap().unwrap_err();
    assert!(
        failure.reason.contains("max_bytes (100 bytes)"),
        "{failure:?}"
    );
}

#[test]
fn a_journal_replayed_twice_changes_nothing() {
    let graph = diamond();
    let mut run = RunState::new(graph.clone(), 1 << 20);
    run.complete(0, ok(r#"{"hot":false}"#));
    run.complete(0, ok(r#"{"hot":true}"#));
    assert_eq!(run.state(2), State::Skipped);
    assert_eq!(names(&graph, &run.take_ready()), ["a", "c"]);
    assert!(run.complete(5, ok("not ready")).is_empty());
    assert_eq!(run.state(5), State::Waiting);
}

#[test]
fn a_failure_an_error_edge_took_still_answers_when_it_kept_the_response_step_from_running() {
    let mut a = step("a", &["r"]);
    a.on_error = vec!["e".into()];
    let graph = graph(vec![a, step("r", &[]), step("e", &[])], "r");
    let mut run = RunState::new(graph, 1 << 20);
    run.take_ready();
    run.complete(0, failed());
    run.take_ready();
    run.complete(2, ok("handled"));
    let failure = run.answer().unwrap().unwrap_err();
    assert_eq!((failure.status, failure.kind.as_str()), (502, "trap"));
    assert_eq!(run.status(), "failed", "the response step did not answer");
}

#[test]
fn a_join_timeout_replayed_from_a_journal_leaves_the_join_where_it_was() {
    let mut join = step("join", &["out"]);
    join.join = Some(Join {
        timeout: Some(Duration::from_secs(1)),
        on_timeout: OnTimeout::Continue,
    });
    let graph = graph(
        vec![
            step("s", &["a", "b"]),
            step("a", &["join"]),
            step("b", &["join"]),
            join,
            step("out", &[]),
        ],
        "out",
    );
    // As the journal replays it: s, a, the join's timeout, the join.
    let mut run = RunState::new(graph.clone(), 1 << 20);
    run.complete(0, ok("s"));
    run.complete(1, ok("a"));
    run.join_timeout(3);
    run.complete(3, ok("joined"));
    assert_eq!(run.state(3), State::Done);
    assert_eq!(
        names(&graph, &run.take_ready()),
        ["b", "out"],
        "b was cut mid-run; out is next"
    );
}
