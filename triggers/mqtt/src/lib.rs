//! fenn's MQTT trigger, in progress (issue 3): this crate holds the part
//! that needs no broker, the topic logic; the connection loop comes next.
//!
//! # Layout
//!
//! - [`topic`]: [`TopicFilter`], a subscription such as
//!   `sensors/{room}/temp` (subscribes `sensors/+/temp`, names the segment
//!   `room`), `#` tails, `$share/<group>/…` shared subscriptions, matching a
//!   topic into the event's `pathParameters`; [`ReplyTemplate`], a reply
//!   topic that may use the named segments, refused when it would feed back
//!   into its own subscription.

pub mod topic;

pub use topic::{ReplyTemplate, TopicError, TopicFilter};
