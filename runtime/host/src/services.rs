//! The services the host calls reach: the key-value store, MQTT and other
//! functions. Each is a trait with one real implementation (the `fenn-kv`
//! store, the MQTT trigger's publisher, the emitter `fenn serve` runs) and
//! the fakes of tests; they are bound once the triggers have started, so a
//! call before then, or on a device without the service, answers
//! [`UNAVAILABLE`](fenn_abi::calls::UNAVAILABLE) with the reason.

use crate::grants::KvGrant;
use fenn_abi::Event;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The namespace is over its quota of keys or bytes; nothing changed.
    #[error("{0}")]
    Quota(String),
    /// The key's value is not what the operation needs (an increment of a
    /// value that is not a decimal integer).
    #[error("{0}")]
    Invalid(String),
    /// The database failed; nothing changed.
    #[error("the key-value store failed: {0}")]
    Failed(String),
}

/// A durable key-value store of namespaces. Every write has returned only
/// once it is durable, as the store's sync policy says.
pub trait KvStore: Send + Sync {
    /// The value under `key`, unless it is absent or expired.
    ///
    /// # Errors
    ///
    /// [`KvError::Failed`].
    fn get(&self, store: &str, key: &[u8]) -> Result<Option<Vec<u8>>, KvError>;
    /// Sets `key`, to expire after `ttl` when given, within the grant's
    /// quota.
    ///
    /// # Errors
    ///
    /// [`KvError::Quota`] or [`KvError::Failed`]; nothing changed then.
    fn set(
        &self,
        grant: &KvGrant,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), KvError>;
    /// Deletes `key`; whether it was there.
    ///
    /// # Errors
    ///
    /// [`KvError::Failed`].
    fn delete(&self, store: &str, key: &[u8]) -> Result<bool, KvError>;
    /// At most `limit` keys starting with `prefix`, in byte order, the
    /// expired left out.
    ///
    /// # Errors
    ///
    /// [`KvError::Failed`].
    fn list(&self, store: &str, prefix: &[u8], limit: usize) -> Result<Vec<Vec<u8>>, KvError>;
    /// Adds `delta` to the decimal integer under `key` (absent: 0)
    /// atomically; the new value.
    ///
    /// # Errors
    ///
    /// [`KvError::Invalid`] for a value that is not one, [`KvError::Quota`],
    /// [`KvError::Failed`].
    fn incr(&self, grant: &KvGrant, key: &[u8], delta: i64) -> Result<i64, KvError>;
    /// Sets `key` to `new` if it holds `old` (`None`: if it is absent),
    /// atomically; whether it did.
    ///
    /// # Errors
    ///
    /// [`KvError::Quota`] or [`KvError::Failed`].
    fn cas(
        &self,
        grant: &KvGrant,
        key: &[u8],
        old: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, KvError>;
}

/// An MQTT message a function publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic, granted to the function.
    pub topic: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// 0 or 1.
    pub qos: u8,
    /// Whether the broker retains it.
    pub retain: bool,
    /// MQTT 5 content type.
    pub content_type: Option<String>,
    /// MQTT 5 user properties.
    pub user_properties: Vec<(String, String)>,
    /// Hops of the chain that led here, carried on so that a loop through
    /// the broker ends.
    pub hops: u32,
}

/// Publishes functions' messages through the same outbox as results.
pub trait Publish: Send + Sync {
    /// Hands `message` over and waits, at most until `deadline`, until it is
    /// stored: with the broker, or in the outbox while the broker is away.
    /// Called from a worker thread, never from the async runtime.
    ///
    /// # Errors
    ///
    /// Why it was not stored (the outbox full, fenn stopping, the deadline).
    fn publish(&self, message: Message, deadline: Instant) -> Result<(), String>;
}

/// Runs events functions emit to other functions.
pub trait Emit: Send + Sync {
    /// Queues `event` for `function`, without waiting for it to run.
    ///
    /// # Errors
    ///
    /// Why it was not queued (the queue full, the function unknown).
    fn emit(&self, function: &str, event: Event) -> Result<(), String>;
}

/// Where emitted events are kept until they have run, so that one a call
/// accepted runs even after a crash (at least once).
pub trait EmitJournal: Send + Sync {
    /// Keeps `event` for `function`, durably; its id.
    ///
    /// # Errors
    ///
    /// Why it could not be kept.
    fn keep(&self, function: &str, event: &[u8]) -> Result<u64, String>;
    /// The event of `id` has run: it is dropped.
    fn done(&self, id: u64);
    /// At most `limit` kept events with ids over `after`, oldest first.
    fn pending(&self, after: u64, limit: usize) -> Vec<(u64, String, Vec<u8>)>;
}

/// A flow's run kept from before a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptRun {
    /// The run's id.
    pub run: String,
    /// Its flow.
    pub flow: String,
    /// The event that started it, as JSON.
    pub event: Vec<u8>,
    /// The steps it completed, in order: each one's name and outcome.
    pub steps: Vec<(String, Vec<u8>)>,
}

/// Where flows' runs are kept until they end, so that a run resumes after
/// a crash at the steps it had not completed.
pub trait FlowJournal: Send + Sync {
    /// Keeps the start of `run` of `flow` on `event`, durably.
    ///
    /// # Errors
    ///
    /// Why it could not be kept.
    fn begin(&self, run: &str, flow: &str, event: &[u8]) -> Result<(), String>;
    /// Keeps the outcome of `step` of `run`, durably.
    ///
    /// # Errors
    ///
    /// Why it could not be kept.
    fn step(&self, run: &str, step: &str, outcome: &[u8]) -> Result<(), String>;
    /// `run` has ended: it is dropped.
    fn end(&self, run: &str);
    /// At most `limit` kept runs with ids over `after`, in id order.
    fn unfinished(&self, after: &str, limit: usize) -> Vec<KeptRun>;
    /// The greatest id of a kept run, if any.
    fn newest(&self) -> Option<String>;
}

/// The services bound so far. Each is bound at most once.
#[derive(Default)]
pub struct Services {
    kv: OnceLock<Arc<dyn KvStore>>,
    publish: OnceLock<Arc<dyn Publish>>,
    emit: OnceLock<Arc<dyn Emit>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("kv", &self.kv.get().is_some())
            .field("publish", &self.publish.get().is_some())
            .field("emit", &self.emit.get().is_some())
            .finish()
    }
}

impl Services {
    /// Binds the key-value store (a second binding is ignored).
    pub fn bind_kv(&self, store: Arc<dyn KvStore>) {
        let _ = self.kv.set(store);
    }

    /// Binds MQTT publishing (a second binding is ignored).
    pub fn bind_publish(&self, publish: Arc<dyn Publish>) {
        let _ = self.publish.set(publish);
    }

    /// Binds emitting (a second binding is ignored).
    pub fn bind_emit(&self, emit: Arc<dyn Emit>) {
        let _ = self.emit.set(emit);
    }

    /// The key-value store, once bound.
    pub fn kv(&self) -> Option<&Arc<dyn KvStore>> {
        self.kv.get()
    }

    pub(crate) fn publisher(&self) -> Option<&Arc<dyn Publish>> {
        self.publish.get()
    }

    pub(crate) fn emitter(&self) -> Option<&Arc<dyn Emit>> {
        self.emit.get()
    }
}
