//! The seam every event source implements: [`Trigger`], how fenn runs it
//! and stops it, and [`Bindings`], how its bindings (routes, subscriptions,
//! schedules) change while it runs. `fenn serve` is a loop over the
//! registered triggers ([`run_all`]); a new source is a new implementation,
//! not an edit of the server.

pub mod kind;

pub use kind::{
    Apply, Binding, Collision, Common, FunctionInfo, Host, KeyError, Metric, Report, Running,
    SinkCheck, Sinks, Table, Tables, TriggerKind, TriggerSetup,
};

use std::future::Future;
use std::pin::Pin;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A future a trigger runs as, or waits on.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// When a trigger stops at shutdown; stages stop in this order, each after
/// the one before has finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Makes events: stops first (the HTTP gateway, cron).
    Sources,
    /// Carries the results of the sources (MQTT's outbox): stops once
    /// every source has, so that their last results still reach it.
    Carriers,
}

/// An event source: it turns what arrives into events for functions, by
/// its bindings, and answers where the event came from.
pub trait Trigger: Send {
    /// The trigger's kind, as the event's `x-fenn-trigger` names it.
    fn kind(&self) -> &'static str;

    /// When it stops at shutdown.
    fn stage(&self) -> Stage;

    /// Serves until `shutdown` completes, then finishes what it has in
    /// flight, within its grace.
    fn run(self: Box<Self>, shutdown: BoxFuture) -> BoxFuture;
}

/// A handle that changes a running trigger's bindings: the next event is
/// matched against the new set, events already running finish as they
/// are. A set that cannot be served is refused whole, and nothing changes.
pub trait Bindings: Send + Sync {
    /// One binding of a function to the trigger, validated by the
    /// trigger's own crate.
    type Binding;
    /// Why a set was refused.
    type Error: std::error::Error;

    /// Serves `bindings` from now on, in place of the set before.
    ///
    /// # Errors
    ///
    /// The set cannot be served (two bindings collide, say).
    fn apply(&self, bindings: Vec<Self::Binding>) -> Result<(), Self::Error>;
}

/// Why a binding, as a config or a deploy writes it, is refused: the
/// binding's field (`route`, `cron[0]`'s `schedule`) and the reason. The
/// caller names where the binding is (`function[0].http[1]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct BindingError {
    /// The binding's key in error; empty for the binding as a whole.
    pub field: String,
    /// What is wrong, for a person.
    pub reason: String,
    /// The binding is refused for an error reported elsewhere (a thing it
    /// names was itself refused): the caller refuses it without a message
    /// of its own.
    reported_elsewhere: bool,
}

impl BindingError {
    /// `field` is refused for `reason`.
    pub fn new(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            reason: reason.into(),
            reported_elsewhere: false,
        }
    }

    /// The binding is refused for `reason`, an error whose own message is
    /// reported elsewhere.
    pub fn reported_elsewhere(reason: impl Into<String>) -> Self {
        Self {
            reported_elsewhere: true,
            ..Self::new("", reason)
        }
    }

    /// Whether the reason is reported elsewhere, so that the binding is
    /// refused without a message of its own.
    pub fn is_reported_elsewhere(&self) -> bool {
        self.reported_elsewhere
    }
}

/// Whether `name` may name a function or a binding: it appears in logs,
/// URL paths and file names, so letters, digits, `-`, `_` and `.` only, at
/// most [`MAX_NAME`] of them, and not `.` or `..`.
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Why `name` may not name a function or a binding, if it may not
/// ([`is_name`]), as config errors give it.
pub fn name_refused(name: &str) -> Option<String> {
    (!is_name(name)).then(|| {
        format!("'{name}' must be letters, digits, '-', '_' or '.' (at most 128, not '.' or '..')")
    })
}

/// Longest name of a function or a binding.
pub const MAX_NAME: usize = 128;

/// Runs every trigger until `signal` completes, then stops them stage by
/// stage.
pub async fn run_all(triggers: Vec<Box<dyn Trigger>>, signal: impl Future<Output = ()>) {
    const STAGES: [Stage; 2] = [Stage::Sources, Stage::Carriers];
    let stops: Vec<watch::Sender<bool>> = STAGES.iter().map(|_| watch::channel(false).0).collect();
    let mut running: Vec<JoinSet<()>> = STAGES.iter().map(|_| JoinSet::new()).collect();
    for trigger in triggers {
        let index = match trigger.stage() {
            Stage::Sources => 0,
            Stage::Carriers => 1,
        };
        let mut stopped = stops[index].subscribe();
        let shutdown: BoxFuture = Box::pin(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        });
        tracing::debug!(trigger = trigger.kind(), "trigger started");
        running[index].spawn(trigger.run(shutdown));
    }
    signal.await;
    for ((stage, stop), mut stage_running) in STAGES.iter().zip(&stops).zip(running) {
        stop.send_replace(true);
        while let Some(ended) = stage_running.join_next().await {
            if let Err(error) = ended {
                tracing::error!(?stage, %error, "a trigger failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records when it starts stopping and when it has stopped.
    struct Recording {
        name: &'static str,
        stage: Stage,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Trigger for Recording {
        fn kind(&self) -> &'static str {
            self.name
        }

        fn stage(&self) -> Stage {
            self.stage
        }

        fn run(self: Box<Self>, shutdown: BoxFuture) -> BoxFuture {
            Box::pin(async move {
                shutdown.await;
                self.log
                    .lock()
                    .unwrap()
                    .push(format!("{} stopping", self.name));
                tokio::task::yield_now().await;
                self.log
                    .lock()
                    .unwrap()
                    .push(format!("{} stopped", self.name));
            })
        }
    }

    #[tokio::test]
    async fn carriers_stop_only_once_every_source_has_stopped() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let trigger = |name, stage| -> Box<dyn Trigger> {
            Box::new(Recording {
                name,
                stage,
                log: log.clone(),
            })
        };
        let triggers = vec![
            trigger("mqtt", Stage::Carriers),
            trigger("http", Stage::Sources),
            trigger("cron", Stage::Sources),
        ];
        run_all(triggers, async {}).await;
        let log = log.lock().unwrap().clone();
        let at = |entry: &str| log.iter().position(|e| e == entry).unwrap();
        assert!(at("http stopped") < at("mqtt stopping"), "{log:?}");
        assert!(at("cron stopped") < at("mqtt stopping"), "{log:?}");
        assert_eq!(log.len(), 6, "{log:?}");
    }
}
