//! The preview 1 calls, on wasmi's linker. Each charges fuel (a fixed
//! cost and a unit a byte it moves); a pointer outside the guest's memory
//! answers `EFAULT`, a descriptor other than 0, 1 and 2 `EBADF`.

use super::errno::{BADF, FAULT, INVAL, NOSYS, SPIPE, SUCCESS};
use super::stdio::{Stdio, level_of};
use super::{CALLS, MODULE, signature};
use crate::Error;
use crate::invocation::{HostState, spend};
use fenn_abi::abi;
use wasmi::{Caller, Extern, FuncType, Linker, Val};

type Call<'a> = Caller<'a, HostState>;
type Answer = Result<i32, wasmi::Error>;

/// Fuel a random byte costs: the system's generator does some 16 times the
/// work of an interpreted instruction for each.
const RANDOM_FUEL: u64 = 16;
/// The most buffers one read or write may name.
const MAX_IOVS: u32 = 1024;
/// `filetype::character_device`: what stdin, stdout and stderr are.
const CHARACTER_DEVICE: u8 = 2;

/// Defines every call of [`CALLS`] on `linker`.
pub(crate) fn define(linker: &mut Linker<HostState>) -> Result<(), wasmi::errors::LinkerError> {
    linker.func_wrap(MODULE, "fd_write", fd_write)?;
    linker.func_wrap(MODULE, "fd_read", fd_read)?;
    linker.func_wrap(MODULE, "environ_sizes_get", |c: Call<'_>, n, s| {
        sizes(c, n, s, |w| (w.environ_count, w.environ.len()))
    })?;
    linker.func_wrap(MODULE, "environ_get", |c: Call<'_>, p, b| {
        strings(c, p, b, |w| &w.environ)
    })?;
    linker.func_wrap(MODULE, "args_sizes_get", |c: Call<'_>, n, s| {
        sizes(c, n, s, |w| (1, w.args.len()))
    })?;
    linker.func_wrap(MODULE, "args_get", |c: Call<'_>, p, b| {
        strings(c, p, b, |w| &w.args)
    })?;
    linker.func_wrap(MODULE, "clock_res_get", clock_res_get)?;
    linker.func_wrap(MODULE, "clock_time_get", clock_time_get)?;
    linker.func_wrap(MODULE, "random_get", random_get)?;
    linker.func_wrap(MODULE, "proc_exit", |mut c: Call<'_>, code: i32| {
        spend(&mut c, 0)?;
        Err::<(), _>(wasmi::Error::i32_exit(code))
    })?;
    linker.func_wrap(MODULE, "fd_fdstat_get", fd_fdstat_get)?;
    linker.func_wrap(MODULE, "fd_filestat_get", fd_filestat_get)?;
    linker.func_wrap(MODULE, "sched_yield", |mut c: Call<'_>| -> Answer {
        spend(&mut c, 0)?;
        Ok(SUCCESS)
    })?;
    let special = [
        "fd_write",
        "fd_read",
        "environ_sizes_get",
        "environ_get",
        "args_sizes_get",
        "args_get",
        "clock_res_get",
        "clock_time_get",
        "random_get",
        "proc_exit",
        "fd_fdstat_get",
        "fd_filestat_get",
        "sched_yield",
    ];
    for (name, _) in CALLS.iter().filter(|(name, _)| !special.contains(name)) {
        let Some((params, results)) = signature(name) else {
            continue;
        };
        let answer = stub_answer(name);
        linker.func_new(
            MODULE,
            name,
            FuncType::new(params, results),
            move |mut caller, args, out| {
                spend(&mut caller, 0)?;
                let stdio = args.first().and_then(Val::i32).is_some_and(is_stdio);
                out[0] = Val::I32(match answer {
                    Stub::Descriptor if stdio => SPIPE,
                    Stub::Descriptor | Stub::NoDirectory => BADF,
                    Stub::StdioOnly if stdio => SUCCESS,
                    Stub::StdioOnly => BADF,
                    Stub::NoSystem => NOSYS,
                });
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// What a call fenn does not carry out answers.
#[derive(Clone, Copy)]
enum Stub {
    /// An operation on a file: `ESPIPE` on stdio, `EBADF` on anything else.
    Descriptor,
    /// Nothing to do on stdio (close, flags, sync): success there.
    StdioOnly,
    /// A path or a preopened directory: there are none.
    NoDirectory,
    /// Signals and polling: not provided.
    NoSystem,
}

fn stub_answer(name: &str) -> Stub {
    match name {
        "fd_close" | "fd_fdstat_set_flags" | "fd_sync" | "fd_datasync" => Stub::StdioOnly,
        "poll_oneoff" | "proc_raise" => Stub::NoSystem,
        name if name.starts_with("path_") || name.starts_with("fd_prestat") => Stub::NoDirectory,
        _ => Stub::Descriptor,
    }
}

fn is_stdio(fd: i32) -> bool {
    (0..=2).contains(&fd)
}

/// The guest's memory and its WASI streams, for a call's body; `None`
/// when the module has either missing (not a WASI invocation).
fn with_stdio(
    caller: &mut Call<'_>,
    body: impl FnOnce(&mut [u8], &mut Stdio, &mut HostState) -> Answer,
) -> Answer {
    let Some(memory) = caller
        .get_export(abi::EXPORT_MEMORY)
        .and_then(Extern::into_memory)
    else {
        return Ok(NOSYS);
    };
    let (data, state) = memory.data_and_store_mut(caller);
    let Some(mut stdio) = state.wasi.take() else {
        return Ok(NOSYS);
    };
    let answer = body(data, &mut stdio, state);
    state.wasi = Some(stdio);
    answer
}

fn put(data: &mut [u8], ptr: i32, bytes: &[u8]) -> Result<(), i32> {
    let start = ptr as u32 as usize;
    data.get_mut(start..start.saturating_add(bytes.len()))
        .ok_or(FAULT)?
        .copy_from_slice(bytes);
    Ok(())
}

fn get_u32(data: &[u8], at: usize) -> Result<u32, i32> {
    let bytes = data.get(at..at.saturating_add(4)).ok_or(FAULT)?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// The buffers `(start, len)` an iovec array names, each within memory.
fn iovecs(data: &[u8], ptr: i32, count: i32) -> Result<Vec<(usize, usize)>, i32> {
    let count = count as u32;
    if count > MAX_IOVS {
        return Err(INVAL);
    }
    (0..count as usize)
        .map(|i| {
            let at = (ptr as u32 as usize).saturating_add(i * 8);
            let start = get_u32(data, at)? as usize;
            let len = get_u32(data, at + 4)? as usize;
            match start.checked_add(len) {
                Some(end) if end <= data.len() => Ok((start, len)),
                _ => Err(FAULT),
            }
        })
        .collect()
}

fn settle(answer: Result<i32, i32>) -> Answer {
    Ok(answer.unwrap_or_else(|errno| errno))
}

fn fd_write(mut caller: Call<'_>, fd: i32, iovs: i32, count: i32, written: i32) -> Answer {
    let answer = with_stdio(&mut caller, |data, stdio, state| {
        if fd != 1 && fd != 2 {
            return Ok(BADF);
        }
        let buffers = match iovecs(data, iovs, count) {
            Ok(buffers) => buffers,
            Err(errno) => return Ok(errno),
        };
        let total: usize = buffers.iter().map(|(_, len)| len).sum();
        for &(start, len) in &buffers {
            let bytes = &data[start..start + len];
            if fd == 1 {
                if !stdio.write_stdout(bytes) {
                    return Err(wasmi::Error::new("stdout is over max_response"));
                }
            } else if state.log.spent() {
                // The event's log lines are spent: nothing more is read.
                state.log.drop_unread();
            } else {
                stdio.write_stderr(bytes, &mut |line| {
                    let (level, text) = level_of(line);
                    state.log_line(level, text);
                });
            }
        }
        state.fuel_debt = state.fuel_debt.saturating_add(total as u64);
        settle(put(data, written, &(total as u32).to_le_bytes()).map(|()| SUCCESS))
    });
    spend_debt(&mut caller)?;
    answer
}

fn fd_read(mut caller: Call<'_>, fd: i32, iovs: i32, count: i32, read: i32) -> Answer {
    let answer = with_stdio(&mut caller, |data, stdio, state| {
        if fd != 0 {
            return Ok(BADF);
        }
        let buffers = match iovecs(data, iovs, count) {
            Ok(buffers) => buffers,
            Err(errno) => return Ok(errno),
        };
        let mut total = 0usize;
        for (start, len) in buffers {
            let bytes = stdio.read(len);
            let n = bytes.len();
            data[start..start + n].copy_from_slice(bytes);
            total += n;
            if n < len {
                break;
            }
        }
        state.fuel_debt = state.fuel_debt.saturating_add(total as u64);
        settle(put(data, read, &(total as u32).to_le_bytes()).map(|()| SUCCESS))
    });
    spend_debt(&mut caller)?;
    answer
}

/// Charges a call, with the bytes its body recorded.
fn spend_debt(caller: &mut Call<'_>) -> Result<(), wasmi::Error> {
    let bytes = std::mem::take(&mut caller.data_mut().fuel_debt);
    spend(caller, bytes)
}

/// `*count` and `*size` of the environment or the arguments.
fn sizes(
    mut caller: Call<'_>,
    count: i32,
    size: i32,
    of: impl FnOnce(&Stdio) -> (usize, usize),
) -> Answer {
    spend(&mut caller, 0)?;
    with_stdio(&mut caller, |data, stdio, _| {
        let (n, bytes) = of(stdio);
        settle(
            put(data, count, &(n as u32).to_le_bytes())
                .and_then(|()| put(data, size, &(bytes as u32).to_le_bytes()))
                .map(|()| SUCCESS),
        )
    })
}

/// The environment's or the arguments' strings at `buf`, and a pointer to
/// each at `ptrs`.
fn strings(
    mut caller: Call<'_>,
    ptrs: i32,
    buf: i32,
    of: impl FnOnce(&Stdio) -> &Vec<u8>,
) -> Answer {
    let answer = with_stdio(&mut caller, |data, stdio, state| {
        let bytes = of(stdio);
        state.fuel_debt = bytes.len() as u64;
        let mut written = put(data, buf, bytes);
        let mut offset = 0u32;
        for (i, string) in bytes.split_inclusive(|&b| b == 0).enumerate() {
            let at = (ptrs as u32).wrapping_add(4 * i as u32) as i32;
            let ptr = (buf as u32).wrapping_add(offset);
            written = written.and_then(|()| put(data, at, &ptr.to_le_bytes()));
            offset += string.len() as u32;
        }
        settle(written.map(|()| SUCCESS))
    });
    spend_debt(&mut caller)?;
    answer
}

fn clock_res_get(mut caller: Call<'_>, id: i32, out: i32) -> Answer {
    spend(&mut caller, 0)?;
    if !(0..=3).contains(&id) {
        return Ok(INVAL);
    }
    with_stdio(&mut caller, |data, _, _| {
        settle(put(data, out, &1_000u64.to_le_bytes()).map(|()| SUCCESS))
    })
}

fn clock_time_get(mut caller: Call<'_>, id: i32, _precision: i64, out: i32) -> Answer {
    spend(&mut caller, 0)?;
    with_stdio(&mut caller, |data, stdio, _| {
        let nanos = match id {
            0 => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
            1 => origin().elapsed(),
            2 | 3 => stdio.started.elapsed(),
            _ => return Ok(INVAL),
        };
        let nanos = u64::try_from(nanos.as_nanos()).unwrap_or(u64::MAX);
        settle(put(data, out, &nanos.to_le_bytes()).map(|()| SUCCESS))
    })
}

/// The monotonic clock's zero: the first time a guest read it.
fn origin() -> std::time::Instant {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now)
}

fn random_get(mut caller: Call<'_>, buf: i32, len: i32) -> Answer {
    let answer = with_stdio(&mut caller, |data, stdio, state| {
        let start = buf as u32 as usize;
        let Some(bytes) = data.get_mut(start..start.saturating_add(len as u32 as usize)) else {
            return Ok(FAULT);
        };
        let cost = (bytes.len() as u64).saturating_mul(RANDOM_FUEL);
        if cost > state.budget_left {
            stdio.out_of_fuel = true;
            return Err(wasmi::Error::new("random_get: past the CPU budget"));
        }
        state.fuel_debt = cost;
        match getrandom::getrandom(bytes) {
            Ok(()) => Ok(SUCCESS),
            Err(error) => Err(wasmi::Error::new(format!("random_get: {error}"))),
        }
    });
    spend_debt(&mut caller)?;
    answer
}

fn fd_fdstat_get(mut caller: Call<'_>, fd: i32, out: i32) -> Answer {
    spend(&mut caller, 0)?;
    if !is_stdio(fd) {
        return Ok(BADF);
    }
    // filetype, flags, rights: read on stdin, write on the others.
    let mut stat = [0u8; 24];
    stat[0] = CHARACTER_DEVICE;
    let rights: u64 = if fd == 0 { 1 << 1 } else { 1 << 6 };
    stat[8..16].copy_from_slice(&rights.to_le_bytes());
    with_stdio(&mut caller, |data, _, _| {
        settle(put(data, out, &stat).map(|()| SUCCESS))
    })
}

fn fd_filestat_get(mut caller: Call<'_>, fd: i32, out: i32) -> Answer {
    spend(&mut caller, 0)?;
    if !is_stdio(fd) {
        return Ok(BADF);
    }
    let mut stat = [0u8; 64];
    stat[16] = CHARACTER_DEVICE;
    with_stdio(&mut caller, |data, _, _| {
        settle(put(data, out, &stat).map(|()| SUCCESS))
    })
}

/// The error a guest's non-zero exit is.
pub(crate) fn exited(code: i32, last_error: Option<&str>) -> Error {
    let reason = match last_error {
        Some(line) => format!("exited with code {code} ({line})"),
        None => format!("exited with code {code}"),
    };
    Error::Trap { reason }
}
