//! The Rust template: `functions/hello` as a project of its own, with
//! fenn's SDK and ABI vendored into `vendor/` (their sources are built
//! into the binary), the guest workspace's release profile, target and
//! stack size, and a lockfile of the versions fenn's guests build with.

use super::readme::{self, About};
use super::{File, Project, cargo};
use anyhow::Context as _;

/// Which target the project builds for.
const TARGET: &str = "wasm32-unknown-unknown";

/// The project's handler: the hello example's.
const HELLO: &str = include_str!("../../../functions/hello/src/lib.rs");
/// The guest workspace's target and stack size.
const CARGO_CONFIG: &str = include_str!("../../../functions/.cargo/config.toml");
/// The guest workspace's manifest: what the SDK inherits, and the release
/// profile.
const GUESTS: &str = include_str!("../../../functions/Cargo.toml");
const GUESTS_LOCK: &str = include_str!("../../../functions/Cargo.lock");
/// The host workspace's manifest: what the ABI inherits.
const HOST: &str = include_str!("../../../Cargo.toml");

/// A crate copied into the project's `vendor/`.
struct Vendored {
    /// Its package's name, and its folder under `vendor/`.
    name: &'static str,
    manifest: &'static str,
    /// The manifest of the workspace it inherits from.
    workspace: &'static str,
    /// Its sources: path in the crate, text.
    sources: &'static [(&'static str, &'static str)],
}

/// `(path, include_str!(root + path))` for each path.
macro_rules! sources {
    ($root:literal: $($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!($root, $path)))),*]
    };
}

const VENDORED: [Vendored; 2] = [
    Vendored {
        name: "fenn-sdk",
        manifest: include_str!("../../../functions/sdk/Cargo.toml"),
        workspace: GUESTS,
        sources: sources!("../../../functions/sdk/":
            "src/heap.rs", "src/host.rs", "src/json.rs", "src/lib.rs", "src/log.rs"),
    },
    Vendored {
        name: "fenn-abi",
        manifest: include_str!("../../../runtime/abi/Cargo.toml"),
        workspace: HOST,
        sources: sources!("../../../runtime/abi/":
            "src/abi.rs", "src/calls.rs", "src/event.rs", "src/lib.rs", "src/response.rs",
            "src/wire.rs"),
    },
];

/// Where the vendored crates find each other.
const PATHS: [(&str, &str); 1] = [("fenn-abi", "../fenn-abi")];

/// Names a package may not take: Rust's keywords and its own crates.
const RESERVED: &str = "\
    abstract alloc as async await become box break const continue core crate do dyn else \
    enum extern false final fn for gen if impl in let loop macro match mod move mut \
    override priv proc_macro pub ref return self static std struct super test trait true \
    try type typeof unsafe unsized use virtual where while yield";

const ABOUT: About = About {
    language: "Rust",
    source: "src/lib.rs",
    builds_on: "It is written against fenn's SDK (`vendor/fenn-sdk`, and the \
        ABI it speaks, `vendor/fenn-abi`), which `fenn new` copied into the \
        project: it builds on its own, in any folder.",
    toolchain: "With Rust's WebAssembly target (`rustup target add wasm32-unknown-unknown`):",
    build: "cargo build --release",
};

/// The Rust project of function `name`.
pub(super) fn project(name: &str) -> anyhow::Result<Project> {
    let lock = cargo::needed(GUESTS_LOCK, &["fenn-sdk"])?;
    let package = package_name(name, |taken| lock.holds(taken));
    let wasm = format!("target/{TARGET}/release/{}.wasm", package.replace('-', "_"));
    let mut files = vec![
        File::new("Cargo.toml", manifest(&package)?),
        File::new("Cargo.lock", lock.with_root(&package, &["fenn-sdk"])),
        File::new(".cargo/config.toml", CARGO_CONFIG),
        File::new(".gitignore", "/target\n"),
        File::new("src/lib.rs", HELLO),
    ];
    files.extend(readme::files(name, &ABOUT, &wasm));
    for crate_ in &VENDORED {
        let manifest = cargo::standalone(crate_.manifest, crate_.workspace, &PATHS)
            .with_context(|| format!("{}'s Cargo.toml", crate_.name))?;
        files.push(File::new(
            format!("vendor/{}/Cargo.toml", crate_.name),
            manifest,
        ));
        for (path, text) in crate_.sources {
            files.push(File::new(format!("vendor/{}/{path}", crate_.name), *text));
        }
    }
    Ok(Project {
        files,
        build: ABOUT.build,
    })
}

/// The package's name for function `name`: lower case, `.` as `-`, and
/// `fn-` before it when it starts with a digit or is a name Rust or a
/// dependency holds.
fn package_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    let package = name.to_ascii_lowercase().replace('.', "-");
    let refused = package.starts_with(|c: char| c.is_ascii_digit())
        || RESERVED
            .split_whitespace()
            .any(|word| word == package.replace('-', "_"))
        || taken(&package);
    if refused {
        format!("fn-{package}")
    } else {
        package
    }
}

/// The project's manifest: a workspace of its own, so that it builds
/// wherever it lies, with the guest workspace's release profile.
fn manifest(package: &str) -> anyhow::Result<String> {
    let lines: Vec<&str> = GUESTS.lines().collect();
    let header = lines
        .iter()
        .position(|line| *line == "[profile.release]")
        .context("the guest workspace has no release profile")?;
    // With its comment, the lines before it that start with '#'.
    let start = header
        - lines[..header]
            .iter()
            .rev()
            .take_while(|l| l.starts_with('#'))
            .count();
    let end = lines[header + 1..]
        .iter()
        .position(|line| line.starts_with('['))
        .map_or(lines.len(), |after| header + 1 + after);
    let profile = lines[start..end].join("\n");
    Ok(format!(
        r#"[package]
name = "{package}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
fenn-sdk = {{ path = "vendor/fenn-sdk" }}

# A workspace of its own, whatever folder the project is in; the
# vendored crates are dependencies, not members.
[workspace]
exclude = ["vendor"]

{}"#,
        profile.trim_end()
    ) + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_crates_list_every_source_file_they_have() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (crate_, dir) in VENDORED.iter().zip(["functions/sdk", "runtime/abi"]) {
            let mut on_disk: Vec<String> = std::fs::read_dir(root.join(dir).join("src"))
                .unwrap()
                .map(|entry| format!("src/{}", entry.unwrap().file_name().to_string_lossy()))
                .collect();
            on_disk.sort();
            let listed: Vec<&str> = crate_.sources.iter().map(|(path, _)| *path).collect();
            assert_eq!(on_disk, listed, "{dir}: list its files in VENDORED");
        }
    }

    #[test]
    fn the_manifests_inherit_nothing_and_find_the_vendored_crates() {
        let project = project("demo").unwrap();
        for file in project
            .files
            .iter()
            .filter(|f| f.path.ends_with("Cargo.toml"))
        {
            assert!(!file.text.contains("workspace = true"), "{}", file.text);
            assert!(!file.text.contains(".workspace"), "{}", file.text);
        }
        let text = |path: &str| &project.files.iter().find(|f| f.path == path).unwrap().text;
        let sdk = text("vendor/fenn-sdk/Cargo.toml");
        assert!(
            sdk.contains(r#"fenn-abi = { path = "../fenn-abi" }"#),
            "{sdk}"
        );
        let abi = text("vendor/fenn-abi/Cargo.toml");
        assert!(abi.contains(r#"edition = "2024""#), "{abi}");
        assert!(
            !abi.contains("[lints]") && !abi.contains("serde_json"),
            "{abi}"
        );
        let manifest = text("Cargo.toml");
        for line in [
            "[profile.release]",
            "lto = true",
            "panic = \"abort\"",
            "# opt-level 3",
        ] {
            assert!(manifest.contains(line), "{line} missing:\n{manifest}");
        }
        let lock = text("Cargo.lock");
        assert!(lock.contains("name = \"demo\"") && lock.contains("name = \"postcard\""));
        assert!(
            !lock.contains("misbehave") && !lock.contains("serde_json"),
            "{lock}"
        );
        // Two versions of one package, named "name version" by postcard.
        assert!(
            lock.contains("version = \"0.4.0\"") && lock.contains("version = \"0.6.1\""),
            "{lock}"
        );
    }

    #[test]
    fn a_function_name_cargo_would_refuse_becomes_a_package_name_it_takes() {
        let none = |_: &str| false;
        assert_eq!(package_name("Greet.v2", none), "greet-v2");
        assert_eq!(package_name("2nd", none), "fn-2nd");
        assert_eq!(package_name("fn", none), "fn-fn");
        assert_eq!(package_name("proc-macro", none), "fn-proc-macro");
        assert_eq!(
            package_name("postcard", |name| name == "postcard"),
            "fn-postcard"
        );
    }
}
