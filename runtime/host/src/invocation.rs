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
    log: LogCount,
    last_error: Option<String>,
    trace: Option<Arc<Trace>>,
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
                charge(&mut caller, 0)?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                Ok(i64::try_from(now.as_millis()).unwrap_or(i64::MAX))
            },
        )
        .map_err(define_error)?;
    crate::calls::define(linker)
}

fn charge(caller: &mut Caller<'_, HostState>, bytes: u64) -> Result<(), wasmi::Error> {
    let fuel = caller.get_fuel()?;
    caller.set_fuel(fuel.saturating_sub(crate::calls::CALL_FUEL + bytes))
}

fn host_log(
    mut caller: Caller<'_, HostState>,
    level: i32,
    ptr: i32,
    len: i32,
) -> Result<(), wasmi::Error> {
    charge(&mut caller, u64::from(len as u32))?;
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
    let level = abi::LogLevel::from_raw(level);
    let now = std::time::Instant::now();
    if !state.log.admit(bytes.len(), &state.log_rate, now) {
        // A panic message still names the trap's cause.
        if level == abi::LogLevel::Error {
            state.last_error = Some(guest_log::reason(bytes));
        }
        return Ok(());
    }
    let line = guest_log::escape(bytes);
    if let Some(trace) = &state.trace {
        trace.line(level.name(), &line, bytes.len() > guest_log::MAX_LINE);
    }
    // Each line names its function and invocation itself: a span per
    // invocation would cost every event the formatting of its fields,
    // logging or not.
    let (function, invocation) = (&*state.function, state.invocation);
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
            state.last_error = Some(guest_log::reason(bytes));
        }
    }
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
        let input = abi::encode_event(event).map_err(|error| Error::BadEvent {
            reason: error.to_string(),
        })?;
        let len = i32::try_from(input.len()).map_err(|_| Error::BadEvent {
            reason: format!("{} bytes do not fit a 32-bit guest", input.len()),
        })?;
        let mut state = HostState::new(module);
        state.trace = trace;
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
            let alloc = instance.get_typed_func::<i32, i32>(&store, abi::EXPORT_ALLOC)?;
            let handle = instance.get_typed_func::<(i32, i32), i64>(&store, abi::EXPORT_HANDLE)?;
            let ptr = alloc.call(&mut store, len)?;
            memory.write(&mut store, ptr as u32 as usize, &input)?;
            Ok::<_, wasmi::Error>((memory, handle, ptr))
        })();
        let (memory, handle, ptr) = match setup {
            Ok(ready) => ready,
            // Out of fuel here means out of the setup grant, not the budget.
            Err(error) => return Err(classify(&store, &error, setup_grant, &module.limits)),
        };
        let fuel_left = budget - (setup_grant - store.get_fuel().unwrap_or(0).min(setup_grant));
        Ok(Self {
            running: Running {
                store,
                memory,
                fuel_left,
                fuel_budget: budget,
                limits: module.limits.clone(),
            },
            pending: Pending::Start { handle, ptr, len },
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
            Pending::Start { .. } => 1,
            Pending::OutOfFuel(call) => call.required_fuel().max(1),
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
        let result = match pending {
            Pending::Start { handle, ptr, len } => {
                handle.call_resumable(&mut running.store, (ptr, len))
            }
            Pending::OutOfFuel(call) => call.resume(&mut running.store),
        };
        let left_in_slice = running.store.get_fuel().unwrap_or(0);
        running.fuel_left -= grant - left_in_slice.min(grant);
        match result {
            Ok(TypedResumableCall::Finished(packed)) => Step::Done(running.read_output(packed)),
            Ok(TypedResumableCall::OutOfFuel(call))
                if call.required_fuel() <= running.fuel_left =>
            {
                Step::Paused(Box::new(Self {
                    running,
                    pending: Pending::OutOfFuel(call),
                }))
            }
            Ok(TypedResumableCall::OutOfFuel(_)) => Step::Done(Err(Error::OutOfFuel {
                fuel: running.fuel_budget,
            })),
            Ok(TypedResumableCall::HostTrap(call)) => Step::Done(Err(Error::Trap {
                reason: call.host_error().to_string(),
            })),
            Err(error) => Step::Done(Err(classify(
                &running.store,
                &error,
                running.fuel_budget,
                &running.limits,
            ))),
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
    fn read_output(&self, packed: i64) -> Result<Response, Error> {
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
