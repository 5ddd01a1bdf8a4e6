//! WASI preview 1 guests: a module built for `wasm32-wasi` (C with
//! wasi-libc, Zig, AssemblyScript with its WASI shim, Rust's
//! `wasm32-wasip1`) runs as a fenn function. Its event arrives as JSON on
//! stdin and its response leaves as JSON on stdout, or, on a route with
//! `web = true`, as a CGI request and response ([`cgi`]); stderr lines
//! are its log lines.
//!
//! fenn implements the part of preview 1 such a guest needs on wasmi's own
//! linker: standard input, output and error, the environment (the
//! function's variables), arguments, clocks, random bytes and
//! `proc_exit`. There is no file system: every other descriptor call
//! answers `EBADF` (there are no preopened directories, so no path can be
//! named) and never reaches the host's files. Sockets are not provided: a
//! module that imports one is refused at deploy, as is any call this
//! table does not name.

pub(crate) mod calls;
pub mod cgi;
pub(crate) mod stdio;
#[cfg(test)]
mod tests;

use crate::Error;
use fenn_abi::Response;
use wasmi::ValType;
use wasmi::{ExternType, Module};

/// The import module of WASI preview 1.
pub const MODULE: &str = "wasi_snapshot_preview1";
/// A command module's entry point: called once an event.
pub const EXPORT_START: &str = "_start";
/// A reactor module's initialiser, called before its handler.
pub const EXPORT_INITIALIZE: &str = "_initialize";
/// A reactor module's handler: `() -> ()`, called once an event.
pub const EXPORT_HANDLE: &str = "handle";

/// How a WASI module is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// A command: `_start` runs the whole event.
    Command,
    /// A reactor: `_initialize` (when exported), then `handle`.
    Reactor {
        /// Whether it exports `_initialize`.
        initialize: bool,
    },
}

/// Error numbers of preview 1 that fenn answers.
pub(crate) mod errno {
    pub(crate) const SUCCESS: i32 = 0;
    pub(crate) const BADF: i32 = 8;
    pub(crate) const FAULT: i32 = 21;
    pub(crate) const INVAL: i32 = 28;
    pub(crate) const NOSYS: i32 = 52;
    pub(crate) const SPIPE: i32 = 70;
}

/// The calls fenn provides and their parameters (each answers an errno as
/// `i32`, but `proc_exit`, which answers nothing). `I` is an `i32`
/// parameter, `L` an `i64`.
const CALLS: &[(&str, &str)] = &[
    ("args_get", "II"),
    ("args_sizes_get", "II"),
    ("environ_get", "II"),
    ("environ_sizes_get", "II"),
    ("clock_res_get", "II"),
    ("clock_time_get", "ILI"),
    ("fd_advise", "ILLI"),
    ("fd_allocate", "ILL"),
    ("fd_close", "I"),
    ("fd_datasync", "I"),
    ("fd_fdstat_get", "II"),
    ("fd_fdstat_set_flags", "II"),
    ("fd_fdstat_set_rights", "ILL"),
    ("fd_filestat_get", "II"),
    ("fd_filestat_set_size", "IL"),
    ("fd_filestat_set_times", "ILLI"),
    ("fd_pread", "IIILI"),
    ("fd_prestat_get", "II"),
    ("fd_prestat_dir_name", "III"),
    ("fd_pwrite", "IIILI"),
    ("fd_read", "IIII"),
    ("fd_readdir", "IIILI"),
    ("fd_renumber", "II"),
    ("fd_seek", "ILII"),
    ("fd_sync", "I"),
    ("fd_tell", "II"),
    ("fd_write", "IIII"),
    ("path_create_directory", "III"),
    ("path_filestat_get", "IIIII"),
    ("path_filestat_set_times", "IIIILLI"),
    ("path_link", "IIIIIII"),
    ("path_open", "IIIIILLII"),
    ("path_readlink", "IIIIII"),
    ("path_remove_directory", "III"),
    ("path_rename", "IIIIII"),
    ("path_symlink", "IIIII"),
    ("path_unlink_file", "III"),
    ("poll_oneoff", "IIII"),
    ("proc_exit", "I"),
    ("proc_raise", "I"),
    ("random_get", "II"),
    ("sched_yield", ""),
];

/// The signature of a call fenn provides.
pub(crate) fn signature(name: &str) -> Option<(Vec<ValType>, Vec<ValType>)> {
    let (_, params) = CALLS.iter().find(|(call, _)| *call == name)?;
    let params = params
        .bytes()
        .map(|p| {
            if p == b'L' {
                ValType::I64
            } else {
                ValType::I32
            }
        })
        .collect();
    let results = if name == "proc_exit" {
        Vec::new()
    } else {
        vec![ValType::I32]
    };
    Some((params, results))
}

/// Whether `module` is a WASI guest: it imports from preview 1, or
/// exports a command's or a reactor's entry, and is not an ABI v1 module.
pub(crate) fn is_wasi(module: &Module) -> bool {
    module.imports().any(|import| import.module() == MODULE)
        || module.get_export(EXPORT_START).is_some()
        || module.get_export(EXPORT_INITIALIZE).is_some()
}

/// Checks a WASI module's entry and memory; how it is entered.
pub(crate) fn check_entry(module: &Module) -> Result<Entry, Error> {
    let not_abi = |reason: String| Error::NotAbi { reason };
    let nullary = |name: &str| match module.get_export(name) {
        Some(ExternType::Func(ty)) if ty.params().is_empty() && ty.results().is_empty() => Ok(true),
        Some(_) => Err(not_abi(format!(
            "export '{name}' of a WASI module must be a function taking and returning nothing"
        ))),
        None => Ok(false),
    };
    let entry = if nullary(EXPORT_START)? {
        Entry::Command
    } else if nullary(EXPORT_HANDLE)? {
        Entry::Reactor {
            initialize: nullary(EXPORT_INITIALIZE)?,
        }
    } else {
        return Err(not_abi(format!(
            "a WASI module needs a '{EXPORT_START}' export (a command) or a '{EXPORT_HANDLE}' \
             export (a reactor); see functions/README.md"
        )));
    };
    match module.get_export(fenn_abi::abi::EXPORT_MEMORY) {
        Some(ExternType::Memory(_)) => Ok(entry),
        _ => Err(not_abi(
            "a WASI module must export its memory as 'memory'".into(),
        )),
    }
}

/// Why an import of preview 1 is refused, or `None` when fenn provides it
/// with this type.
pub(crate) fn refuse_import(name: &str, ty: &ExternType) -> Option<String> {
    let shown = crate::guest_log::escape(name.as_bytes());
    let Some((params, results)) = signature(name) else {
        let why = if name.starts_with("sock_") {
            "fenn gives functions no sockets (publish and emit are host calls; see functions/README.md)"
        } else {
            "fenn does not provide it (the WASI calls it provides are listed in functions/README.md)"
        };
        return Some(format!("imports '{MODULE}.{shown}': {why}"));
    };
    match ty {
        ExternType::Func(f) if f.params() == params && f.results() == results => None,
        _ => Some(format!(
            "imports '{MODULE}.{shown}' with the wrong type, expected func{params:?} -> {results:?}"
        )),
    }
}

/// A WASI invocation's streams: the event as JSON on stdin (a web
/// function's body, with the request in CGI variables), the function's
/// variables and secrets in the environment.
pub(crate) fn streams(
    module: &crate::FunctionModule,
    event: &fenn_abi::Event,
) -> Result<Box<stdio::Stdio>, Error> {
    let web = cgi::is_web(event);
    let stdin = if web {
        cgi::body(event)
    } else {
        serde_json::to_vec(event).map_err(|error| Error::BadEvent {
            reason: error.to_string(),
        })?
    };
    let body_len = stdin.len();
    let mut stdio = stdio::Stdio::new(&module.name, stdin, module.limits.max_response);
    for (name, var) in &module.limits.grants.vars {
        stdio.set_env(name, &var.value);
    }
    if web {
        for (name, value) in cgi::variables(event, body_len) {
            stdio.set_env(&name, &value);
        }
        stdio.web = true;
    }
    Ok(Box::new(stdio))
}

/// Runs a reactor's `_initialize`, and answers the function each event
/// calls: `_start` or `handle`.
pub(crate) fn enter(
    instance: &wasmi::Instance,
    store: &mut wasmi::Store<crate::invocation::HostState>,
    entry: Entry,
) -> Result<wasmi::TypedFunc<(), ()>, wasmi::Error> {
    match entry {
        Entry::Command => instance.get_typed_func::<(), ()>(&*store, EXPORT_START),
        Entry::Reactor { initialize } => {
            if initialize {
                instance
                    .get_typed_func::<(), ()>(&*store, EXPORT_INITIALIZE)?
                    .call(&mut *store, ())?;
            }
            instance.get_typed_func::<(), ()>(&*store, EXPORT_HANDLE)
        }
    }
}

/// The response a WASI guest wrote once it returned: stdout read as JSON
/// (the API-gateway response, leniently) or, for a web function, as CGI.
pub(crate) fn finish(state: &mut crate::invocation::HostState) -> Result<Response, Error> {
    flush(state);
    let Some(stdio) = state.wasi.as_deref() else {
        return Err(Error::Internal {
            reason: "a WASI run without its streams".into(),
        });
    };
    if stdio.stdout.is_empty() {
        return Err(Error::BadOutput {
            reason: "the function wrote nothing to stdout (a WASI function writes its \
                     response there)"
                .into(),
        });
    }
    let response = if stdio.web {
        cgi::response(&stdio.stdout)?
    } else {
        crate::output::from_json(&stdio.stdout)?
    };
    crate::output::check(response)
}

/// How a WASI run that stopped ended, when the streams decide it: a
/// `proc_exit` with `exit` (code 0 is the response on stdout) or stdout
/// over its bound. `None` leaves the error to the usual reading.
pub(crate) fn ended(
    state: &mut crate::invocation::HostState,
    exit: Option<i32>,
    limits: &crate::Limits,
) -> Option<Result<Response, Error>> {
    state.wasi.as_ref()?;
    flush(state);
    let stdio = state.wasi.as_deref()?;
    if stdio.out_of_fuel {
        return Some(Err(Error::OutOfFuel { fuel: limits.fuel }));
    }
    if stdio.stdout_over {
        return Some(Err(Error::BadOutput {
            reason: format!(
                "stdout is over max_response ({} bytes)",
                limits.max_response
            ),
        }));
    }
    match exit? {
        0 => Some(finish(state)),
        code => Some(Err(calls::exited(code, stdio.last_line.as_deref()))),
    }
}

/// Logs the stderr line not yet ended.
fn flush(state: &mut crate::invocation::HostState) {
    if let Some(mut stdio) = state.wasi.take() {
        stdio.flush_stderr(&mut |line| {
            let (level, text) = stdio::level_of(line);
            state.log_line(level, text);
        });
        state.wasi = Some(stdio);
    }
}
