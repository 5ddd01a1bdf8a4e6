//! fenn's own log: where its lines go and how many it may write.
//!
//! # Layout
//!
//! - `writer`: the bounded, non-blocking output to stderr.
//! - `summary`: the task that writes, once a period, how many lines of
//!   each kind were held back (`fenn_runtime::log_limit`).

mod summary;
mod writer;

pub use summary::summaries;

use std::io::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use writer::{Line, Output};

/// How long the end of the process waits for the log to be written.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(1);

static OUTPUT: OnceLock<Arc<Output>> = OnceLock::new();

/// Sends `tracing`'s lines through the bounded writer to stderr (straight
/// to stderr if its thread cannot start), filtered by `RUST_LOG`.
pub fn init() {
    // RUST_LOG as `info` or `warn,fenn_runtime=debug`: targets and levels
    // (no regex-based filters, which would add ~1 MB to the binary).
    let filter: tracing_subscriber::filter::Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse().ok())
        .unwrap_or_else(|| {
            // The embedded broker logs every connection at info.
            tracing_subscriber::filter::Targets::new()
                .with_default(tracing::Level::INFO)
                // The embedded broker logs a client going away, and its own
                // shutdown, as errors: a person reads that as something
                // broken. RUST_LOG=rumqttd=warn shows them.
                .with_target("rumqttd", tracing::level_filters::LevelFilter::OFF)
        });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(ansi)
        // It would report a failed write with eprintln!, which panics
        // when stderr's reader is gone.
        .log_internal_errors(false);
    match Output::start(std::io::stderr(), writer::CAPACITY) {
        Ok(output) => {
            let output = OUTPUT.get_or_init(|| output);
            let lines = move || Line(output);
            builder.with_writer(lines).finish().with(filter).init();
        }
        Err(_) => builder
            .with_writer(std::io::stderr)
            .finish()
            .with(filter)
            .init(),
    }
}

/// Writes the line "fenn failed: …" for a panic. A release build aborts
/// on a panic: it waits (at most a second) for that line to be written,
/// then writes the default hook's report. A build that unwinds (a debug
/// or test build, which catches a function's invocation panic and goes
/// on serving) only appends the line: the thread that panicked is one
/// serving a request, and must not wait on a stderr nobody reads.
pub fn on_panic() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("fenn failed: {info} (a bug in fenn: please report it)");
        if OUTPUT
            .get()
            .is_none_or(|output| written_before_abort(output, cfg!(panic = "abort")))
        {
            default_hook(info);
        }
    }));
}

/// Whether the panic's line was written, for a process that `aborts`
/// next: it waits for that (at most a second). One that unwinds does not
/// wait, and leaves the line to the writing thread.
fn written_before_abort(output: &Output, aborts: bool) -> bool {
    aborts && output.flush(FLUSH_AT_EXIT)
}

/// Waits, at most a second, until the lines logged so far are written;
/// whether they were.
pub fn flush() -> bool {
    OUTPUT
        .get()
        .is_none_or(|output| output.flush(FLUSH_AT_EXIT))
}

/// Writes `text` as a line of its own, after the log's lines, and waits
/// for it as [`flush`] does.
pub fn last_words(text: &str) {
    match OUTPUT.get() {
        Some(output) => {
            output.line(format!("{text}\n").as_bytes());
            output.flush(FLUSH_AT_EXIT);
        }
        None => {
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }
}

/// Log lines dropped because stderr did not take them in time.
pub fn dropped() -> u64 {
    OUTPUT.get().map_or(0, |output| output.dropped())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_panic_in_a_build_that_unwinds_does_not_wait_for_the_log() {
        let output = Output::default();
        // The writing thread never runs: the line stays pending forever.
        output.line(b"fenn failed: ...\n");
        let (done, returned) = mpsc::channel();
        std::thread::scope(|scope| {
            // Held: a wait for the log would not end before the guard.
            let held = output.hold();
            scope.spawn(|| done.send(written_before_abort(&output, false)));
            let answer = returned.recv_timeout(Duration::from_secs(30));
            drop(held);
            assert_eq!(answer, Ok(false), "it returns without waiting");
        });
    }
}
