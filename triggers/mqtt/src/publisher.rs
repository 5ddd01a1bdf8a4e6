//! [`Publisher`]: the handle that queues messages for [`crate::delivery`],
//! in order; and the sink cron sends its results to.
//!
//! A reply to an MQTT message waits until it is stored, however long the
//! outbox stays full: its QoS 1 request stays unacknowledged meanwhile, so
//! the broker bounds how many wait. Cron has no such brake, so the results
//! it hands over ([`ResultSink`]) wait within a memory budget; past it, a
//! result is dropped at once with a warning, and counted.

use crate::outbox::Outgoing;
use fenn_abi::Response;
use fenn_runtime::ResultSink;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Capacity of delivery's channel.
pub const CHANNEL: usize = 256;
/// What a waiting cron result is charged at least, for the message and
/// the task that waits with it.
const WAITING_MIN: usize = 4 << 10;
/// Bytes of cron results that may wait to be stored at once (more when a
/// single result may be larger).
const WAITING_BUDGET: usize = 1 << 20;

/// A message for delivery, and who to tell once it is stored.
#[derive(Debug)]
pub struct Item {
    /// The message.
    pub message: Outgoing,
    /// Told `true` once the broker has it or it is durable in the outbox,
    /// `false` when it was dropped.
    pub stored: oneshot::Sender<bool>,
}

impl Item {
    pub(crate) fn answer(self, stored: bool) {
        let _ = self.stored.send(stored);
    }
}

/// A handle that queues messages for delivery, in order.
#[derive(Debug, Clone)]
pub struct Publisher {
    items: mpsc::Sender<Item>,
    max_bytes: usize,
    /// Bytes of sink results waiting to be stored (see the module docs).
    waiting: Arc<Semaphore>,
    /// Sink results dropped or lost so far.
    lost: Arc<AtomicU64>,
}

impl Publisher {
    /// Queues `message`; the returned receiver says once it is stored. A
    /// message too large for an MQTT packet becomes a 502 failure message
    /// (sent, it would break the connection on every attempt).
    pub async fn publish(&self, mut message: Outgoing) -> oneshot::Receiver<bool> {
        let size = message.payload.len() + message.topic.len();
        let properties: usize = message
            .user_properties
            .iter()
            .map(|(n, v)| n.len() + v.len() + 5)
            .sum();
        if size + properties + 1024 > self.max_bytes {
            tracing::warn!(topic = %message.topic, bytes = size, "MQTT: a result too large to publish was replaced by an error");
            let failure = fenn_runtime::Error::BadOutput {
                reason: format!("the result is {size} bytes, over the MQTT packet limit"),
            };
            let correlation = message.correlation.take();
            message = crate::message::failure(&failure, message.topic, message.qos);
            message.correlation = correlation;
        }
        let (stored, told) = oneshot::channel();
        if let Err(refused) = self.items.send(Item { message, stored }).await {
            refused.0.answer(false);
        }
        told
    }

    /// Sink results dropped (no room to wait) or lost (not stored when
    /// fenn stopped) so far.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    fn count_lost(&self) -> u64 {
        self.lost.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl ResultSink for Publisher {
    fn deliver<'a>(
        &'a self,
        topic: &'a str,
        result: &'a Result<Response, fenn_runtime::Error>,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(async move {
            let message = match result {
                Ok(response) => crate::message::result(response.clone(), topic.to_owned(), 1),
                Err(error) => crate::message::failure(error, topic.to_owned(), 1),
            };
            let charge = (message.payload.len() + message.topic.len()).max(WAITING_MIN);
            let charge = u32::try_from(charge).unwrap_or(u32::MAX);
            let Ok(_permit) = self.waiting.try_acquire_many(charge) else {
                let lost = self.count_lost();
                tracing::warn!(%topic, lost, "MQTT: a result was dropped: the outbox is full and the results waiting for room use their memory budget");
                return false;
            };
            let stored = self.publish(message).await;
            if stored.await.unwrap_or(false) {
                return true;
            }
            let lost = self.count_lost();
            tracing::warn!(%topic, lost, "MQTT: a result was lost: it could not be published or kept in the outbox");
            false
        })
    }
}

/// A channel for delivery, for messages of at most `max_bytes`: the
/// handle, and the end [`crate::delivery::run`] reads.
pub fn channel(max_bytes: usize) -> (Publisher, mpsc::Receiver<Item>) {
    let (items, queue) = mpsc::channel(CHANNEL);
    let budget = WAITING_BUDGET.max(max_bytes).min(Semaphore::MAX_PERMITS);
    let publisher = Publisher {
        items,
        max_bytes,
        waiting: Arc::new(Semaphore::new(budget)),
        lost: Arc::new(AtomicU64::new(0)),
    };
    (publisher, queue)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(body: &str) -> Result<Response, fenn_runtime::Error> {
        Ok(Response {
            status_code: 200,
            body: body.into(),
            ..Response::default()
        })
    }

    /// Delivery never answers (a full outbox): cron results wait up to the
    /// budget, the next one is dropped at once, and answering one that
    /// waits lets it through.
    #[tokio::test(flavor = "current_thread")]
    async fn cron_results_wait_within_a_budget_and_past_it_are_dropped() {
        let (publisher, mut items) = channel(64 << 10);
        let fits = WAITING_BUDGET / WAITING_MIN;
        let mut waiting = tokio::task::JoinSet::new();
        for _ in 0..fits {
            let publisher = publisher.clone();
            waiting.spawn(async move { publisher.deliver("samples", &result("21.5")).await });
        }
        let mut held = Vec::new();
        while held.len() < fits {
            held.push(items.recv().await.unwrap());
        }
        assert!(!publisher.deliver("samples", &result("over")).await);
        assert_eq!(publisher.lost(), 1);
        assert!(
            items.try_recv().is_err(),
            "the dropped result was not queued"
        );
        held.pop().unwrap().answer(true);
        assert!(waiting.join_next().await.unwrap().unwrap());
        // Room for one again.
        let again = publisher.clone();
        let next = tokio::spawn(async move { again.deliver("samples", &result("next")).await });
        items.recv().await.unwrap().answer(true);
        assert!(next.await.unwrap());
        // A result not stored (delivery dropped it) is said to be lost.
        held.pop().unwrap().answer(false);
        assert!(!waiting.join_next().await.unwrap().unwrap());
        assert_eq!(publisher.lost(), 2);
    }
}
