//! What the polling task knows about the connection, and which sent
//! messages the broker has confirmed.
//!
//! rumqttc gives no handle per publish, but MQTT makes the broker answer
//! QoS 1 publishes in the order it received them (MQTT 5 §4.6), and rumqttc
//! writes requests in the order they were queued. So when only delivery
//! publishes, the n-th publish written in a connection is confirmed by
//! the n-th PUBACK of that connection. [`Link`] counts both per connection;
//! [`InFlight`] matches them to what delivery sent. When a connection is
//! lost the poller makes rumqttc forget the publishes it would resend
//! ([`crate::session::Connection::forget_publishes`]): delivery resends
//! them itself, so every PUBACK of a new connection answers delivery.

use crate::session::Happened;
use std::collections::VecDeque;

/// The connection as the polling task last saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Link {
    /// Connections made so far (one per CONNACK).
    pub epoch: u64,
    /// Connected now.
    pub up: bool,
    /// Publishes rumqttc wrote in this connection, any QoS.
    pub written: u64,
    /// PUBACKs received in this connection.
    pub acked: u64,
}

impl Link {
    /// Takes in what one poll of the connection brought; true when
    /// anything changed.
    pub fn observe(&mut self, happened: &Happened) -> bool {
        let before = *self;
        match happened {
            Happened::Connected => {
                *self = Self {
                    epoch: self.epoch + 1,
                    up: true,
                    ..Self::default()
                };
            }
            Happened::PubAck { .. } => self.acked += 1,
            Happened::Written => self.written += 1,
            Happened::Received(_) | Happened::Other => {}
            Happened::Lost(_) | Happened::Unreadable(_) => self.up = false,
        }
        *self != before
    }
}

/// Messages handed to rumqttc in one connection, oldest first, until the
/// broker has them: a QoS 0 message once written, a QoS 1 one once its
/// PUBACK came.
#[derive(Debug)]
pub struct InFlight<T> {
    sent: VecDeque<(u64, Option<u64>, T)>,
    epoch: Option<u64>,
    handed: u64,
    handed_qos1: u64,
    base_written: u64,
    base_acked: u64,
}

impl<T> Default for InFlight<T> {
    fn default() -> Self {
        Self {
            sent: VecDeque::new(),
            epoch: None,
            handed: 0,
            handed_qos1: 0,
            base_written: 0,
            base_acked: 0,
        }
    }
}

impl<T> InFlight<T> {
    /// Whether sending may go on in `link`'s connection; the first time
    /// in a connection, counting starts from its counts so far.
    pub fn can_send(&mut self, link: &Link) -> bool {
        if self.epoch == Some(link.epoch) {
            return link.up;
        }
        if !link.up || !self.sent.is_empty() {
            return false;
        }
        *self = Self {
            epoch: Some(link.epoch),
            base_written: link.written,
            base_acked: link.acked,
            ..Self::default()
        };
        true
    }

    /// Whether `link` is another connection than the one counted in.
    pub fn is_stale(&self, link: &Link) -> bool {
        self.epoch.is_some() && (self.epoch != Some(link.epoch) || !link.up)
    }

    /// Notes one message handed to rumqttc.
    pub fn push(&mut self, qos1: bool, item: T) {
        let ack = qos1.then(|| {
            self.handed_qos1 += 1;
            self.handed_qos1 - 1
        });
        self.sent.push_back((self.handed, ack, item));
        self.handed += 1;
    }

    /// Takes out, oldest first, what `link` shows the broker has.
    pub fn confirmed(&mut self, link: &Link) -> Vec<T> {
        let mut done = Vec::new();
        if self.epoch != Some(link.epoch) {
            return done;
        }
        let written = link.written.saturating_sub(self.base_written);
        let acked = link.acked.saturating_sub(self.base_acked);
        while let Some((index, ack, _)) = self.sent.front() {
            let has_it = *index < written && ack.is_none_or(|ack| ack < acked);
            if !has_it {
                break;
            }
            if let Some((_, _, item)) = self.sent.pop_front() {
                done.push(item);
            }
        }
        done
    }

    /// The unconfirmed messages, oldest first.
    pub fn items_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.sent.iter_mut().map(|(_, _, item)| item)
    }

    /// Messages not confirmed yet.
    pub fn len(&self) -> usize {
        self.sent.len()
    }

    /// Whether nothing waits for the broker.
    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }

    /// Gives back, oldest first, everything unconfirmed (the connection
    /// dropped) and forgets the connection.
    pub fn abandon(&mut self) -> Vec<T> {
        let items = self.sent.drain(..).map(|(_, _, item)| item).collect();
        *self = Self::default();
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost() -> Happened {
        Happened::Lost("gone".into())
    }

    fn puback() -> Happened {
        Happened::PubAck { refused: None }
    }

    #[test]
    fn a_qos1_message_is_confirmed_by_its_own_puback_in_order() {
        let mut link = Link::default();
        link.observe(&Happened::Connected);
        let mut flight = InFlight::default();
        assert!(flight.can_send(&link));
        flight.push(true, "a");
        flight.push(false, "b");
        flight.push(true, "c");
        link.observe(&Happened::Written);
        assert!(flight.confirmed(&link).is_empty(), "written, not acked");
        link.observe(&Happened::Written);
        link.observe(&puback());
        assert_eq!(flight.confirmed(&link), ["a", "b"]);
        link.observe(&Happened::Written);
        assert!(flight.confirmed(&link).is_empty());
        link.observe(&puback());
        assert_eq!(flight.confirmed(&link), ["c"]);
        assert!(flight.is_empty());
    }

    #[test]
    fn after_a_lost_connection_counting_starts_again_with_the_new_one() {
        let mut link = Link::default();
        link.observe(&Happened::Connected);
        let mut flight = InFlight::default();
        assert!(flight.can_send(&link));
        flight.push(true, "old");
        link.observe(&Happened::Written);
        link.observe(&lost());
        assert!(flight.is_stale(&link));
        assert_eq!(flight.abandon(), ["old"]);
        // A late PUBACK of the lost connection's is not counted.
        link.observe(&puback());
        assert!(flight.confirmed(&link).is_empty());
        assert!(!flight.can_send(&link), "not connected");
        link.observe(&Happened::Connected);
        assert!(flight.can_send(&link));
        flight.push(true, "old again");
        flight.push(true, "new");
        link.observe(&Happened::Written);
        link.observe(&Happened::Written);
        link.observe(&puback());
        assert_eq!(flight.confirmed(&link), ["old again"]);
        link.observe(&puback());
        assert_eq!(flight.confirmed(&link), ["new"]);
    }

    #[test]
    fn observe_says_when_nothing_changed() {
        let mut link = Link::default();
        assert!(link.observe(&Happened::Connected));
        assert!(!link.observe(&Happened::Other));
        assert!(link.observe(&lost()));
        assert!(!link.up);
    }
}
