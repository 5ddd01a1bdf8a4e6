//! fenn's MQTT trigger: functions run on MQTT messages and answer the
//! sender (MQTT 5 response topic and correlation data) or a configured reply
//! topic, over TCP or TLS (rustls, mutual TLS optional). Results are
//! published in order by one task and kept in an on-disk outbox while the
//! broker is away; QoS 1 messages are acknowledged only once their reply
//! is confirmed by the broker or durable on disk.
//!
//! # Layout
//!
//! - [`trigger`]: [`MqttTrigger`], the polling, dispatching and ack loops.
//! - `poller`: what the polling loop keeps, and does with each event.
//! - [`binding`]: [`RawSubscription`], a subscription's keys and their
//!   validation.
//! - [`bindings`]: [`MqttBindings`], changing the subscriptions while the
//!   trigger runs.
//! - [`delivery`]: the one task that publishes.
//! - [`publisher`]: [`Publisher`], its handle, also cron's result sink.
//! - [`link`]: the connection as the poller sees it, and which sent
//!   messages the broker has confirmed (pure).
//! - [`outbox`]: [`Outbox`], results waiting for the broker, on disk.
//! - [`session`]: one connection, MQTT 5 or 3.1.1, as the trigger uses it.
//! - [`settings`]: [`MqttSettings`], how to reach the broker.
//! - [`kind`]: [`MqttKind`] and [`MqttSetup`], the trigger in fenn's
//!   registry: `[mqtt]` read and checked, subscriptions read and checked
//!   as a set, the trigger started with what it reports.
//! - [`stats`]: [`MqttStats`], counts for the metrics.
//! - [`loops`]: [`find_loop`], loops the bindings' reply topics make
//!   (pure).
//! - [`message`]: a message as the event, a response as the reply.
//! - [`backoff`]: [`Backoff`], reconnect delays, and [`backoff::Poison`],
//!   a message the broker sends after every reconnect that fenn cannot
//!   read; [`backoff::Reconnect`], the two together.
//! - `embedded` (feature `embedded-broker`): an MQTT broker inside fenn,
//!   for trying it with nothing else installed.
//! - [`topic`]: [`TopicFilter`], a subscription such as
//!   `sensors/{room}/temp` (subscribes `sensors/+/temp`, names the segment
//!   `room`), `#` tails, `$share/<group>/…` shared subscriptions, matching a
//!   topic into the event's `pathParameters`; [`ReplyTemplate`], a reply
//!   topic that may use the named segments, refused when it would feed back
//!   into its own subscription.

pub mod backoff;
pub mod binding;
pub mod bindings;
pub mod delivery;
#[cfg(feature = "embedded-broker")]
pub mod embedded;
pub mod from_functions;
pub mod kind;
pub mod link;
pub mod loops;
pub mod message;
pub mod outbox;
mod poller;
pub mod publisher;
pub mod session;
pub mod settings;
pub mod stats;
pub mod topic;
pub mod trigger;

pub use backoff::Backoff;
pub use binding::RawSubscription;
pub use bindings::MqttBindings;
pub use kind::{MqttKind, MqttSetup};
pub use loops::{MqttLoop, find_loop};
pub use outbox::{Outbox, OutboxError, Outgoing};
pub use publisher::Publisher;
pub use settings::Version;
pub use stats::MqttStats;
pub use topic::{ReplyTemplate, TopicError, TopicFilter};
pub use trigger::{MqttRoute, MqttSettings, MqttTls, MqttTrigger, PACKET_ROOM};
