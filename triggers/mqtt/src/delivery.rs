//! Delivery: the one task that publishes, so results reach the broker in
//! the order they were made, and each is reported stored only once the
//! broker confirmed it or it is durable in the [`Outbox`].
//!
//! - Connected, nothing waiting in the outbox: a message is queued in
//!   memory and published; it counts as stored when the broker has it (a
//!   QoS 1 message when its PUBACK comes, see [`crate::link`]).
//! - Broker away, the outbox not empty (order), or the memory queue full:
//!   the message is appended to the outbox and synced; then it counts as
//!   stored. On overflow, what memory has in flight moves to the outbox
//!   first, so the order holds if the connection drops.
//! - Connection lost: what memory had, sent or not, moves to the outbox
//!   in order. Once connected again the outbox is sent first.
//! - Outbox full: a QoS 1 message waits, in order, parked in memory until
//!   there is room (its sender is not told before: a QoS 1 input stays
//!   unacknowledged, so the broker sends no more than Receive Maximum);
//!   a QoS 0 message is dropped.
//!
//! Delivery never waits on the polling task for long: it reads its
//! channel between sends, and a flood spills to the outbox instead of
//! stalling the poller (which must go on reading PUBACKs).

use crate::MqttStats;
use crate::link::{InFlight, Link};
use crate::outbox::{Outbox, OutboxError};
use crate::publisher::{CHANNEL, Item};
use crate::session::{Client, WINDOW};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Messages waiting in memory before they spill to the outbox.
pub const QUEUE: usize = 1024;

enum Origin {
    Memory(Item),
    Outbox,
}

/// Delivers until `close` completes, then keeps in the outbox whatever
/// the broker has not confirmed, for the next connection or the next run.
pub async fn run(
    mut items: mpsc::Receiver<Item>,
    mut link: watch::Receiver<Link>,
    client: Client,
    outbox: Outbox,
    stats: Arc<MqttStats>,
    close: impl Future<Output = ()>,
) {
    let mut delivery = Delivery {
        client,
        outbox,
        queue: VecDeque::new(),
        parked: VecDeque::new(),
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
        delivery.send(&now, &link).await;
        stats.outbox(delivery.outbox.len(), delivery.outbox.bytes());
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
    if !delivery.parked.is_empty() {
        tracing::warn!(
            lost = delivery.parked.len(),
            "MQTT: results still waiting for room in the full outbox at shutdown were not kept (a QoS 1 message they answer was not acknowledged: with a client_id the broker sends it again; a cron result is lost)"
        );
    }
}

struct Delivery {
    client: Client,
    outbox: Outbox,
    queue: VecDeque<Item>,
    /// Waiting for room in the outbox, newest of all.
    parked: VecDeque<Item>,
    flight: InFlight<Origin>,
    /// How many of the outbox's first messages are in `flight`.
    outbox_sent: usize,
}

impl Delivery {
    /// New messages: into memory when they can go at once, else stored.
    fn take(&mut self, batch: Vec<Item>, link: &Link) {
        let in_memory = self.outbox.is_empty() && self.parked.is_empty();
        if link.up && in_memory && self.queue.len() + batch.len() <= QUEUE {
            self.queue.extend(batch);
            return;
        }
        // Memory's messages are older: in flight first, then queued. Those
        // in flight move only if all fit, to become the outbox's first
        // messages, already sent.
        let mut items = Vec::new();
        if link.up && in_memory {
            let sent = self.flight.items_mut().filter_map(|origin| match origin {
                Origin::Memory(item) => Some(&item.message),
                Origin::Outbox => None,
            });
            if self.outbox.would_fit(sent) {
                for origin in self.flight.items_mut() {
                    if let Origin::Memory(item) = std::mem::replace(origin, Origin::Outbox) {
                        items.push(item);
                    }
                }
            }
        }
        let moved = items.len();
        items.extend(self.queue.drain(..));
        items.extend(batch);
        self.store(items);
        self.outbox_sent += moved;
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
                fenn_runtime::limited!(warn, "outbox confirm failed", "", %error, "MQTT outbox: could not record delivered messages (they may be sent again)");
            }
            self.unpark();
        }
    }

    /// The connection was lost, or delivery closes: everything unconfirmed
    /// from memory, and everything queued, goes to the outbox, in order.
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
                "MQTT: unconfirmed results kept in the outbox"
            );
            self.store(unconfirmed);
        }
    }

    /// Appends to the outbox and syncs once, then tells each message it is
    /// stored; parks QoS 1 messages that do not fit, drops QoS 0 ones.
    fn store(&mut self, items: Vec<Item>) {
        let (outbox, parked) = (&mut self.outbox, &mut self.parked);
        let (taken, refused, synced) = blocking(|| {
            let mut taken = Vec::with_capacity(items.len());
            let mut refused = Vec::new();
            let mut error = None;
            for item in items {
                let fits = parked.is_empty() && refused.is_empty();
                match fits.then(|| outbox.append(item.message.clone())) {
                    Some(Ok(())) => taken.push(item),
                    Some(Err(failed)) => {
                        error.get_or_insert(failed);
                        refused.push(item);
                    }
                    None => refused.push(item),
                }
            }
            if let Some(error) = error {
                fenn_runtime::limited!(warn, "outbox full", "", %error, waiting = refused.len(), "MQTT outbox: no room; QoS 1 results wait in memory, QoS 0 ones are dropped");
            }
            (taken, refused, outbox.sync())
        });
        for item in refused {
            if item.message.qos > 0 {
                parked.push_back(item);
            } else {
                item.answer(false);
            }
        }
        let durable = report(synced);
        for item in taken {
            item.answer(durable);
        }
    }

    /// Moves parked messages into the outbox while they fit.
    fn unpark(&mut self) {
        if self.parked.is_empty() {
            return;
        }
        let (outbox, parked) = (&mut self.outbox, &mut self.parked);
        let (taken, synced) = blocking(|| {
            let mut taken = Vec::new();
            while let Some(item) = parked.front() {
                if outbox.append(item.message.clone()).is_err() {
                    break;
                }
                taken.extend(parked.pop_front());
            }
            (taken, outbox.sync())
        });
        let durable = report(synced);
        for item in taken {
            item.answer(durable);
        }
    }

    /// Hands rumqttc what may go now: the outbox first, then memory. Stops
    /// as soon as the connection is not the one `link` showed.
    async fn send(&mut self, link: &Link, current: &watch::Receiver<Link>) {
        if !self.flight.can_send(link) {
            return;
        }
        while self.flight.len() < WINDOW {
            let now = *current.borrow();
            if !now.up || now.epoch != link.epoch {
                break;
            }
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
                // The event loop is gone (fenn is stopping): put it back.
                tracing::warn!(%error, "MQTT: could not hand a result to the client");
                match origin {
                    Origin::Memory(item) => self.queue.push_front(item),
                    Origin::Outbox => self.outbox_sent -= 1,
                }
                break;
            }
            self.flight.push(qos1, origin);
        }
    }
}

/// Whether a sync succeeded, logging when it did not.
fn report(synced: Result<(), OutboxError>) -> bool {
    match synced {
        Ok(()) => true,
        Err(error) => {
            fenn_runtime::limited!(error, "outbox sync failed", "", %error, "MQTT outbox: sync failed; results are kept in memory only");
            false
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
