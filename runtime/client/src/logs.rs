//! `fenn logs [NAME] [--limit N] [--follow]`: a running fenn's recent
//! invocations of a function (without a name, of every function) with
//! their log lines, oldest first, then (with `--follow`) each new one as
//! it ends, from the management API's history and its stream.

use crate::remote::{Remote, refusal};
use anyhow::Context as _;
use http_body_util::BodyExt as _;
use serde_json::Value;
use std::io::Write as _;

/// Largest event of the stream read; one record is far smaller.
const MAX_EVENT: usize = 4 << 20;

/// Whose invocations `fenn logs` shows.
#[derive(Debug, Clone)]
pub enum Of {
    /// A function's, or (None) every function's.
    Function(Option<String>),
    /// A flow's run's steps.
    Run(String),
}

/// `fenn logs`.
pub async fn logs(
    remote: &Remote,
    of: Of,
    limit: usize,
    follow: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    let (filter, what) = match &of {
        Of::Run(run) => {
            let encoded: String = url_text(run);
            (format!("run={encoded}&"), format!("logs --run {run}"))
        }
        Of::Function(Some(name)) => {
            crate::manage::named(name)?;
            // A function that does not exist is an error, not an empty
            // history.
            remote
                .call("GET", &format!("/v1/functions/{name}"), None)
                .await
                .with_context(|| format!("logs {name}"))?;
            (format!("function={name}&"), format!("logs {name}"))
        }
        Of::Function(None) => (String::new(), "logs".to_owned()),
    };
    let path = format!("/v1/invocations?{filter}limit={limit}&logs=true");
    let answer = remote.call("GET", &path, None).await.context(what)?;
    let recent = answer["invocations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for record in recent.iter().rev() {
        show(record, as_json)?;
    }
    if follow {
        stream(remote, &filter, as_json).await?;
    }
    Ok(())
}

/// Prints each invocation of the stream (`filter`: `function=NAME&` or
/// nothing, for every function) as it comes, until fenn stops.
async fn stream(remote: &Remote, filter: &str, as_json: bool) -> anyhow::Result<()> {
    let path = match filter.trim_end_matches('&') {
        "" => "/v1/invocations/stream".to_owned(),
        filter => format!("/v1/invocations/stream?{filter}"),
    };
    let response = remote.send("GET", &path, None).await?;
    let status = response.status();
    let mut body = response.into_body();
    if !status.is_success() {
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let answer = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        return Err(refusal(status, &answer));
    }
    // What has come and is not an event yet; the part before `scanned`
    // holds no event's end (each byte is looked at once).
    let mut pending: Vec<u8> = Vec::new();
    let mut scanned = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.context("the stream broke off (fenn stopped?)")?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(at) = pending[scanned..].windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = pending.drain(..scanned + at + 2).collect();
            scanned = 0;
            event_of(&String::from_utf8_lossy(&event), as_json)?;
        }
        scanned = pending.len().saturating_sub(1);
        anyhow::ensure!(
            pending.len() <= MAX_EVENT,
            "the stream sent an event over {MAX_EVENT} bytes"
        );
    }
    anyhow::bail!("fenn closed the stream (it stopped, or this reader fell too far behind)")
}

/// One server-sent event: an invocation is shown; falling behind is an
/// error.
fn event_of(text: &str, as_json: bool) -> anyhow::Result<()> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name).map(str::trim_start))
    };
    match (field("event:"), field("data:")) {
        (Some("invocation"), Some(data)) => show(&serde_json::from_str(data)?, as_json),
        (Some("lagged"), data) => anyhow::bail!(
            "fell behind the stream and was cut off ({}): run it again",
            data.unwrap_or("")
        ),
        _ => Ok(()),
    }
}

/// One invocation: a line for it, one for each log line under it.
#[allow(clippy::print_stdout)]
fn show(record: &Value, as_json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{record}")?;
        return Ok(out.flush()?);
    }
    let text = |key: &str| record[key].as_str().unwrap_or("").to_owned();
    let mut head = format!(
        "{} {} v{} {} {} {} -> {} {} {:.2} ms fuel {} id {}",
        text("started"),
        text("function"),
        record["version"],
        text("trigger"),
        text("method"),
        text("source"),
        record["statusCode"],
        text("status"),
        record["durationMs"].as_f64().unwrap_or(0.0),
        record["fuelUsed"],
        record["id"],
    );
    if let Some(step) = record["flow"].as_object() {
        let text = |key: &str| step.get(key).and_then(Value::as_str).unwrap_or("");
        head.push_str(&format!(
            " flow {} run {} step {} attempt {}",
            text("name"),
            text("run"),
            text("step"),
            step.get("attempt").and_then(Value::as_u64).unwrap_or(1)
        ));
    }
    if let Some(error) = record["error"].as_str() {
        head.push_str(&format!(": {error}"));
    }
    writeln!(out, "{head}")?;
    for line in record["logs"].as_array().into_iter().flatten() {
        let level = line["level"].as_str().unwrap_or("");
        writeln!(
            out,
            "  {level:<5} {}",
            line["message"].as_str().unwrap_or("")
        )?;
    }
    if record["logsCut"] == Value::Bool(true) {
        writeln!(out, "  (log lines cut)")?;
    }
    Ok(out.flush()?)
}

/// `text` as a query value: letters, digits, `-`, `_` and `.` as they are,
/// every other byte percent-encoded.
fn url_text(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            byte => format!("%{byte:02X}"),
        })
        .collect()
}
