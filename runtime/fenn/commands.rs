//! `fenn check` and `fenn invoke`: a module on its own, without a server.

use crate::{examples, serve};
use anyhow::{Context as _, bail};
use fenn_abi::Event;
use fenn_config::{FunctionConfig, ModuleSource};
use fenn_runtime::{Dispatcher, FunctionHost, FunctionModule, Limits};
use std::io::Write as _;
use std::path::Path;

fn module_bytes(module: &str) -> anyhow::Result<std::borrow::Cow<'static, [u8]>> {
    let source = match module.strip_prefix("example:") {
        Some(name) => ModuleSource::Example(examples::name(name).with_context(|| {
            format!(
                "no bundled example '{name}' (there are: {})",
                examples::NAMES.join(", ")
            )
        })?),
        None => ModuleSource::File(module.into()),
    };
    let function = FunctionConfig {
        name: "cli".into(),
        module: source,
        limits: Limits::default(),
        bindings: fenn_config::BindingSet::default(),
        key: String::new(),
    };
    let wasm = serve::read_module(&function).map_err(anyhow::Error::msg)?;
    if !fenn_runtime::module::is_wasm(&wasm) {
        bail!("{module}: {}", fenn_runtime::module::NOT_WASM);
    }
    Ok(wasm)
}

/// The default limits with every host call granted: a module on its own
/// has no definition to grant them, so only the ABI is checked, and its
/// calls answer that their services are not there.
fn unbound() -> Limits {
    Limits {
        grants: std::sync::Arc::new(fenn_runtime::Grants::any()),
        ..Limits::default()
    }
}

fn function_name(module: &str) -> String {
    let stem = Path::new(module.trim_start_matches("example:"))
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    stem.unwrap_or_else(|| "function".into())
}

/// `fenn check MODULE`: the online compile on its own.
#[allow(clippy::print_stdout)]
pub fn check(module: &str) -> anyhow::Result<()> {
    let wasm = module_bytes(module)?;
    let mut out = std::io::stdout().lock();
    match fenn_runtime::module::inspect(&wasm) {
        Ok(info) => {
            writeln!(out, "{module}: {} bytes", wasm.len())?;
            writeln!(out, "exports:")?;
            for export in &info.exports {
                writeln!(out, "  {export}")?;
            }
            writeln!(out, "imports:")?;
            for import in &info.imports {
                writeln!(out, "  {import}")?;
            }
        }
        Err(error) => bail!("{module}: {error}"),
    }
    match FunctionModule::compile(&function_name(module), &wasm, unbound()) {
        Ok(compiled) => {
            let on = match (compiled.heavy_start, compiled.blocking_calls) {
                (true, _) => "each event starts on a worker thread",
                (false, true) => {
                    "each event runs on a worker thread: it calls the store, MQTT or other functions"
                }
                (false, false) => "events start inline",
            };
            writeln!(
                out,
                "instantiation: {:.2} ms ({on})",
                compiled.instantiation.as_secs_f64() * 1e3
            )?;
            match compiled.wasi {
                None => writeln!(out, "ok: fits the fenn ABI v{}", fenn_abi::abi::ABI_VERSION)?,
                Some(entry) => {
                    let kind = match entry {
                        fenn_runtime::wasi::Entry::Command => "command",
                        fenn_runtime::wasi::Entry::Reactor { .. } => "reactor",
                    };
                    writeln!(
                        out,
                        "ok: a WASI preview 1 {kind}: the event as JSON on stdin, the response on stdout"
                    )?;
                }
            }
            Ok(())
        }
        Err(error) => bail!("{module}: {error}"),
    }
}

/// The event `fenn invoke` runs: from `--event` (a file, or `-` for
/// stdin); without it, from stdin when something is piped in, else (a
/// terminal, or nothing piped) `GET /`.
pub fn read_event(source: Option<&str>) -> anyhow::Result<Event> {
    use std::io::IsTerminal as _;
    let limit = fenn_runtime::files::MAX_EVENT;
    let what = "the most an event may be";
    // Whether empty input means the default event (nothing was asked for).
    let (source, bytes, optional) = match source {
        Some("-") => ("-", fenn_runtime::files::read_stdin(limit, what), false),
        Some(file) => (
            file,
            fenn_runtime::files::read(Path::new(file), limit, what),
            false,
        ),
        None if std::io::stdin().is_terminal() => return Ok(Event::new("/", "GET")),
        None => (
            "(stdin)",
            fenn_runtime::files::read_stdin(limit, what),
            true,
        ),
    };
    let bytes = bytes.map_err(anyhow::Error::msg)?;
    let text = String::from_utf8(bytes).with_context(|| format!("{source}: not UTF-8 text"))?;
    if optional && text.trim().is_empty() {
        return Ok(Event::new("/", "GET"));
    }
    fenn_admin::event::parse_event(source, &text)
}

/// `fenn invoke MODULE [--event FILE|-]`: one event through a module.
#[allow(clippy::print_stdout)]
pub async fn invoke(module: &str, event: Option<&str>) -> anyhow::Result<()> {
    let event = read_event(event)?;
    let wasm = module_bytes(module)?;
    let name = function_name(module);
    let dispatcher = Dispatcher::new(1, fenn_runtime::limits::DEFAULT_GUEST_MEMORY);
    dispatcher
        .deploy(&name, &wasm, unbound())
        .with_context(|| format!("{module} refused"))?;
    let response = dispatcher
        .invoke(&name, event)
        .await
        .with_context(|| format!("{name} failed"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(&response)?)?;
    Ok(())
}
