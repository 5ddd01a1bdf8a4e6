//! [`Emitter`]: runs the events functions emit to other functions, each on
//! its own, after the emitting call has queued it. The queue is bounded in
//! bytes: an event waits, and then runs, within the budget, and an emit
//! past it is refused at the call. Emitted events live in memory: one
//! still queued or running when fenn stops is lost (the README says what
//! holds).

use crate::dispatch::{Dispatcher, FunctionHost as _};
use crate::services::Emit;
use fenn_abi::Event;
use std::sync::{Arc, Weak};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// What an emitted event is charged at least, for the task that runs it.
const EVENT_MIN: usize = 4 << 10;

/// The emitted events' queue and the task that runs them.
pub struct Emitter {
    queue: mpsc::UnboundedSender<(String, Event, OwnedSemaphorePermit)>,
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    dispatcher: Weak<Dispatcher>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("budget_bytes", &self.budget_bytes)
            .finish_non_exhaustive()
    }
}

impl Emitter {
    /// An emitter for `dispatcher`'s functions whose waiting and running
    /// events hold at most `budget_bytes`; its task runs on the current
    /// async runtime until the dispatcher is gone.
    pub fn start(dispatcher: &Arc<Dispatcher>, budget_bytes: usize) -> Arc<Self> {
        let (queue, mut events) = mpsc::unbounded_channel();
        let weak = Arc::downgrade(dispatcher);
        let runner = weak.clone();
        tokio::spawn(async move {
            while let Some((function, event, permit)) = events.recv().await {
                let Some(dispatcher) = runner.upgrade() else {
                    return;
                };
                tokio::spawn(run(dispatcher, function, event, permit));
            }
        });
        Arc::new(Self {
            queue,
            budget: Arc::new(Semaphore::new(budget_bytes)),
            budget_bytes,
            dispatcher: weak,
        })
    }
}

async fn run(
    dispatcher: Arc<Dispatcher>,
    function: String,
    event: Event,
    permit: OwnedSemaphorePermit,
) {
    let _held = permit;
    if let Err(error) = dispatcher.invoke_queued(&function, event).await {
        crate::limited!(warn, "emitted event failed", &function, function = %function, %error, "an emitted event failed");
    }
}

/// The bytes an event holds while it waits and runs.
fn weight(function: &str, event: &Event) -> usize {
    let headers: usize = event.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    (function.len() + event.path.len() + event.body.len() + headers).max(EVENT_MIN)
}

impl Emit for Emitter {
    fn emit(&self, function: &str, event: Event) -> Result<(), String> {
        let Some(dispatcher) = self.dispatcher.upgrade() else {
            return Err("fenn is stopping".into());
        };
        if !dispatcher.serves(function) {
            return Err(format!("no function named '{function}' is deployed"));
        }
        let charge =
            u32::try_from(weight(function, &event).min(self.budget_bytes)).unwrap_or(u32::MAX);
        let Ok(permit) = self.budget.clone().try_acquire_many_owned(charge) else {
            return Err(format!(
                "the queue of emitted events is full ({} bytes waiting or running)",
                self.budget_bytes
            ));
        };
        self.queue
            .send((function.to_owned(), event, permit))
            .map_err(|_| "fenn is stopping".to_owned())
    }
}
