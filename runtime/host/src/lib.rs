//! fenn's core runtime: compiles WebAssembly functions once, runs each event
//! in a fresh, bounded wasmi instance, and hands triggers one way to invoke
//! a function by name.
//!
//! # Layout
//!
//! - [`limits`]: what bounds one invocation (fuel, deadline, memory, …).
//! - [`limiter`]: what a store may grow to, and [`GuestMemory`], the
//!   memory budget of all running guests together.
//! - [`module`]: [`FunctionModule`], a module compiled and checked against
//!   the ABI at deploy time ("online compile").
//! - [`census`]: what a module asks of every instantiation, counted and
//!   bounded at deploy.
//! - [`invocation`]: one event's run, in fuel slices, with the guest's host
//!   functions; [`calls`]: the host calls beyond logging and the clock, as
//!   [`grants`] allow them, reaching the [`services`] (the key-value store,
//!   MQTT, other functions).
//! - [`guest_log`]: a guest's log lines, bounded, rate-limited and escaped.
//! - [`log_limit`]: fenn's own lines about what a client or a guest did,
//!   rate-limited per kind and function ([`limited!`]).
//! - [`output`]: reading what a guest returns, within bounds.
//! - [`dispatch`]: [`Dispatcher`], the [`FunctionHost`] triggers call:
//!   concurrency limits, short guests inline, long ones on worker threads
//!   ([`pool`]: threads of their own, at a lower CPU priority).
//! - [`error`]: [`Error`], one variant per way a deploy or an event fails.
//! - [`event`]: [`EventBuilder`], the one place a trigger's parts become an
//!   event, with the rules all triggers share.
//! - [`sink`]: [`ResultSink`], where results go that have no caller to answer.
//! - [`trace`]: [`Trace`], one invocation's log lines, fuel and memory,
//!   for a caller that asks.
//! - [`observe`]: [`Observer`], told of every invocation as it ends (the
//!   history and the metrics).
//! - [`units`]: durations and sizes as a config writes them.
//! - [`wasi`]: WASI preview 1 guests (C, Zig, AssemblyScript, Rust's
//!   `wasm32-wasip1`): the event as JSON on stdin, the response on stdout,
//!   or a web function's CGI request and response.
//! - [`trigger`]: [`Trigger`], the seam every event source implements, and
//!   [`Bindings`], changing a running trigger's routes, subscriptions or
//!   schedules.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fenn_runtime::Error> {
//! use fenn_runtime::{Dispatcher, FunctionHost, Limits};
//!
//! let wasm = std::fs::read("hello.wasm").expect("a module");
//! let dispatcher = Dispatcher::new(4, 256 << 20);
//! dispatcher.deploy("hello", &wasm, Limits::default())?;
//! let event = fenn_abi::Event::new("/hello", "GET").with_query("name", "Jason");
//! let response = dispatcher.invoke("hello", event).await?;
//! assert_eq!(response.body, "Hello, Jason!");
//! # Ok(()) }
//! ```

pub mod calls;
pub mod census;
pub mod dispatch;
pub mod emit;
pub mod error;
pub mod event;
pub mod files;
pub mod flow;
pub mod grants;
pub mod guest_log;
pub mod invocation;
pub mod limiter;
pub mod limits;
pub mod log_limit;
pub mod module;
pub mod observe;
pub mod output;
pub mod pool;
pub mod services;
pub mod sink;
pub mod trace;
pub mod trigger;
pub mod units;
pub mod wasi;

pub use dispatch::{Dispatcher, FunctionHost};
pub use error::Error;
pub use event::EventBuilder;
pub use grants::Grants;
pub use limiter::GuestMemory;
pub use limits::Limits;
pub use module::FunctionModule;
pub use observe::{Invoked, Observer};
pub use services::Services;
pub use sink::ResultSink;
pub use trace::Trace;
pub use trigger::{Bindings, Stage, Trigger};
