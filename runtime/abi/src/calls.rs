//! The host calls beyond logging and the clock: variables and secrets, the
//! key-value store, publishing to MQTT and emitting events to other
//! functions. Every one is an optional import of the [`IMPORT_MODULE`]
//! module: a module built before them runs unchanged, and one that imports
//! a call its function's definition does not grant is refused at deploy,
//! naming the grant.
//!
//! # Conventions
//!
//! - Bytes go to the host as `(ptr: i32, len: i32)` pairs in the guest's
//!   memory; text is UTF-8.
//! - A call that hands bytes back (a variable, a value, a list of keys)
//!   asks the guest for room through its `fenn_alloc` export, writes them
//!   there and returns `(ptr << 32) | len` as a non-negative `i64`
//!   ([`unpack_output`](crate::abi::unpack_output) reads it).
//! - A negative result is an error code ([`NOT_FOUND`], [`DENIED`], ...);
//!   [`IMPORT_LAST_ERROR`] then hands back the reason as text, for the
//!   guest to log or return.
//! - Every call is charged fuel (a fixed cost plus a unit a byte) and counts
//!   against the invocation's deadline.
//!
//! [`IMPORT_MODULE`]: crate::abi::IMPORT_MODULE

/// `(name_ptr, name_len) -> i64`: a variable or secret of the function's
/// definition, as bytes handed back; [`NOT_FOUND`] when it has none of that
/// name.
pub const IMPORT_VAR: &str = "var";
/// `() -> i64`: the reason the last call of this invocation failed, as
/// text handed back (empty when none failed).
pub const IMPORT_LAST_ERROR: &str = "last_error";
/// `(key_ptr, key_len) -> i64`: the value under a key of the function's
/// store, handed back; [`NOT_FOUND`] when there is none (or it expired).
pub const IMPORT_KV_GET: &str = "kv_get";
/// `(key_ptr, key_len, value_ptr, value_len, ttl_ms: i64) -> i32`: sets a
/// key (`ttl_ms` 0: no expiry); 0 once it is durable.
pub const IMPORT_KV_SET: &str = "kv_set";
/// `(key_ptr, key_len) -> i32`: deletes a key; 1 if it was there, 0 if not.
pub const IMPORT_KV_DELETE: &str = "kv_delete";
/// `(prefix_ptr, prefix_len, limit: i32) -> i64`: the keys that start
/// with a prefix, in byte order, at most `limit`, handed back as a list:
/// each key as a 4-byte little-endian length followed by its bytes.
pub const IMPORT_KV_LIST: &str = "kv_list";
/// `(key_ptr, key_len, delta: i64, out_ptr) -> i32`: adds `delta` to the
/// key's value (a decimal integer; absent is 0) atomically and writes the
/// new value as an 8-byte little-endian `i64` at `out_ptr`; 0 on success.
pub const IMPORT_KV_INCR: &str = "kv_incr";
/// `(key_ptr, key_len, old_ptr, old_len, new_ptr, new_len) -> i32`: sets
/// the key to the new value only if it holds the old one (`old_len` -1:
/// only if it is absent), atomically; 1 if it swapped, 0 if not.
pub const IMPORT_KV_CAS: &str = "kv_cas";
/// `(topic_ptr, topic_len, payload_ptr, payload_len, flags: i32,
/// props_ptr, props_len) -> i32`: publishes an MQTT message to a topic the
/// function is granted; 0 once the message is stored (handed to the broker,
/// or kept in the outbox while the broker is away). `flags`: [`QOS_1`],
/// [`RETAIN`]. The properties are `name\0value\0` pairs: `content-type`
/// sets the content type, any other name is a user property.
pub const IMPORT_PUBLISH: &str = "publish";
/// `(function_ptr, function_len, event_ptr, event_len) -> i32`: emits an
/// event to a function the definition grants, to run after this one
/// returns; the event is JSON in the API-gateway event format. 0 once it is
/// queued.
pub const IMPORT_EMIT: &str = "emit";

/// The key, variable or function asked for does not exist.
pub const NOT_FOUND: i32 = -1;
/// The function's definition does not grant this (a topic, a function).
pub const DENIED: i32 = -2;
/// A key, value, topic or event over its size limit.
pub const TOO_LARGE: i32 = -3;
/// The function's store is over its quota of keys or bytes.
pub const QUOTA: i32 = -4;
/// Arguments the host cannot read: outside memory, not UTF-8, a bad event.
pub const INVALID: i32 = -5;
/// The service is not there or failed: no broker configured, the store
/// failed, the outbox or the queue is full.
pub const UNAVAILABLE: i32 = -6;
/// Over an invocation's count of such calls, or an emit past the chain's
/// hop limit.
pub const LIMIT: i32 = -7;

/// [`IMPORT_PUBLISH`] flag: QoS 1 (else 0).
pub const QOS_1: i32 = 1;
/// [`IMPORT_PUBLISH`] flag: retain the message.
pub const RETAIN: i32 = 2;

/// The name of an error code, for messages.
pub fn error_name(code: i64) -> &'static str {
    match i32::try_from(code) {
        Ok(NOT_FOUND) => "not found",
        Ok(DENIED) => "denied",
        Ok(TOO_LARGE) => "too large",
        Ok(QUOTA) => "over quota",
        Ok(INVALID) => "invalid",
        Ok(UNAVAILABLE) => "unavailable",
        Ok(LIMIT) => "over a limit",
        _ => "error",
    }
}
