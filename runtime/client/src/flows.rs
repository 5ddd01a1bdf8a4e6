//! `fenn flow deploy|ls|rollback|rm`: a running fenn's flows through the
//! management API, as `fenn deploy`, `ls`, `rollback` and `rm` are its
//! functions'.

use crate::manage::{bindings, named_as, print};
use crate::remote::Remote;
use anyhow::Context as _;
use serde_json::{Value, json};
use std::path::Path;

/// Largest definition file.
const MAX_DEFINITION: u64 = 1 << 20;

/// A flow's definition from `file`: JSON (a `.json` file, or text that
/// opens with `{`), else TOML, the keys of a `[[flow]]` block less `name`.
pub fn definition(file: &Path) -> anyhow::Result<Value> {
    let bytes = fenn_runtime::files::read(file, MAX_DEFINITION, "the most a definition may be")
        .map_err(anyhow::Error::msg)?;
    let text =
        String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8 text", file.display()))?;
    let json = file
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{');
    if json {
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", file.display()))
    } else {
        toml::from_str(&text).with_context(|| format!("{}: not TOML", file.display()))
    }
}

/// `fenn flow deploy NAME DEFINITION`.
pub async fn deploy(remote: &Remote, name: &str, file: &Path, as_json: bool) -> anyhow::Result<()> {
    named_as(name, "flow")?;
    let body = json!({"definition": definition(file)?});
    let answer = remote
        .call("PUT", &format!("/v1/flows/{name}"), Some(body))
        .await
        .with_context(|| format!("flow deploy {name}"))?;
    print(&answer, as_json, |a| {
        let steps = match a["steps"].as_u64() {
            Some(1) => "1 step".to_owned(),
            steps => format!("{} steps", steps.unwrap_or(0)),
        };
        format!("deployed flow {name} version {} ({steps})", a["version"])
    })
}

/// `fenn flow ls`.
pub async fn list(remote: &Remote, as_json: bool) -> anyhow::Result<()> {
    let answer = remote
        .call("GET", "/v1/flows", None)
        .await
        .context("flow ls")?;
    print(&answer, as_json, |a| {
        let mut lines = vec![format!(
            "{:<20} {:<9} {:<8} {:<8} TRIGGERS",
            "NAME", "ORIGIN", "VERSION", "RUNNING"
        )];
        let number = |value: &Value| value.as_u64().map_or("-".to_owned(), |n| n.to_string());
        for flow in a["flows"].as_array().into_iter().flatten() {
            lines.push(format!(
                "{:<20} {:<9} {:<8} {:<8} {}",
                flow["name"].as_str().unwrap_or(""),
                flow["origin"].as_str().unwrap_or(""),
                number(&flow["version"]),
                number(&flow["running"]),
                match flow["not_served"].as_str() {
                    Some(reason) => format!("NOT SERVED: {reason}"),
                    None => bindings(&flow["bindings"]),
                }
            ));
        }
        lines.join("\n")
    })
}

/// `fenn flow rollback NAME [--version N]`.
pub async fn rollback(
    remote: &Remote,
    name: &str,
    version: Option<u64>,
    as_json: bool,
) -> anyhow::Result<()> {
    named_as(name, "flow")?;
    let answer = remote
        .call(
            "POST",
            &format!("/v1/flows/{name}/rollback"),
            Some(json!({"version": version})),
        )
        .await
        .with_context(|| format!("flow rollback {name}"))?;
    print(&answer, as_json, |a| {
        format!("flow {name} now serves version {}", a["version"])
    })
}

/// `fenn flow rm NAME`.
pub async fn remove(remote: &Remote, name: &str, as_json: bool) -> anyhow::Result<()> {
    named_as(name, "flow")?;
    let answer = remote
        .call("DELETE", &format!("/v1/flows/{name}"), None)
        .await
        .with_context(|| format!("flow rm {name}"))?;
    print(&answer, as_json, |_| format!("deleted flow {name}"))
}
