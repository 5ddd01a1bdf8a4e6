//! The device's side: on the broker's link, reports the device's state
//! and liveness, takes signed deployments from its groups' and its own
//! desired-state topics, and applies each new one ([`crate::apply`]),
//! fetching modules from the broker. The ledger is written after each
//! deployment ends, so that a device killed while applying applies it
//! again when it comes back (changing nothing that was already applied).

use crate::apply;
use crate::deployment::Deployment;
use crate::fetch::Fetcher;
use crate::ledger::{Ledger, Verdict};
use crate::link::{self, Incoming, LinkSettings};
use crate::report::{Phase, Refusal, Report};
use crate::signed::Trusted;
use crate::topics::Topic;
use crate::{Device, Topics};
use rumqttc::{AsyncClient, QoS};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The pause before a refused subscription is made again.
pub(crate) const RESUBSCRIBE: Duration = Duration::from_millis(500);

/// The ledger's file under the state directory.
pub const LEDGER: &str = "fleet.json";
/// Largest ledger read back.
const MAX_LEDGER: u64 = 4 << 20;

/// What the agent is.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// The device's id.
    pub device: String,
    /// Its groups.
    pub groups: Vec<String>,
    /// The topics' prefix.
    pub topics: Topics,
    /// The keys whose deployments it applies.
    pub trusted: Trusted,
    /// Largest module it takes.
    pub max_module: u64,
    /// Where its ledger is kept.
    pub state_dir: PathBuf,
    /// Time a module's download may go without a new chunk.
    pub fetch_timeout: Duration,
    /// How often it subscribes to its desired states again, so that a
    /// subscription a broker lost (a cluster's node failing over, say)
    /// is made again and what is retained comes again.
    pub resync: Duration,
    /// The broker link.
    pub link: LinkSettings,
}

/// The device's fleet agent.
pub struct Agent {
    device: Arc<dyn Device>,
    settings: AgentSettings,
    client: AsyncClient,
    incoming: mpsc::Receiver<Incoming>,
    ledger: Ledger,
    report: Report,
    /// Desired states come while applying, newest per topic.
    waiting: BTreeMap<String, bytes::Bytes>,
    refusals: crate::refusals::Refusals,
    connections: u64,
    reporter: Arc<Reporter>,
}

/// Publishes the device's report, retained, and keeps the last one for
/// the console and for each new connection.
#[derive(Debug)]
pub(crate) struct Reporter {
    client: AsyncClient,
    topic: String,
    alive: String,
    status: watch::Sender<Report>,
}

impl Reporter {
    /// Publishes `report`.
    pub(crate) fn publish(&self, report: &Report) {
        if let Ok(payload) = serde_json::to_vec(report) {
            let _ = (self.client).try_publish(&self.topic, QoS::AtLeastOnce, true, payload);
        }
        self.status.send_replace(report.clone());
    }

    /// Liveness and the last report, again: on each new connection, and
    /// at each resync (a clustered broker may lose what it was storing).
    pub(crate) fn connected(&self) {
        self.alive();
        let report = self.status.borrow().clone();
        self.publish(&report);
    }

    /// Says the device is online.
    pub(crate) fn alive(&self) {
        let _ = (self.client).try_publish(&self.alive, QoS::AtLeastOnce, true, "online");
    }
}

impl Agent {
    /// Connects and reads the ledger; the agent, and its reports as they
    /// change (for the console).
    pub async fn start(
        device: Arc<dyn Device>,
        mut settings: AgentSettings,
    ) -> (Self, watch::Receiver<Report>) {
        let alive = settings.topics.alive(&settings.device);
        settings.link.will = Some((alive, b"offline".to_vec()));
        let ledger = read_ledger(&settings.state_dir);
        let mut report = Report {
            device: settings.device.clone(),
            groups: settings.groups.clone(),
            state: Phase::Active,
            deployment: ledger.in_force(),
            target: ledger.failed.as_ref().map(|(id, _)| *id),
            reason: ledger.failed.as_ref().map(|(_, reason)| reason.clone()),
            functions: BTreeMap::new(),
            refused: None,
            at: crate::now(),
            fenn: env!("CARGO_PKG_VERSION").to_owned(),
        };
        if let Some((_, _)) = &ledger.failed {
            report.state = Phase::RolledBack;
        }
        let (client, incoming) = link::connect(settings.link.clone());
        let (status, watching) = watch::channel(report.clone());
        let reporter = Arc::new(Reporter {
            client: client.clone(),
            topic: settings.topics.reported(&settings.device),
            alive: settings.topics.alive(&settings.device),
            status,
        });
        let mut agent = Self {
            device,
            settings,
            client,
            incoming,
            ledger,
            report,
            waiting: BTreeMap::new(),
            refusals: crate::refusals::Refusals::default(),
            connections: 0,
            reporter,
        };
        agent.reconcile().await;
        agent.refresh_functions().await;
        (agent, watching)
    }

    /// Runs until `stop` completes.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut resync = tokio::time::interval(self.settings.resync);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        resync.tick().await;
        loop {
            let incoming = tokio::select! {
                () = &mut stop => break,
                incoming = self.incoming.recv() => incoming,
                _ = resync.tick() => {
                    self.reporter.alive();
                    self.publish_report();
                    self.subscribe();
                    continue;
                }
            };
            let Some(incoming) = incoming else { break };
            self.take(incoming).await;
            while let Some((topic, payload)) = self.waiting.pop_first() {
                self.consider(&topic, &payload).await;
            }
        }
        // A clean disconnect sends no last will: say so first.
        let alive = self.settings.topics.alive(&self.settings.device);
        let _ = self
            .client
            .try_publish(alive, QoS::AtLeastOnce, true, "offline");
        let _ = self.client.disconnect().await;
    }

    /// Handles what the link brought outside an apply.
    async fn take(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Connected => self.connected(),
            Incoming::Message { topic, payload } => {
                if matches!(
                    self.settings.topics.parse(&topic),
                    Some(Topic::Group(_) | Topic::Device(_))
                ) {
                    self.waiting.insert(topic, payload);
                }
            }
            Incoming::Lost(reason) => tracing::debug!(%reason, "fleet: broker lost"),
            Incoming::Acked => {}
            Incoming::Unsubscribed => {
                tokio::time::sleep(RESUBSCRIBE).await;
                self.subscribe();
            }
        }
    }

    /// On each connection: liveness, the report, and the subscriptions
    /// (a clean session has none).
    fn connected(&mut self) {
        // Once at info: reconnections could otherwise fill the log.
        self.connections += 1;
        if self.connections == 1 {
            tracing::info!(
                device = self.settings.device,
                "fleet: connected to the broker"
            );
        } else {
            tracing::debug!(
                connections = self.connections,
                "fleet: connected to the broker again"
            );
        }
        self.reporter.alive();
        self.publish_report();
        self.subscribe();
    }

    /// Subscribes to the desired states, at QoS 0: they are retained, so
    /// a message lost with a connection comes again with the next one.
    fn subscribe(&self) {
        for topic in desired_topics(&self.settings) {
            let _ = self.client.try_subscribe(topic, QoS::AtMostOnce);
        }
    }

    fn publish_report(&self) {
        self.reporter.publish(&self.report);
    }

    /// A desired state: refused, ignored or applied.
    async fn consider(&mut self, topic: &str, payload: &[u8]) {
        if payload.is_empty() || self.refusals.again(topic, payload) {
            return; // A retained state cleared, or refused already.
        }
        let text = match self.settings.trusted.open(payload) {
            Ok(text) => text,
            Err(reason) => return self.refuse(topic, payload, None, reason),
        };
        let deployment = match Deployment::parse(&text, self.settings.max_module) {
            Ok(deployment) => deployment,
            Err(reason) => return self.refuse(topic, payload, None, reason),
        };
        let expected = deployment.topic();
        let (device, groups) = (&self.settings.device, &self.settings.groups);
        match self
            .ledger
            .judge(topic, &expected, &deployment, device, groups)
        {
            Verdict::Apply => self.apply(topic, deployment).await,
            Verdict::Seen | Verdict::NotForMe => {}
            Verdict::Superseded => {
                self.ledger.handled(topic, deployment.id);
                self.save();
            }
            Verdict::Replay { seen } => self.refuse(
                topic,
                payload,
                Some(deployment.id),
                format!(
                    "deployment {} is older than {seen}, the newest this device had from this topic: a replay (or a stopped rollout's previous state, put back)",
                    deployment.id
                ),
            ),
            Verdict::WrongTopic => self.refuse(
                topic,
                payload,
                Some(deployment.id),
                format!("signed for {expected}, not this topic"),
            ),
        }
    }

    fn refuse(&mut self, topic: &str, payload: &[u8], id: Option<u64>, reason: String) {
        self.report.refused = Some(Refusal {
            id,
            topic: topic.to_owned(),
            reason,
            at: crate::now(),
        });
        let now = std::time::Instant::now();
        let Some(held) = self.refusals.refused(topic, payload, now) else {
            return; // Told at the next refusal past the period, or resync.
        };
        let reason = self.report.refused.as_ref().map(|r| r.reason.as_str());
        tracing::warn!(
            topic,
            ?id,
            reason,
            held_back = held,
            "fleet: deployment refused"
        );
        self.report.at = crate::now();
        self.publish_report();
    }

    async fn apply(&mut self, topic: &str, deployment: Deployment) {
        let id = deployment.id;
        tracing::info!(deployment = id, "fleet: applying");
        self.report.target = Some(id);
        self.report.reason = None;
        self.ledger.applying = Some(deployment.clone());
        self.save();
        let mut fetcher = Fetcher {
            settings: &self.settings,
            client: &self.client,
            incoming: &mut self.incoming,
            waiting: &mut self.waiting,
            reporter: &self.reporter,
            applying: id,
        };
        let in_force = self.ledger.applied.clone();
        let (mut snapshot, reporter) = (self.report.clone(), self.reporter.clone());
        let mut phase = move |phase: Phase| {
            snapshot.state = phase;
            snapshot.at = crate::now();
            reporter.publish(&snapshot);
        };
        let device = &*self.device;
        let outcome = apply::apply(
            device,
            &mut fetcher,
            &deployment,
            in_force.as_ref(),
            true,
            &mut phase,
        )
        .await;
        self.ledger.applying = None;
        // A module the broker did not give is asked for again at the
        // next resync, when the deployment comes again.
        if !outcome.retry {
            self.ledger.handled(topic, id);
        }
        match outcome.phase {
            Phase::Active => {
                self.ledger.applied = Some(deployment);
                self.ledger.failed = None;
                tracing::info!(deployment = id, "fleet: active");
            }
            _ => {
                let reason = outcome.reason.clone().unwrap_or_default();
                tracing::warn!(deployment = id, %reason, phase = ?outcome.phase, "fleet: not applied");
                self.ledger.failed = Some((id, reason));
            }
        }
        self.save();
        self.report.state = outcome.phase;
        self.report.reason = outcome.reason;
        self.report.deployment = self.ledger.in_force();
        self.refresh_functions().await;
    }

    /// After an interrupted apply: the deployment in force put back from
    /// the device's kept versions, and what the interrupted one added
    /// removed, so that the device serves the old version whole; the
    /// interrupted one comes again from the broker.
    async fn reconcile(&mut self) {
        let Some(interrupted) = self.ledger.applying.take() else {
            return;
        };
        tracing::warn!(
            deployment = interrupted.id,
            "fleet: an apply was interrupted: putting back the deployment in force"
        );
        // Without one in force, what served before is not known: the
        // interrupted deployment, applied again, makes the device whole.
        let Some(before) = self.ledger.applied.clone() else {
            self.save();
            return;
        };
        let device = &*self.device;
        let mut kept = apply::KeptOnly;
        let outcome = apply::apply(
            device,
            &mut kept,
            &before,
            Some(&interrupted),
            false,
            &mut |_| {},
        )
        .await;
        if outcome.phase != Phase::Active {
            let reason = outcome.reason.unwrap_or_default();
            tracing::error!(%reason, "fleet: the deployment in force could not be put back whole");
        }
        self.save();
    }

    /// The report's functions as served now; published.
    async fn refresh_functions(&mut self) {
        // A deployment names each function once (Deployment::parse).
        let names: Vec<String> = (self.ledger.applied.iter())
            .flat_map(|d| d.functions.iter().map(|f| f.name.clone()))
            .collect();
        let mut functions = BTreeMap::new();
        for name in names {
            if let Some(current) = self.device.current(&name).await {
                functions.insert(name, current.serving);
            }
        }
        self.report.functions = functions;
        self.report.at = crate::now();
        self.publish_report();
    }

    fn save(&self) {
        let Ok(bytes) = serde_json::to_vec(&self.ledger) else {
            return;
        };
        let dir = &self.settings.state_dir;
        if let Err(error) = fenn_runtime::files::write_atomically(dir, LEDGER, &bytes) {
            tracing::error!(%error, "fleet: the ledger could not be written");
        }
    }
}

/// The topics a device takes desired states from: its groups' and its own.
pub(crate) fn desired_topics(settings: &AgentSettings) -> Vec<String> {
    let topics = &settings.topics;
    (settings.groups.iter().map(|group| topics.group(group)))
        .chain([topics.device(&settings.device)])
        .collect()
}

/// The ledger under `dir`; an empty one when there is none, or when it
/// cannot be read (then every deployment is applied again, changing
/// nothing already served).
fn read_ledger(dir: &std::path::Path) -> Ledger {
    let path = dir.join(LEDGER);
    if !path.exists() {
        return Ledger::default();
    }
    let read = fenn_runtime::files::read(&path, MAX_LEDGER, "the most a fleet ledger may be")
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|error| error.to_string()));
    read.unwrap_or_else(|reason| {
        tracing::warn!(path = %path.display(), %reason, "fleet: the ledger is unreadable: starting afresh");
        Ledger::default()
    })
}
