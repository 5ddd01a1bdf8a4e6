//! The documentation against the code: every complete config in the
//! Markdown starts fenn, the ABI's example guest runs, the configuration
//! reference lists exactly the keys the config structs read, and every
//! link between the documents leads somewhere.
//!
//! A config is complete when its fenced `toml` block starts with the line
//! `# fenn.toml`; a guest, when its `wat` block starts with `;; hello.wat`.
//! A config struct is a `struct Raw…` anywhere under `runtime/config/src`
//! or a trigger's `src`; its doc comment opens with the section it reads
//! (`` /// `[mqtt]`: … ``), and each field's with its key
//! (`` /// `url`: … ``), so that a new trigger's keys are checked as they
//! are written.

use crate::util::{Captured, TempDir, fenn, run};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The repository's root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every Markdown file of the repository, build output, installed
/// packages and vendored crates (`vendor/*`, as published) aside.
fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                let vendored = dir.file_name().is_some_and(|d| d == "vendor");
                if !["target", "node_modules"].contains(&name.as_str())
                    && !name.starts_with('.')
                    && !vendored
                {
                    walk(&path, found);
                }
            } else if name.ends_with(".md") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(root(), &mut found);
    found
}

/// A fenced block: its file, the line its first line of content is on,
/// its language and its text.
struct Block {
    file: PathBuf,
    line: usize,
    language: String,
    text: String,
}

impl Block {
    fn place(&self) -> String {
        let file = self.file.strip_prefix(root()).unwrap_or(&self.file);
        format!("{}:{}", file.display(), self.line)
    }
}

/// The fenced blocks of `file` (fences may be indented, as in lists).
fn blocks(file: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut found = Vec::new();
    let mut open: Option<(usize, String, String, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(language) = trimmed.strip_prefix("```") {
                    let indent = line[..line.len() - trimmed.len()].to_owned();
                    open = Some((index + 2, language.trim().to_owned(), indent, String::new()));
                }
            }
            Some((start, language, indent, body)) => {
                if trimmed.starts_with("```") {
                    found.push(Block {
                        file: file.to_owned(),
                        line: *start,
                        language: std::mem::take(language),
                        text: std::mem::take(body),
                    });
                    open = None;
                } else {
                    body.push_str(line.strip_prefix(indent.as_str()).unwrap_or(line));
                    body.push('\n');
                }
            }
        }
    }
    found
}

/// The TOML files a shell block writes with `cat > FILE <<'TOML'`, as
/// blocks of their own.
fn heredocs(block: &Block) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in block.text.lines().enumerate() {
        match &mut open {
            None if line.trim_end().ends_with("<<'TOML'") => {
                open = Some(Block {
                    file: block.file.clone(),
                    line: block.line + index + 1,
                    language: "toml".into(),
                    text: String::new(),
                });
            }
            None => {}
            Some(_) if line == "TOML" => found.extend(open.take()),
            Some(heredoc) => {
                heredoc.text.push_str(line);
                heredoc.text.push('\n');
            }
        }
    }
    found
}

/// The blocks of every Markdown file in `language` whose first line is
/// `first`, TOML written by shell blocks included.
fn marked(language: &str, first: &str) -> Vec<Block> {
    markdown_files()
        .iter()
        .flat_map(|file| blocks(file))
        .flat_map(|block| match block.language.as_str() {
            "sh" => heredocs(&block),
            _ => vec![block],
        })
        .filter(|block| block.language == language && block.text.lines().next() == Some(first))
        .collect()
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `config` with each `127.0.0.1:PORT` on a free port instead, so that the
/// examples' management APIs and brokers do not meet other tests' (the
/// gateway's own address is overridden with `--listen`).
fn on_free_ports(config: &str) -> String {
    let mut out = String::new();
    let mut rest = config;
    while let Some(at) = rest.find("127.0.0.1:") {
        let (before, after) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str(&free_port().to_string());
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// The variables a config's `*_env` keys name, and the management API's
/// token, each set to a value long enough for any of them.
fn secrets(config: &str) -> Vec<(String, String)> {
    let mut variables = vec![(
        "FENN_ADMIN_TOKEN".to_owned(),
        "docs-token-0123456789abcdef".into(),
    )];
    for line in config.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().ends_with("_env") {
            let name = value.trim().trim_start_matches('"');
            let name: String = name.chars().take_while(|&c| c != '"').collect();
            variables.push((name, "docs-secret-0123456789abcdef".into()));
        }
    }
    variables
}

/// Serves `block` as a config until fenn says it listens; fails the test
/// with fenn's log when it stops instead.
fn serves(block: &Block) {
    let dir = TempDir::new("docs");
    let config = on_free_ports(&block.text);
    let file = dir.write("fenn.toml", &config);
    let mut child = fenn()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .envs(secrets(&config))
        .env("NO_COLOR", "1")
        .env_remove("FENN_CONFIG")
        .env_remove("FENN_LISTEN")
        .env_remove("STATE_DIRECTORY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, log) = (Captured::default(), Captured::default());
    stdout.drain(child.stdout.take().unwrap());
    log.drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let listening = loop {
        if stdout.text().contains("listening on http://") {
            break true;
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            // What it printed before it stopped.
            std::thread::sleep(Duration::from_millis(100));
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        listening,
        "the config at {} does not start fenn:\n{}{}",
        block.place(),
        stdout.text(),
        log.text()
    );
}

#[test]
fn every_complete_config_in_the_docs_starts_fenn() {
    let configs = marked("toml", "# fenn.toml");
    // The reference's, the gateway's (two), MQTT's, cron's and the
    // management API's: a marker lost in an edit would test nothing.
    assert!(configs.len() >= 6, "only {} marked configs", configs.len());
    for config in &configs {
        serves(config);
    }
}

#[test]
fn the_abi_example_guest_fits_and_answers() {
    let guests = marked("wat", ";; hello.wat");
    assert_eq!(guests.len(), 1, "functions/README.md's example");
    let wasm = wat::parse_str(&guests[0].text)
        .unwrap_or_else(|error| panic!("{}: {error}", guests[0].place()));
    let dir = TempDir::new("docs-abi");
    let module = dir.write("hello.wasm", wasm);
    let module = module.to_str().unwrap();
    let (ok, stdout, stderr) = run(&["check", module], None);
    assert!(
        ok && stdout.contains("ok: fits the fenn ABI v1"),
        "{stdout}{stderr}"
    );
    // An event larger than the guest's first page, which it grows to hold.
    let body = "a".repeat(100_000);
    let event = format!(r#"{{"path":"/hello","httpMethod":"POST","body":"{body}"}}"#);
    let (ok, stdout, stderr) = run(&["invoke", module, "--event", "-"], Some(&event));
    assert!(ok, "{stderr}");
    let response: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(response["statusCode"], 200, "{stdout}");
    assert_eq!(response["body"], "Hello from WAT", "{stdout}");
}

/// Where config structs live: fenn's own (`runtime/config/src`) and each
/// trigger's (`triggers/*/src`), every `.rs` file below them but tests.
fn config_sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == "tests" || name == "tests.rs" || name.ends_with("_tests.rs") {
                continue;
            }
            if path.is_dir() {
                walk(&path, found);
            } else if name.ends_with(".rs") {
                found.push(path);
            }
        }
    }
    let mut roots = vec![root().join("runtime/config/src")];
    let mut triggers: Vec<_> = std::fs::read_dir(root().join("triggers"))
        .unwrap()
        .map(|entry| entry.unwrap().path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    triggers.sort();
    roots.extend(triggers);
    let mut found = Vec::new();
    for dir in roots {
        walk(&dir, &mut found);
    }
    found
}

/// The section a Raw struct documents, from the first line of its doc
/// comment (`` /// `[mqtt]`: … ``, `` /// `cors`, … ``).
fn section_of(name: &str, doc: Option<&str>, place: &str) -> String {
    let named = doc
        .and_then(|doc| doc.strip_prefix('`'))
        .and_then(|doc| doc.split_once('`'))
        .map(|(section, _)| section.to_owned())
        .filter(|section| !section.is_empty());
    named.unwrap_or_else(|| {
        panic!(
            "{place}: the doc comment of {name} does not open with the section it reads \
             (/// `[section]`: …)"
        )
    })
}

/// A config struct as found: where, and the TOML keys its fields' doc
/// comments name (`` /// `listen`: … ``).
struct RawStruct {
    name: String,
    place: String,
    keys: BTreeSet<String>,
}

/// Every `Raw…` struct of the config's and the triggers' sources, by the
/// section of runtime/CONFIGURATION.md its doc comment names (`[server]`'s
/// are fenn's own and the gateway's, in two structs of one name).
fn keys_in_code() -> BTreeMap<String, Vec<RawStruct>> {
    let mut sections: BTreeMap<String, Vec<RawStruct>> = BTreeMap::new();
    for source in config_sources() {
        let text = std::fs::read_to_string(&source).unwrap();
        let file = source.strip_prefix(root()).unwrap().display().to_string();
        // The doc comment's first line, from `///` lines and attributes
        // above the line at hand.
        let mut doc: Option<String> = None;
        let mut in_doc = false;
        let mut current: Option<(String, RawStruct)> = None;
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if let Some((end, raw)) = &mut current {
                if line.trim_end() == end {
                    let (_, raw) = current.take().unwrap();
                    assert!(
                        !raw.keys.is_empty(),
                        "{}: no field of {} names its key (/// `key`: …)",
                        raw.place,
                        raw.name
                    );
                    let section = section_of(&raw.name, doc.as_deref(), &raw.place);
                    sections.entry(section).or_default().push(raw);
                } else if let Some(rest) = trimmed.strip_prefix("/// `") {
                    let key: String = rest.chars().take_while(|c| *c != '`').collect();
                    let is_key = rest[key.len()..].starts_with("`:")
                        && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                    if is_key {
                        raw.keys.insert(key);
                    }
                }
                continue;
            }
            if let Some(first) = trimmed.strip_prefix("///") {
                if !in_doc {
                    doc = Some(first.trim().to_owned());
                    in_doc = true;
                }
                continue;
            }
            let struct_name = trimmed
                .split("struct Raw")
                .nth(1)
                .filter(|_| !trimmed.starts_with("//"))
                .map(|rest| {
                    let rest: String = rest
                        .chars()
                        .take_while(char::is_ascii_alphanumeric)
                        .collect();
                    format!("Raw{rest}")
                });
            match struct_name {
                // A unit or tuple struct names no keys.
                Some(_) if trimmed.ends_with(';') => doc = None,
                Some(name) => {
                    let indent = &line[..line.len() - trimmed.len()];
                    let raw = RawStruct {
                        name,
                        place: format!("{file}:{}", index + 1),
                        keys: BTreeSet::new(),
                    };
                    current = Some((format!("{indent}}}"), raw));
                    in_doc = false;
                }
                None if trimmed.starts_with("#[") => {}
                None => {
                    doc = None;
                    in_doc = false;
                }
            }
        }
    }
    sections
}

/// The keys the reference's tables give, by section heading, each with
/// how many times it is given there.
fn keys_in_reference() -> BTreeMap<String, BTreeMap<String, usize>> {
    let text = std::fs::read_to_string(root().join("runtime/CONFIGURATION.md")).unwrap();
    let mut sections: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut heading = String::new();
    let mut in_keys = false;
    for line in text.lines() {
        if line.starts_with('#') {
            heading = line.trim_start_matches('#').trim().replace('`', "");
        } else if line.starts_with("| key |") {
            in_keys = true;
        } else if !line.starts_with('|') {
            in_keys = false;
        } else if let Some(cell) = line.strip_prefix("| `").filter(|_| in_keys) {
            let key: String = cell.chars().take_while(|c| *c != '`').collect();
            *sections
                .entry(heading.clone())
                .or_default()
                .entry(key)
                .or_default() += 1;
        }
    }
    sections
}

#[test]
fn the_configuration_reference_lists_every_key_once() {
    let code = keys_in_code();
    let reference = keys_in_reference();
    for section in reference.keys() {
        assert!(
            code.contains_key(section),
            "runtime/CONFIGURATION.md documents {section}, which no Raw struct's doc comment names"
        );
    }
    for (section, structs) in &code {
        let read: BTreeSet<String> = structs.iter().flat_map(|raw| raw.keys.clone()).collect();
        let by: Vec<_> = structs
            .iter()
            .map(|raw| format!("{} ({})", raw.name, raw.place))
            .collect();
        let given = reference.get(section).unwrap_or_else(|| {
            panic!(
                "{} read keys of {section}, which runtime/CONFIGURATION.md has no key table for",
                by.join(", ")
            )
        });
        let twice: Vec<_> = given.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "{section} gives keys more than once: {twice:?}"
        );
        let given: BTreeSet<String> = given.keys().cloned().collect();
        let missing: Vec<_> = read.difference(&given).collect();
        let unknown: Vec<_> = given.difference(&read).collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "{section}: not in the reference: {missing:?}; not read by {}: {unknown:?}",
            by.join(", ")
        );
    }
}

/// The anchors GitHub gives `file`'s headings.
fn anchors(file: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        if fenced {
            continue;
        }
        let title = title.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let count = seen.entry(slug.clone()).or_default();
        anchors.insert(match *count {
            0 => slug,
            n => format!("{slug}-{n}"),
        });
        *count += 1;
    }
    anchors
}

/// The relative links of `file` (outside fenced blocks), with their lines.
fn links(file: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut found = Vec::new();
    let mut fenced = false;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for piece in line.split("](").skip(1) {
            let Some(end) = piece.find(')') else {
                continue;
            };
            let target = &piece[..end];
            let external = ["http://", "https://", "mailto:"]
                .iter()
                .any(|scheme| target.starts_with(scheme));
            if !external {
                found.push((index + 1, target.to_owned()));
            }
        }
    }
    found
}

#[test]
fn every_link_between_the_docs_leads_somewhere() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        for (line, target) in links(&file) {
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = match path {
                "" => file.clone(),
                path => file.parent().unwrap().join(path),
            };
            let place = format!("{}:{line}", file.strip_prefix(root()).unwrap().display());
            if !linked.exists() {
                broken.push(format!("{place}: {target}: no such file"));
            } else if let Some(anchor) = anchor {
                if !anchors(&linked).contains(anchor) {
                    broken.push(format!("{place}: {target}: no such heading"));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
