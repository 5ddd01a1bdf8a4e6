//! The key-value calls: a function reads and writes its own namespace of
//! the store (or the shared store its definition names), within the
//! sizes and quotas of its grant.

use super::{Answer, Call, Refused, before_waiting, begin, charge, hand_back, read, settle};
use crate::grants::{KvGrant, MAX_KEY_BYTES};
use crate::invocation::HostState;
use crate::services::{KvError, KvStore};
use fenn_abi::{abi, calls};
use std::sync::Arc;
use std::time::Duration;
use wasmi::Linker;

/// The most keys one list hands back.
pub const MAX_LIST: usize = 1_000;

pub(super) fn define(linker: &mut Linker<HostState>) -> Result<(), wasmi::errors::LinkerError> {
    let module = abi::IMPORT_MODULE;
    linker.func_wrap(module, calls::IMPORT_KV_GET, get)?;
    linker.func_wrap(module, calls::IMPORT_KV_SET, set)?;
    linker.func_wrap(module, calls::IMPORT_KV_DELETE, delete)?;
    linker.func_wrap(module, calls::IMPORT_KV_LIST, list)?;
    linker.func_wrap(module, calls::IMPORT_KV_INCR, incr)?;
    linker.func_wrap(module, calls::IMPORT_KV_CAS, cas)?;
    Ok(())
}

/// The store and the function's grant, the call counted and charged.
fn open(caller: &mut Call<'_>, bytes: usize) -> Answer<(Arc<dyn KvStore>, KvGrant)> {
    begin(caller, bytes)?;
    before_waiting(caller)?;
    let state = &caller.data().calls;
    let Some(grant) = state.grants.kv.clone() else {
        let reason = "the function's definition grants no key-value store (kv = true)";
        return Err(Refused::new(calls::DENIED, reason).into());
    };
    let Some(store) = state.services.kv().cloned() else {
        let reason = "no key-value store: fenn runs without a state_dir";
        return Err(Refused::new(calls::UNAVAILABLE, reason).into());
    };
    Ok((store, grant))
}

fn key(caller: &Call<'_>, ptr: i32, len: i32) -> Answer<Vec<u8>> {
    Ok(read(caller, ptr, len, MAX_KEY_BYTES, "the key")?)
}

fn failed(error: KvError) -> Refused {
    match error {
        KvError::Quota(reason) => Refused::new(calls::QUOTA, reason),
        KvError::Invalid(reason) => Refused::new(calls::INVALID, reason),
        failed @ KvError::Failed(_) => Refused::new(calls::UNAVAILABLE, failed.to_string()),
    }
}

fn get(mut caller: Call<'_>, key_ptr: i32, key_len: i32) -> Result<i64, wasmi::Error> {
    let answer = (|| {
        let (store, grant) = open(&mut caller, 0)?;
        let key = key(&caller, key_ptr, key_len)?;
        let Some(value) = store.get(&grant.store, &key).map_err(failed)? else {
            return Err(Refused::new(calls::NOT_FOUND, "no such key").into());
        };
        charge(&mut caller, value.len())?;
        hand_back(&mut caller, &value)
    })();
    settle(&mut caller, calls::IMPORT_KV_GET, answer)
}

fn set(
    mut caller: Call<'_>,
    key_ptr: i32,
    key_len: i32,
    value_ptr: i32,
    value_len: i32,
    ttl_ms: i64,
) -> Result<i32, wasmi::Error> {
    let answer = (|| {
        let (store, grant) = open(&mut caller, 0)?;
        let key = key(&caller, key_ptr, key_len)?;
        let value = read(&caller, value_ptr, value_len, grant.max_value, "the value")?;
        charge(&mut caller, value.len())?;
        let ttl = match ttl_ms {
            0 => None,
            ms if ms > 0 => Some(Duration::from_millis(ms as u64)),
            _ => return Err(Refused::new(calls::INVALID, "a negative time to live").into()),
        };
        store.set(&grant, &key, &value, ttl).map_err(failed)?;
        Ok(0)
    })();
    settle(&mut caller, calls::IMPORT_KV_SET, answer)
}

fn delete(mut caller: Call<'_>, key_ptr: i32, key_len: i32) -> Result<i32, wasmi::Error> {
    let answer = (|| {
        let (store, grant) = open(&mut caller, 0)?;
        let key = key(&caller, key_ptr, key_len)?;
        Ok(i32::from(store.delete(&grant.store, &key).map_err(failed)?))
    })();
    settle(&mut caller, calls::IMPORT_KV_DELETE, answer)
}

fn list(mut caller: Call<'_>, ptr: i32, len: i32, limit: i32) -> Result<i64, wasmi::Error> {
    let answer = (|| {
        let (store, grant) = open(&mut caller, 0)?;
        let prefix = key(&caller, ptr, len)?;
        let limit = usize::try_from(limit).unwrap_or(0).min(MAX_LIST);
        let keys = store.list(&grant.store, &prefix, limit).map_err(failed)?;
        let mut packed = Vec::with_capacity(keys.iter().map(|key| key.len() + 4).sum());
        for key in &keys {
            packed.extend_from_slice(&(key.len() as u32).to_le_bytes());
            packed.extend_from_slice(key);
        }
        charge(&mut caller, packed.len())?;
        hand_back(&mut caller, &packed)
    })();
    settle(&mut caller, calls::IMPORT_KV_LIST, answer)
}

fn incr(
    mut caller: Call<'_>,
    key_ptr: i32,
    key_len: i32,
    delta: i64,
    out_ptr: i32,
) -> Result<i32, wasmi::Error> {
    let answer = (|| {
        let (store, grant) = open(&mut caller, 0)?;
        let key = key(&caller, key_ptr, key_len)?;
        // The out slot is checked before the store changes.
        read(&caller, out_ptr, 8, 8, "the result's slot")?;
        let value = store.incr(&grant, &key, delta).map_err(failed)?;
        write(&mut caller, out_ptr, &value.to_le_bytes())?;
        Ok(0)
    })();
    settle(&mut caller, calls::IMPORT_KV_INCR, answer)
}

#[allow(clippy::too_many_arguments)]
fn cas(
    mut caller: Call<'_>,
    key_ptr: i32,
    key_len: i32,
    old_ptr: i32,
    old_len: i32,
    new_ptr: i32,
    new_len: i32,
) -> Result<i32, wasmi::Error> {
    let answer = (|| {
        let (store, grant) = open(&mut caller, 0)?;
        let key = key(&caller, key_ptr, key_len)?;
        let old = match old_len {
            -1 => None,
            _ => Some(read(
                &caller,
                old_ptr,
                old_len,
                grant.max_value,
                "the old value",
            )?),
        };
        let new = read(&caller, new_ptr, new_len, grant.max_value, "the value")?;
        charge(&mut caller, new.len() + old.as_ref().map_or(0, Vec::len))?;
        let swapped = store
            .cas(&grant, &key, old.as_deref(), &new)
            .map_err(failed)?;
        Ok(i32::from(swapped))
    })();
    settle(&mut caller, calls::IMPORT_KV_CAS, answer)
}

fn write(caller: &mut Call<'_>, ptr: i32, bytes: &[u8]) -> Answer<()> {
    let memory = caller
        .get_export(abi::EXPORT_MEMORY)
        .and_then(wasmi::Extern::into_memory)
        .ok_or_else(|| Refused::new(calls::INVALID, "the guest has no memory export"))?;
    memory
        .write(&mut *caller, ptr as u32 as usize, bytes)
        .map_err(|_| Refused::new(calls::INVALID, "the result's slot lies outside memory"))?;
    Ok(())
}
