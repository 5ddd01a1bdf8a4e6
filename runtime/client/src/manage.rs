//! `fenn deploy`, `ls`, `rollback`, `rm` and `invoke --remote`: the
//! management API from the command line, for a person (readable lines) or
//! a script (`--json`, the API's own answer).

use crate::remote::Remote;
use anyhow::Context as _;
use base64::Engine as _;
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::Path;

/// Largest definition file.
const MAX_DEFINITION: u64 = 1 << 20;

/// Prints `answer` as JSON, or as `human` says.
#[allow(clippy::print_stdout)]
pub(crate) fn print(
    answer: &Value,
    as_json: bool,
    human: impl Fn(&Value) -> String,
) -> anyhow::Result<()> {
    let text = if as_json {
        serde_json::to_string_pretty(answer)?
    } else {
        human(answer)
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    Ok(())
}

/// A function's definition from its TOML file (none: an empty one).
///
/// # Errors
///
/// The file cannot be read, or is not TOML.
pub fn read_definition(function: Option<&Path>) -> anyhow::Result<Value> {
    let Some(file) = function else {
        return Ok(json!({}));
    };
    let bytes = fenn_runtime::files::read(file, MAX_DEFINITION, "the most a definition may be")
        .map_err(anyhow::Error::msg)?;
    let text =
        String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8 text", file.display()))?;
    toml::from_str(&text).with_context(|| format!("{}: not TOML", file.display()))
}

/// Refuses a name the API would, before sending it.
pub fn named(name: &str) -> anyhow::Result<()> {
    named_as(name, "function")
}

/// Refuses a name of `what` (a function, a flow) the API would.
pub(crate) fn named_as(name: &str, what: &str) -> anyhow::Result<()> {
    if fenn_runtime::trigger::is_name(name) {
        Ok(())
    } else {
        anyhow::bail!(
            "'{}' is not a {what} name: letters, digits, '-', '_' or '.'",
            name.escape_debug()
        )
    }
}

/// Prints a failure as JSON on stdout, for a script that asked for
/// `--json` (the message goes to stderr too).
#[allow(clippy::print_stdout)]
pub fn print_failure(error: &anyhow::Error) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", json!({"error": format!("{error:#}")}));
}

/// `fenn deploy NAME MODULE [--function DEF.toml]`.
pub async fn deploy(
    remote: &Remote,
    name: &str,
    module: &Path,
    function: Option<&Path>,
    as_json: bool,
) -> anyhow::Result<()> {
    named(name)?;
    let wasm = fenn_runtime::files::read(module, 256 << 20, "the most a module may be")
        .map_err(anyhow::Error::msg)?;
    let definition = read_definition(function)?;
    let body = json!({
        "definition": definition,
        "module": base64::engine::general_purpose::STANDARD.encode(&wasm),
    });
    let answer = remote
        .call("PUT", &format!("/v1/functions/{name}"), Some(body))
        .await
        .with_context(|| format!("deploy {name}"))?;
    print(&answer, as_json, |a| {
        format!(
            "deployed {name} version {} (sha256 {}, {} bytes, compiled in {:.1} ms, instantiated in {:.2} ms{})",
            a["version"],
            a["sha256"].as_str().unwrap_or(""),
            a["size"],
            a["compile_ms"].as_f64().unwrap_or(0.0),
            a["instantiation"]["ms"].as_f64().unwrap_or(0.0),
            match a["instantiation"]["on_worker"].as_bool() {
                Some(true) => ", on a worker thread",
                _ => "",
            }
        )
    })
}

/// `fenn ls`.
pub async fn list(remote: &Remote, as_json: bool) -> anyhow::Result<()> {
    let answer = remote
        .call("GET", "/v1/functions", None)
        .await
        .context("ls")?;
    print(&answer, as_json, |a| {
        let mut lines = vec![format!(
            "{:<20} {:<9} {:<8} TRIGGERS",
            "NAME", "ORIGIN", "VERSION"
        )];
        for function in a["functions"].as_array().into_iter().flatten() {
            let version = function["version"]
                .as_u64()
                .map_or("-".to_owned(), |v| v.to_string());
            lines.push(format!(
                "{:<20} {:<9} {:<8} {}",
                function["name"].as_str().unwrap_or(""),
                function["origin"].as_str().unwrap_or(""),
                version,
                match function["not_served"].as_str() {
                    Some(reason) => format!("NOT SERVED: {reason}"),
                    None => bindings(&function["bindings"]),
                }
            ));
        }
        lines.join("\n")
    })
}

/// A function's bindings on one line, as the API sums each up:
/// `GET /a, mqtt s/+, cron tick`.
pub(crate) fn bindings(bindings: &Value) -> String {
    let summaries = bindings.as_array().into_iter().flatten();
    let summaries: Vec<&str> = summaries.filter_map(|b| b["summary"].as_str()).collect();
    summaries.join(", ")
}

/// `fenn rollback NAME [VERSION]`.
pub async fn rollback(
    remote: &Remote,
    name: &str,
    version: Option<u64>,
    as_json: bool,
) -> anyhow::Result<()> {
    named(name)?;
    let answer = remote
        .call(
            "POST",
            &format!("/v1/functions/{name}/rollback"),
            Some(json!({"version": version})),
        )
        .await
        .with_context(|| format!("rollback {name}"))?;
    print(&answer, as_json, |a| {
        format!("{name} now serves version {}", a["version"])
    })
}

/// `fenn rm NAME`.
pub async fn remove(remote: &Remote, name: &str, as_json: bool) -> anyhow::Result<()> {
    named(name)?;
    let answer = remote
        .call("DELETE", &format!("/v1/functions/{name}"), None)
        .await
        .with_context(|| format!("rm {name}"))?;
    print(&answer, as_json, |_| format!("deleted {name}"))
}

/// `fenn invoke NAME --remote`: the test event; the response is printed
/// as `fenn invoke` prints it, the guest's log lines, fuel and duration
/// after it. A function that failed is a failure of the command.
pub async fn invoke(
    remote: &Remote,
    name: &str,
    event: &fenn_abi::Event,
    as_json: bool,
) -> anyhow::Result<()> {
    named(name)?;
    let body = serde_json::to_value(event)?;
    let answer = remote
        .call("POST", &format!("/v1/functions/{name}/invoke"), Some(body))
        .await
        .with_context(|| format!("invoke {name}"))?;
    print(&answer, as_json, |a| {
        let mut lines = vec![serde_json::to_string_pretty(&a["response"]).unwrap_or_default()];
        if let Some(error) = a["error"].as_str() {
            lines = vec![format!("failed: {error}")];
        }
        for line in a["logs"].as_array().into_iter().flatten() {
            lines.push(format!(
                "log {}: {}",
                line["level"].as_str().unwrap_or(""),
                line["message"].as_str().unwrap_or("")
            ));
        }
        lines.push(format!(
            "fuel used: {}, took {:.2} ms",
            a["fuel_used"],
            a["duration_ms"].as_f64().unwrap_or(0.0)
        ));
        lines.join("\n")
    })?;
    match answer["error"].as_str() {
        Some(error) => anyhow::bail!("{name} failed: {error}"),
        None => Ok(()),
    }
}
