//! The host calls of [`fenn_abi::calls`]: variables and secrets, the
//! key-value store (`kv`), publishing and emitting (`send`). Each call
//! is charged fuel (a fixed cost and a unit a byte), counted against the
//! invocation's limits, and answers a refusal as an error code with its
//! reason kept for [`IMPORT_LAST_ERROR`](calls::IMPORT_LAST_ERROR); it
//! traps only when the guest is out of fuel or past its deadline.

mod kv;
mod send;

pub use kv::MAX_LIST;
pub use send::{
    HEADER_HOPS, HEADER_SOURCE, HEADER_SOURCE_INVOCATION, MAX_EMITS, MAX_EVENT, MAX_HOPS,
    MAX_PAYLOAD, MAX_PROPERTIES, MAX_PUBLISHES, MAX_TOPIC,
};

use crate::Error;
use crate::grants::Grants;
use crate::invocation::HostState;
use crate::services::Services;
use fenn_abi::{abi, calls};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use wasmi::{Caller, Extern, Linker, ValType};

/// Fuel charged for each call, plus one unit per byte it moves.
pub(crate) const CALL_FUEL: u64 = 1_000;
/// Fuel `fenn_alloc` may take when a call hands bytes back.
const ALLOC_FUEL: u64 = 100_000;
/// Host calls an invocation may make, of every kind together.
pub const MAX_CALLS: u32 = 10_000;

pub(crate) type Call<'a> = Caller<'a, HostState>;

/// One invocation's state of its host calls.
pub(crate) struct CallState {
    pub(crate) grants: Arc<Grants>,
    pub(crate) services: Arc<Services>,
    /// The reason the last refused call gave.
    pub(crate) last_error: String,
    pub(crate) calls: u32,
    pub(crate) published: u32,
    pub(crate) emitted: u32,
    /// Hops of the chain that led to this invocation (`x-fenn-hops`).
    pub(crate) hops: u32,
    pub(crate) deadline: Instant,
    /// Set when a call found the deadline passed: the run ends as
    /// [`Error::Deadline`].
    pub(crate) past_deadline: bool,
    /// Each call's count, failures and bytes, for the history.
    pub(crate) tally: BTreeMap<&'static str, HostCall>,
    /// Bytes the call under way has moved so far.
    moved: u64,
}

impl CallState {
    pub(crate) fn new(grants: Arc<Grants>, services: Arc<Services>, deadline: Instant) -> Self {
        Self {
            grants,
            services,
            last_error: String::new(),
            calls: 0,
            published: 0,
            emitted: 0,
            hops: 0,
            deadline,
            past_deadline: false,
            tally: BTreeMap::new(),
            moved: 0,
        }
    }
}

/// One host call's count in an invocation, as the history shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostCall {
    /// The call (`kv_set`, `publish`, ...).
    pub call: &'static str,
    /// Times it was made.
    pub count: u32,
    /// Times it was refused or trapped.
    pub failed: u32,
    /// Bytes of values, payloads and events it moved between the guest
    /// and the host.
    pub bytes: u64,
}

/// A refused call: its code and why.
pub(crate) struct Refused {
    code: i32,
    reason: String,
}

impl Refused {
    pub(crate) fn new(code: i32, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// Why a call's body did not answer a value: a refusal, or a trap.
pub(crate) enum Fail {
    Refused(Refused),
    Trap(wasmi::Error),
}

impl From<Refused> for Fail {
    fn from(refused: Refused) -> Self {
        Self::Refused(refused)
    }
}

impl From<wasmi::Error> for Fail {
    fn from(error: wasmi::Error) -> Self {
        Self::Trap(error)
    }
}

/// What a call's body answers.
pub(crate) type Answer<T> = Result<T, Fail>;

/// The signature of each host call, for the check at deploy.
pub(crate) fn signature(name: &str) -> Option<(&'static [ValType], &'static [ValType])> {
    use ValType::{I32, I64};
    Some(match name {
        abi::IMPORT_LOG => (&[I32, I32, I32], &[]),
        abi::IMPORT_NOW_MS => (&[], &[I64]),
        calls::IMPORT_VAR | calls::IMPORT_KV_GET => (&[I32, I32], &[I64]),
        calls::IMPORT_LAST_ERROR => (&[], &[I64]),
        calls::IMPORT_KV_SET => (&[I32, I32, I32, I32, I64], &[I32]),
        calls::IMPORT_KV_DELETE => (&[I32, I32], &[I32]),
        calls::IMPORT_KV_LIST => (&[I32, I32, I32], &[I64]),
        calls::IMPORT_KV_INCR => (&[I32, I32, I64, I32], &[I32]),
        calls::IMPORT_KV_CAS => (&[I32, I32, I32, I32, I32, I32], &[I32]),
        calls::IMPORT_PUBLISH => (&[I32, I32, I32, I32, I32, I32, I32], &[I32]),
        calls::IMPORT_EMIT => (&[I32, I32, I32, I32], &[I32]),
        _ => return None,
    })
}

/// Whether a call answers bytes, through the guest's `fenn_alloc`.
pub(crate) fn hands_back(name: &str) -> bool {
    matches!(
        name,
        calls::IMPORT_VAR | calls::IMPORT_KV_GET | calls::IMPORT_KV_LIST | calls::IMPORT_LAST_ERROR
    )
}

/// Whether a call may wait on I/O (the store's disk, the outbox, the journal
/// of emitted events): a module that imports one runs its events on worker
/// threads, never on the async runtime's.
pub(crate) fn blocks(name: &str) -> bool {
    name.starts_with("kv_") || name == calls::IMPORT_PUBLISH || name == calls::IMPORT_EMIT
}

/// Defines the calls of this module on `linker`.
pub(crate) fn define(linker: &mut Linker<HostState>) -> Result<(), Error> {
    let define_error = |error: wasmi::errors::LinkerError| Error::NotAbi {
        reason: format!("host functions: {error}"),
    };
    let module = abi::IMPORT_MODULE;
    linker
        .func_wrap(module, calls::IMPORT_VAR, var)
        .map_err(define_error)?;
    linker
        .func_wrap(module, calls::IMPORT_LAST_ERROR, last_error)
        .map_err(define_error)?;
    kv::define(linker).map_err(define_error)?;
    send::define(linker).map_err(define_error)?;
    Ok(())
}

/// Counts a call and charges it for `bytes`.
pub(crate) fn begin(caller: &mut Call<'_>, bytes: usize) -> Answer<()> {
    charge(caller, bytes)?;
    let state = &mut caller.data_mut().calls;
    state.calls += 1;
    if state.calls > MAX_CALLS {
        let reason = format!("over {MAX_CALLS} host calls in one invocation");
        return Err(Refused::new(calls::LIMIT, reason).into());
    }
    Ok(())
}

/// Charges the fixed cost and a unit a byte. A call that costs more than
/// the slice has left empties it: the guest pauses at its next
/// instruction and goes on in the next slice, the rest taken from its
/// budget then ([`spend`](crate::invocation::spend)), so a call near a
/// slice's end is not mistaken for a guest out of its whole budget.
pub(crate) fn charge(caller: &mut Call<'_>, bytes: usize) -> Answer<()> {
    crate::invocation::spend(caller, bytes as u64)?;
    caller.data_mut().calls.moved += bytes as u64;
    Ok(())
}

/// Before a call that may wait: a trap once the deadline has passed.
pub(crate) fn before_waiting(caller: &mut Call<'_>) -> Answer<()> {
    let state = &mut caller.data_mut().calls;
    if Instant::now() >= state.deadline {
        state.past_deadline = true;
        return Err(wasmi::Error::new("past the deadline in a host call").into());
    }
    Ok(())
}

/// The value, or a refusal's code (its reason kept for `last_error`).
pub(crate) fn settle<T: From<i32>>(
    caller: &mut Call<'_>,
    call: &'static str,
    answer: Answer<T>,
) -> Result<T, wasmi::Error> {
    let state = &mut caller.data_mut().calls;
    let tally = state.tally.entry(call).or_insert(HostCall {
        call,
        ..HostCall::default()
    });
    tally.count += 1;
    tally.failed += u32::from(answer.is_err());
    tally.bytes += std::mem::take(&mut state.moved);
    match answer {
        Ok(value) => Ok(value),
        Err(Fail::Trap(error)) => Err(error),
        Err(Fail::Refused(refused)) => {
            caller.data_mut().calls.last_error = refused.reason;
            Ok(T::from(refused.code))
        }
    }
}

/// `len` bytes of the guest's memory at `ptr`, at most `max`.
pub(crate) fn read(
    caller: &Call<'_>,
    ptr: i32,
    len: i32,
    max: usize,
    what: &str,
) -> Result<Vec<u8>, Refused> {
    let len = usize::try_from(len)
        .map_err(|_| Refused::new(calls::INVALID, format!("{what}: a negative length")))?;
    if len > max {
        return Err(Refused::new(
            calls::TOO_LARGE,
            format!("{what} is {len} bytes, over the limit of {max}"),
        ));
    }
    let memory = caller
        .get_export(abi::EXPORT_MEMORY)
        .and_then(Extern::into_memory)
        .ok_or_else(|| Refused::new(calls::INVALID, "the guest has no memory export"))?;
    let start = ptr as u32 as usize;
    memory
        .data(caller)
        .get(start..start.saturating_add(len))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            Refused::new(
                calls::INVALID,
                format!("{what} lies outside the guest's memory"),
            )
        })
}

/// `len` bytes at `ptr` as text.
pub(crate) fn read_text(
    caller: &Call<'_>,
    ptr: i32,
    len: i32,
    max: usize,
    what: &str,
) -> Result<String, Refused> {
    String::from_utf8(read(caller, ptr, len, max, what)?)
        .map_err(|_| Refused::new(calls::INVALID, format!("{what} is not UTF-8")))
}

/// Writes `bytes` where the guest's `fenn_alloc` makes room, and answers
/// where: `(ptr << 32) | len`.
pub(crate) fn hand_back(caller: &mut Call<'_>, bytes: &[u8]) -> Answer<i64> {
    let Ok(len) = i32::try_from(bytes.len()) else {
        return Err(Refused::new(calls::TOO_LARGE, "too large to hand back").into());
    };
    let alloc = caller
        .get_export(abi::EXPORT_ALLOC)
        .and_then(Extern::into_func)
        .ok_or_else(|| wasmi::Error::new("no fenn_alloc export"))?
        .typed::<i32, i32>(&*caller)?;
    // The slice may be spent (a call near its end): lend `fenn_alloc`
    // what it may take, and charge what it took.
    let before = caller.get_fuel()?;
    let lent = before.max(ALLOC_FUEL);
    caller.set_fuel(lent)?;
    let ptr = alloc.call(&mut *caller, len)?;
    let used = lent.saturating_sub(caller.get_fuel()?);
    caller.set_fuel(before.saturating_sub(used))?;
    let memory = caller
        .get_export(abi::EXPORT_MEMORY)
        .and_then(Extern::into_memory)
        .ok_or_else(|| wasmi::Error::new("no memory export"))?;
    if memory
        .write(&mut *caller, ptr as u32 as usize, bytes)
        .is_err()
    {
        let outside = "fenn_alloc made room outside the guest's memory";
        return Err(Refused::new(calls::INVALID, outside).into());
    }
    Ok(abi::pack_output(ptr as u32, bytes.len() as u32))
}

fn var(mut caller: Call<'_>, ptr: i32, len: i32) -> Result<i64, wasmi::Error> {
    let answer = (|| {
        begin(&mut caller, 0)?;
        let name = read_text(&caller, ptr, len, 256, "a variable's name")?;
        let vars = &caller.data().calls.grants.vars;
        let Some(value) = vars.get(&name).map(|var| var.value.clone()) else {
            let reason = format!("no variable or secret '{name}' in the function's definition");
            return Err(Refused::new(calls::NOT_FOUND, reason).into());
        };
        charge(&mut caller, value.len())?;
        hand_back(&mut caller, value.as_bytes())
    })();
    settle(&mut caller, calls::IMPORT_VAR, answer)
}

fn last_error(mut caller: Call<'_>) -> Result<i64, wasmi::Error> {
    let answer = (|| {
        begin(&mut caller, 0)?;
        let reason = std::mem::take(&mut caller.data_mut().calls.last_error);
        hand_back(&mut caller, reason.as_bytes())
    })();
    settle(&mut caller, calls::IMPORT_LAST_ERROR, answer)
}

#[cfg(test)]
mod tests;
