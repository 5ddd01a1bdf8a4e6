//! Delivery: the one task that publishes, so results reach the broker in
//! the order they were made, and each is reported stored only once the
//! broker confirmed it or it is durable in the [`Outbox`].
//!
//! - Connected, nothing waiting in the outbox: a message is queued in
//!   memory and published; a QoS 1 message counts as stored when its
//!   PUBACK comes (see [`crate::link`]).
//! - Broker away, or the outbox not empty (order), or the memory queue
//!   full: the message is appended to the outbox and synced; then it
//!   counts as stored. When the outbox is full it is refused.
//! - Connection lost: what was in memory, sent or not, moves to the
//!   outbox in order. Once connected again the outbox is sent first.
//!
//! Delivery never waits for the polling task while holding up others:
//! its channel is always read, so a flood spills to the outbox instead of
//! stalling the poller (which must go on reading PUBACKs).

use crate::link::{InFlight, Link};
use crate::outbox::{Outbox, Outgoing};
use crate::session::Client;
use fenn_abi::Response;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::{mpsc, oneshot, watch};

/// Messages handed to rumqttc and not yet confirmed, at most.
pub const WINDOW: usize = 64;
/// Messages waiting in memory before they spill to the outbox.
pub const QUEUE: usize = 1024;
/// Capacity of delivery's channel.
pub const CHANNEL: usize = 256;

/// A message for delivery, and who to tell once it is stored.
#[derive(Debug)]
pub struct Item {
    /// The message.
    pub message: Outgoing,
    /// Told `true` once the broker has it or it is durable in the outbox,
    /// `false` when the outbox refused it.
    pub stored: Option<oneshot::Sender<bool>>,
}

impl Item {
    fn answer(self, stored: bool) {
        if let Some(tell) = self.stored {
            let _ = tell.send(stored);
        }
    }
}

enum Origin {
    Memory(Item),
    Outbox,
}

/// A handle that queues messages for delivery, in order.
#[derive(Debug, Clone)]
pub struct Publisher {
    items: mpsc::Sender<Item>,
}

impl Publisher {
    /// Queues `message`; the returned receiver says once it is stored.
    pub async fn publish(&self, message: Outgoing) -> oneshot::Receiver<bool> {
        let (tell, told) = oneshot::channel();
        let item = Item {
            message,
            stored: Some(tell),
        };
        if let Err(refused) = self.items.send(item).await {
            refused.0.answer(false);
        }
        told
    }
}

impl fenn_runtime::ResultSink for Publisher {
    fn deliver<'a>(
        &'a self,
        topic: &'a str,
        result: &'a Result<Response, fenn_runtime::Error>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let message = match result {
                Ok(response) => crate::message::result(response.clone(), topic.to_owned(), 1),
                Err(error) => crate::message::failure(error, topic.to_owned(), 1),
            };
            let stored = self.publish(message).await;
            if !stored.await.unwrap_or(false) {
                tracing::warn!(%topic, "MQTT: a result could not be published or kept in the outbox");
            }
        })
    }
}

/// A channel for delivery: the handle, and the end [`run`] reads.
pub fn channel() -> (Publisher, mpsc::Receiver<Item>) {
    let (items, queue) = mpsc::channel(CHANNEL);
    (Publisher { items }, queue)
}

/// Delivers until `close` completes, then keeps in the outbox whatever
/// the broker has not confirmed, for the next connection or the next run.
pub async fn run(
    mut items: mpsc::Receiver<Item>,
    mut link: watch::Receiver<Link>,
    client: Client,
    outbox: Outbox,
    close: impl Future<Output = ()>,
) {
    let mut delivery = Delivery {
        client,
        outbox,
        queue: VecDeque::new(),
        flight: InFlight::default(),
        outbox_sent: 0,
    };
    if !delivery.outbox.is_empty() {
        tracing::info!(
            waiting = delivery.outbox.len(),
            "MQTT outbox: results from before wait for the broker"
        );
    }
    tokio::pin!(close);
    loop {
        let now = *link.borrow_and_update();
        delivery.follow(&now);
        delivery.send(&now).await;
        tokio::select! {
            item = items.recv() => match item {
                Some(item) => {
                    let mut batch = vec![item];
                    while batch.len() < CHANNEL {
                        match items.try_recv() {
                            Ok(item) => batch.push(item),
                            Err(_) => break,
                        }
                    }
                    delivery.take(batch, &now);
                }
                None => break,
            },
            changed = link.changed() => if changed.is_err() { break },
            () = &mut close => break,
        }
    }
    delivery.spill();
}

struct Delivery {
    client: Client,
    outbox: Outbox,
    queue: VecDeque<Item>,
    flight: InFlight<Origin>,
    /// How many of the outbox's first messages are in `flight`.
    outbox_sent: usize,
}

impl Delivery {
    /// New messages: into memory when they can go at once, else stored.
    fn take(&mut self, batch: Vec<Item>, link: &Link) {
        if link.up && self.outbox.is_empty() && self.queue.len() + batch.len() <= QUEUE {
            self.queue.extend(batch);
            return;
        }
        // Older messages in memory go first, to keep the order.
        let mut older: Vec<Item> = self.queue.drain(..).collect();
        if link.up {
            // In flight from memory: stay there, confirmed as they come.
            older.extend(batch);
            self.store(older);
        } else {
            self.store(older.into_iter().chain(batch).collect());
        }
    }

    /// Takes in what `link` says: confirmations, or a lost connection.
    fn follow(&mut self, link: &Link) {
        if self.flight.is_stale(link) {
            self.spill();
            return;
        }
        if !link.up {
            if !self.queue.is_empty() {
                let queued: Vec<Item> = self.queue.drain(..).collect();
                self.store(queued);
            }
            return;
        }
        let mut from_outbox = 0;
        for origin in self.flight.confirmed(link) {
            match origin {
                Origin::Memory(item) => item.answer(true),
                Origin::Outbox => from_outbox += 1,
            }
        }
        if from_outbox > 0 {
            self.outbox_sent -= from_outbox;
            let outbox = &mut self.outbox;
            if let Err(error) = blocking(|| outbox.confirm(from_outbox)) {
                tracing::warn!(%error, "MQTT outbox: could not record delivered messages (they may be sent again)");
            }
        }
    }

    /// The connection was lost: everything unconfirmed from memory, and
    /// everything queued, goes to the outbox, in order.
    fn spill(&mut self) {
        let mut unconfirmed = Vec::new();
        for origin in self.flight.abandon() {
            if let Origin::Memory(item) = origin {
                unconfirmed.push(item);
            }
        }
        self.outbox_sent = 0;
        unconfirmed.extend(self.queue.drain(..));
        if !unconfirmed.is_empty() {
            tracing::info!(
                messages = unconfirmed.len(),
                "MQTT: connection lost, unconfirmed results kept in the outbox"
            );
            self.store(unconfirmed);
        }
    }

    /// Appends to the outbox, syncs once, then tells each whether it was
    /// stored.
    fn store(&mut self, items: Vec<Item>) {
        let outbox = &mut self.outbox;
        let outcome = blocking(|| {
            let mut taken = Vec::with_capacity(items.len());
            let mut error = None;
            for item in &items {
                match outbox.append(item.message.clone()) {
                    Ok(()) => taken.push(true),
                    Err(refused) => {
                        taken.push(false);
                        error.get_or_insert(refused);
                    }
                }
            }
            let synced = outbox.sync();
            (taken, error, synced)
        });
        let (taken, error, synced) = outcome;
        if let Some(error) = &error {
            let refused = taken.iter().filter(|taken| !**taken).count();
            tracing::warn!(%error, refused, "MQTT outbox refused results: QoS 1 messages stay unacknowledged for the broker to send again; others are dropped");
        }
        let durable = match synced {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, "MQTT outbox: sync failed; results are kept in memory only");
                false
            }
        };
        for (item, taken) in items.into_iter().zip(taken) {
            item.answer(taken && durable);
        }
    }

    /// Hands rumqttc what may go now: the outbox first, then memory.
    async fn send(&mut self, link: &Link) {
        if !self.flight.can_send(link) {
            return;
        }
        while self.flight.len() < WINDOW {
            let (message, origin) = if self.outbox_sent < self.outbox.len() {
                let Some(message) = self.outbox.get(self.outbox_sent) else {
                    break;
                };
                self.outbox_sent += 1;
                (message.clone(), Origin::Outbox)
            } else if let Some(item) = self.queue.pop_front() {
                (item.message.clone(), Origin::Memory(item))
            } else {
                break;
            };
            let qos1 = message.qos > 0;
            if let Err(error) = self.client.publish(message).await {
                tracing::warn!(%error, "MQTT: could not hand a result to the client");
            }
            self.flight.push(qos1, origin);
        }
    }
}

/// Runs disk work without stalling the other tasks of a multi-threaded
/// runtime (fsync on an SD card can take long).
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
