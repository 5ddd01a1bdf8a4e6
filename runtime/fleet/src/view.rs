//! The operator's view of the fleet, from the broker's retained messages:
//! every device's report and liveness, and the desired states. What
//! `fenn fleet status` prints, and what a rollout watches.

use crate::link::{self, Incoming, LinkSettings};
use crate::report::Report;
use crate::signed::Trusted;
use crate::topics::Topic;
use crate::{Deployment, FleetError, Topics};
use rumqttc::{AsyncClient, QoS};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Time to reach the broker.
const CONNECT: Duration = Duration::from_secs(15);
/// Most devices a view holds: reports are not signed, and anyone who may
/// publish on the broker may make up devices.
pub const MAX_DEVICES: usize = 100_000;
/// Desired states kept per topic.
const KEPT_DESIRED: usize = 16;
/// Time the broker has to confirm what is published.
const CONFIRM: Duration = Duration::from_secs(120);
/// Time after which what it has not confirmed is sent again.
const RESEND: Duration = Duration::from_secs(10);

/// One device as the broker holds it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Its last report.
    pub report: Option<Report>,
    /// Online, offline, or not said.
    pub alive: Option<bool>,
    /// When its last report came, in this view.
    pub updated: Option<Instant>,
}

/// The fleet, as its retained messages say.
pub struct View {
    pub(crate) client: AsyncClient,
    incoming: mpsc::Receiver<Incoming>,
    pub(crate) topics: Topics,
    /// Every device that has reported or said it lives.
    pub devices: BTreeMap<String, Seen>,
    /// Desired states, by topic, the last few that came.
    pub desired: BTreeMap<String, Vec<bytes::Bytes>>,
    /// QoS 1 messages the broker has.
    pub(crate) acked: u64,
    /// What it subscribes to, again on each connection.
    subscriptions: Vec<String>,
}

impl View {
    /// Connects and subscribes to every device's state and, for `group`,
    /// its desired state; then takes what the broker holds until `expect`
    /// devices of `group` are known, or nothing has come for `settle`.
    ///
    /// # Errors
    ///
    /// The broker cannot be reached.
    pub async fn open(
        link: LinkSettings,
        topics: Topics,
        desired: &[String],
        group: Option<&str>,
        expect: Option<usize>,
        settle: Duration,
    ) -> Result<Self, FleetError> {
        let (client, incoming) = link::connect(link);
        let mut view = Self {
            client,
            incoming,
            topics,
            devices: BTreeMap::new(),
            desired: BTreeMap::new(),
            acked: 0,
            subscriptions: Vec::new(),
        };
        let deadline = Instant::now() + CONNECT;
        loop {
            match tokio::time::timeout_at(deadline.into(), view.incoming.recv()).await {
                Ok(Some(Incoming::Connected)) => break,
                Ok(Some(Incoming::Lost(reason))) => tracing::debug!(%reason, "fleet: broker"),
                Ok(Some(_)) => {}
                _ => return Err(FleetError::Broker("cannot reach the broker".into())),
            }
        }
        view.subscriptions = (desired.iter().cloned())
            .chain([view.topics.every_device()])
            .collect();
        view.subscribe();
        loop {
            let enough = expect.is_some_and(|n| view.members(group).len() >= n);
            if enough || !view.pump(Instant::now() + settle).await {
                break;
            }
        }
        Ok(view)
    }

    /// Takes one message, or waits until `until`; false when none came.
    pub async fn pump(&mut self, until: Instant) -> bool {
        let next = tokio::time::timeout_at(until.into(), self.incoming.recv()).await;
        let Ok(Some(incoming)) = next else {
            return false;
        };
        match incoming {
            Incoming::Message { topic, payload } => self.take(&topic, payload),
            Incoming::Acked => self.acked += 1,
            Incoming::Connected | Incoming::Unsubscribed => self.subscribe(),
            Incoming::Lost(_) => {}
        }
        true
    }

    /// Subscribes, at QoS 0: everything it reads is retained, and comes
    /// again with a new subscription.
    fn subscribe(&self) {
        for topic in &self.subscriptions {
            let _ = self.client.try_subscribe(topic, QoS::AtMostOnce);
        }
    }

    fn take(&mut self, topic: &str, payload: bytes::Bytes) {
        match self.topics.parse(topic) {
            Some(Topic::Reported(device)) => {
                if let Some(seen) = self.device(device) {
                    seen.report = serde_json::from_slice(&payload).ok();
                    seen.updated = Some(Instant::now());
                }
            }
            Some(Topic::Alive(device)) => {
                if let Some(seen) = self.device(device) {
                    seen.alive = Some(payload.as_ref() == b"online");
                }
            }
            Some(Topic::Group(_) | Topic::Device(_)) => {
                // Kept, newest last, so that a replayed or cleared message
                // does not hide the newest signed one.
                let kept = self.desired.entry(topic.to_owned()).or_default();
                if kept.len() >= KEPT_DESIRED {
                    kept.remove(0);
                }
                kept.push(payload);
            }
            _ => {}
        }
    }

    /// The device `name`, known from now on: none past [`MAX_DEVICES`],
    /// or for a name that is not a device's.
    fn device(&mut self, name: &str) -> Option<&mut Seen> {
        let known = self.devices.contains_key(name);
        if !known && (self.devices.len() >= MAX_DEVICES || !crate::topics::is_name(name)) {
            return None;
        }
        Some(self.devices.entry(name.to_owned()).or_default())
    }

    /// The devices of `group` (every device without one), by name.
    pub fn members(&self, group: Option<&str>) -> Vec<String> {
        (self.devices.iter())
            .filter(|(_, seen)| {
                let groups = seen.report.as_ref().map(|r| r.groups.as_slice());
                group.is_none_or(|group| groups.unwrap_or_default().iter().any(|g| g == group))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Whether `device` says it is online.
    pub fn is_online(&self, device: &str) -> bool {
        self.devices.get(device).and_then(|seen| seen.alive) == Some(true)
    }

    /// The newest deployment `trusted` signed among those that came on
    /// `topic`, with its message.
    pub fn deployment(&self, topic: &str, trusted: &Trusted) -> Option<(Deployment, bytes::Bytes)> {
        (self.desired.get(topic)?.iter())
            .filter_map(|payload| {
                let text = trusted.open(payload).ok()?;
                let deployment = Deployment::parse(&text, u64::MAX).ok()?;
                Some((deployment, payload.clone()))
            })
            .max_by_key(|(deployment, _)| deployment.id)
    }

    /// The newest deployment any of `devices` reports in force (reports
    /// are not signed: a check, not a proof).
    pub fn newest_in_force(&self, devices: &[String]) -> Option<u64> {
        (devices.iter())
            .filter_map(|device| self.devices.get(device)?.report.as_ref()?.deployment)
            .max()
    }

    /// Publishes retained, and waits until the broker has it.
    ///
    /// # Errors
    ///
    /// The broker did not confirm it in time.
    pub(crate) async fn publish(
        &mut self,
        messages: Vec<(String, Vec<u8>)>,
    ) -> Result<(), FleetError> {
        // A clustered broker that loses a node may drop a publish it was
        // storing, confirming nothing: after a while all are sent again
        // (each retained, so a second copy changes nothing).
        let deadline = Instant::now() + CONFIRM;
        while Instant::now() < deadline {
            let wanted = self.acked + messages.len() as u64;
            for (topic, payload) in &messages {
                (self.client)
                    .publish(topic, QoS::AtLeastOnce, true, payload.clone())
                    .await
                    .map_err(|error| FleetError::Broker(error.to_string()))?;
            }
            let again = (Instant::now() + RESEND).min(deadline);
            while self.acked < wanted && self.pump(again).await {}
            if self.acked >= wanted {
                return Ok(());
            }
        }
        Err(FleetError::Broker(
            "the broker did not confirm the messages".into(),
        ))
    }

    /// Disconnects, letting what was queued go first.
    pub async fn close(self) {
        let _ = self.client.disconnect().await;
        let mut incoming = self.incoming;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(message) = incoming.recv().await {
                if matches!(message, Incoming::Lost(_)) {
                    break;
                }
            }
        })
        .await;
    }
}
