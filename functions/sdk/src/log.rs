//! Log lines tied to the invocation: the host prefixes them with the
//! function's name and the invocation id.

use core::fmt::Write as _;
pub use fenn_abi::abi::LogLevel;

/// Writes one log line at `level` (cut at 1 KiB; the host charges fuel per byte).
pub fn write(level: LogLevel, args: core::fmt::Arguments<'_>) {
    let mut line = heapless::String::<1024>::new();
    let _ = line.write_fmt(args);
    raw(level, line.as_bytes());
}

/// Writes `bytes` as one log line at `level`, whole: the host cuts a
/// line longer than it keeps, and charges fuel for every byte.
#[cfg(target_arch = "wasm32")]
pub fn raw(level: LogLevel, bytes: &[u8]) {
    #[link(wasm_import_module = "fenn")]
    unsafe extern "C" {
        fn log(level: i32, ptr: i32, len: i32);
    }
    #[allow(unsafe_code)]
    // SAFETY: the host only reads `len` bytes at `ptr` from our memory.
    unsafe {
        log(
            level as i32,
            bytes.as_ptr() as usize as i32,
            bytes.len() as i32,
        );
    }
}

/// Writes `bytes` as one log line (nothing outside wasm).
#[cfg(not(target_arch = "wasm32"))]
pub fn raw(_level: LogLevel, _bytes: &[u8]) {}

/// The wall clock as Unix milliseconds, from the host.
#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> i64 {
    #[link(wasm_import_module = "fenn")]
    unsafe extern "C" {
        fn now_ms() -> i64;
    }
    #[allow(unsafe_code)]
    // SAFETY: a host function without arguments.
    unsafe {
        now_ms()
    }
}

/// The wall clock as Unix milliseconds (0 outside wasm).
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> i64 {
    0
}

/// Logs at info level: `fenn_sdk::info!("read {} bytes", n)`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::LogLevel::Info, format_args!($($arg)*)) };
}

/// Logs at warn level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::LogLevel::Warn, format_args!($($arg)*)) };
}

/// Logs at error level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::LogLevel::Error, format_args!($($arg)*)) };
}
