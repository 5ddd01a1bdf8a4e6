//! The C, Zig and AssemblyScript templates: the WASI hello projects of
//! `functions/wasi` as they are, built into the binary, with the
//! project's name where theirs (`hello`) appears.

use super::readme::{self, About};
use super::{File, Project};

/// A file of a hello project: its path in the project, its text, and the
/// places that name the project (each holding `hello`).
type Template = (&'static str, &'static str, &'static [&'static str]);

/// `(path, include_str!(root + path), named)` for each path.
macro_rules! templates {
    ($root:literal: $($path:literal $(names $named:literal)?),* $(,)?) => {
        &[$(($path, include_str!(concat!($root, $path)), &[$($named)?])),*]
    };
}

/// A WASI hello project: its files, its README's words, what names it and
/// what its build writes.
pub(super) struct Guest {
    files: &'static [Template],
    about: About,
    /// The project's name in its files, for function `name`.
    named: fn(&str) -> String,
    /// The module its build writes, for function `name`.
    wasm: fn(&str) -> String,
}

const GUEST: &str = "It is a WASI preview 1 module: it reads the event as JSON on \
    stdin and writes the response as JSON to stdout, and each line it writes to \
    stderr is a log line.";

/// `functions/wasi/c/hello`.
pub(super) const C: Guest = Guest {
    files: templates!("../../../functions/wasi/c/hello/":
        ".gitignore", "Makefile" names "NAME = hello\n", "event.h", "hello.c", "json.h"),
    about: About {
        language: "C",
        source: "hello.c",
        builds_on: GUEST,
        toolchain: "With clang, lld and wasi-libc (on Debian: \
            `apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32`):",
        build: "make",
    },
    named: str::to_owned,
    wasm: |name| format!("{name}.wasm"),
};

/// `functions/wasi/zig/hello`.
pub(super) const ZIG: Guest = Guest {
    files: templates!("../../../functions/wasi/zig/hello/":
        ".gitignore", "Makefile" names "NAME = hello\n", "main.zig"),
    about: About {
        language: "Zig",
        source: "main.zig",
        builds_on: GUEST,
        toolchain: "With Zig 0.17 (`python3 -m pip install ziglang==0.17.1`, which `make` \
            runs as `python3 -m ziglang`; `make ZIG=zig` for a `zig` of your own):",
        build: "make",
    },
    named: str::to_owned,
    wasm: |name| format!("{name}.wasm"),
};

/// `functions/wasi/assemblyscript/hello`.
pub(super) const ASSEMBLYSCRIPT: Guest = Guest {
    files: templates!("../../../functions/wasi/assemblyscript/hello/":
        ".gitignore", "asconfig.json", "assembly/fenn.ts", "assembly/index.ts", "assembly/json.ts",
        "package.json" names "\"name\": \"hello\"",
        "package-lock.json" names "\"name\": \"hello\""),
    about: About {
        language: "AssemblyScript",
        source: "assembly/index.ts",
        builds_on: "It is a WASI preview 1 reactor (through `@assemblyscript/wasi-shim`): \
            fenn calls its `handle` once per event, which reads the event as JSON on \
            stdin and writes the response as JSON to stdout; each line it writes to \
            stderr is a log line.",
        toolchain: "With Node.js and npm (the packages' versions are in `package-lock.json`):",
        build: "npm ci && npm run build",
    },
    named: npm_name,
    wasm: |_| "build/function.wasm".to_owned(),
};

/// The project of function `name` from `guest`'s hello project.
pub(super) fn project(name: &str, guest: &Guest) -> Project {
    let named = (guest.named)(name);
    let mut files: Vec<File> = guest
        .files
        .iter()
        .map(|(path, text, places)| {
            let text = places.iter().fold((*text).to_owned(), |text, place| {
                text.replace(place, &place.replace("hello", &named))
            });
            File::new(*path, text)
        })
        .collect();
    files.extend(readme::files(name, &guest.about, &(guest.wasm)(name)));
    Project {
        files,
        build: guest.about.build,
    }
}

/// npm's name for the package of function `name`: lower case, and not
/// starting with `.` or `_`.
fn npm_name(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    if name.starts_with(['.', '_']) {
        format!("fn-{name}")
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_place_that_names_a_hello_project_is_there_to_rename() {
        for guest in [C, ZIG, ASSEMBLYSCRIPT] {
            for (path, text, names) in guest.files {
                for place in *names {
                    assert!(text.contains(place), "{path} lacks {place:?}");
                }
            }
        }
        let project = project("demo", &ASSEMBLYSCRIPT);
        let lock = project.files.iter().find(|f| f.path == "package-lock.json");
        let lock = &lock.unwrap().text;
        assert_eq!(lock.matches("\"name\": \"demo\"").count(), 2, "{lock}");
        assert!(!lock.contains("\"name\": \"hello\""), "{lock}");
    }

    /// The files under `dir` its `.gitignore` does not leave out (patterns
    /// `name`, `*.suffix` and `folder/`, as the hello projects' are).
    fn sources(dir: &std::path::Path, ignored: &[&str], under: &str, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().unwrap().is_dir();
            let left_out = ignored
                .iter()
                .any(|pattern| match pattern.strip_suffix('/') {
                    Some(folder) => is_dir && name == folder,
                    None => pattern
                        .strip_prefix('*')
                        .map_or(name == *pattern, |s| name.ends_with(s)),
                });
            if left_out {
                continue;
            }
            let path = format!("{under}{name}");
            if is_dir {
                sources(&entry.path(), ignored, &format!("{path}/"), found);
            } else {
                found.push(path);
            }
        }
    }

    #[test]
    fn the_templates_hold_every_file_of_the_hello_projects() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("functions/wasi");
        for (lang, guest) in [("c", C), ("zig", ZIG), ("assemblyscript", ASSEMBLYSCRIPT)] {
            let dir = root.join(lang).join("hello");
            let gitignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
            let ignored: Vec<&str> = gitignore.lines().filter(|l| !l.is_empty()).collect();
            let mut found = Vec::new();
            sources(&dir, &ignored, "", &mut found);
            found.sort();
            let mut held: Vec<&str> = guest.files.iter().map(|(path, _, _)| *path).collect();
            held.sort_unstable();
            assert_eq!(found, held, "{}: list its files", dir.display());
        }
    }
}
