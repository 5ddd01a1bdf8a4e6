//! [`Emitter`]: runs the events functions emit to other functions, each on
//! its own, after the emitting call has queued it. The queue is bounded in
//! bytes: an event waits, and then runs, within the budget, and an emit
//! past it is refused at the call. With a journal ([`EmitJournal`]), an
//! event is kept durably before the call returns and dropped once it has
//! run; the events a crash left are run again at the next start (at least
//! once). Without one, an event still queued when fenn stops is lost.

use crate::dispatch::{Dispatcher, FunctionHost as _};
use crate::services::{Emit, EmitJournal};
use fenn_abi::Event;
use std::sync::{Arc, Weak};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// What an emitted event is charged at least, for the task that runs it.
const EVENT_MIN: usize = 4 << 10;
/// Kept events read back at a time at start.
const REPLAY_PAGE: usize = 64;

/// One emitted event on its way.
struct Emitted {
    function: String,
    event: Event,
    kept: Option<u64>,
    permit: OwnedSemaphorePermit,
}

/// The emitted events' queue and the task that runs them.
pub struct Emitter {
    queue: mpsc::UnboundedSender<Emitted>,
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    dispatcher: Weak<Dispatcher>,
    journal: Option<Arc<dyn EmitJournal>>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("budget_bytes", &self.budget_bytes)
            .field("journal", &self.journal.is_some())
            .finish_non_exhaustive()
    }
}

impl Emitter {
    /// An emitter for `dispatcher`'s functions whose waiting and running
    /// events hold at most `budget_bytes`, keeping them in `journal` when
    /// given; runs the events the journal kept from before, then each new
    /// one, on the current async runtime until the dispatcher is gone.
    pub fn start(
        dispatcher: &Arc<Dispatcher>,
        budget_bytes: usize,
        journal: Option<Arc<dyn EmitJournal>>,
    ) -> Arc<Self> {
        let (queue, mut events) = mpsc::unbounded_channel::<Emitted>();
        let weak = Arc::downgrade(dispatcher);
        let (runner, kept) = (weak.clone(), journal.clone());
        let emitter = Arc::new(Self {
            queue,
            budget: Arc::new(Semaphore::new(budget_bytes)),
            budget_bytes,
            dispatcher: weak,
            journal,
        });
        let replayer = emitter.clone();
        tokio::spawn(async move {
            replayer.replay().await;
            drop(replayer);
            while let Some(emitted) = events.recv().await {
                let Some(dispatcher) = runner.upgrade() else {
                    return;
                };
                tokio::spawn(run(dispatcher, emitted, kept.clone()));
            }
        });
        emitter
    }

    /// Runs the events a journal kept from before this start.
    async fn replay(&self) {
        let Some(journal) = &self.journal else {
            return;
        };
        let mut after = 0;
        loop {
            let page = journal.pending(after, REPLAY_PAGE);
            let Some(last) = page.last().map(|(id, ..)| *id) else {
                return;
            };
            after = last;
            for (id, function, bytes) in page {
                let Ok(event) = serde_json::from_slice::<Event>(&bytes) else {
                    journal.done(id);
                    continue;
                };
                let charge = self.charge(&function, &event);
                let Ok(permit) = self.budget.clone().acquire_many_owned(charge).await else {
                    return;
                };
                let Some(dispatcher) = self.dispatcher.upgrade() else {
                    return;
                };
                let emitted = Emitted {
                    function,
                    event,
                    kept: Some(id),
                    permit,
                };
                tokio::spawn(run(dispatcher, emitted, Some(journal.clone())));
            }
        }
    }

    fn charge(&self, function: &str, event: &Event) -> u32 {
        let headers: usize = event.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        let weight =
            (function.len() + event.path.len() + event.body.len() + headers).max(EVENT_MIN);
        u32::try_from(weight.min(self.budget_bytes)).unwrap_or(u32::MAX)
    }
}

async fn run(dispatcher: Arc<Dispatcher>, emitted: Emitted, journal: Option<Arc<dyn EmitJournal>>) {
    let Emitted {
        function,
        event,
        kept,
        permit,
    } = emitted;
    let _held = permit;
    if let Err(error) = dispatcher.invoke_queued(&function, event).await {
        crate::limited!(warn, "emitted event failed", &function, function = %function, %error, "an emitted event failed");
    }
    if let (Some(journal), Some(id)) = (journal, kept) {
        journal.done(id);
    }
}

impl Emit for Emitter {
    fn emit(&self, function: &str, event: Event) -> Result<(), String> {
        let Some(dispatcher) = self.dispatcher.upgrade() else {
            return Err("fenn is stopping".into());
        };
        if !dispatcher.serves(function) {
            return Err(format!("no function named '{function}' is deployed"));
        }
        let Ok(permit) = self
            .budget
            .clone()
            .try_acquire_many_owned(self.charge(function, &event))
        else {
            return Err(format!(
                "the queue of emitted events is full ({} bytes waiting or running)",
                self.budget_bytes
            ));
        };
        let kept = match &self.journal {
            Some(journal) => {
                let bytes = serde_json::to_vec(&event).map_err(|error| error.to_string())?;
                Some(journal.keep(function, &bytes)?)
            }
            None => None,
        };
        let emitted = Emitted {
            function: function.to_owned(),
            event,
            kept,
            permit,
        };
        self.queue
            .send(emitted)
            .map_err(|_| "fenn is stopping".to_owned())
    }
}
