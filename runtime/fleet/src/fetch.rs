//! A module's download while a deployment applies: its chunks' topic
//! subscribed until every chunk is in, the link kept up meanwhile
//! (liveness and the report again on a new connection), and desired
//! states that come meanwhile kept for later; a newer deployment for this
//! device, or a download that goes too long without a chunk, ends it.

use crate::agent::{AgentSettings, Reporter, desired_topics};
use crate::apply::Modules;
use crate::chunks::Assembly;
use crate::deployment::{Deployment, Function};
use crate::device::Boxed;
use crate::link::Incoming;
use crate::topics::Topic;
use rumqttc::{AsyncClient, QoS};
use std::collections::BTreeMap;
use tokio::sync::mpsc;

/// Fetches modules on the agent's link.
pub(crate) struct Fetcher<'a> {
    pub(crate) settings: &'a AgentSettings,
    pub(crate) client: &'a AsyncClient,
    pub(crate) incoming: &'a mut mpsc::Receiver<Incoming>,
    pub(crate) waiting: &'a mut BTreeMap<String, bytes::Bytes>,
    pub(crate) reporter: &'a Reporter,
    /// The deployment being applied.
    pub(crate) applying: u64,
}

impl Modules for Fetcher<'_> {
    fn fetch<'a>(
        &'a mut self,
        deployment: &'a Deployment,
        function: &'a Function,
    ) -> Boxed<'a, Result<Vec<u8>, String>> {
        Box::pin(self.module(deployment, function))
    }
}

impl Fetcher<'_> {
    /// `function`'s module from its chunks on the broker.
    async fn module(
        &mut self,
        deployment: &Deployment,
        function: &Function,
    ) -> Result<Vec<u8>, String> {
        let filter = self.settings.topics.chunks(&function.sha256);
        let mut assembly = Assembly::new(&function.sha256, function.size, deployment.chunk);
        (self.client)
            .subscribe(&filter, QoS::AtMostOnce)
            .await
            .map_err(|error| format!("the broker link: {error}"))?;
        let fetched = self.chunks(&filter, function, &mut assembly).await;
        let _ = self.client.unsubscribe(&filter).await;
        fetched?;
        assembly.finish()
    }

    /// Takes chunks until the module is whole, or says why not.
    async fn chunks(
        &mut self,
        filter: &str,
        function: &Function,
        assembly: &mut Assembly,
    ) -> Result<(), String> {
        let timeout = self.settings.fetch_timeout;
        let count = assembly.missing();
        // Only a chunk not had before moves the deadline: other messages,
        // and chunks sent again, do not keep a stalled download going.
        let mut deadline = tokio::time::Instant::now() + timeout;
        while !assembly.is_whole() {
            let wait = (tokio::time::Instant::now() + self.settings.resync).min(deadline);
            let next = tokio::time::timeout_at(wait, self.incoming.recv()).await;
            let incoming = match next {
                Err(_) if tokio::time::Instant::now() < deadline => {
                    self.subscribe(filter);
                    continue;
                }
                Err(_) => {
                    return Err(format!(
                        "module {}: {} of its {count} chunks not on the broker after {}s",
                        function.sha256,
                        assembly.missing(),
                        timeout.as_secs()
                    ));
                }
                Ok(None) => return Err("the broker link ended".into()),
                Ok(Some(incoming)) => incoming,
            };
            let (topic, payload) = match incoming {
                Incoming::Connected | Incoming::Unsubscribed => {
                    if matches!(incoming, Incoming::Connected) {
                        self.reporter.connected();
                    } else {
                        tokio::time::sleep(crate::agent::RESUBSCRIBE).await;
                    }
                    self.subscribe(filter);
                    continue;
                }
                Incoming::Message { topic, payload } => (topic, payload),
                Incoming::Lost(_) | Incoming::Acked => continue,
            };
            match self.settings.topics.parse(&topic) {
                Some(Topic::Chunk(sha, index)) if sha == function.sha256 => {
                    match assembly.take(index, &payload) {
                        Ok(true) => deadline = tokio::time::Instant::now() + timeout,
                        Ok(false) => {}
                        Err(reason) => tracing::debug!(%reason, "fleet: a chunk left out"),
                    }
                }
                Some(Topic::Group(_) | Topic::Device(_)) => {
                    let newer = self.newer(&payload);
                    self.waiting.insert(topic, payload);
                    if let Some(id) = newer {
                        return Err(format!("superseded by deployment {id}"));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Subscribes again to the desired states and to the chunks' `filter`
    /// (retained, they come again).
    fn subscribe(&self, filter: &str) {
        let topics = desired_topics(self.settings)
            .into_iter()
            .chain([filter.to_owned()]);
        for topic in topics {
            let _ = self.client.try_subscribe(topic, QoS::AtMostOnce);
        }
    }

    /// The id of a deployment in `payload` newer than the one applying,
    /// signed and for this device.
    fn newer(&self, payload: &[u8]) -> Option<u64> {
        let settings = self.settings;
        let text = settings.trusted.open(payload).ok()?;
        let deployment = Deployment::parse(&text, settings.max_module).ok()?;
        (deployment.id > self.applying && deployment.is_for(&settings.device, &settings.groups))
            .then_some(deployment.id)
    }
}
