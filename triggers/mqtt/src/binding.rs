//! `[[function.mqtt]]`: a subscription as a config or a deploy writes it,
//! and its validation into an [`MqttRoute`]. The trigger's keys live here,
//! not in the binary.

use crate::{MqttRoute, ReplyTemplate, TopicFilter};
use fenn_runtime::trigger::BindingError;
use serde::Deserialize;

/// `[[function.mqtt]]`: one subscription, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubscription {
    /// `topic`: a filter; `{name}` segments fill pathParameters.
    pub topic: String,
    /// `qos`: 0 or 1 (default 1).
    pub qos: Option<u8>,
    /// `reply`: topic for results when a message names no response topic.
    pub reply: Option<String>,
}

impl RawSubscription {
    /// The subscription of `function`.
    ///
    /// # Errors
    ///
    /// The topic filter, the QoS or the reply topic (which must not feed
    /// the filter back) is refused.
    pub fn validate(&self, function: &str) -> Result<MqttRoute, BindingError> {
        let filter = TopicFilter::parse(&self.topic)
            .map_err(|error| BindingError::new("topic", error.to_string()))?;
        let qos = match self.qos {
            None => 1,
            Some(qos @ (0 | 1)) => qos,
            Some(other) => {
                return Err(BindingError::new(
                    "qos",
                    format!("{other}: fenn serves QoS 0 and 1"),
                ));
            }
        };
        let reply = match &self.reply {
            Some(reply) => Some(
                ReplyTemplate::new(reply, &filter)
                    .map_err(|error| BindingError::new("reply", error.to_string()))?,
            ),
            None => None,
        };
        Ok(MqttRoute {
            filter,
            qos,
            function: function.to_owned(),
            reply,
        })
    }
}
