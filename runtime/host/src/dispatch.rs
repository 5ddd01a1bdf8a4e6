//! Dispatch: the one way triggers run a function.
//!
//! Short guests run inline on the async task that received the event: the
//! first slice of fuel ([`INLINE_FUEL`], well under a millisecond of
//! interpretation) needs no thread hop, and most handlers finish in it. A
//! guest still running after that slice moves, with its paused state, to a
//! bounded pool of worker threads and goes on there in slices, the deadline
//! checked between slices, so a long or endless guest never stalls the
//! reactor.
//!
//! Bounds, so that no function takes more than its share:
//! - each function has a concurrency limit; past it an event is refused at
//!   once with [`Error::Busy`];
//! - each function may hold at most its worker share of the pool
//!   (`max_workers`, half the pool by default); a long event waits, within
//!   its deadline, for a worker of its function's share, and then for a
//!   free one, in arrival order;
//! - while a function's share is all in use, its new events do not run
//!   their first slice on the receiving task: they wait for a worker and
//!   run there whole, so a function whose events all run long costs the
//!   receiving threads nothing; so do all events of a module whose
//!   instantiation alone is heavy ([`FunctionModule::heavy_start`]);
//! - the linear memory of every running guest together is held to the
//!   [`GuestMemory`] budget ([`Error::Overloaded`] past it).

pub use crate::invocation::INLINE_FUEL;
use crate::invocation::{Invocation, Step};
use crate::limiter::GuestMemory;
use crate::observe::{Invoked, Observer, TEST_TRIGGER};
use crate::pool::WorkerPool;
use crate::{Error, FunctionModule, Limits, Trace};
use arc_swap::ArcSwap;
use fenn_abi::event::{HEADER_INVOCATION, HEADER_TRIGGER};
use fenn_abi::{Event, Response};
use futures_util::FutureExt as _;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Fuel per slice on a worker thread; the deadline is checked between slices.
pub const SLICE_FUEL: u64 = 2_000_000;

/// Runs functions by name: the seam between triggers and the runtime.
///
/// [`Dispatcher`] is the implementation; tests of triggers may use a fake.
pub trait FunctionHost: Send + Sync + 'static {
    /// Runs `function` on `event` and returns its response.
    fn invoke(
        &self,
        function: &str,
        event: Event,
    ) -> impl Future<Output = Result<Response, Error>> + Send;

    /// Like [`invoke`](Self::invoke), but at the function's concurrency
    /// limit the event waits for its turn instead of being refused: for a
    /// trigger whose source bounds what may wait (MQTT's in-flight window)
    /// and would otherwise lose the event.
    fn invoke_queued(
        &self,
        function: &str,
        event: Event,
    ) -> impl Future<Output = Result<Response, Error>> + Send {
        self.invoke(function, event)
    }
}

struct Deployed {
    module: FunctionModule,
    permits: Arc<Semaphore>,
    workers: Arc<Semaphore>,
}

/// Deployed functions by name.
type Table = HashMap<String, Arc<Deployed>>;

/// The runtime's [`FunctionHost`]: deployed functions and the worker pool.
///
/// The function table is swapped whole ([`ArcSwap`]): an event looks its
/// function up without a lock, a deploy or a removal replaces the table at
/// once, and an event already running keeps the version it started with.
pub struct Dispatcher {
    functions: ArcSwap<Table>,
    workers: Arc<Semaphore>,
    pool_size: usize,
    pool: WorkerPool,
    guest_memory: Arc<GuestMemory>,
    next_invocation: AtomicU64,
    observer: Option<Arc<dyn Observer>>,
    services: Arc<crate::Services>,
    flows: crate::flow::Flows,
}

/// A function's version held for a flow's run: each step of the run runs
/// it, whatever is deployed meanwhile.
#[derive(Clone)]
pub struct Pinned(Arc<Deployed>);

impl std::fmt::Debug for Pinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pinned")
            .field(&self.0.module.name())
            .finish()
    }
}

/// Where an event stands when it waits for a worker.
enum Waiting {
    /// Not started: the function's worker share was full when it arrived.
    Fresh(Event),
    /// Paused after its first slice.
    Paused(Box<Invocation>),
}

impl Dispatcher {
    /// A dispatcher whose worker pool runs at most `workers` long guests at
    /// once, and whose running guests together hold at most `guest_memory`
    /// bytes of linear memory.
    pub fn new(workers: usize, guest_memory: usize) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() << 20);
        let workers = workers.max(1);
        Self {
            functions: ArcSwap::default(),
            workers: Arc::new(Semaphore::new(workers)),
            pool_size: workers,
            pool: WorkerPool::new(workers),
            guest_memory: GuestMemory::new(guest_memory),
            next_invocation: AtomicU64::new(seed),
            observer: None,
            services: Arc::default(),
            flows: crate::flow::Flows::default(),
        }
    }

    /// Tells `observer` of every invocation as it ends, with its log
    /// lines, fuel and memory.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Compiles and checks `wasm`, then serves it as `name` (replacing any
    /// function of that name; events already running finish on the old
    /// one, every event that starts after this returns runs the new one).
    /// Nothing changes when the module is refused.
    ///
    /// # Errors
    ///
    /// The module is refused as [`FunctionModule::compile`] says.
    pub fn deploy(&self, name: &str, wasm: &[u8], limits: Limits) -> Result<(), Error> {
        let module = self.compile(name, wasm, limits)?;
        self.install(module);
        Ok(())
    }

    /// Compiles and checks `wasm` as [`deploy`](Self::deploy) does, to
    /// draw on this dispatcher's guest memory, without serving it yet.
    ///
    /// # Errors
    ///
    /// The module is refused as [`FunctionModule::compile`] says.
    pub fn compile(
        &self,
        name: &str,
        wasm: &[u8],
        limits: Limits,
    ) -> Result<FunctionModule, Error> {
        let mut module = FunctionModule::compile(name, wasm, limits)?;
        module.guest_memory = Some(self.guest_memory.clone());
        module.services = self.services.clone();
        Ok(module)
    }

    /// Serves a module from [`compile`](Self::compile) under its name, in
    /// place of any function of that name (events already running finish
    /// on the old one).
    pub fn install(&self, module: FunctionModule) {
        let name = module.name().to_owned();
        let limits = module.limits();
        let share = limits
            .max_workers
            .unwrap_or(self.pool_size / 2)
            .clamp(1, self.pool_size);
        let deployed = Deployed {
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            workers: Arc::new(Semaphore::new(share)),
            module,
        };
        let deployed = Arc::new(deployed);
        self.functions.rcu(|table| {
            let mut next = Table::clone(table);
            next.insert(name.clone(), deployed.clone());
            next
        });
    }

    /// Stops serving `name` (events already running finish); whether it
    /// was deployed.
    pub fn remove(&self, name: &str) -> bool {
        let mut removed = false;
        self.functions.rcu(|table| {
            let mut next = Table::clone(table);
            removed = next.remove(name).is_some();
            next
        });
        removed
    }

    /// Whether a function of that name is deployed.
    pub fn serves(&self, name: &str) -> bool {
        self.functions.load().contains_key(name)
    }

    /// The deployed functions' modules, as of now.
    pub fn modules(&self) -> Vec<FunctionModule> {
        let table = self.functions.load();
        table
            .values()
            .map(|deployed| deployed.module.clone())
            .collect()
    }

    /// The flows served beside the functions: an event for a name that is
    /// no function's runs the flow of that name.
    pub fn flows(&self) -> &crate::flow::Flows {
        &self.flows
    }

    /// The observer of invocations, if any.
    pub fn observer(&self) -> Option<&Arc<dyn Observer>> {
        self.observer.as_ref()
    }

    /// The version of `function` deployed now, held for a flow's run.
    pub fn pin(&self, function: &str) -> Option<Pinned> {
        self.functions.load().get(function).cloned().map(Pinned)
    }

    /// Runs `pinned` on `event` as [`invoke_queued`](FunctionHost::invoke_queued)
    /// does the function deployed now.
    ///
    /// # Errors
    ///
    /// As [`invoke`](FunctionHost::invoke).
    pub async fn invoke_pinned(&self, pinned: &Pinned, event: Event) -> Result<Response, Error> {
        self.invoke_deployed(&pinned.0, event, true, None).await
    }

    /// The services functions' host calls reach, to bind as they start.
    pub fn services(&self) -> &Arc<crate::Services> {
        &self.services
    }

    /// The budget of all running guests' memory.
    pub fn guest_memory(&self) -> &Arc<GuestMemory> {
        &self.guest_memory
    }

    async fn run(
        &self,
        deployed: &Arc<Deployed>,
        event: Event,
        queued: bool,
        trace: Option<Arc<Trace>>,
    ) -> Result<Response, Error> {
        let busy = || Error::Busy {
            function: deployed.module.name().to_owned(),
        };
        let permits = deployed.permits.clone();
        let permit = if queued {
            permits.acquire_owned().await.map_err(|_| busy())?
        } else {
            permits.try_acquire_owned().map_err(|_| busy())?
        };
        let timeout = deployed.module.limits().timeout;
        let deadline = Instant::now() + timeout;
        let module = &deployed.module;
        let on_worker = module.heavy_start || module.blocking_calls;
        let waiting = if deployed.workers.available_permits() == 0 || on_worker {
            Waiting::Fresh(event)
        } else {
            let started = Invocation::start_traced(&deployed.module, &event, trace.clone())?;
            match started.run(INLINE_FUEL) {
                Step::Done(result) => return result,
                Step::Paused(paused) => Waiting::Paused(paused),
            }
        };
        let held = self.worker(deployed, deadline, timeout).await?;
        let (sender, finished) = tokio::sync::oneshot::channel();
        let module = deployed.module.clone();
        self.pool.run(move || {
            let _held = (permit, held);
            // Nobody waits for the result once the caller is gone (its
            // deadline passed, or its client went away): stop there.
            let abandoned = || sender.is_closed();
            let result = match waiting {
                Waiting::Fresh(event) => Invocation::start_traced(&module, &event, trace)
                    .and_then(|invocation| run_to_end(invocation, deadline, timeout, abandoned)),
                Waiting::Paused(paused) => run_to_end(*paused, deadline, timeout, abandoned),
            };
            let _ = sender.send(result);
        });
        match tokio::time::timeout_at(deadline.into(), finished).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Trap {
                reason: "the worker running it failed".into(),
            }),
            Err(_) => Err(Error::Deadline { timeout }),
        }
    }

    /// Waits, within the deadline, for a worker of the function's share and
    /// then for one of the pool's.
    async fn worker(
        &self,
        deployed: &Deployed,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), Error> {
        let late = |_| Error::Deadline { timeout };
        let closed = |_| Error::Busy {
            function: deployed.module.name().to_owned(),
        };
        let until = tokio::time::Instant::from_std(deadline);
        let share = tokio::time::timeout_at(until, deployed.workers.clone().acquire_owned())
            .await
            .map_err(late)?
            .map_err(closed)?;
        let worker = tokio::time::timeout_at(until, self.workers.clone().acquire_owned())
            .await
            .map_err(late)?
            .map_err(closed)?;
        Ok((share, worker))
    }
}

/// Runs the rest of an invocation in slices on a worker thread.
fn run_to_end(
    mut invocation: Invocation,
    deadline: Instant,
    timeout: Duration,
    abandoned: impl Fn() -> bool,
) -> Result<Response, Error> {
    loop {
        if Instant::now() >= deadline || abandoned() {
            return Err(Error::Deadline { timeout });
        }
        match invocation.run(SLICE_FUEL) {
            Step::Done(result) => return result,
            Step::Paused(paused) => invocation = *paused,
        }
    }
}

impl FunctionHost for Dispatcher {
    async fn invoke(&self, function: &str, event: Event) -> Result<Response, Error> {
        self.invoke_as(function, event, false, None).await
    }

    async fn invoke_queued(&self, function: &str, event: Event) -> Result<Response, Error> {
        self.invoke_as(function, event, true, None).await
    }
}

impl Dispatcher {
    /// Runs `function` on `event` as [`invoke`](FunctionHost::invoke)
    /// does, recording its guest log lines and fuel in `trace`; an
    /// observer sees it as a [`TEST_TRIGGER`] invocation.
    ///
    /// # Errors
    ///
    /// As [`invoke`](FunctionHost::invoke).
    pub async fn invoke_traced(
        &self,
        function: &str,
        event: Event,
        trace: Arc<Trace>,
    ) -> Result<Response, Error> {
        self.invoke_as(function, event, false, Some(trace)).await
    }

    /// Names the event, runs it, and logs how it went.
    async fn invoke_as(
        &self,
        function: &str,
        event: Event,
        queued: bool,
        trace: Option<Arc<Trace>>,
    ) -> Result<Response, Error> {
        let deployed = match self.deployed(function) {
            Ok(deployed) => deployed,
            Err(not_found) => {
                return match self.flows.get(function) {
                    Some(flow) if trace.is_none() => self.flows.invoke(flow, event, queued).await,
                    _ => Err(not_found),
                };
            }
        };
        self.invoke_deployed(&deployed, event, queued, trace).await
    }

    /// Runs `deployed` on `event`, names the event, and logs how it went.
    async fn invoke_deployed(
        &self,
        deployed: &Arc<Deployed>,
        mut event: Event,
        queued: bool,
        trace: Option<Arc<Trace>>,
    ) -> Result<Response, Error> {
        let function = deployed.module.name();
        let invocation = self.next_invocation.fetch_add(1, Ordering::Relaxed);
        event
            .headers
            .insert(HEADER_INVOCATION.into(), invocation.to_string());
        // A caller's own trace is the caller's to read after: copied.
        let copy = trace.is_some();
        let observing = self.observing(&event, trace.as_ref());
        let trace = match &observing {
            Some(observing) => Some(observing.kept.clone()),
            None => trace,
        };
        let started = Instant::now();
        let result = self.run_caught(deployed, event, queued, trace).await;
        log_outcome(function, invocation, started.elapsed().as_micros(), &result);
        if let Some(observing) = observing {
            let version = deployed.module.version;
            observing.report(function, invocation, version, started, &result, copy);
        }
        result
    }

    /// The function deployed as `function`, or why there is none.
    fn deployed(&self, function: &str) -> Result<Arc<Deployed>, Error> {
        self.functions
            .load()
            .get(function)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                function: function.to_owned(),
            })
    }

    /// What the observer, if any, will be told of this event once it ends:
    /// where it came from, the trace that records it (the caller's own, or
    /// a fresh one bounded as the observer asks) and when it started.
    fn observing(&self, event: &Event, trace: Option<&Arc<Trace>>) -> Option<Observing<'_>> {
        self.observer.as_ref().map(|observer| {
            let trigger = match trace {
                Some(_) => TEST_TRIGGER.to_owned(),
                None => event.header(HEADER_TRIGGER).unwrap_or("").to_owned(),
            };
            let kept = trace
                .cloned()
                .unwrap_or_else(|| Arc::new(Trace::bounded(observer.log_bytes())));
            let step = (trigger == crate::flow::input::TRIGGER).then(|| {
                use crate::flow::input::{HEADER_ATTEMPT, HEADER_FLOW, HEADER_RUN, HEADER_STEP};
                let header = |name| event.header(name).unwrap_or("").to_owned();
                let attempt = event.header(HEADER_ATTEMPT).and_then(|a| a.parse().ok());
                (
                    header(HEADER_FLOW),
                    header(HEADER_RUN),
                    header(HEADER_STEP),
                    attempt.unwrap_or(1),
                )
            });
            Observing {
                observer,
                kept,
                trigger,
                step,
                method: event.http_method.clone(),
                source: event.path.clone(),
                at: std::time::SystemTime::now(),
            }
        })
    }

    /// Runs the event; a panic while running it fails this event only, as
    /// an internal error.
    async fn run_caught(
        &self,
        deployed: &Arc<Deployed>,
        event: Event,
        queued: bool,
        trace: Option<Arc<Trace>>,
    ) -> Result<Response, Error> {
        let running = std::panic::AssertUnwindSafe(self.run(deployed, event, queued, trace));
        running.catch_unwind().await.unwrap_or_else(|_| {
            Err(Error::Internal {
                reason: "fenn failed while running it (a bug: please report it)".into(),
            })
        })
    }
}

/// What an observer is told of an invocation, gathered before it runs.
struct Observing<'a> {
    observer: &'a Arc<dyn Observer>,
    /// The trace that records the invocation.
    kept: Arc<Trace>,
    trigger: String,
    /// The flow, run, step and attempt of a flow's step.
    step: Option<(String, String, String, u32)>,
    method: String,
    source: String,
    /// When it started, by the wall clock.
    at: std::time::SystemTime,
}

impl Observing<'_> {
    /// Tells the observer how the invocation went; `copy` keeps the
    /// trace's records for a caller that reads them after.
    fn report(
        self,
        function: &str,
        invocation: u64,
        version: u64,
        started: Instant,
        result: &Result<Response, Error>,
        copy: bool,
    ) {
        self.observer.invoked(Invoked {
            id: invocation,
            function,
            version,
            trigger: &self.trigger,
            method: &self.method,
            source: &self.source,
            started: self.at,
            duration: started.elapsed(),
            result,
            recorded: if copy {
                self.kept.recorded()
            } else {
                self.kept.take()
            },
            step: (self.step.as_ref()).map(|(flow, run, step, attempt)| crate::observe::StepOf {
                flow,
                run,
                step,
                attempt: *attempt,
            }),
        });
    }
}

/// Logs how an invocation went: a debug line when it answered, a
/// rate-limited warning when it failed.
fn log_outcome(function: &str, invocation: u64, micros: u128, result: &Result<Response, Error>) {
    match result {
        Ok(response) => tracing::debug!(
            function,
            invocation,
            micros,
            status = response.status_code,
            "invoked"
        ),
        Err(error) => crate::limited!(
            warn,
            "invocation failed",
            function,
            function,
            invocation,
            micros,
            %error,
            "invocation failed"
        ),
    }
}

impl<H: FunctionHost> FunctionHost for Arc<H> {
    fn invoke(
        &self,
        function: &str,
        event: Event,
    ) -> impl Future<Output = Result<Response, Error>> + Send {
        (**self).invoke(function, event)
    }

    fn invoke_queued(
        &self,
        function: &str,
        event: Event,
    ) -> impl Future<Output = Result<Response, Error>> + Send {
        (**self).invoke_queued(function, event)
    }
}

#[cfg(test)]
mod tests;
