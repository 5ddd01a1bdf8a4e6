//! Cargo's files for a project outside fenn's workspaces: a member's
//! manifest with what it inherits from its workspace written out, and a
//! lockfile cut from the guest workspace's, so that a new project builds
//! the versions fenn's own guests build with.

use anyhow::{Context as _, bail};
use std::collections::BTreeSet;
use toml::{Table, Value};

/// Sections a vendored crate does not need: its tests' dependencies, and
/// lints that hold only in fenn's own workspace.
const DROPPED: [&str; 2] = ["dev-dependencies", "lints"];

/// `manifest` (a member of the workspace whose root manifest is
/// `workspace`) standalone: every `key.workspace = true` replaced by the
/// workspace's value, path dependencies moved to `paths` (name, new
/// path), and the [`DROPPED`] sections left out.
pub(super) fn standalone(
    manifest: &str,
    workspace: &str,
    paths: &[(&str, &str)],
) -> anyhow::Result<String> {
    let workspace: Table = toml::from_str(workspace).context("the workspace's manifest")?;
    let inherited = |section: &str| {
        workspace
            .get("workspace")
            .and_then(|w| w.get(section))
            .and_then(Value::as_table)
    };
    let mut out = String::new();
    let mut section = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.trim_matches(['[', ']']).to_owned();
        }
        if DROPPED.contains(&section.as_str()) {
            continue;
        }
        let from = match section.as_str() {
            "package" => inherited("package"),
            "dependencies" | "build-dependencies" => inherited("dependencies"),
            _ => None,
        };
        match (from, inheriting(trimmed)) {
            (Some(from), Some((key, own))) => {
                let value = resolved(from, &key, own, paths)
                    .with_context(|| format!("[{section}] {key}"))?;
                out.push_str(&format!("{key} = {value}\n"));
            }
            (None, Some((key, _))) => bail!("[{section}] {key}: nothing to inherit from"),
            (_, None) => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out.trim_end().to_owned() + "\n")
}

/// A line `key.workspace = true` or `key = { workspace = true, … }`: its
/// key and its own keys besides `workspace`.
fn inheriting(line: &str) -> Option<(String, Table)> {
    let parsed: Table = toml::from_str(line).ok()?;
    let (key, value) = parsed.into_iter().next()?;
    let mut own = value.as_table()?.clone();
    (own.remove("workspace")? == Value::Boolean(true)).then_some((key, own))
}

/// The workspace's `key` with the member's `own` keys: features added to
/// the workspace's, anything else (`optional`) as the member says.
fn resolved(from: &Table, key: &str, own: Table, paths: &[(&str, &str)]) -> anyhow::Result<Value> {
    let mut value = from
        .get(key)
        .cloned()
        .context("the workspace does not define it")?;
    if let Value::String(version) = &value {
        if own.is_empty() {
            return Ok(value);
        }
        value = Value::Table(Table::from_iter([(
            "version".into(),
            version.clone().into(),
        )]));
    }
    let Value::Table(table) = &mut value else {
        return Ok(value);
    };
    if table.contains_key("path") {
        let (_, path) = paths
            .iter()
            .find(|(name, _)| *name == key)
            .context("a path dependency with no place in the project")?;
        table.insert("path".into(), (*path).into());
    }
    for (own_key, own_value) in own {
        match (own_key.as_str(), table.get_mut("features"), own_value) {
            ("features", Some(Value::Array(features)), Value::Array(more)) => {
                features.extend(more);
            }
            (_, _, own_value) => {
                table.insert(own_key, own_value);
            }
        }
    }
    Ok(value)
}

/// One `[[package]]` of a lockfile: its text, and what it is.
struct Locked<'a> {
    text: &'a str,
    name: String,
    version: String,
    dependencies: Vec<String>,
}

/// The part of a lockfile a project needs.
pub(super) struct Lock<'a> {
    header: &'a str,
    /// In the lockfile's order (by name, then version).
    packages: Vec<Locked<'a>>,
}

/// The packages of `lock` that `roots` need, themselves included.
pub(super) fn needed<'a>(lock: &'a str, roots: &[&str]) -> anyhow::Result<Lock<'a>> {
    let header = &lock[..lock.find("[[package]]").unwrap_or(lock.len())];
    let all = packages(lock)?;
    let mut wanted: Vec<String> = roots.iter().map(|root| (*root).to_owned()).collect();
    let mut kept = BTreeSet::new();
    while let Some(wanted_one) = wanted.pop() {
        // "name", or "name version" when the lock holds two versions.
        let mut words = wanted_one.split(' ');
        let (name, version) = (words.next().unwrap_or_default(), words.next());
        let index = all
            .iter()
            .position(|p| p.name == name && version.is_none_or(|v| v == p.version))
            .with_context(|| format!("the guests' Cargo.lock lacks {wanted_one}"))?;
        if kept.insert(index) {
            wanted.extend(all[index].dependencies.iter().cloned());
        }
    }
    let packages = all
        .into_iter()
        .enumerate()
        .filter_map(|(index, package)| kept.contains(&index).then_some(package))
        .collect();
    Ok(Lock { header, packages })
}

/// Every `[[package]]` of `lock`.
fn packages(lock: &str) -> anyhow::Result<Vec<Locked<'_>>> {
    #[derive(serde::Deserialize)]
    struct Entry {
        name: String,
        version: String,
        #[serde(default)]
        dependencies: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct One {
        package: [Entry; 1],
    }
    let mut all = Vec::new();
    for (index, _) in lock.match_indices("[[package]]") {
        let text = &lock[index..];
        let text = text[1..].find("\n[[").map_or(text, |end| &text[..end + 2]);
        let One { package: [entry] } = toml::from_str(text).context("the guests' Cargo.lock")?;
        all.push(Locked {
            text,
            name: entry.name,
            version: entry.version,
            dependencies: entry.dependencies,
        });
    }
    Ok(all)
}

impl Lock<'_> {
    /// Whether a package of this name is in the lock.
    pub(super) fn holds(&self, name: &str) -> bool {
        self.packages.iter().any(|package| package.name == name)
    }

    /// The lockfile of package `root` (version 0.1.0), which depends on
    /// `dependencies`.
    pub(super) fn with_root(&self, root: &str, dependencies: &[&str]) -> String {
        let mut own = format!("[[package]]\nname = \"{root}\"\nversion = \"0.1.0\"\n");
        own.push_str("dependencies = [\n");
        for dependency in dependencies {
            own.push_str(&format!(" \"{dependency}\",\n"));
        }
        own.push_str("]\n");
        let mut texts: Vec<(&str, String)> = self
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.text.trim_end().to_owned() + "\n"))
            .collect();
        let at = texts.partition_point(|(name, _)| *name < root);
        texts.insert(at, (root, own));
        let texts: Vec<String> = texts.into_iter().map(|(_, text)| text).collect();
        format!("{}{}", self.header, texts.join("\n"))
    }
}
