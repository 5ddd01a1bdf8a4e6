//! What the polling task knows about the connection, and which sent
//! messages the broker has confirmed.
//!
//! rumqttc gives no handle per publish, but MQTT makes the broker answer
//! QoS 1 publishes in the order it received them (MQTT 5 §4.6), and rumqttc
//! writes requests in the order they were queued. So when only delivery
//! publishes, the n-th publish written in a connection is confirmed by
//! the n-th PUBACK of that connection. [`Link`] counts both per connection;
//! [`InFlight`] matches them to what delivery sent. Delivery starts sending
//! in a connection only once rumqttc has nothing of an earlier one left to
//! resend ([`Link::settled`]), so those PUBACKs are not counted as its own.

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
    /// QoS 1 publishes rumqttc still waits on or must resend.
    pub backlog: usize,
}

impl Link {
    /// Takes in what one poll of the connection brought, with rumqttc's
    /// backlog after it; true when anything changed.
    pub fn observe(&mut self, happened: &Happened, backlog: usize) -> bool {
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
            Happened::Lost(_) => self.up = false,
        }
        self.backlog = backlog;
        *self != before
    }

    /// Connected, with nothing of an earlier connection left to resend.
    pub fn settled(&self) -> bool {
        self.up && self.backlog == 0
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
    /// Whether sending may go on in `link`'s connection: it is settled, or
    /// this already counts in it.
    pub fn can_send(&mut self, link: &Link) -> bool {
        if self.epoch == Some(link.epoch) {
            return link.up;
        }
        if !link.settled() || !self.sent.is_empty() {
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
        link.observe(&Happened::Connected, 0);
        let mut flight = InFlight::default();
        assert!(flight.can_send(&link));
        flight.push(true, "a");
        flight.push(false, "b");
        flight.push(true, "c");
        link.observe(&Happened::Written, 1);
        assert!(flight.confirmed(&link).is_empty(), "written, not acked");
        link.observe(&Happened::Written, 1);
        link.observe(&puback(), 0);
        assert_eq!(flight.confirmed(&link), ["a", "b"]);
        link.observe(&Happened::Written, 1);
        assert!(flight.confirmed(&link).is_empty());
        link.observe(&puback(), 0);
        assert_eq!(flight.confirmed(&link), ["c"]);
        assert!(flight.is_empty());
    }

    #[test]
    fn pubacks_for_resent_messages_of_a_lost_connection_are_not_counted() {
        let mut link = Link::default();
        link.observe(&Happened::Connected, 0);
        let mut flight = InFlight::default();
        assert!(flight.can_send(&link));
        flight.push(true, "old");
        link.observe(&Happened::Written, 1);
        link.observe(&lost(), 1);
        assert!(flight.is_stale(&link));
        assert_eq!(flight.abandon(), ["old"]);
        // Reconnected, rumqttc resends its pending publish first.
        link.observe(&Happened::Connected, 1);
        assert!(!flight.can_send(&link), "rumqttc still resends");
        link.observe(&Happened::Written, 1);
        link.observe(&puback(), 0);
        assert!(flight.can_send(&link));
        flight.push(true, "new");
        assert!(
            flight.confirmed(&link).is_empty(),
            "that PUBACK was not ours"
        );
        link.observe(&Happened::Written, 1);
        link.observe(&puback(), 0);
        assert_eq!(flight.confirmed(&link), ["new"]);
    }

    #[test]
    fn observe_says_when_nothing_changed() {
        let mut link = Link::default();
        assert!(link.observe(&Happened::Connected, 0));
        assert!(!link.observe(&Happened::Other, 0));
        assert!(link.observe(&lost(), 0));
        assert!(!link.up);
    }
}
