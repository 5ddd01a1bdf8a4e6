use super::*;

fn step(name: &str, next: &[&str]) -> StepSpec {
    StepSpec {
        name: name.into(),
        function: "f".into(),
        next: next.iter().map(|s| (*s).to_owned()).collect(),
        ..StepSpec::default()
    }
}

fn refused(spec: &FlowSpec) -> Vec<String> {
    let known = |name: &str| name == "f";
    Graph::build(spec, &known)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn flow(steps: Vec<StepSpec>) -> FlowSpec {
    FlowSpec {
        steps,
        ..FlowSpec::default()
    }
}

#[test]
fn a_chain_and_a_fan_out_are_valid_and_the_last_step_answers_by_default() {
    let spec = flow(vec![
        step("a", &["b", "c"]),
        step("b", &["d"]),
        step("c", &["d"]),
        step("d", &[]),
    ]);
    let graph = Graph::build(&spec, &|_| true).unwrap();
    assert_eq!(graph.response, 3);
    assert!(graph.steps[0].start);
    assert!(graph.is_join(3));
    assert_eq!(graph.order(), [0, 1, 2, 3]);
}

#[test]
fn a_cycle_is_refused_naming_its_steps() {
    let spec = flow(vec![
        step("a", &["b"]),
        step("b", &["c"]),
        step("c", &["b", "d"]),
        step("d", &[]),
    ]);
    assert_eq!(
        refused(&spec),
        ["step[1].next: steps feed each other in a cycle: b -> c -> b"]
    );
}

#[test]
fn an_unknown_function_or_step_is_refused_by_name() {
    let mut unknown = step("b", &["nowhere"]);
    unknown.function = "ghost".into();
    let errors = refused(&flow(vec![step("a", &["b"]), unknown]));
    assert_eq!(
        errors,
        [
            "step[1].function: step 'b': no function named 'ghost'",
            "step[1].next: step 'b': no step named 'nowhere'",
        ]
    );
}

#[test]
fn a_step_no_path_reaches_is_refused() {
    let spec = flow(vec![
        step("a", &["b"]),
        step("b", &[]),
        step("orphan", &["b"]),
    ]);
    let errors = refused(&spec);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("step[2]: no path reaches step 'orphan'"),
        "{errors:?}"
    );
}

#[test]
fn a_join_with_one_input_is_refused() {
    let mut b = step("b", &[]);
    b.join = Some(Join::default());
    assert_eq!(
        refused(&flow(vec![step("a", &["b"]), b])),
        ["step[1].join: step 'b' has 1 input(s): a join needs at least two"]
    );
}

#[test]
fn a_response_step_a_run_can_end_before_is_refused() {
    let mut a = step("a", &["b", "c"]);
    a.when.insert("b".into(), "status == 200".into());
    let mut spec = flow(vec![a, step("b", &[]), step("c", &[])]);
    spec.response = Some("b".into());
    assert_eq!(
        refused(&spec),
        [
            "response: response step 'b' may not run: a run can end before it ('a' feeds it only when status == 200)"
        ]
    );
    // Joined with an unconditional branch, it always runs.
    spec.steps[1].next = Vec::new();
    spec.steps[2].next = vec!["b".into()];
    assert!(Graph::build(&spec, &|_| true).is_ok());
}

#[test]
fn a_condition_that_does_not_parse_is_refused_with_its_key() {
    let mut a = step("a", &["b"]);
    a.when.insert("b".into(), "status ==".into());
    a.when.insert("zz".into(), "status == 1".into());
    let errors = refused(&flow(vec![a, step("b", &[])]));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("step[0].when.b: condition 'status ==' does not parse"),
        "{errors:?}"
    );
    assert_eq!(
        errors[1],
        "step[0].when.zz: step 'a' has no edge to 'zz' (in `next` or `on_error`)"
    );
}

#[test]
fn a_start_step_fed_by_another_is_refused() {
    let mut spec = flow(vec![step("a", &["b"]), step("b", &[])]);
    spec.start = vec!["a".into(), "b".into()];
    assert_eq!(
        refused(&spec),
        ["start: start step 'b' is fed by 'a': a start step receives the flow's event only"]
    );
}

#[test]
fn a_thousand_step_chain_validates() {
    let steps: Vec<StepSpec> = (0..1000)
        .map(|at| {
            let next = format!("s{}", at + 1);
            let next = [next.as_str()];
            step(&format!("s{at}"), if at == 999 { &[] } else { &next })
        })
        .collect();
    let graph = Graph::build(&flow(steps), &|_| true).unwrap();
    assert_eq!(graph.response, 999);
}
