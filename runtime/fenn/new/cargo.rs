//! Cargo's files for a project outside fenn's workspaces: a member's
//! manifest with what it inherits from its workspace written out, and a
//! lockfile cut from the guest workspace's, so that a new project builds
//! the versions fenn's own guests build with.
//!
//! Both are read line by line, as cargo and fenn's repository write them
//! (a key and its value on one line), rather than parsed as TOML: a TOML
//! parse of these shapes would add its own code to the binary.

use anyhow::{Context as _, bail};
use std::collections::BTreeSet;

/// Sections a vendored crate does not need: its tests' dependencies, and
/// lints that hold only in fenn's own workspace.
const DROPPED: [&str; 2] = ["dev-dependencies", "lints"];

/// `manifest` (a member of the workspace whose root manifest is
/// `workspace`) standalone: every `key.workspace = true` replaced by the
/// workspace's value as its manifest writes it, path dependencies moved to
/// `paths` (name, new path), and the [`DROPPED`] sections left out.
pub(super) fn standalone(
    manifest: &str,
    workspace: &str,
    paths: &[(&str, &str)],
) -> anyhow::Result<String> {
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
        let Some(key) = inheriting(trimmed).with_context(|| format!("[{section}] {trimmed}"))?
        else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let from = match section.as_str() {
            "package" => "workspace.package",
            "dependencies" | "build-dependencies" => "workspace.dependencies",
            _ => bail!("[{section}] {key}: nothing to inherit from"),
        };
        let value = value_in(workspace, from, &key)
            .with_context(|| format!("[{section}] {key}: the workspace's [{from}] lacks it"))?;
        let value = match paths.iter().find(|(name, _)| *name == key) {
            Some((_, path)) => moved(value, path)?,
            None => value.to_owned(),
        };
        out.push_str(&format!("{key} = {value}\n"));
    }
    Ok(out.trim_end().to_owned() + "\n")
}

/// The key of a line `key.workspace = true` or `key = { workspace = true }`;
/// refused when the line adds keys of its own (features), which a
/// vendored crate would need merged.
fn inheriting(line: &str) -> anyhow::Result<Option<String>> {
    let Some((key, value)) = line.split_once('=') else {
        return Ok(None);
    };
    let (key, value) = (key.trim(), value.trim());
    if let Some(key) = key.strip_suffix(".workspace") {
        return Ok((value == "true").then(|| key.to_owned()));
    }
    let words: Vec<&str> = value.split_whitespace().collect();
    match words.as_slice() {
        ["{", "workspace", "=", "true", "}"] => Ok(Some(key.to_owned())),
        ["{", "workspace", "=", "true,", ..] => bail!("keys besides workspace = true"),
        _ => Ok(None),
    }
}

/// The text of `key`'s value in `section` of the manifest `text`, when it
/// is on one line.
fn value_in<'a>(text: &'a str, section: &str, key: &str) -> Option<&'a str> {
    let header = format!("[{section}]");
    let lines = text
        .lines()
        .skip_while(|line| line.trim() != header)
        .skip(1);
    let value = lines
        .take_while(|line| !line.starts_with('['))
        .find_map(|line| {
            let (name, value) = line.split_once('=')?;
            (name.trim() == key).then(|| value.trim())
        })?;
    // Whole, not the first line of an array or a table written over several.
    let open = |pair: [char; 2]| value.matches(pair[0]).count() == value.matches(pair[1]).count();
    (open(['[', ']']) && open(['{', '}'])).then_some(value)
}

/// A dependency `{ path = "…", … }` with the path `to`.
fn moved(value: &str, to: &str) -> anyhow::Result<String> {
    let at = value.find("path = \"").context("not a path dependency")? + "path = \"".len();
    let end = at + value[at..].find('"').context("an unquoted path")?;
    Ok(format!("{}{to}{}", &value[..at], &value[end..]))
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
    let quoted = |line: &str, key: &str| {
        let value = line.strip_prefix(key)?.trim().strip_prefix('=')?.trim();
        Some(value.trim_end_matches(',').trim_matches('"').to_owned())
    };
    let mut all = Vec::new();
    for (index, _) in lock.match_indices("[[package]]") {
        let text = &lock[index..];
        let text = text[1..].find("\n[[").map_or(text, |end| &text[..end + 2]);
        let (mut name, mut version, mut dependencies) = (None, None, Vec::new());
        for line in text.lines() {
            if let Some(dependency) = line.strip_prefix(' ') {
                dependencies.push(
                    dependency
                        .trim_end_matches(',')
                        .trim_matches('"')
                        .to_owned(),
                );
            }
            name = name.or_else(|| quoted(line, "name"));
            version = version.or_else(|| quoted(line, "version"));
        }
        let (Some(name), Some(version)) = (name, version) else {
            bail!("the guests' Cargo.lock: a package without a name or a version");
        };
        all.push(Locked {
            text,
            name,
            version,
            dependencies,
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

#[cfg(test)]
mod tests {
    use super::*;

    const WORKSPACE: &str = r#"[workspace]
members = ["a"]

[workspace.package]
version = "0.3.0"

[workspace.dependencies]
base = { path = "base", version = "0.3.0" }
serde = { version = "1", default-features = false }
list = [
    "not a dependency",
]
"#;

    #[test]
    fn inherited_keys_are_written_as_the_workspace_writes_them() {
        let member = "[package]\nname = \"a\"\nversion.workspace = true\n\n\
                      [dependencies]\nbase.workspace = true\nserde = { workspace = true }\n\
                      own = \"2\"\n\n[dev-dependencies]\nx.workspace = true\n\n\
                      [lints]\nworkspace = true\n";
        let out = standalone(member, WORKSPACE, &[("base", "../base")]).unwrap();
        assert_eq!(
            out,
            "[package]\nname = \"a\"\nversion = \"0.3.0\"\n\n[dependencies]\n\
             base = { path = \"../base\", version = \"0.3.0\" }\n\
             serde = { version = \"1\", default-features = false }\nown = \"2\"\n"
        );
    }

    #[test]
    fn what_cannot_be_written_out_is_an_error_not_a_wrong_manifest() {
        let features = "[dependencies]\nserde = { workspace = true, features = [\"std\"] }\n";
        let missing = "[dependencies]\nabsent.workspace = true\n";
        let multi_line = "[dependencies]\nlist.workspace = true\n";
        for member in [features, missing, multi_line] {
            assert!(standalone(member, WORKSPACE, &[]).is_err(), "{member}");
        }
    }
}
