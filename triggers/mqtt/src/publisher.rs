//! [`Publisher`]: the handle that queues messages for [`crate::delivery`],
//! in order; and the sink cron sends its results to.
//!
//! A reply to an MQTT message waits until it is stored, however long the
//! outbox stays full: its QoS 1 request stays unacknowledged meanwhile, so
//! the broker bounds how many wait. Cron has no such brake, so the results
//! it hands over ([`ResultSink`]) are queued at once and wait to be stored
//! within a memory budget, without holding up the run that made them; past
//! the budget a result is dropped at once with a warning, and counted, and
//! so is one that is never stored (fenn stopped with it still waiting).

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
    /// Bytes of sink results waiting to be stored (see the module docs),
    /// out of `budget`.
    waiting: Arc<Semaphore>,
    budget: usize,
    /// Sink results dropped or lost so far.
    lost: Arc<AtomicU64>,
}

impl Publisher {
    /// Queues `message`; the returned receiver says once it is stored. A
    /// message too large for an MQTT packet becomes a 502 failure message
    /// (sent, it would break the connection on every attempt).
    pub async fn publish(&self, message: Outgoing) -> oneshot::Receiver<bool> {
        let message = self.fit(message);
        let (stored, told) = oneshot::channel();
        if let Err(refused) = self.items.send(Item { message, stored }).await {
            refused.0.answer(false);
        }
        told
    }

    /// Whether `message` fits an MQTT packet.
    pub fn fits(&self, message: &Outgoing) -> bool {
        let size = message.payload.len() + message.topic.len();
        let properties: usize = message
            .user_properties
            .iter()
            .map(|(n, v)| n.len() + v.len() + 5)
            .sum();
        size + properties + 1024 <= self.max_bytes
    }

    /// `message`, or a 502 failure message in its place when it is too
    /// large for an MQTT packet.
    fn fit(&self, mut message: Outgoing) -> Outgoing {
        if self.fits(&message) {
            return message;
        }
        let size = message.payload.len() + message.topic.len();
        fenn_runtime::limited!(warn, "result too large", "", topic = %message.topic, bytes = size, "MQTT: a result too large to publish was replaced by an error");
        let failure = fenn_runtime::Error::BadOutput {
            reason: format!("the result is {size} bytes, over the MQTT packet limit"),
        };
        let correlation = message.correlation.take();
        // The hop count goes on: a reply that is always too large must
        // not restart it each round of a loop through the broker.
        let hops = std::mem::take(&mut message.user_properties)
            .into_iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(crate::message::HOPS));
        let mut replaced = crate::message::failure(&failure, message.topic, message.qos);
        replaced.correlation = correlation;
        replaced.user_properties.extend(hops);
        replaced
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
            let mut message = self.fit(match result {
                Ok(response) => crate::message::result(response.clone(), topic.to_owned(), 1),
                Err(error) => crate::message::failure(error, topic.to_owned(), 1),
            });
            crate::message::set_hops(&mut message, 1);
            let size = message.payload.len() + message.topic.len();
            let charge = size.clamp(WAITING_MIN, self.budget);
            let charge = u32::try_from(charge).unwrap_or(u32::MAX);
            let Ok(permit) = self.waiting.clone().try_acquire_many_owned(charge) else {
                let lost = self.count_lost();
                fenn_runtime::limited!(warn, "result dropped", "", %topic, lost, "MQTT: a result was dropped: the results not yet confirmed by the broker or stored in the outbox use their memory budget");
                return false;
            };
            let stored = self.publish(message).await;
            // The run that made the result goes on; its result waits here,
            // within the budget, until it is stored or given up.
            let (publisher, topic) = (self.clone(), topic.to_owned());
            tokio::spawn(async move {
                if !stored.await.unwrap_or(false) {
                    let lost = publisher.count_lost();
                    fenn_runtime::limited!(warn, "result lost", "", %topic, lost, "MQTT: a result was lost: it could not be published or kept in the outbox");
                }
                drop(permit);
            });
            true
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
        budget,
        lost: Arc::new(AtomicU64::new(0)),
    };
    (publisher, queue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Received;

    fn result(body: &str) -> Result<Response, fenn_runtime::Error> {
        Ok(Response {
            status_code: 200,
            body: body.into(),
            ..Response::default()
        })
    }

    /// Delivery never answers (a full outbox): cron results are taken up
    /// to the budget, the next one is dropped at once, and once one that
    /// waits is stored there is room again; one never stored is counted
    /// lost.
    #[tokio::test(flavor = "current_thread")]
    async fn cron_results_wait_within_a_budget_and_past_it_are_dropped() {
        let (publisher, mut items) = channel(64 << 10);
        let fits = WAITING_BUDGET / WAITING_MIN;
        for _ in 0..fits {
            assert!(publisher.deliver("samples", &result("21.5")).await);
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
        // The waiter lets its budget go once it hears.
        while publisher.waiting.available_permits() < WAITING_MIN {
            tokio::task::yield_now().await;
        }
        assert!(publisher.deliver("samples", &result("next")).await);
        held.pop().unwrap().answer(false);
        while publisher.lost() < 2 {
            tokio::task::yield_now().await;
        }
    }

    /// A result too large for a packet becomes a small 502 message before
    /// it is charged, so it is neither refused for the budget nor charged
    /// its own size.
    #[tokio::test(flavor = "current_thread")]
    async fn a_result_too_large_for_a_packet_is_charged_as_its_error() {
        let (publisher, mut items) = channel(64 << 10);
        let huge = "x".repeat(2 << 20);
        assert!(publisher.deliver("samples", &result(&huge)).await);
        let item = items.recv().await.unwrap();
        assert!(
            item.message.payload.len() < 1024,
            "{:?}",
            item.message.payload
        );
        assert_eq!(
            publisher.waiting.available_permits(),
            publisher.budget - WAITING_MIN
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_reply_too_large_for_a_packet_keeps_its_hop_count() {
        use rumqttc::v5::mqttbytes::QoS;
        use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
        let properties = PublishProperties {
            user_properties: vec![(crate::message::HOPS.into(), "3".into())],
            correlation_data: Some("c1".into()),
            ..PublishProperties::default()
        };
        let mut request = Publish::new("in", QoS::AtLeastOnce, "x", Some(properties));
        request.pkid = 1;
        let request = Received::from_v5(request);
        let huge = "x".repeat(2 << 20);
        let reply = crate::message::reply(result(&huge), &request, "out".into());
        let (publisher, mut items) = channel(64 << 10);
        drop(publisher.publish(reply).await);
        let message = items.recv().await.unwrap().message;
        assert!(message.payload.len() < 1024, "{:?}", message.payload);
        assert_eq!(message.correlation.as_deref(), Some(&b"c1"[..]));
        assert_eq!(crate::message::hops(&message.user_properties), 4);
    }
}
