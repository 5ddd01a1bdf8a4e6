//! A function's module: compiled and checked once, at deploy ("online
//! compile"), so a module that cannot run is refused with a reason before any
//! event reaches it.

use crate::guest_log::LogRate;
use crate::invocation::{self, HostState};
use crate::limiter::{GuestMemory, Hit};
use crate::{Error, Limits};
use fenn_abi::abi;
use std::sync::Arc;
use wasmi::{CompilationMode, Config, Engine, ExternType, Linker, Module, Store, ValType};

/// A compiled module that fits the fenn ABI, with the limits it runs under.
#[derive(Clone)]
pub struct FunctionModule {
    pub(crate) name: Arc<str>,
    pub(crate) engine: Engine,
    pub(crate) module: Module,
    pub(crate) linker: Arc<Linker<HostState>>,
    pub(crate) limits: Limits,
    /// The budget of all running guests this module's instances draw from.
    pub(crate) guest_memory: Option<Arc<GuestMemory>>,
    pub(crate) log_rate: Arc<LogRate>,
    /// The services its host calls reach, bound by the dispatcher.
    pub(crate) services: Arc<crate::Services>,
    /// Whether it imports a host call that may wait on I/O (the store, the
    /// outbox): its events then run on worker threads from the start,
    /// never on the async runtime's.
    pub blocking_calls: bool,
    /// Whether its instantiation is heavy: it writes more than
    /// [`Census::HEAVY_START_BYTES`](crate::census::Census::HEAVY_START_BYTES)
    /// or is estimated at more than
    /// [`Census::INLINE_WORK`](crate::census::Census::INLINE_WORK). Its
    /// events then start on a worker thread, drawing on the function's
    /// worker share, so that the work fuel does not meter cannot slow
    /// other functions. Decided from the module's counts alone, never from
    /// a timing, so that the same module is decided the same way at every
    /// deploy, however loaded the device.
    pub heavy_start: bool,
    /// How a WASI guest is entered; `None` for an ABI v1 module.
    pub wasi: Option<crate::wasi::Entry>,
    /// How long its one trial instantiation took at deploy: a figure to
    /// show, not one anything is decided on.
    pub instantiation: std::time::Duration,
    /// The deployed version it is (0 for a function of the config file),
    /// as the invocation history names it.
    pub version: u64,
}

impl std::fmt::Debug for FunctionModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionModule")
            .field("name", &self.name)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// What a module exports and imports, as `fenn check` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleInfo {
    /// `name: type` of every export.
    pub exports: Vec<String>,
    /// `module.name: type` of every import.
    pub imports: Vec<String>,
}

impl FunctionModule {
    /// Compiles `wasm` and checks it against ABI v1 and `limits`.
    ///
    /// # Errors
    ///
    /// [`Error::ModuleTooLarge`], [`Error::InvalidModule`] or
    /// [`Error::NotAbi`], each with a reason a person can act on.
    pub fn compile(name: &str, wasm: &[u8], limits: Limits) -> Result<Self, Error> {
        if wasm.len() > limits.module_bytes {
            return Err(Error::ModuleTooLarge {
                size: wasm.len(),
                limit: limits.module_bytes,
            });
        }
        // Eager: every function body is translated here, once. With lazy
        // translation wasmi charges the translation to the fuel of the first
        // event that calls a function, and running out mid-translation is
        // not resumable; eager keeps per-event fuel deterministic.
        let mut config = Config::default();
        config
            .consume_fuel(true)
            .set_max_recursion_depth(limits.max_recursion_depth)
            .compilation_mode(CompilationMode::Eager);
        let engine = Engine::new(&config);
        crate::census::check_nesting(wasm)?;
        let module = Module::new(&engine, wasm).map_err(|error| invalid(&error))?;
        let (blocking_calls, wasi) = check_abi(&module, &limits.grants)?;
        let census = crate::census::Census::of(wasm)?;
        census.check()?;
        let mut linker = Linker::new(&engine);
        invocation::define_host_functions(&mut linker)?;
        if wasi.is_some() {
            crate::wasi::calls::define(&mut linker).map_err(|error| Error::NotAbi {
                reason: format!("WASI calls: {error}"),
            })?;
        }
        let compiled = Self {
            name: name.into(),
            engine,
            module,
            linker: Arc::new(linker),
            limits,
            guest_memory: None,
            log_rate: Arc::new(LogRate::new()),
            services: Arc::default(),
            blocking_calls,
            heavy_start: false,
            wasi,
            instantiation: std::time::Duration::ZERO,
            version: 0,
        };
        let mut compiled = compiled;
        let started = std::time::Instant::now();
        compiled.trial_instantiate()?;
        compiled.instantiation = started.elapsed();
        compiled.heavy_start = census.start_bytes > crate::census::Census::HEAVY_START_BYTES
            || census.instantiation_work() > crate::census::Census::INLINE_WORK;
        Ok(compiled)
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limits it runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What the module exports and imports.
    pub fn info(&self) -> ModuleInfo {
        info(&self.module)
    }

    /// Instantiates once without running anything, so that unresolvable
    /// imports and an initial memory over the limit fail at deploy.
    fn trial_instantiate(&self) -> Result<(), Error> {
        let mut store = Store::new(&self.engine, HostState::new(self));
        store.limiter(|state| &mut state.limiter);
        store
            .set_fuel(self.limits.fuel.min(invocation::SETUP_FUEL))
            .map_err(|error| Error::NotAbi {
                reason: error.to_string(),
            })?;
        match self.linker.instantiate_and_start(&mut store, &self.module) {
            Ok(_) => Ok(()),
            Err(_) if store.data().limiter.hit == Some(Hit::Table) => Err(Error::TableLimit {
                limit: self.limits.table_elements,
            }),
            Err(_) if store.data().limiter.hit.is_some() => Err(Error::MemoryLimit {
                limit: self.limits.memory_bytes,
            }),
            Err(error) if error.as_trap_code() == Some(wasmi::TrapCode::OutOfFuel) => {
                Err(Error::NotAbi {
                    reason: format!(
                        "its start function does not finish within {} fuel",
                        invocation::SETUP_FUEL
                    ),
                })
            }
            Err(error) => Err(Error::NotAbi {
                reason: error.to_string(),
            }),
        }
    }
}

/// Why bytes that do not start as a module does are refused, before the
/// compiler's own reason: what a person needs to hear.
pub const NOT_WASM: &str = "not a WebAssembly module (a .wasm file starts with the bytes \\0asm)";

/// Whether `bytes` start as a WebAssembly module does.
pub fn is_wasm(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\0asm")
}

/// Compiles `wasm` on its own and lists its exports and imports, whether or
/// not it fits the ABI (what `fenn check` prints before its verdict).
///
/// # Errors
///
/// [`Error::InvalidModule`] when it does not compile.
pub fn inspect(wasm: &[u8]) -> Result<ModuleInfo, Error> {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm).map_err(|error| invalid(&error))?;
    Ok(info(&module))
}

/// The compiler's reason, escaped: it may quote a name from the module.
fn invalid(error: &wasmi::Error) -> Error {
    Error::InvalidModule {
        reason: escaped(&error.to_string()),
    }
}

/// A name or text from a module, as a log line shows it: a terminal escape
/// or a newline in it is written as an escape, so that printing it cannot
/// drive a terminal or forge a line.
fn escaped(text: &str) -> String {
    crate::guest_log::escape(text.as_bytes())
}

fn info(module: &Module) -> ModuleInfo {
    ModuleInfo {
        exports: module
            .exports()
            .map(|export| format!("{}: {}", escaped(export.name()), describe(export.ty())))
            .collect(),
        imports: module
            .imports()
            .map(|import| {
                format!(
                    "{}.{}: {}",
                    escaped(import.module()),
                    escaped(import.name()),
                    describe(import.ty())
                )
            })
            .collect(),
    }
}

/// Checks the exports and imports of ABI v1, or of a WASI guest, without
/// running anything, the imports against the function's `grants`; whether
/// it imports a call that may wait on I/O, and how a WASI guest is
/// entered.
fn check_abi(
    module: &Module,
    grants: &crate::Grants,
) -> Result<(bool, Option<crate::wasi::Entry>), Error> {
    let wasi = module.get_export(abi::EXPORT_ABI_V1).is_none() && crate::wasi::is_wasi(module);
    if wasi {
        let entry = crate::wasi::check_entry(module)?;
        let blocking = check_imports(module, grants, true)?;
        return Ok((blocking, Some(entry)));
    }
    check_exports(module)?;
    Ok((check_imports(module, grants, false)?, None))
}

/// Checks ABI v1's exports.
fn check_exports(module: &Module) -> Result<(), Error> {
    let not_abi = |reason: String| Error::NotAbi { reason };
    let func = |name: &str, params: &[ValType], results: &[ValType]| -> Result<(), Error> {
        match module.get_export(name) {
            Some(ExternType::Func(ty)) if ty.params() == params && ty.results() == results => {
                Ok(())
            }
            Some(other) => Err(not_abi(format!(
                "export '{name}' is {}, expected func{params:?} -> {results:?}",
                describe(&other)
            ))),
            None => Err(not_abi(format!(
                "missing export '{name}' (build it with fenn_sdk::export!, build a WASI \
                 module with a '_start' export, or see the ABIs in functions/README.md)"
            ))),
        }
    };
    func(abi::EXPORT_ABI_V1, &[], &[])?;
    func(abi::EXPORT_ALLOC, &[ValType::I32], &[ValType::I32])?;
    func(
        abi::EXPORT_HANDLE,
        &[ValType::I32, ValType::I32],
        &[ValType::I64],
    )?;
    match module.get_export(abi::EXPORT_MEMORY) {
        Some(ExternType::Memory(_)) => {}
        _ => {
            let reason = format!("missing memory export '{}'", abi::EXPORT_MEMORY);
            return Err(Error::NotAbi { reason });
        }
    }
    Ok(())
}

/// Checks each import: a host call fenn provides, with its type, that
/// `grants` allow (or, for a WASI guest, a preview 1 call fenn
/// provides); whether one may wait on I/O.
fn check_imports(module: &Module, grants: &crate::Grants, wasi: bool) -> Result<bool, Error> {
    let not_abi = |reason: String| Error::NotAbi { reason };
    let mut blocking = false;
    for import in module.imports() {
        let name = import.name();
        if wasi && import.module() == crate::wasi::MODULE {
            match crate::wasi::refuse_import(name, import.ty()) {
                Some(reason) => return Err(not_abi(reason)),
                None => continue,
            }
        }
        let signature = (import.module() == abi::IMPORT_MODULE)
            .then(|| crate::calls::signature(name))
            .flatten();
        let Some((params, results)) = signature else {
            return Err(not_abi(format!(
                "imports '{}.{}', which fenn does not provide (the host calls are listed in functions/README.md)",
                escaped(import.module()),
                escaped(name),
            )));
        };
        match import.ty() {
            ExternType::Func(ty) if ty.params() == params && ty.results() == results => {}
            other => {
                return Err(not_abi(format!(
                    "imports '{}.{name}' as {}, expected func{params:?} -> {results:?}",
                    abi::IMPORT_MODULE,
                    describe(other)
                )));
            }
        }
        grants
            .check_import(name)
            .map_err(|reason| Error::NotGranted { reason })?;
        if wasi && crate::calls::hands_back(name) && module.get_export(abi::EXPORT_ALLOC).is_none()
        {
            return Err(not_abi(format!(
                "imports '{}.{name}', which hands its answer back through the guest's own \
                 '{}(len) -> ptr' export; export one (malloc will do)",
                abi::IMPORT_MODULE,
                abi::EXPORT_ALLOC
            )));
        }
        blocking |= crate::calls::blocks(name);
    }
    Ok(blocking)
}

fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => format!("func{:?} -> {:?}", f.params(), f.results()),
        ExternType::Memory(m) => format!("memory(min {} pages)", m.minimum()),
        ExternType::Table(t) => format!("table(min {})", t.minimum()),
        ExternType::Global(g) => format!("global({:?})", g.content()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_wat(wat: &str) -> Result<FunctionModule, Error> {
        FunctionModule::compile("t", &wat::parse_str(wat).unwrap(), Limits::default())
    }

    /// An ABI v1 module, with `import` added, `pages` of initial memory and
    /// `alloc_param` as the type of fenn_alloc's parameter.
    fn abi_module(import: &str, pages: u32, alloc_param: &str) -> String {
        format!(
            r#"(module {import}
                 (memory (export "memory") {pages})
                 (func (export "fenn_abi_v1"))
                 (func (export "fenn_alloc") (param {alloc_param}) (result i32) i32.const 0)
                 (func (export "fenn_handle") (param i32 i32) (result i64) i64.const 0))"#
        )
    }

    #[test]
    fn garbage_bytes_are_refused_as_not_compiling() {
        let error = FunctionModule::compile("t", b"\0asm garbage", Limits::default()).unwrap_err();
        assert!(matches!(error, Error::InvalidModule { .. }), "{error}");
    }

    #[test]
    fn a_module_without_the_abi_names_the_missing_export() {
        let error = compile_wat(r#"(module (func (export "run")))"#).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("missing export 'fenn_abi_v1'"),
            "{message}"
        );
    }

    #[test]
    fn a_wrong_signature_is_refused_with_the_expected_one() {
        let error = compile_wat(&abi_module("", 1, "i64")).unwrap_err();
        assert!(error.to_string().contains("fenn_alloc"), "{error}");
    }

    #[test]
    fn an_unknown_import_is_refused_at_deploy() {
        let error =
            compile_wat(&abi_module(r#"(import "env" "system" (func))"#, 1, "i32")).unwrap_err();
        assert!(error.to_string().contains("'env.system'"), "{error}");
    }

    #[test]
    fn an_initial_memory_over_the_limit_is_refused_at_deploy() {
        let error = compile_wat(&abi_module("", 1000, "i32")).unwrap_err();
        assert!(matches!(error, Error::MemoryLimit { .. }), "{error}");
    }

    #[test]
    fn a_start_function_that_never_ends_is_refused_at_deploy() {
        let limits = Limits {
            fuel: u64::MAX,
            ..Limits::default()
        };
        let wat = abi_module("(func $spin (loop $l (br $l))) (start $spin)", 1, "i32");
        let error =
            FunctionModule::compile("t", &wat::parse_str(wat).unwrap(), limits).unwrap_err();
        assert!(
            error.to_string().contains("start function does not finish"),
            "{error}"
        );
    }

    #[test]
    fn names_holding_terminal_escapes_are_shown_escaped() {
        let wat = abi_module(
            r#"(import "env" "\1b[2J\0a\1b[32mok" (func)) (func (export "\1b]0;owned\07"))"#,
            1,
            "i32",
        );
        let wasm = wat::parse_str(wat).unwrap();
        let info = inspect(&wasm).unwrap();
        let shown = format!(
            "{}\n{}\n{}",
            info.exports.join("\n"),
            info.imports.join("\n"),
            compile_wat_bytes(&wasm)
        );
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "{shown}"
        );
        assert!(
            info.exports
                .iter()
                .any(|e| e.starts_with(r"\u{1b}]0;owned\u{7}: ")),
            "{info:?}"
        );
        assert!(shown.contains(r"'env.\u{1b}[2J\n\u{1b}[32mok'"), "{shown}");
    }

    fn compile_wat_bytes(wasm: &[u8]) -> String {
        FunctionModule::compile("t", wasm, Limits::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_module_that_fits_is_accepted() {
        let module = compile_wat(&abi_module("", 1, "i32")).unwrap();
        assert!(
            module
                .info()
                .exports
                .iter()
                .any(|e| e == "fenn_handle: func[I32, I32] -> [I64]")
        );
    }

    #[test]
    fn a_module_over_the_size_limit_is_refused_before_compiling() {
        let limits = Limits {
            module_bytes: 4,
            ..Limits::default()
        };
        let error = FunctionModule::compile("t", b"\0asm\x01\0\0\0", limits).unwrap_err();
        assert!(matches!(error, Error::ModuleTooLarge { size: 8, limit: 4 }));
    }
}

#[cfg(test)]
pub(crate) mod declared {
    use super::*;

    /// An ABI module that answers 200 "ok", declaring `functions`,
    /// `exports`, `globals`, `segments` element segments of `items` table
    /// elements in all, and `data` data segments.
    pub(crate) fn declaring(
        functions: usize,
        exports: usize,
        globals: usize,
        (segments, items): (usize, usize),
        data: usize,
    ) -> Vec<u8> {
        let answer = r#"\01{\"statusCode\":200,\"body\":\"ok\"}"#;
        let mut wat = format!(
            r#"(module (memory (export "memory") 1) (func (export "fenn_abi_v1"))
                 (func (export "fenn_alloc") (param i32) (result i32) i32.const 1024)
                 (func $h (export "fenn_handle") (param i32 i32) (result i64)
                   i64.const {})"#,
            (65_000u64 << 32) | 31
        );
        for i in 0..functions {
            wat.push_str(&format!("(func $f{i})"));
        }
        for i in 0..exports {
            wat.push_str(&format!("(export \"e{i}\" (func $h))"));
        }
        for _ in 0..globals {
            wat.push_str("(global (mut i32) (i32.const 0))");
        }
        wat.push_str(&format!("(table {} funcref)", items.max(1)));
        let per = items.checked_div(segments).unwrap_or(0);
        for s in 0..segments {
            wat.push_str(&format!(
                "(elem (i32.const {}) {})",
                s * per,
                "$h ".repeat(per)
            ));
        }
        for i in 0..data {
            wat.push_str(&format!("(data (i32.const {}) \"x\")", 2048 + i % 30_000));
        }
        wat.push_str(&format!("(data (i32.const 65000) \"{answer}\"))"));
        wat::parse_str(wat).unwrap()
    }

    #[test]
    fn a_module_heavy_to_instantiate_starts_its_events_on_a_worker() {
        let limits = Limits::default();
        let light = declaring(300, 5, 10, (1, 50), 10);
        let census = crate::census::Census::of(&light).unwrap();
        assert!(census.instantiation_work() < crate::census::Census::INLINE_WORK);
        // Its counts decide, not a timing: inline however slow the trial.
        let light = FunctionModule::compile("t", &light, limits.clone()).unwrap();
        assert!(!light.heavy_start);
        // Within every count limit, yet over half a millisecond an event.
        let heavy = declaring(19_993, 992, 1_000, (1_000, 10_000), 9_998);
        let census = crate::census::Census::of(&heavy).unwrap();
        assert!(census.check().is_ok());
        assert!(census.instantiation_work() > 10 * crate::census::Census::INLINE_WORK);
        let heavy = FunctionModule::compile("t", &heavy, limits).unwrap();
        assert!(heavy.heavy_start);
        assert!(heavy.instantiation > std::time::Duration::ZERO);
    }
}
