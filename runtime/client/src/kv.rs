//! `fenn kv ls|get|rm NAME ...`: a function's key-value store through the
//! management API.

use crate::manage::{named, print};
use crate::remote::Remote;
use anyhow::Context as _;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

fn key_path(name: &str, key: &str) -> String {
    format!(
        "/v1/functions/{name}/kv/{}",
        utf8_percent_encode(key, NON_ALPHANUMERIC)
    )
}

/// `fenn kv ls NAME [--prefix P]`: its keys, one a line.
pub async fn list(remote: &Remote, name: &str, prefix: &str, as_json: bool) -> anyhow::Result<()> {
    named(name)?;
    let prefix = utf8_percent_encode(prefix, NON_ALPHANUMERIC);
    let path = format!("/v1/functions/{name}/kv?prefix={prefix}&limit=1000");
    let answer = remote.call("GET", &path, None).await.context("kv ls")?;
    print(&answer, as_json, |a| {
        let keys = a["keys"].as_array().into_iter().flatten();
        keys.filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// `fenn kv get NAME KEY`: the value (as text, or base64 when it is not).
pub async fn get(remote: &Remote, name: &str, key: &str, as_json: bool) -> anyhow::Result<()> {
    named(name)?;
    let answer = remote
        .call("GET", &key_path(name, key), None)
        .await
        .context("kv get")?;
    print(&answer, as_json, |a| match a["value"].as_str() {
        Some(text) => text.to_owned(),
        None => format!("base64:{}", a["base64"].as_str().unwrap_or("")),
    })
}

/// `fenn kv rm NAME KEY`.
pub async fn remove(remote: &Remote, name: &str, key: &str, as_json: bool) -> anyhow::Result<()> {
    named(name)?;
    let answer = remote
        .call("DELETE", &key_path(name, key), None)
        .await
        .context("kv rm")?;
    print(&answer, as_json, |a| match a["deleted"].as_bool() {
        Some(true) => format!("deleted {key}"),
        _ => format!("{key} was not there"),
    })
}
