//! One event's run: a fresh store and instance, the event written into the
//! guest, and the guest run in fuel slices so the caller can check the clock
//! (or move the run to another thread) between slices.
//!
//! The host functions the guest may import live here too; each one charges
//! fuel, so logging cannot be used to escape the CPU budget.

use crate::guest_log::{self, LogCount, LogRate};
use crate::limiter::{Hit, Limiter};
use crate::{Error, FunctionModule, Trace, output};
use fenn_abi::{Event, Response, abi};
use std::sync::Arc;
use wasmi::{
    Caller, Extern, Linker, Memory, Store, TrapCode, TypedFunc, TypedResumableCall,
    TypedResumableCallOutOfFuel,
};

/// Fuel for instantiating (a start function included) and allocating the
/// input, before the handler runs; this runs on the receiving task, so it
/// is as small as the inline slice. A guest that needs more to start is out
/// of fuel.
pub(crate) const SETUP_FUEL: u64 = INLINE_FUEL;
/// Fuel a guest may use on the receiving task before it moves to a worker
/// (the dispatcher's first slice).
pub const INLINE_FUEL: u64 = 200_000;

/// What a store carries for its one invocation.
pub(crate) struct HostState {
    pub(crate) limiter: Limiter,
    /// The function's name, for fenn's own lines about the run.
    pub(crate) function: Arc<str>,
    /// The invocation's number (`x-fenn-invocation`), on its log lines.
    pub(crate) invocation: u64,
    /// Its host calls beyond logging and the clock.
    pub(crate) calls: crate::calls::CallState,
    log_rate: Arc<LogRate>,
    pub(crate) log: LogCount,
    last_error: Option<String>,
    trace: Option<Arc<Trace>>,
    /// A WASI guest's streams and environment; `None` for ABI v1.
    pub(crate) wasi: Option<Box<crate::wasi::stdio::Stdio>>,
    /// Bytes a call's body moved, charged when it returns.
    pub(crate) fuel_debt: u64,
    /// Fuel calls cost beyond what their slice had left: taken from the
    /// budget when the slice ends.
    pub(crate) overdraft: u64,
    /// The invocation's budget left when the slice began: a call whose
    /// work would cost more is refused before it is done.
    pub(crate) budget_left: u64,
}

impl HostState {
    pub(crate) fn new(module: &FunctionModule) -> Self {
        let limits = &module.limits;
        Self {
            limiter: Limiter::new(
                limits.memory_bytes,
                limits.table_elements,
                module.guest_memory.clone(),
            ),
            function: module.name.clone(),
            invocation: 0,
            calls: crate::calls::CallState::new(
                limits.grants.clone(),
                module.services.clone(),
                std::time::Instant::now() + limits.timeout,
            ),
            log_rate: module.log_rate.clone(),
            log: LogCount::default(),
            last_error: None,
            trace: None,
            wasi: None,
            fuel_debt: 0,
            overdraft: 0,
            budget_left: limits.fuel,
        }
    }

    /// Writes one of the guest's log lines at `level`, within its limits.
    pub(crate) fn log_line(&mut self, level: abi::LogLevel, bytes: &[u8]) {
        let now = std::time::Instant::now();
        if !self.log.admit(bytes.len(), &self.log_rate, now) {
            // A panic message still names the trap's cause.
            if level == abi::LogLevel::Error {
                self.last_error = Some(guest_log::reason(bytes));
            }
            return;
        }
        let line = guest_log::escape(bytes);
        if let Some(trace) = &self.trace {
            trace.line(level.name(), &line, bytes.len() > guest_log::MAX_LINE);
        }
        // Each line names its function and invocation itself: a span per
        // invocation would cost every event the formatting of its fields,
        // logging or not.
        let (function, invocation) = (&*self.function, self.invocation);
        match level {
            abi::LogLevel::Debug => {
                tracing::debug!(target: "fenn::guest", function, invocation, "{line}");
            }
            abi::LogLevel::Info => {
                tracing::info!(target: "fenn::guest", function, invocation, "{line}");
            }
            abi::LogLevel::Warn => {
                tracing::warn!(target: "fenn::guest", function, invocation, "{line}");
            }
            abi::LogLevel::Error => {
                tracing::error!(target: "fenn::guest", function, invocation, "{line}");
                self.last_error = Some(guest_log::reason(bytes));
            }
        }
    }
}

impl Drop for HostState {
    fn drop(&mut self) {
        if let Some(trace) = &self.trace {
            let calls = std::mem::take(&mut self.calls.tally)
                .into_values()
                .collect();
            trace.ended(self.limiter.peak, self.log.dropped, calls);
        }
    }
}

/// Defines the `fenn` import module of ABI v1.
pub(crate) fn define_host_functions(linker: &mut Linker<HostState>) -> Result<(), Error> {
    fn define_error(error: impl std::fmt::Display) -> Error {
        Error::NotAbi {
            reason: format!("host functions: {error}"),
        }
    }
    linker
        .func_wrap(abi::IMPORT_MODULE, abi::IMPORT_LOG, host_log)
        .map_err(define_error)?;
    linker
        .func_wrap(
            abi::IMPORT_MODULE,
            abi::IMPORT_NOW_MS,
            |mut caller: Caller<'_, HostState>| -> Result<i64, wasmi::Error> {
                spend(&mut caller, 0)?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                Ok(i64::try_from(now.as_millis()).unwrap_or(i64::MAX))
            },
        )
        .map_err(define_error)?;
    crate::calls::define(linker)
}

/// Charges a host call's fixed cost and `bytes` units. What the slice
/// cannot cover empties it and is kept as an overdraft, taken from the
/// invocation's budget when the slice ends: the guest pauses at its next
/// instruction, and a call that moves much costs it all, however near
/// the slice's end it came.
pub(crate) fn spend(caller: &mut Caller<'_, HostState>, bytes: u64) -> Result<(), wasmi::Error> {
    let fuel = caller.get_fuel()?;
    let cost = crate::calls::CALL_FUEL.saturating_add(bytes);
    caller.set_fuel(fuel.saturating_sub(cost))?;
    let over = cost.saturating_sub(fuel);
    let state = caller.data_mut();
    state.overdraft = state.overdraft.saturating_add(over);
    Ok(())
}

fn host_log(
    mut caller: Caller<'_, HostState>,
    level: i32,
    ptr: i32,
    len: i32,
) -> Result<(), wasmi::Error> {
    spend(&mut caller, u64::from(len as u32))?;
    let memory = caller
        .get_export(abi::EXPORT_MEMORY)
        .and_then(Extern::into_memory)
        .ok_or_else(|| wasmi::Error::new("log: the guest has no memory export"))?;
    let start = ptr as u32 as usize;
    let end = start.saturating_add(len as u32 as usize);
    let (data, state) = memory.data_and_store_mut(&mut caller);
    let bytes = data
        .get(start..end)
        .ok_or_else(|| wasmi::Error::new("log: message lies outside the guest's memory"))?;
    state.log_line(abi::LogLevel::from_raw(level), bytes);
    Ok(())
}

/// Where a run stands between slices.
enum Pending {
    Start {
        handle: TypedFunc<(i32, i32), i64>,
        ptr: i32,
        len: i32,
    },
    OutOfFuel(TypedResumableCallOutOfFuel<i64>),
    /// A WASI guest's `_start` or `handle`.
    Wasi(TypedFunc<(), ()>),
    WasiOutOfFuel(TypedResumableCallOutOfFuel<()>),
}

/// Where a slice left the call: its result (ABI v1's packed output), a
/// pause with the fuel it needs to go on, or a host call's error.
enum Slice {
    Finished(Option<i64>),
    OutOfFuel(Pending, u64),
    HostTrap { exit: Option<i32>, reason: String },
}

/// An event's run, between two fuel slices.
pub struct Invocation {
    running: Running,
    pending: Pending,
}

/// The instance and its accounting, apart from where the call stands.
struct Running {
    store: Store<HostState>,
    memory: Memory,
    fuel_left: u64,
    fuel_budget: u64,
    limits: crate::Limits,
}

/// The result of running one slice.
pub enum Step {
    /// The run ended, with the function's response or why it failed.
    Done(Result<Response, Error>),
    /// The slice ran out; call [`Invocation::run`] again to go on.
    Paused(Box<Invocation>),
}

impl Invocation {
    /// Instantiates `module` in a fresh store and writes `event` into it.
    ///
    /// # Errors
    ///
    /// A guest failure while instantiating or allocating the input.
    pub fn start(module: &FunctionModule, event: &Event) -> Result<Self, Error> {
        Self::start_traced(module, event, None)
    }

    /// Like [`start`](Self::start), recording the guest's log lines and
    /// fuel in `trace`.
    ///
    /// # Errors
    ///
    /// A guest failure while instantiating or allocating the input.
    pub fn start_traced(
        module: &FunctionModule,
        event: &Event,
        trace: Option<Arc<Trace>>,
    ) -> Result<Self, Error> {
        if module.wasi.is_none() && crate::wasi::cgi::is_web(event) {
            return Err(Error::NotAbi {
                reason: "a route with web = true needs a WASI module (one with a '_start' \
                         export); this one is built for fenn's own ABI"
                    .into(),
            });
        }
        let input = match module.wasi {
            Some(_) => Vec::new(),
            None => abi::encode_event(event).map_err(|error| Error::BadEvent {
                reason: error.to_string(),
            })?,
        };
        let len = i32::try_from(input.len()).map_err(|_| Error::BadEvent {
            reason: format!("{} bytes do not fit a 32-bit guest", input.len()),
        })?;
        let mut state = HostState::new(module);
        state.trace = trace;
        if module.wasi.is_some() {
            state.wasi = Some(crate::wasi::streams(module, event)?);
        }
        state.invocation = (event.header(fenn_abi::event::HEADER_INVOCATION))
            .and_then(|number| number.parse().ok())
            .unwrap_or(0);
        state.calls.hops = (event.header(crate::calls::HEADER_HOPS))
            .and_then(|hops| hops.parse().ok())
            .unwrap_or(0);
        let mut store = Store::new(&module.engine, state);
        store.limiter(|state| &mut state.limiter);
        let budget = module.limits.fuel;
        let setup_grant = budget.min(SETUP_FUEL);
        let setup = (|| {
            store.set_fuel(setup_grant)?;
            let instance = module
                .linker
                .instantiate_and_start(&mut store, &module.module)?;
            let memory = instance
                .get_memory(&store, abi::EXPORT_MEMORY)
                .ok_or_else(|| wasmi::Error::new("no memory export"))?;
            if let Some(entry) = module.wasi {
                let func = crate::wasi::enter(&instance, &mut store, entry)?;
                return Ok::<_, wasmi::Error>((memory, Pending::Wasi(func)));
            }
            let alloc = instance.get_typed_func::<i32, i32>(&store, abi::EXPORT_ALLOC)?;
            let handle = instance.get_typed_func::<(i32, i32), i64>(&store, abi::EXPORT_HANDLE)?;
            let ptr = alloc.call(&mut store, len)?;
            memory.write(&mut store, ptr as u32 as usize, &input)?;
            Ok((memory, Pending::Start { handle, ptr, len }))
        })();
        let (memory, pending) = match setup {
            Ok(ready) => ready,
            // Out of fuel here means out of the setup grant, not the budget.
            Err(error) => return Err(classify(&store, &error, setup_grant, &module.limits)),
        };
        let spent = setup_grant - store.get_fuel().unwrap_or(0).min(setup_grant);
        let overdraft = std::mem::take(&mut store.data_mut().overdraft);
        let fuel_left = budget.saturating_sub(spent.saturating_add(overdraft));
        Ok(Self {
            running: Running {
                store,
                memory,
                fuel_left,
                fuel_budget: budget,
                limits: module.limits.clone(),
            },
            pending,
        })
    }

    /// Runs the guest for at most `slice` fuel.
    pub fn run(self, slice: u64) -> Step {
        let Self {
            mut running,
            pending,
        } = self;
        // wasmi charges a whole block (or a bulk memory operation) up front:
        // a paused call needs at least `required_fuel` to make progress, so
        // a slice is never smaller, and a budget that cannot cover it is spent.
        let required = match &pending {
            Pending::Start { .. } | Pending::Wasi(_) => 1,
            Pending::OutOfFuel(call) => call.required_fuel().max(1),
            Pending::WasiOutOfFuel(call) => call.required_fuel().max(1),
        };
        if required > running.fuel_left {
            return Step::Done(Err(Error::OutOfFuel {
                fuel: running.fuel_budget,
            }));
        }
        let grant = slice.max(required).min(running.fuel_left);
        if let Err(error) = running.store.set_fuel(grant) {
            return Step::Done(Err(Error::Trap {
                reason: error.to_string(),
            }));
        }
        running.store.data_mut().budget_left = running.fuel_left;
        let store = &mut running.store;
        let result = match pending {
            Pending::Start { handle, ptr, len } => handle
                .call_resumable(&mut *store, (ptr, len))
                .map(Slice::of_abi),
            Pending::OutOfFuel(call) => call.resume(&mut *store).map(Slice::of_abi),
            Pending::Wasi(func) => func.call_resumable(&mut *store, ()).map(Slice::of_wasi),
            Pending::WasiOutOfFuel(call) => call.resume(&mut *store).map(Slice::of_wasi),
        };
        let left_in_slice = running.store.get_fuel().unwrap_or(0);
        let overdraft = std::mem::take(&mut running.store.data_mut().overdraft);
        let used = (grant - left_in_slice.min(grant)).saturating_add(overdraft);
        if used > running.fuel_left {
            running.fuel_left = 0;
            return Step::Done(Err(Error::OutOfFuel {
                fuel: running.fuel_budget,
            }));
        }
        running.fuel_left -= used;
        match result {
            Ok(Slice::Finished(packed)) => Step::Done(running.read_output(packed)),
            Ok(Slice::OutOfFuel(pending, required)) if required <= running.fuel_left => {
                Step::Paused(Box::new(Self { running, pending }))
            }
            Ok(Slice::OutOfFuel(..)) => Step::Done(Err(Error::OutOfFuel {
                fuel: running.fuel_budget,
            })),
            Ok(Slice::HostTrap { exit, reason }) => Step::Done(
                running
                    .wasi_ended(exit)
                    .unwrap_or(Err(Error::Trap { reason })),
            ),
            Err(error) => Step::Done(running.wasi_ended(error.i32_exit_status()).unwrap_or_else(
                || {
                    Err(classify(
                        &running.store,
                        &error,
                        running.fuel_budget,
                        &running.limits,
                    ))
                },
            )),
        }
    }
}

impl Slice {
    fn trapped(error: &wasmi::Error) -> Self {
        Self::HostTrap {
            exit: error.i32_exit_status(),
            reason: error.to_string(),
        }
    }

    fn of_abi(call: TypedResumableCall<i64>) -> Self {
        match call {
            TypedResumableCall::Finished(packed) => Self::Finished(Some(packed)),
            TypedResumableCall::OutOfFuel(call) => {
                let required = call.required_fuel();
                Self::OutOfFuel(Pending::OutOfFuel(call), required)
            }
            TypedResumableCall::HostTrap(call) => Self::trapped(call.host_error()),
        }
    }

    fn of_wasi(call: TypedResumableCall<()>) -> Self {
        match call {
            TypedResumableCall::Finished(()) => Self::Finished(None),
            TypedResumableCall::OutOfFuel(call) => {
                let required = call.required_fuel();
                Self::OutOfFuel(Pending::WasiOutOfFuel(call), required)
            }
            TypedResumableCall::HostTrap(call) => Self::trapped(call.host_error()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(trace) = &self.store.data().trace {
            trace.fuel(self.fuel_budget - self.fuel_left);
        }
        let state = self.store.data();
        let dropped = state.log.dropped;
        if dropped > 0 {
            crate::limited!(
                warn,
                "dropped guest log lines",
                &state.function,
                function = %state.function,
                invocation = state.invocation,
                dropped,
                "dropped guest log lines over the limits ({} lines or {} bytes an event, {} lines a second a function)",
                guest_log::MAX_LINES,
                guest_log::MAX_BYTES,
                guest_log::RATE
            );
        }
    }
}

impl Running {
    /// The response: ABI v1's output at `packed`, or a WASI guest's stdout.
    fn read_output(&mut self, packed: Option<i64>) -> Result<Response, Error> {
        let Some(packed) = packed else {
            return crate::wasi::finish(self.store.data_mut());
        };
        let (ptr, len) = abi::unpack_output(packed);
        let start = ptr as usize;
        let bytes = self
            .memory
            .data(&self.store)
            .get(start..start.saturating_add(len as usize))
            .ok_or_else(|| Error::BadOutput {
                reason: format!("output of {len} bytes at {ptr} lies outside the guest's memory"),
            })?;
        output::decode(bytes, self.limits.max_response)
    }
}

impl Running {
    /// How a WASI guest's stopped run ended, when its streams decide:
    /// its exit (the response, when the code is 0) or an overlong stdout.
    fn wasi_ended(&mut self, exit: Option<i32>) -> Option<Result<Response, Error>> {
        let limits = &self.limits;
        crate::wasi::ended(self.store.data_mut(), exit, limits)
    }
}

/// Turns a wasmi error into the runtime's view of what went wrong.
fn classify(
    store: &Store<HostState>,
    error: &wasmi::Error,
    fuel: u64,
    limits: &crate::Limits,
) -> Error {
    match store.data().limiter.hit {
        Some(Hit::Memory) => {
            return Error::MemoryLimit {
                limit: limits.memory_bytes,
            };
        }
        Some(Hit::Table) => {
            return Error::TableLimit {
                limit: limits.table_elements,
            };
        }
        Some(Hit::Budget) => return Error::Overloaded,
        None => {}
    }
    if store.data().calls.past_deadline {
        return Error::Deadline {
            timeout: limits.timeout,
        };
    }
    match error.as_trap_code() {
        Some(TrapCode::StackOverflow) => Error::StackOverflow,
        Some(TrapCode::OutOfFuel) => Error::OutOfFuel { fuel },
        _ => {
            let reason = match &store.data().last_error {
                Some(line) => format!("{error} ({line})"),
                None => error.to_string(),
            };
            Error::Trap { reason }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Limits;

    /// An ABI v1 module whose `fenn_handle` body is `handle` (it must leave
    /// an i64 on the stack). Memory starts at one page; data at 1024 holds
    /// a JSON response.
    pub(crate) fn guest(handle: &str, limits: Limits) -> FunctionModule {
        let wat = format!(
            r#"(module
                 (import "fenn" "log" (func $log (param i32 i32 i32)))
                 (memory (export "memory") 1)
                 (data (i32.const 1024) "\01{{\"statusCode\":201,\"body\":\"made\"}}")
                 (func (export "fenn_abi_v1"))
                 (func (export "fenn_alloc") (param i32) (result i32) i32.const 4096)
                 (func $recurse (param i32) (result i32)
                   local.get 0 i32.const 1 i32.add call $recurse)
                 (func (export "fenn_handle") (param i32 i32) (result i64) {handle}))"#
        );
        FunctionModule::compile("t", &wat::parse_str(wat).unwrap(), limits).unwrap()
    }

    pub(crate) fn run_to_end(module: &FunctionModule) -> Result<Response, Error> {
        let mut invocation = Invocation::start(module, &Event::new("/t", "GET"))?;
        loop {
            match invocation.run(1_000_000) {
                Step::Done(result) => return result,
                Step::Paused(paused) => invocation = *paused,
            }
        }
    }

    // (ptr 1024, len 33): the JSON response in the data segment.
    const JSON_AT_1024: &str = "i64.const 4398046511137";

    #[test]
    fn a_json_answer_from_a_non_rust_guest_is_read() {
        let response = run_to_end(&guest(JSON_AT_1024, Limits::default())).unwrap();
        assert_eq!(
            (response.status_code, response.body.as_str()),
            (201, "made")
        );
    }

    #[test]
    fn an_endless_loop_runs_out_of_fuel_across_slices() {
        let limits = Limits {
            fuel: 3_500_000,
            ..Limits::default()
        };
        let module = guest("(loop $l (br $l)) i64.const 0", limits);
        let mut slices = 0;
        let mut invocation = Invocation::start(&module, &Event::default()).unwrap();
        let result = loop {
            slices += 1;
            match invocation.run(1_000_000) {
                Step::Done(result) => break result,
                Step::Paused(paused) => invocation = *paused,
            }
        };
        assert!(matches!(result, Err(Error::OutOfFuel { fuel: 3_500_000 })));
        assert_eq!(slices, 4, "3.5M fuel in 1M slices");
    }

    #[test]
    fn a_budget_that_cannot_cover_the_next_block_is_out_of_fuel_not_an_endless_pause() {
        // Each pass of this loop costs more than one fuel, so the budget ends
        // with a remainder too small for the next pass.
        let limits = Limits {
            fuel: 3_000_001,
            ..Limits::default()
        };
        let module = guest(
            "(loop $l (br_if $l (i32.eqz (i32.add (i32.const 0) (i32.const 0))))) i64.const 0",
            limits,
        );
        let mut slices = 0;
        let mut invocation = Invocation::start(&module, &Event::default()).unwrap();
        let result = loop {
            slices += 1;
            assert!(slices < 10, "paused without progress");
            match invocation.run(1_000_000) {
                Step::Done(result) => break result,
                Step::Paused(paused) => invocation = *paused,
            }
        };
        assert!(
            matches!(result, Err(Error::OutOfFuel { fuel: 3_000_001 })),
            "{result:?}"
        );
    }

    #[test]
    fn a_bulk_operation_larger_than_a_slice_gets_the_fuel_it_needs() {
        // Filling ~16 MiB costs far more than a 1 000-fuel slice, at once.
        let module = guest(
            r#"(drop (memory.grow (i32.const 255)))
               (memory.fill (i32.const 65536) (i32.const 7) (i32.const 16711680))
               i64.const 4398046511137"#,
            Limits::default(),
        );
        let mut invocation = Invocation::start(&module, &Event::default()).unwrap();
        let mut slices = 0;
        let result = loop {
            slices += 1;
            assert!(slices < 100, "paused without progress");
            match invocation.run(1_000) {
                Step::Done(result) => break result,
                Step::Paused(paused) => invocation = *paused,
            }
        };
        assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn unbounded_recursion_is_a_stack_overflow() {
        let limits = Limits {
            max_recursion_depth: 100,
            ..Limits::default()
        };
        let module = guest("i32.const 0 call $recurse drop i64.const 0", limits);
        assert!(matches!(run_to_end(&module), Err(Error::StackOverflow)));
    }

    #[test]
    fn growing_memory_past_the_limit_is_a_memory_limit() {
        let limits = Limits {
            memory_bytes: 4 << 16,
            ..Limits::default()
        };
        let module = guest(
            "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) i64.const 0",
            limits,
        );
        assert!(matches!(
            run_to_end(&module),
            Err(Error::MemoryLimit { limit: 262_144 })
        ));
    }

    #[test]
    fn growing_a_table_past_its_limit_is_a_table_limit_not_a_memory_limit() {
        let wat = r#"(module
             (memory (export "memory") 1)
             (table $t 1 funcref)
             (func (export "fenn_abi_v1"))
             (func (export "fenn_alloc") (param i32) (result i32) i32.const 4096)
             (func (export "fenn_handle") (param i32 i32) (result i64)
               (drop (table.grow $t (ref.null func) (i32.const 100)))
               i64.const 0))"#;
        let limits = Limits {
            table_elements: 50,
            ..Limits::default()
        };
        let module = FunctionModule::compile("t", &wat::parse_str(wat).unwrap(), limits).unwrap();
        let error = run_to_end(&module).unwrap_err();
        assert!(matches!(error, Error::TableLimit { limit: 50 }), "{error}");
    }

    #[test]
    fn a_looping_alloc_runs_out_of_the_setup_fuel_and_says_how_much_that_was() {
        let wat = r#"(module
             (memory (export "memory") 1)
             (func (export "fenn_abi_v1"))
             (func (export "fenn_alloc") (param i32) (result i32) (loop $l (br $l)) i32.const 0)
             (func (export "fenn_handle") (param i32 i32) (result i64) i64.const 0))"#;
        let module =
            FunctionModule::compile("t", &wat::parse_str(wat).unwrap(), Limits::default()).unwrap();
        let error = run_to_end(&module).unwrap_err();
        assert!(
            matches!(error, Error::OutOfFuel { fuel: SETUP_FUEL }),
            "{error}"
        );
        assert!(error.to_string().contains("200000 units"), "{error}");
    }

    #[test]
    fn an_output_outside_memory_is_bad_output() {
        let module = guest("i64.const 0x0000FFFF00000010", Limits::default());
        let error = run_to_end(&module).unwrap_err();
        assert!(matches!(error, Error::BadOutput { .. }), "{error}");
    }

    #[test]
    fn a_trap_is_reported_with_its_cause() {
        let module = guest("unreachable", Limits::default());
        let error = run_to_end(&module).unwrap_err();
        assert!(matches!(error, Error::Trap { .. }), "{error}");
        assert!(error.to_string().contains("unreachable"), "{error}");
    }

    #[test]
    fn a_log_call_outside_memory_traps_instead_of_reading_host_memory() {
        let module = guest(
            "i32.const 1 i32.const 65530 i32.const 100 call $log i64.const 0",
            Limits::default(),
        );
        let error = run_to_end(&module).unwrap_err();
        assert!(error.to_string().contains("outside"), "{error}");
    }

    #[test]
    fn each_event_gets_a_fresh_instance() {
        // The handler bumps a counter in memory and answers JSON holding it:
        // a reused instance would answer 202 the second time.
        let handle = r#"(i32.store8 (i32.const 1041) (i32.add (i32.load8_u (i32.const 1041)) (i32.const 1)))
                        i64.const 4398046511137"#;
        let module = guest(handle, Limits::default());
        for _ in 0..2 {
            // '1' + 1 = '2': "statusCode":202 on every run.
            assert_eq!(run_to_end(&module).unwrap().status_code, 202);
        }
    }
}
