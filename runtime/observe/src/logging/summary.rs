//! Once a period, one line per (kind, function) saying how many of fenn's
//! lines `fenn_runtime::log_limit` held back.

use fenn_runtime::log_limit::{self, Summary};
use std::time::Duration;

/// How often the counts are looked at: a summary comes at most this long
/// after its period ends.
const TICK: Duration = Duration::from_secs(1);

/// Writes the summaries of the periods that end, until dropped.
pub async fn summaries() {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for summary in log_limit::summaries() {
            tracing::warn!("{}", text(&summary));
        }
    }
}

/// The summary line's message.
fn text(summary: &Summary) -> String {
    let whose = if summary.function.is_empty() {
        String::new()
    } else {
        format!(" for function {:?}", summary.function)
    };
    format!(
        "{} more {:?} lines{whose} suppressed in the last {} s (fenn_log_lines_suppressed_total counts them)",
        summary.suppressed,
        summary.kind,
        log_limit::PERIOD.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_names_its_kind_function_and_count() {
        let summary = Summary {
            kind: "invocation failed",
            function: "panicky".into(),
            suppressed: 1234,
        };
        assert_eq!(
            text(&summary),
            r#"1234 more "invocation failed" lines for function "panicky" suppressed in the last 10 s (fenn_log_lines_suppressed_total counts them)"#
        );
        let summary = Summary {
            function: String::new(),
            ..summary
        };
        assert!(text(&summary).starts_with(r#"1234 more "invocation failed" lines suppressed"#));
    }
}
