//! fenn's own log under floods a client or a guest can cause: a handful of
//! lines of each kind, then a summary line and a count in `/metrics`; and
//! a stderr that nobody reads, or whose reader is gone, neither holds a
//! request nor stops fenn.

use crate::util::{Managed, Stderr, client, misbehave_wasm};

/// Lines of one kind and function written in full each period
/// (`fenn_runtime::log_limit::BURST`).
const BURST: usize = 5;
/// Requests in each flood.
const FLOOD: usize = 400;

/// The misbehaving guest as `name` on `/{name}/{what}` with `settings`,
/// and as `marker` on `/marker/{what}`.
fn start(name: &str, settings: &str) -> Managed {
    let module = misbehave_wasm();
    Managed::start(&format!(
        "[[function]]\nname = \"{name}\"\nmodule = \"{module}\"\ntimeout = \"30s\"\n{settings}\nhttp = [{{ route = \"/{name}/{{what}}\" }}]\n\
         [[function]]\nname = \"marker\"\nmodule = \"{module}\"\nhttp = [{{ route = \"/marker/{{what}}\" }}]\n"
    ))
}

/// `FLOOD` requests for `path` from 4 clients at once, each answered
/// with `status`.
fn flood(fenn: &Managed, path: &str, status: u16) {
    let url = fenn.fenn.url(path);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let client = client();
                for _ in 0..FLOOD / 4 {
                    let response = client.get(&url).send().unwrap();
                    assert_eq!(response.status(), status);
                }
            });
        }
    });
}

/// fenn's log once every line the requests so far caused is on stderr: a
/// function's first failure (a kind of failure no flood causes) is
/// written in full, after all of those.
fn settled_log(fenn: &Managed) -> String {
    assert_eq!(fenn.get("/marker/bomb").0, 502);
    fenn.fenn
        .log
        .wait_for("request failed status=502 error=function exceeded its memory limit")
}

fn lines_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|line| line.contains(needle)).count()
}

/// A counter's value in `/metrics` (0 when it has no such series).
fn metric(fenn: &Managed, series: &str) -> u64 {
    fenn.metrics()
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |value| value.parse().unwrap())
}

fn suppressed(fenn: &Managed, kind: &str) -> u64 {
    metric(
        fenn,
        &format!("fenn_log_lines_suppressed_total{{kind=\"{kind}\"}}"),
    )
}

#[test]
fn a_flood_of_guest_panics_writes_a_handful_of_lines_then_one_summary() {
    let fenn = start("panicky", "");
    flood(&fenn, "/panicky/panic", 502);
    let log = settled_log(&fenn);
    let failed = "invocation failed function=\"panicky\"";
    assert_eq!(lines_with(&log, failed), BURST, "{log}");
    let trapped = "request failed status=502 error=function trapped";
    assert_eq!(lines_with(&log, trapped), BURST);
    let held_back = (FLOOD - BURST) as u64;
    assert_eq!(suppressed(&fenn, "invocation failed"), held_back);
    assert_eq!(suppressed(&fenn, "request failed"), held_back);
    // A summary line once the period ends, with the count (two if the
    // flood spanned the end of a period).
    let summary = " more \"invocation failed\" lines for function \"panicky\" suppressed";
    let log = fenn.fenn.log.wait_until(
        &format!("summaries of {held_back} lines"),
        std::time::Duration::from_secs(30),
        |log| summed(log, summary) >= held_back,
    );
    assert_eq!(summed(&log, summary), held_back);
    assert_eq!(lines_with(&log, failed), BURST, "no new burst after it");
}

/// The counts the summary lines ending in `summary` give, added up.
fn summed(log: &str, summary: &str) -> u64 {
    log.lines()
        .filter_map(|line| line.split_once(summary))
        .filter_map(|(before, _)| before.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_flood_of_invalid_output_writes_a_handful_of_lines() {
    let fenn = start("garbled", "");
    flood(&fenn, "/garbled/garbage", 502);
    let log = settled_log(&fenn);
    let failed = "invocation failed function=\"garbled\"";
    assert_eq!(lines_with(&log, failed), BURST, "{log}");
    assert_eq!(lines_with(&log, "not a valid response"), 2 * BURST);
    let held_back = (FLOOD - BURST) as u64;
    assert_eq!(suppressed(&fenn, "invocation failed"), held_back);
}

#[test]
fn a_flood_over_the_guest_log_limits_writes_a_handful_of_drop_lines() {
    let fenn = start("chatty", "");
    // 20 lines of 1 KiB an event: 4 over the 16 KiB each may log.
    flood(&fenn, "/chatty/logflood?n=20", 200);
    let log = settled_log(&fenn);
    assert_eq!(lines_with(&log, "dropped guest log lines"), BURST, "{log}");
    let held_back = (FLOOD - BURST) as u64;
    assert_eq!(suppressed(&fenn, "dropped guest log lines"), held_back);
}

#[test]
fn a_flood_at_the_concurrency_limit_writes_a_handful_of_refusals() {
    let fenn = start("narrow", "concurrency = 1\nfuel = 1_000_000_000_000");
    // One run holds the function's only place, until fenn stops.
    let busy = fenn.fenn.url("/narrow/sleep?ms=25000");
    std::thread::spawn(move || {
        let _ = reqwest::blocking::Client::new().get(busy).send();
    });
    fenn.fenn.log.wait_for("sleeping 25000 ms");
    flood(&fenn, "/narrow/ok", 503);
    let log = settled_log(&fenn);
    let refused = "is at its concurrency limit";
    assert_eq!(lines_with(&log, refused), 2 * BURST, "{log}");
    let held_back = (FLOOD - BURST) as u64;
    assert_eq!(suppressed(&fenn, "invocation failed"), held_back);
    assert_eq!(suppressed(&fenn, "request failed"), held_back);
}

/// Four functions whose guests log: each has a log rate of its own, so
/// together they log far more than a pipe and fenn's buffer hold.
fn loud(stderr: Stderr) -> Managed {
    let module = misbehave_wasm();
    let functions: String = (0..4)
        .map(|n| {
            format!(
                "[[function]]\nname = \"loud{n}\"\nmodule = \"{module}\"\nhttp = [{{ route = \"/loud{n}/{{what}}\" }}]\n"
            )
        })
        .collect();
    let hello = "[[function]]\nname = \"hello\"\nmodule = \"example:hello\"\nhttp = [{ route = \"/hello\" }]\n";
    Managed::start_with_stderr(&format!("{functions}{hello}"), stderr)
}

/// Guest log lines (16 KiB an event) and panics from every function.
fn log_a_lot(fenn: &Managed) {
    for n in 0..4 {
        for _ in 0..25 {
            assert_eq!(fenn.get(&format!("/loud{n}/logflood?n=16")).0, 200);
            assert_eq!(fenn.get(&format!("/loud{n}/panic")).0, 502);
        }
    }
}

fn hello_answers(fenn: &Managed) {
    assert_eq!(fenn.get("/hello?name=Ada"), (200, "Hello, Ada!".to_owned()));
}

#[test]
fn a_stderr_nobody_reads_holds_no_request() {
    let mut fenn = loud(Stderr::HeldUnread);
    log_a_lot(&fenn);
    hello_answers(&fenn);
    assert!(metric(&fenn, "fenn_log_lines_dropped_total") > 0);
    // Read again, the log says what it lost.
    let stderr = fenn.fenn.unread.take().unwrap();
    fenn.fenn.log.drain(stderr);
    fenn.fenn
        .log
        .wait_for(" log lines dropped: stderr did not take them in time");
}

#[test]
fn a_stderr_whose_reader_is_gone_does_not_stop_fenn() {
    let mut fenn = loud(Stderr::Closed);
    log_a_lot(&fenn);
    hello_answers(&fenn);
    assert!(metric(&fenn, "fenn_log_lines_dropped_total") > 0);
    // Failed writes counted: fenn goes on logging, and serving, after.
    log_a_lot(&fenn);
    hello_answers(&fenn);
    assert!(
        fenn.fenn
            .wait_exit(std::time::Duration::from_millis(0))
            .is_none(),
        "fenn is still running"
    );
}
