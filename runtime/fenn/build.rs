//! Builds the guests in `functions/` for wasm32 and hands their paths to the
//! `fenn` binary (which bundles the examples) and to the tests, as
//! `FENN_GUEST_<NAME>` environment variables at compile time.
//!
//! The guests are a separate cargo workspace with its own target directory
//! and settings (`functions/.cargo/config.toml`), so the nested cargo runs
//! with the outer build's variables removed.

// A build script speaks to cargo and to the person building on stderr.
#![allow(clippy::print_stderr)]

use std::path::PathBuf;
use std::process::Command;

const GUESTS: [&str; 10] = [
    "hello",
    "echo",
    "sensor",
    "misbehave",
    "average",
    "notify",
    "counter",
    "hostile",
    "relay",
    "step",
];
const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let functions = root.join("functions");
    for watched in ["Cargo.toml", "Cargo.lock", ".cargo", "sdk"] {
        println!(
            "cargo::rerun-if-changed={}",
            functions.join(watched).display()
        );
    }
    for guest in GUESTS {
        println!(
            "cargo::rerun-if-changed={}",
            functions.join(guest).display()
        );
    }
    println!(
        "cargo::rerun-if-changed={}",
        root.join("runtime/abi").display()
    );

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = functions.join("target");
    let mut command = Command::new(cargo);
    command
        .current_dir(&functions)
        .args(["build", "--release", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let outer = (key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_MAKEFLAGS")
            || key.starts_with("RUSTC")
            || key.starts_with("RUSTDOC")
            || matches!(
                key.as_str(),
                "RUSTFLAGS"
                    | "TARGET"
                    | "HOST"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "DEBUG"
                    | "OUT_DIR"
                    | "NUM_JOBS"
            );
        if outer {
            command.env_remove(&key);
        }
    }
    let built = command.status().map(|status| status.success());
    if !matches!(built, Ok(true)) {
        eprintln!(
            "building the guest functions in {} failed ({built:?}).\n\
             If the error above says the target may not be installed, run:\n    \
             rustup target add {TARGET}",
            functions.display()
        );
        std::process::exit(1);
    }
    for guest in GUESTS {
        let path = target_dir
            .join(TARGET)
            .join("release")
            .join(format!("{guest}.wasm"));
        println!(
            "cargo::rustc-env=FENN_GUEST_{}={}",
            guest.to_uppercase(),
            path.display()
        );
    }
}
