//! [`FunctionPublisher`]: messages functions publish through the host
//! call, into the same publisher and outbox as replies, in order. The call
//! returns once the message is stored: with the broker, or in the outbox
//! while the broker is away, so an accepted publish survives a restart.

use crate::message::{HOPS, set_hops};
use crate::{Outgoing, Publisher};
use bytes::Bytes;
use fenn_runtime::services::{Message, Publish};
use std::time::Instant;
use tokio::runtime::Handle;

/// Publishes functions' messages; runs on the worker threads that run
/// such functions, waiting on the async runtime through its handle.
pub struct FunctionPublisher {
    publisher: Publisher,
    runtime: Handle,
}

impl FunctionPublisher {
    /// Publishes through `publisher`, waiting on `runtime`.
    pub fn new(publisher: Publisher, runtime: Handle) -> Self {
        Self { publisher, runtime }
    }
}

impl Publish for FunctionPublisher {
    fn publish(&self, message: Message, deadline: Instant) -> Result<(), String> {
        let mut outgoing = Outgoing {
            topic: message.topic,
            qos: message.qos.min(1),
            payload: Bytes::from(message.payload),
            content_type: message.content_type,
            correlation: None,
            user_properties: message
                .user_properties
                .into_iter()
                .filter(|(name, _)| !name.eq_ignore_ascii_case(HOPS))
                .collect(),
            retain: message.retain,
        };
        set_hops(&mut outgoing, message.hops);
        if !self.publisher.fits(&outgoing) {
            return Err(format!(
                "the message is {} bytes, over the broker's packet limit",
                outgoing.payload.len() + outgoing.topic.len()
            ));
        }
        let publisher = self.publisher.clone();
        self.runtime.block_on(async move {
            let stored = async { publisher.publish(outgoing).await.await };
            match tokio::time::timeout_at(deadline.into(), stored).await {
                Ok(Ok(true)) => Ok(()),
                Ok(_) => Err("not stored: fenn is stopping, or the outbox failed".to_owned()),
                Err(_) => Err("not stored before the function's deadline".to_owned()),
            }
        })
    }
}
