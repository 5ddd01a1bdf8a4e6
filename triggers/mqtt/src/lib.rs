//! fenn's MQTT trigger: functions run on MQTT messages and answer the
//! sender (MQTT 5 response topic and correlation data) or a configured reply
//! topic, over TCP or TLS (rustls, mutual TLS optional). In progress
//! (issue 3): the on-disk outbox for replies while the broker is away,
//! MQTT 3.1.1 and the embedded broker are not here yet.
//!
//! # Layout
//!
//! - [`trigger`]: [`MqttTrigger`], the polling, dispatching and ack loops.
//! - [`message`]: a message as the event, a response as the reply.
//! - [`backoff`]: [`Backoff`], reconnect delays.
//! - [`topic`]: [`TopicFilter`], a subscription such as
//!   `sensors/{room}/temp` (subscribes `sensors/+/temp`, names the segment
//!   `room`), `#` tails, `$share/<group>/…` shared subscriptions, matching a
//!   topic into the event's `pathParameters`; [`ReplyTemplate`], a reply
//!   topic that may use the named segments, refused when it would feed back
//!   into its own subscription.

pub mod backoff;
pub mod message;
pub mod topic;
pub mod trigger;

pub use backoff::Backoff;
pub use topic::{ReplyTemplate, TopicError, TopicFilter};
pub use trigger::{MqttRoute, MqttSettings, MqttTls, MqttTrigger};
