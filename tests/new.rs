//! `fenn new`: a new project built with the command its README gives,
//! deployed to a running fenn with its README's `fenn deploy`, and called
//! as its README's `curl` does; and the names and folders it refuses.

use crate::util::admin::TOKEN;
use crate::util::{Managed, TempDir, fenn};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// What a project's README says to run.
#[derive(Debug)]
struct Readme {
    /// The first `sh` block: the build.
    build: String,
    /// The line that starts `fenn deploy `.
    deploy: String,
    /// The `curl` line's path and query, and the answer its comment gives.
    call: (String, String),
}

impl Readme {
    fn of(project: &Path) -> Self {
        let text = std::fs::read_to_string(project.join("README.md")).unwrap();
        let mut blocks = text.split("```sh\n").skip(1).map(|rest| {
            let end = rest.find("```").unwrap();
            &rest[..end]
        });
        let build = blocks.next().expect("a build block").to_owned();
        let line = |start: &str| {
            let found = text.lines().find(|line| line.starts_with(start));
            found.unwrap_or_else(|| panic!("no line starts {start:?}:\n{text}"))
        };
        let curl = line("curl ");
        let url = curl.split('\'').nth(1).unwrap();
        let path = &url[url.find("://").unwrap() + 3..];
        let path = &path[path.find('/').unwrap()..];
        let answer = curl.split("# ").nth(1).unwrap().trim();
        Self {
            build,
            deploy: line("fenn deploy ").to_owned(),
            call: (path.to_owned(), answer.to_owned()),
        }
    }
}

/// `fenn ARGS` in `dir`.
fn fenn_in(dir: &Path, args: &[&str]) -> Output {
    fenn()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `sh -c SCRIPT` in `dir` as a user's shell runs it: `fenn` on the
/// PATH, and none of the variables cargo set for this test (a nested
/// cargo would build into this build's target directory), as
/// runtime/fenn/build.rs runs the guests' build.
fn shell(dir: &Path, script: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new("sh");
    command.args(["-c", script]).current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let outer = (key.starts_with("CARGO_") && key != "CARGO_HOME")
            || key.starts_with("RUSTC")
            || key.starts_with("RUSTDOC")
            || key == "RUSTFLAGS";
        if outer {
            command.env_remove(&key);
        }
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_fenn")).parent().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.to_owned()];
    paths.extend(std::env::split_paths(&path));
    command.env("PATH", std::env::join_paths(paths).unwrap());
    command.envs(env.iter().copied());
    command.stdin(Stdio::null()).output().unwrap()
}

fn said(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `fenn new demo --lang LANG`, then its README's build, deploy and call.
fn made_built_deployed_and_called(lang: &str, build_env: &[(&str, &str)]) {
    let dir = TempDir::new(&format!("new-{lang}"));
    let made = fenn_in(&dir.0, &["new", "demo", "--lang", lang]);
    assert!(made.status.success(), "{}", said(&made));
    let project = dir.0.join("demo");
    let readme = Readme::of(&project);
    let built = shell(&project, &readme.build, build_env);
    assert!(
        built.status.success(),
        "{}:\n{}",
        readme.build,
        said(&built)
    );

    let fenn = Managed::start("");
    let remote = format!("http://{}", fenn.admin);
    let env = [
        ("FENN_REMOTE", remote.as_str()),
        ("FENN_ADMIN_TOKEN", TOKEN),
    ];
    let deployed = shell(&project, &readme.deploy, &env);
    let out = said(&deployed);
    assert!(deployed.status.success(), "{}:\n{out}", readme.deploy);
    assert!(out.starts_with("deployed demo version 1 "), "{out}");
    let (path, answer) = &readme.call;
    assert_eq!(fenn.get(path), (200, answer.clone()), "GET {path}");
}

#[test]
fn a_new_rust_project_builds_deploys_and_answers_as_its_readme_says() {
    // Offline: the suite's own build of functions/ fetched every crate
    // the project's lockfile names (a subset of functions/Cargo.lock).
    made_built_deployed_and_called("rust", &[("CARGO_NET_OFFLINE", "true")]);
}

#[test]
fn a_new_c_project_builds_deploys_and_answers_as_its_readme_says() {
    made_built_deployed_and_called("c", &[]);
}

#[test]
fn a_new_zig_project_builds_deploys_and_answers_as_its_readme_says() {
    made_built_deployed_and_called("zig", &[]);
}

#[test]
fn a_new_assemblyscript_project_builds_deploys_and_answers_as_its_readme_says() {
    // tests/run installed the same packages for functions/wasi's projects:
    // npm takes them from its cache, and from the registry only if missing.
    made_built_deployed_and_called("assemblyscript", &[("npm_config_prefer_offline", "true")]);
}

#[test]
fn new_refuses_a_folder_that_holds_files_and_a_name_fenn_would_refuse() {
    let dir = TempDir::new("new-refused");
    dir.write("demo/notes.txt", "mine");
    let refused = fenn_in(&dir.0, &["new", "demo"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("demo already exists and is not empty: choose another name, or remove it"),
        "{stderr}"
    );
    let kept: Vec<_> = std::fs::read_dir(dir.0.join("demo")).unwrap().collect();
    assert_eq!(kept.len(), 1, "fenn new wrote into a folder it refused");

    for name in ["has space", "../outside", "a/b", ".."] {
        let refused = fenn_in(&dir.0, &["new", name]);
        assert!(!refused.status.success(), "{name}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        let reason =
            format!("fenn: not a function name: '{name}' must be letters, digits, '-', '_' or '.'");
        assert!(stderr.starts_with(&reason), "{stderr}");
    }
    assert!(!dir.0.join("has space").exists() && !dir.0.join("a").exists());

    let refused = fenn_in(&dir.0, &["new", "demo2", "--lang", "cobol"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("[possible values: rust"),
        "{stderr}"
    );
}
