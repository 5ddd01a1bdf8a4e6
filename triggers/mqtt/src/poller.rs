//! [`Poller`]: what the task that polls the connection keeps between
//! events, and what it does with each (see [`crate::trigger`]).

use crate::backoff::{POISON_AFTER, Reconnect, Verdict};
use crate::bindings::{self, Routes, Subscription};
use crate::link::Link;
use crate::session::{Connection, Happened, Received};
use crate::{MqttRoute, MqttStats};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc::OwnedPermit;
use tokio::sync::{mpsc, watch};

/// QoS 0 messages read ahead of the dispatcher, at most, and their bytes.
const READ_AHEAD: usize = 1024;
const READ_AHEAD_BYTES: usize = 8 << 20;

/// A message read, with the routes in force when it arrived.
pub(crate) type Work = (Received, Arc<Vec<MqttRoute>>);

/// The polling task's state.
pub(crate) struct Poller {
    /// Messages read but not yet taken by the dispatcher. The poller never
    /// stops polling: rumqttc reads the PUBACKs that acks wait on, and
    /// writes queued acks and replies, only while polled. QoS 1 messages
    /// are bounded by the broker (fenn's Receive Maximum, or the broker's
    /// own in-flight limit); past READ_AHEAD waiting, or READ_AHEAD_BYTES,
    /// a QoS 0 message is dropped, as QoS 0 allows, and counted.
    pub(crate) read_ahead: VecDeque<Work>,
    read_ahead_bytes: usize,
    /// QoS 0 messages dropped, and how many of them the log has totalled.
    pub(crate) dropped: u64,
    reported: u64,
    /// The wait before the next reconnect, while there is one.
    pub(crate) retry: Option<Pin<Box<tokio::time::Sleep>>>,
    reconnect: Reconnect,
    /// The filters subscribed to, and those given up while disconnected
    /// (the persistent session keeps them until told); one task makes
    /// every change, in order.
    subscribed: BTreeMap<String, u8>,
    stale: BTreeSet<String>,
    subscriptions: mpsc::UnboundedSender<Subscription>,
    link: watch::Sender<Link>,
    stats: Arc<MqttStats>,
    /// `host:port`, for the log.
    broker: String,
    max_packet: usize,
}

impl Poller {
    /// A poller for `routes`' subscriptions, made by the task that reads
    /// `subscriptions`.
    pub(crate) fn new(
        routes: &Routes,
        subscriptions: mpsc::UnboundedSender<Subscription>,
        link: watch::Sender<Link>,
        stats: Arc<MqttStats>,
        broker: String,
        max_packet: usize,
    ) -> Self {
        Self {
            read_ahead: VecDeque::new(),
            read_ahead_bytes: 0,
            dropped: 0,
            reported: 0,
            retry: None,
            reconnect: Reconnect::default(),
            subscribed: bindings::wanted(&routes.load()),
            stale: BTreeSet::new(),
            subscriptions,
            link,
            stats,
            broker,
            max_packet,
        }
    }

    /// Takes in what one poll brought; messages are read ahead only while
    /// `accepting`.
    pub(crate) fn on_happened(
        &mut self,
        happened: Happened,
        connection: &mut Connection,
        routes: &Routes,
        accepting: bool,
    ) {
        if happened.is_lost() {
            connection.forget_publishes();
        }
        // Up before this poll: a failure then is a lost connection, else
        // one that could not be made.
        let was_up = self.link.borrow().up;
        self.link.send_if_modified(|link| link.observe(&happened));
        match happened {
            Happened::Connected => {
                self.reconnect.connected();
                tracing::info!(broker = %self.broker, "MQTT connected");
                let _ = self.subscriptions.send(Subscription::Connected {
                    wanted: self.subscribed.clone(),
                    stale: std::mem::take(&mut self.stale),
                });
            }
            Happened::Received(message) if accepting => self.read(*message, routes),
            Happened::PubAck {
                refused: Some(reason),
            } => {
                fenn_runtime::limited!(warn, "broker refused a result", "", %reason, "MQTT: the broker refused a result");
            }
            Happened::Lost(_) | Happened::Unreadable(_) => {
                let delay = self.say_lost(&happened, was_up);
                self.retry = Some(Box::pin(tokio::time::sleep(delay)));
            }
            Happened::Received(_)
            | Happened::PubAck { refused: None }
            | Happened::Written
            | Happened::Other => {}
        }
    }

    /// Reads `message` ahead of the dispatcher, or drops it (QoS 0 only)
    /// when too much is read ahead.
    fn read(&mut self, mut message: Received, routes: &Routes) {
        message.drop_oversized(self.max_packet);
        let size = message.payload.len();
        let full =
            self.read_ahead.len() >= READ_AHEAD || self.read_ahead_bytes + size > READ_AHEAD_BYTES;
        if message.qos == 0 && full {
            self.dropped += 1;
            self.stats.dropped_qos0.fetch_add(1, Ordering::Relaxed);
            if self.dropped.is_power_of_two() {
                tracing::warn!(
                    dropped = self.dropped,
                    "MQTT: functions are saturated; QoS 0 messages dropped"
                );
            }
        } else {
            self.read_ahead_bytes += size;
            self.read_ahead.push_back((message, routes.load_full()));
        }
    }

    /// Hands the oldest message read ahead to the dispatcher, through
    /// `permit`; false when there is none or no dispatcher.
    pub(crate) fn hand_over(&mut self, permit: Option<OwnedPermit<Work>>) -> bool {
        let (Some(permit), Some(work)) = (permit, self.read_ahead.pop_front()) else {
            return false;
        };
        self.read_ahead_bytes -= work.0.payload.len();
        permit.send(work);
        if self.read_ahead.is_empty() && self.dropped > self.reported {
            fenn_runtime::limited!(
                warn,
                "qos 0 dropped",
                "",
                burst = self.dropped - self.reported,
                total = self.dropped,
                "MQTT: functions caught up; QoS 0 messages were dropped meanwhile"
            );
            self.reported = self.dropped;
        }
        true
    }

    /// Drops what was read ahead: not started, it is left unacknowledged
    /// for the broker.
    pub(crate) fn stop_reading(&mut self) {
        self.read_ahead.clear();
        self.read_ahead_bytes = 0;
    }

    /// The routes changed: subscribes and unsubscribes on the live
    /// connection, or remembers the filters given up until the next.
    pub(crate) fn on_routes_changed(&mut self, routes: &Routes) {
        let now = bindings::wanted(&routes.load());
        let (subscribe, gone) = bindings::changes(&self.subscribed, &now);
        self.subscribed = now;
        if self.link.borrow().up {
            let _ = self
                .subscriptions
                .send(Subscription::Change { subscribe, gone });
        } else {
            for (filter, _) in &subscribe {
                self.stale.remove(filter);
            }
            self.stale.extend(gone);
        }
    }

    /// Logs a lost connection (`happened`, up before if `was_up`) and the
    /// delay before the next try, which it returns; a poison message is
    /// said once, when it is recognised, and its further losses quietly.
    fn say_lost(&mut self, happened: &Happened, was_up: bool) -> Duration {
        let (error, delay) = match happened {
            Happened::Unreadable(error) => match self.reconnect.unreadable(error, random()) {
                (Verdict::Lost, delay) => (error, delay),
                (Verdict::Poison, delay) => {
                    tracing::error!(%error, times = POISON_AFTER, "MQTT: the broker sends a message fenn cannot read again after every reconnect (retained, or queued in the session; larger than fenn reads): its topic is unknown, as it is never read. fenn reconnects with growing delays, up to 30 s, until the message is purged at the broker (triggers/mqtt/README.md, A message fenn cannot read)");
                    return delay;
                }
                (Verdict::Again, delay) => {
                    tracing::debug!(%error, retry_in = ?delay, "MQTT: the unreadable message again");
                    return delay;
                }
            },
            Happened::Lost(error) => (error, self.reconnect.lost(was_up, random())),
            _ => return self.reconnect.lost(was_up, random()),
        };
        if was_up {
            tracing::warn!(%error, retry_in = ?delay, "MQTT connection lost");
        } else {
            tracing::warn!(%error, retry_in = ?delay, "MQTT: cannot connect to the broker");
        }
        delay
    }
}

fn random() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u64::from(nanos).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}
