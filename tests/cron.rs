//! The cron trigger end to end: schedules that really fire the function,
//! results in the log (the sink), overlap control, bad schedules refused.

use crate::util::{Fenn, TempDir, fenn, wait_until};

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
          jitter = "200ms"
        "#,
    );
    assert!(fenn.stdout.wait_for("sample").contains("CRON     sample"));
    // Two runs: the second is certainly a scheduled fire, not the start.
    let log = fenn.log.wait_for_count("cron run", 2);
    let runs: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("cron run"))
        .collect();
    assert!(runs.len() >= 2, "{log}");
    for line in &runs[..2] {
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
        // The fire time is planned + jitter_us + late_us: both are logged.
        let jitter_us: u64 = line
            .split("jitter_us=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(jitter_us < 200_000 && line.contains(" late_us="), "{line}");
    }
    let planned = |line: &str| line.split("planned=").nth(1).unwrap()[..24].to_owned();
    assert_ne!(planned(runs[0]), planned(runs[1]), "two different fires");
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

#[test]
fn after_downtime_one_missed_fire_runs_at_once_and_the_rest_are_skipped() {
    // fenn's state says the hourly fire of three hours ago was the last
    // it ran: two fires were missed since, and the one due now makes three.
    let state = TempDir::new("cron-state");
    let now = chrono::Utc::now();
    let last_hour = now.timestamp() - now.timestamp() % 3600;
    let three_before = chrono::DateTime::from_timestamp(last_hour - 3 * 3600, 0).unwrap();
    let stamp = three_before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    state.write("cron/hourly.last", stamp.trim());
    let fenn = Fenn::with_config(&format!(
        r#"
        [server]
        state_dir = "{}"

        [[function]]
        name = "echo"
        module = "example:echo"
          [[function.cron]]
          name = "hourly"
          schedule = "@hourly"
          catch_up = true
        "#,
        state.0.display()
    ));
    let log = fenn.log.wait_for("cron run");
    assert!(log.contains("missed fires were skipped"), "{log}");
    assert!(log.contains("skipped=2"), "{log}");
    // The one run is the latest missed fire: a burst would start with the
    // oldest one, two hours earlier.
    let latest = chrono::DateTime::from_timestamp(last_hour, 0).unwrap();
    let latest = latest.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let run = log.lines().find(|line| line.contains("cron run")).unwrap();
    assert!(run.contains(&format!("planned={latest}")), "{run}");
    assert!(run.contains(r#""x-fenn-catch-up":"true""#), "{run}");
    // The catch-up fire is now the last one remembered (written as the
    // fire starts, off the async workers: wait for it, bounded).
    let file = state.0.join("cron/hourly.last");
    let remembered = || std::fs::read_to_string(&file).unwrap_or_default();
    wait_until(
        "the catch-up fire to be remembered",
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(10),
        || (remembered().trim() == latest).then_some(()),
    );
}
