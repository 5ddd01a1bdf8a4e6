//! The host calls beyond logging: variables and secrets ([`var`]), the
//! function's key-value store ([`kv`]), publishing to MQTT ([`publish`],
//! [`Publish`]) and emitting events to other functions ([`emit`]). Each
//! needs its grant in the function's definition (`kv = true`,
//! `publish = ["topic/filter/#"]`, `emit = ["name"]`); a module that
//! imports one without it is refused at deploy.
//!
//! Every call that can fail answers an [`Error`]: its code
//! (`fenn_abi::calls::NOT_FOUND`, `DENIED`, ...) and the host's reason.

use alloc::{string::String, vec::Vec};
use fenn_abi::{Event, calls};

/// Why a host call failed: the code and the host's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// One of `fenn_abi::calls`' codes.
    pub code: i32,
    /// The host's reason, for a log line or a response.
    pub message: String,
}

impl Error {
    fn from_code(code: i64) -> Self {
        Self {
            code: code as i32,
            message: ffi::last_error(),
        }
    }

    /// Whether it failed because the key, variable or function is absent.
    pub fn is_not_found(&self) -> bool {
        self.code == calls::NOT_FOUND
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

fn status(code: i32) -> Result<i32, Error> {
    if code < 0 {
        Err(Error::from_code(code.into()))
    } else {
        Ok(code)
    }
}

fn handed_back(packed: i64) -> Result<Vec<u8>, Error> {
    if packed < 0 {
        return Err(Error::from_code(packed));
    }
    Ok(ffi::take(packed))
}

/// The reason the host gave for the last call of this invocation that it
/// refused (empty when none was).
pub fn last_error() -> String {
    ffi::last_error()
}

/// A variable or secret of the function's definition (`[function.vars]`,
/// `[function.secrets]`); `None` when it has none of that name.
pub fn var(name: &str) -> Option<String> {
    let bytes = handed_back(ffi::var(name.as_bytes())).ok()?;
    String::from_utf8(bytes).ok()
}

/// The function's key-value store (`kv = true`): durable when a call
/// returns, within the quotas of its definition.
pub mod kv {
    use super::{Error, ffi, handed_back, status};
    use alloc::{string::String, vec::Vec};

    /// The value under `key`, `None` when there is none (or it expired).
    pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
        match handed_back(ffi::kv_get(key.as_bytes())) {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The value under `key` as text (`None` also when it is not UTF-8).
    pub fn get_str(key: &str) -> Result<Option<String>, Error> {
        Ok(get(key)?.and_then(|bytes| String::from_utf8(bytes).ok()))
    }

    /// Sets `key` to `value`.
    pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
        set_with_ttl(key, value, 0)
    }

    /// Sets `key` to `value`, to expire after `ttl_ms` milliseconds (0:
    /// never).
    pub fn set_with_ttl(key: &str, value: impl AsRef<[u8]>, ttl_ms: u64) -> Result<(), Error> {
        let ttl = i64::try_from(ttl_ms).unwrap_or(i64::MAX);
        status(ffi::kv_set(key.as_bytes(), value.as_ref(), ttl)).map(|_| ())
    }

    /// Deletes `key`; whether it was there.
    pub fn delete(key: &str) -> Result<bool, Error> {
        status(ffi::kv_delete(key.as_bytes())).map(|found| found == 1)
    }

    /// At most `limit` keys that start with `prefix`, in byte order.
    pub fn list(prefix: &str, limit: u32) -> Result<Vec<String>, Error> {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let packed = handed_back(ffi::kv_list(prefix.as_bytes(), limit))?;
        let mut keys = Vec::new();
        let mut rest = &packed[..];
        while rest.len() >= 4 {
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let Some(key) = rest.get(4..4 + len) else {
                break;
            };
            keys.push(String::from_utf8_lossy(key).into_owned());
            rest = &rest[4 + len..];
        }
        Ok(keys)
    }

    /// Adds `delta` to the decimal integer under `key` (absent: 0),
    /// atomically; the new value.
    pub fn incr(key: &str, delta: i64) -> Result<i64, Error> {
        let mut out = [0u8; 8];
        status(ffi::kv_incr(key.as_bytes(), delta, &mut out))?;
        Ok(i64::from_le_bytes(out))
    }

    /// Sets `key` to `new` only if it holds `old` (`None`: only if it is
    /// absent), atomically; whether it did.
    pub fn compare_and_swap(key: &str, old: Option<&[u8]>, new: &[u8]) -> Result<bool, Error> {
        status(ffi::kv_cas(key.as_bytes(), old, new)).map(|swapped| swapped == 1)
    }
}

/// Publishes `payload` to `topic` at QoS 1; returns once the message is
/// stored (with the broker, or in fenn's outbox while it is away).
pub fn publish(topic: &str, payload: impl AsRef<[u8]>) -> Result<(), Error> {
    Publish::new(topic, payload.as_ref()).send()
}

/// An MQTT message to publish, with its options.
#[derive(Debug, Clone)]
pub struct Publish<'a> {
    topic: &'a str,
    payload: &'a [u8],
    flags: i32,
    properties: Vec<u8>,
}

impl<'a> Publish<'a> {
    /// A QoS 1 message, not retained.
    pub fn new(topic: &'a str, payload: &'a [u8]) -> Self {
        Self {
            topic,
            payload,
            flags: calls::QOS_1,
            properties: Vec::new(),
        }
    }

    /// QoS 0 or 1.
    #[must_use]
    pub fn qos(mut self, qos: u8) -> Self {
        self.flags = (self.flags & !calls::QOS_1) | if qos > 0 { calls::QOS_1 } else { 0 };
        self
    }

    /// Asks the broker to retain it.
    #[must_use]
    pub fn retain(mut self, retain: bool) -> Self {
        self.flags = (self.flags & !calls::RETAIN) | if retain { calls::RETAIN } else { 0 };
        self
    }

    /// The MQTT 5 content type.
    #[must_use]
    pub fn content_type(self, content_type: &str) -> Self {
        self.property("content-type", content_type)
    }

    /// An MQTT 5 user property.
    #[must_use]
    pub fn property(mut self, name: &str, value: &str) -> Self {
        for part in [name, value] {
            self.properties.extend_from_slice(part.as_bytes());
            self.properties.push(0);
        }
        self
    }

    /// Publishes it; returns once it is stored.
    pub fn send(self) -> Result<(), Error> {
        let code = ffi::publish(
            self.topic.as_bytes(),
            self.payload,
            self.flags,
            &self.properties,
        );
        status(code).map(|_| ())
    }
}

/// Emits `event` to `function`, to run on its own; returns once it is
/// queued. fenn adds `x-fenn-source-function`, `x-fenn-source-invocation`
/// and the chain's `x-fenn-hops`.
pub fn emit(function: &str, event: &Event) -> Result<(), Error> {
    let json = crate::json::event(event);
    status(ffi::emit(function.as_bytes(), json.as_bytes())).map(|_| ())
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod ffi {
    use alloc::{string::String, vec::Vec};

    #[link(wasm_import_module = "fenn")]
    unsafe extern "C" {
        #[link_name = "var"]
        fn host_var(ptr: i32, len: i32) -> i64;
        #[link_name = "last_error"]
        fn host_last_error() -> i64;
        #[link_name = "kv_get"]
        fn host_kv_get(ptr: i32, len: i32) -> i64;
        #[link_name = "kv_set"]
        fn host_kv_set(kp: i32, kl: i32, vp: i32, vl: i32, ttl: i64) -> i32;
        #[link_name = "kv_delete"]
        fn host_kv_delete(ptr: i32, len: i32) -> i32;
        #[link_name = "kv_list"]
        fn host_kv_list(ptr: i32, len: i32, limit: i32) -> i64;
        #[link_name = "kv_incr"]
        fn host_kv_incr(ptr: i32, len: i32, delta: i64, out: i32) -> i32;
        #[link_name = "kv_cas"]
        fn host_kv_cas(kp: i32, kl: i32, op: i32, ol: i32, np: i32, nl: i32) -> i32;
        #[link_name = "publish"]
        fn host_publish(tp: i32, tl: i32, pp: i32, pl: i32, flags: i32, rp: i32, rl: i32) -> i32;
        #[link_name = "emit"]
        fn host_emit(fp: i32, fl: i32, ep: i32, el: i32) -> i32;
    }

    fn at(bytes: &[u8]) -> (i32, i32) {
        (bytes.as_ptr() as usize as i32, bytes.len() as i32)
    }

    /// The bytes the host handed back at `(ptr << 32) | len`.
    pub(super) fn take(packed: i64) -> Vec<u8> {
        let (ptr, len) = fenn_abi::abi::unpack_output(packed);
        // SAFETY: the host wrote `len` bytes at `ptr`, in a buffer it asked
        // fenn_alloc for, which leaked it and nothing else aliases.
        unsafe { core::slice::from_raw_parts(ptr as usize as *const u8, len as usize) }.to_vec()
    }

    pub(super) fn last_error() -> String {
        // SAFETY: a host function without arguments.
        let packed = unsafe { host_last_error() };
        if packed < 0 {
            return String::new();
        }
        String::from_utf8_lossy(&take(packed)).into_owned()
    }

    pub(super) fn var(name: &[u8]) -> i64 {
        let (p, l) = at(name);
        // SAFETY: the host reads `l` bytes at `p` of our memory.
        unsafe { host_var(p, l) }
    }

    pub(super) fn kv_get(key: &[u8]) -> i64 {
        let (p, l) = at(key);
        // SAFETY: as above.
        unsafe { host_kv_get(p, l) }
    }

    pub(super) fn kv_set(key: &[u8], value: &[u8], ttl: i64) -> i32 {
        let ((kp, kl), (vp, vl)) = (at(key), at(value));
        // SAFETY: as above.
        unsafe { host_kv_set(kp, kl, vp, vl, ttl) }
    }

    pub(super) fn kv_delete(key: &[u8]) -> i32 {
        let (p, l) = at(key);
        // SAFETY: as above.
        unsafe { host_kv_delete(p, l) }
    }

    pub(super) fn kv_list(prefix: &[u8], limit: i32) -> i64 {
        let (p, l) = at(prefix);
        // SAFETY: as above.
        unsafe { host_kv_list(p, l, limit) }
    }

    pub(super) fn kv_incr(key: &[u8], delta: i64, out: &mut [u8; 8]) -> i32 {
        let (p, l) = at(key);
        // SAFETY: as above; the host writes 8 bytes into `out`.
        unsafe { host_kv_incr(p, l, delta, out.as_mut_ptr() as usize as i32) }
    }

    pub(super) fn kv_cas(key: &[u8], old: Option<&[u8]>, new: &[u8]) -> i32 {
        let ((kp, kl), (np, nl)) = (at(key), at(new));
        let (op, ol) = old.map_or((0, -1), at);
        // SAFETY: as above.
        unsafe { host_kv_cas(kp, kl, op, ol, np, nl) }
    }

    pub(super) fn publish(topic: &[u8], payload: &[u8], flags: i32, props: &[u8]) -> i32 {
        let ((tp, tl), (pp, pl), (rp, rl)) = (at(topic), at(payload), at(props));
        // SAFETY: as above.
        unsafe { host_publish(tp, tl, pp, pl, flags, rp, rl) }
    }

    pub(super) fn emit(function: &[u8], event: &[u8]) -> i32 {
        let ((fp, fl), (ep, el)) = (at(function), at(event));
        // SAFETY: as above.
        unsafe { host_emit(fp, fl, ep, el) }
    }
}

/// Outside wasm (a guest crate's own unit tests) every call is
/// unavailable.
#[cfg(not(target_arch = "wasm32"))]
mod ffi {
    use alloc::{string::String, vec::Vec};
    use fenn_abi::calls::UNAVAILABLE;

    pub(super) fn take(_packed: i64) -> Vec<u8> {
        Vec::new()
    }
    pub(super) fn last_error() -> String {
        String::from("host calls run only in fenn")
    }
    pub(super) fn var(_name: &[u8]) -> i64 {
        UNAVAILABLE.into()
    }
    pub(super) fn kv_get(_key: &[u8]) -> i64 {
        UNAVAILABLE.into()
    }
    pub(super) fn kv_set(_key: &[u8], _value: &[u8], _ttl: i64) -> i32 {
        UNAVAILABLE
    }
    pub(super) fn kv_delete(_key: &[u8]) -> i32 {
        UNAVAILABLE
    }
    pub(super) fn kv_list(_prefix: &[u8], _limit: i32) -> i64 {
        UNAVAILABLE.into()
    }
    pub(super) fn kv_incr(_key: &[u8], _delta: i64, _out: &mut [u8; 8]) -> i32 {
        UNAVAILABLE
    }
    pub(super) fn kv_cas(_key: &[u8], _old: Option<&[u8]>, _new: &[u8]) -> i32 {
        UNAVAILABLE
    }
    pub(super) fn publish(_topic: &[u8], _payload: &[u8], _flags: i32, _props: &[u8]) -> i32 {
        UNAVAILABLE
    }
    pub(super) fn emit(_function: &[u8], _event: &[u8]) -> i32 {
        UNAVAILABLE
    }
}
