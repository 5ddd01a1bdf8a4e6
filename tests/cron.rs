//! The cron trigger end to end: schedules that really fire the function,
//! results in the log (the sink), overlap control, bad schedules refused.

use crate::util::{Fenn, TempDir, fenn};

#[test]
fn an_every_second_schedule_invokes_its_function_and_the_result_reaches_the_log() {
    let fenn = Fenn::with_config(
        r#"
        [[function]]
        name = "echo"
        module = "example:echo"
          [[function.cron]]
          name = "sample"
          schedule = "* * * * * *"
          timezone = "Europe/Dublin"
          body = '{"action":"sample"}'
        "#,
    );
    assert!(fenn.stdout.wait_for("sample").contains("CRON     sample"));
    // Two runs, so the second is a real scheduled fire, not the start.
    let log = fenn.log.wait_for("cron run");
    let first = log.find("cron run").unwrap();
    let log = fenn.log.wait_for_count("cron run", 2);
    assert!(log[first..].matches("cron run").count() >= 2, "{log}");
    let line = log.lines().find(|line| line.contains("cron run")).unwrap();
    for expected in [
        "schedule=sample",
        "function=echo",
        "status=200",
        r#""httpMethod":"SCHEDULE""#,
        r#""path":"sample""#,
        r#""x-fenn-trigger":"cron""#,
        r#""x-fenn-timezone":"Europe/Dublin""#,
        r#""body":"{\"action\":\"sample\"}""#,
        ".000Z\"", // planned on a whole second
    ] {
        assert!(line.contains(expected), "{expected} missing from: {line}");
    }
}

#[test]
fn a_slow_function_on_a_fast_schedule_never_runs_twice_at_once() {
    let fenn = Fenn::with_config(
        r#"
        [[function]]
        name = "misbehave"
        module = "{misbehave}"
        fuel = 1_000_000_000_000
          [[function.cron]]
          name = "sleep"
          schedule = "every 100ms"
          body = "350"
        "#,
    );
    let log = fenn.log.wait_for_count("cron run", 3);
    assert!(
        log.contains("previous run still going: fire skipped"),
        "{log}"
    );
    // Each run logs "sleeping" as it starts and "cron run" as it ends:
    // with no overlap they strictly alternate.
    let events: Vec<&str> = log
        .lines()
        .filter_map(|line| {
            if line.contains("sleeping 350 ms") {
                Some("start")
            } else if line.contains("cron run") {
                Some("end")
            } else {
                None
            }
        })
        .collect();
    for pair in events.windows(2) {
        assert_ne!(pair[0], pair[1], "runs overlapped: {events:?}");
    }
}

#[test]
fn a_bad_schedule_is_refused_at_start_naming_it() {
    let dir = TempDir::new("cron");
    let file = dir.write(
        "fenn.toml",
        "[[function]]\nname = \"echo\"\nmodule = \"example:echo\"\n\
         [[function.cron]]\nname = \"nightly\"\nschedule = \"0 61 * * *\"\n",
    );
    let output = fenn()
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("function[0].cron[0].schedule: '0 61 * * *' is not a schedule"),
        "{stderr}"
    );
}
