//! `fenn new NAME --lang LANG`: a function's project of its own, in
//! `./NAME`, that builds outside fenn's repository and says in its
//! README how to build it, deploy it and call it.
//!
//! # Layout
//!
//! - [`run`]: the command: checks the name and the directory, then writes
//!   the language's template.
//! - `rust`: the Rust template, the hello example with the SDK and the
//!   ABI vendored into the project.
//! - `wasi`: the C, Zig and AssemblyScript templates, the WASI hello
//!   projects of `functions/wasi`.
//! - `cargo`: the vendored crates' manifests made standalone, and the
//!   project's lockfile.
//! - `readme`: every project's README and function definition.

mod cargo;
mod readme;
mod rust;
mod wasi;

use anyhow::{Context as _, bail};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The languages `fenn new` writes a project in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust with fenn's SDK (ABI v1, `wasm32-unknown-unknown`).
    Rust,
    /// C with wasi-libc (WASI preview 1).
    C,
    /// Zig (WASI preview 1).
    Zig,
    /// AssemblyScript with its WASI shim (WASI preview 1).
    #[value(name = "assemblyscript")]
    AssemblyScript,
}

/// A file of a project: its path inside the project, and its text.
#[derive(Debug)]
struct File {
    path: String,
    text: String,
}

impl File {
    fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }
}

/// A language's project for one function, ready to be written.
#[derive(Debug)]
struct Project {
    files: Vec<File>,
    /// The command that builds it, run in its directory.
    build: &'static str,
}

/// A project `fenn new` wrote.
#[derive(Debug)]
pub struct Created {
    /// Its folder.
    pub dir: PathBuf,
    /// The command that builds it, run in its folder.
    pub build: &'static str,
}

/// `fenn new NAME --lang LANG`: writes the project into `./NAME` and says
/// how to build it.
#[allow(clippy::print_stdout)]
pub fn run(name: &str, lang: Lang) -> anyhow::Result<()> {
    let created = create(Path::new("."), name, lang)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "created {}", created.dir.display())?;
    writeln!(out, "build it:   cd {name} && {}", created.build)?;
    writeln!(out, "deploy it:  see {name}/README.md")?;
    Ok(())
}

/// Writes the project of function `name` in `lang` into `parent/name`:
/// refused when `name` is not a function's name or the folder holds
/// anything.
pub fn create(parent: &Path, name: &str, lang: Lang) -> anyhow::Result<Created> {
    if let Some(reason) = fenn_runtime::trigger::name_refused(name) {
        bail!("not a function name: {reason}");
    }
    let dir = parent.join(name);
    ensure_empty(&dir)?;
    let project = project(name, lang)?;
    for file in project.files {
        let path = dir.join(&file.path);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        std::fs::write(&path, file.text)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Created {
        dir,
        build: project.build,
    })
}

/// Refuses a directory that holds anything, and a file in its place.
fn ensure_empty(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Ok(false) => bail!(
            "{} already exists and is not empty: choose another name, or remove it",
            dir.display()
        ),
        Ok(true) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) if dir.exists() => bail!("{} already exists and is not a directory", dir.display()),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", dir.display())),
    }
}

fn project(name: &str, lang: Lang) -> anyhow::Result<Project> {
    match lang {
        Lang::Rust => rust::project(name),
        Lang::C => Ok(wasi::project(name, &wasi::C)),
        Lang::Zig => Ok(wasi::project(name, &wasi::ZIG)),
        Lang::AssemblyScript => Ok(wasi::project(name, &wasi::ASSEMBLYSCRIPT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(what: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fenn-new-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_name_fenn_would_refuse_in_a_config_is_refused_before_anything_is_written() {
        let parent = scratch("names");
        for name in ["", ".", "..", "a/b", "has space", &"x".repeat(129)] {
            let error = create(&parent, name, Lang::Rust).unwrap_err().to_string();
            assert!(error.starts_with("not a function name: "), "{error}");
        }
        assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 0);
        std::fs::remove_dir_all(parent).unwrap();
    }

    #[test]
    fn an_empty_directory_is_used_and_one_with_a_file_or_a_file_is_refused() {
        let parent = scratch("dirs");
        std::fs::create_dir(parent.join("empty")).unwrap();
        create(&parent, "empty", Lang::Rust).unwrap();
        assert!(parent.join("empty/README.md").is_file());
        let error = create(&parent, "empty", Lang::Rust)
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with("already exists and is not empty: choose another name, or remove it")
        );
        std::fs::write(parent.join("plain"), "").unwrap();
        let error = create(&parent, "plain", Lang::Rust)
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with("already exists and is not a directory"),
            "{error}"
        );
        std::fs::remove_dir_all(parent).unwrap();
    }
}
