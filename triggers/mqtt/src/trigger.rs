//! The MQTT trigger's loops.
//!
//! One task polls rumqttc's event loop and never publishes (rumqttc can
//! deadlock when the polling task waits on its own request queue). Each
//! message goes, through a bounded channel, to a dispatcher task that runs
//! at most `max_in_flight` functions at once; while they are all busy the
//! channel fills and the poller stops reading, so a flood slows reading
//! instead of piling up in memory. Replies go to [`crate::delivery`], the
//! one task that publishes. QoS 1 messages are acknowledged, in arrival
//! order and by one ack task, only once their reply is stored: confirmed
//! by the broker or durable in the outbox. A message whose reply the full
//! outbox refused stays unacknowledged, for the broker to send again. The
//! client's request queue is sized so that these publishes and acks can
//! never block the polling task.
//!
//! A message that came through [`crate::message::MAX_HOPS`] fenn replies is
//! acknowledged without being run (a loop through the broker). A packet
//! fenn cannot read that the broker sends again after every reconnect is
//! said once, and the reconnects slow down ([`crate::backoff::Poison`]).
//!
//! With a fixed `client_id` the session is persistent (clean start off,
//! a session expiry): the broker keeps fenn's subscriptions and queues its
//! QoS 1 messages while fenn or the connection is down.

use crate::bindings::{self, MqttBindings, Routes};
use crate::delivery;
use crate::link::Link;
use crate::message;
use crate::outbox::{Outbox, OutboxError};
use crate::poller::{Poller, Work};
use crate::publisher::{self, Publisher};
use crate::session::{self, Ack, Client, Connection, Received, WINDOW};
pub use crate::settings::{MqttSettings, MqttTls};
use crate::{MqttStats, ReplyTemplate, TopicFilter};
use fenn_abi::{Map, Response};
use fenn_runtime::FunctionHost;
use fenn_runtime::trigger::{BoxFuture, Stage, Trigger};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

/// Room in an MQTT packet for the topic and properties on top of
/// `max_payload` (the packet limit is the two together).
pub const PACKET_ROOM: u32 = 64 << 10;

/// One subscription as the config declares it.
#[derive(Debug, Clone)]
pub struct MqttRoute {
    /// What to subscribe to.
    pub filter: TopicFilter,
    /// QoS of the subscription (0 or 1).
    pub qos: u8,
    /// The function that answers.
    pub function: String,
    /// Where to reply when the message names no response topic.
    pub reply: Option<ReplyTemplate>,
}

/// The MQTT trigger.
pub struct MqttTrigger<H> {
    settings: MqttSettings,
    bindings: MqttBindings,
    changes: watch::Receiver<()>,
    host: Arc<H>,
    outbox: Outbox,
    publisher: Publisher,
    deliveries: mpsc::Receiver<publisher::Item>,
    link: watch::Sender<Link>,
    stats: Arc<MqttStats>,
}

impl<H: FunctionHost> MqttTrigger<H> {
    /// A trigger for `routes`, served by `host`; opens the outbox, with
    /// what a previous run left in it.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Io`] when the outbox directory cannot be used.
    pub fn new(
        settings: MqttSettings,
        routes: Vec<MqttRoute>,
        host: Arc<H>,
    ) -> Result<Self, OutboxError> {
        let outbox = Outbox::open(settings.outbox_dir.as_deref(), settings.outbox_bytes)?;
        let (publisher, deliveries) = publisher::channel(settings.max_packet_bytes as usize);
        let (bindings, changes) = MqttBindings::new(routes);
        Ok(Self {
            settings,
            bindings,
            changes,
            host,
            outbox,
            publisher,
            deliveries,
            link: watch::Sender::new(Link::default()),
            stats: Arc::default(),
        })
    }

    /// The connection as the trigger sees it, as it changes (`up` says
    /// whether fenn is connected to the broker now).
    pub fn link(&self) -> watch::Receiver<Link> {
        self.link.subscribe()
    }

    /// What the trigger counts, as it runs.
    pub fn stats(&self) -> Arc<MqttStats> {
        self.stats.clone()
    }

    /// The handle that changes the subscriptions while the trigger runs.
    pub fn bindings(&self) -> MqttBindings {
        self.bindings.clone()
    }

    /// A handle that publishes through this trigger's connection, in
    /// order and through the outbox (cron's sink).
    pub fn publisher(&self) -> Publisher {
        self.publisher.clone()
    }

    /// Connects, subscribes and serves until `shutdown` completes, then
    /// lets in-flight messages finish within the grace; what the broker
    /// has not confirmed by then stays in the outbox.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) {
        let settings = &self.settings;
        let routes = self.bindings.routes();
        let in_flight = settings.max_in_flight.clamp(1, usize::from(u16::MAX));
        let (client, mut connection) = connect(settings, in_flight, &routes);
        let links = self.link.subscribe();
        let link = self.link;
        let (close, closed) = oneshot::channel::<()>();
        let delivery = tokio::spawn(delivery::run(
            self.deliveries,
            links,
            client.clone(),
            self.outbox,
            self.stats.clone(),
            async {
                let _ = closed.await;
            },
        ));
        let dispatching = Dispatching::spawn(
            &client,
            self.publisher,
            self.host.clone(),
            in_flight,
            self.stats.clone(),
        );
        let (subscriptions, to_make) = mpsc::unbounded_channel();
        tokio::spawn(bindings::subscriber(client.clone(), to_make));
        let broker = format!("{}:{}", settings.host, settings.port);
        let max_packet = settings.max_packet_bytes as usize;
        let mut poller = Poller::new(
            &routes,
            subscriptions,
            link,
            self.stats.clone(),
            broker,
            max_packet,
        );
        let changes = &mut self.changes;
        let grace = settings.shutdown_grace;
        serve(
            &mut poller,
            &mut connection,
            &routes,
            changes,
            dispatching,
            shutdown,
            grace,
        )
        .await;
        report_dropped(poller.dropped);
        let _ = close.send(());
        finish(delivery, connection, &client).await;
    }
}

/// Opens the session to the broker, its request queue sized for
/// `in_flight` messages and the subscriptions of `routes`.
fn connect(settings: &MqttSettings, in_flight: usize, routes: &Routes) -> (Client, Connection) {
    // The broker may send `in_flight` QoS 1 messages before fenn
    // acknowledges one (MQTT 5 Receive Maximum). The client's queue
    // holds acks and a delivery window or two of replies; the poller
    // drains it all the time, so a full queue only waits briefly.
    let requests = 2 * in_flight + 2 * WINDOW + routes.load().len() + 16;
    let receive = u16::try_from(in_flight).unwrap_or(u16::MAX);
    session::connect(settings, receive, requests)
}

/// The tasks that take messages from the poller: where it hands them
/// over, the dispatcher that runs them and the task that acknowledges
/// them.
struct Dispatching {
    work: mpsc::Sender<Work>,
    dispatcher: tokio::task::JoinHandle<()>,
    acker: tokio::task::JoinHandle<()>,
}

impl Dispatching {
    /// Starts the ack task and the dispatcher, which runs at most
    /// `in_flight` messages at once.
    fn spawn<H: FunctionHost>(
        client: &Client,
        publisher: Publisher,
        host: Arc<H>,
        in_flight: usize,
        stats: Arc<MqttStats>,
    ) -> Self {
        let (work, queue) = mpsc::channel::<Work>(in_flight);
        // Unbounded, so the dispatcher never waits on acks (which wait on
        // PUBACKs): it holds at most the QoS 1 messages the broker let
        // through unacknowledged.
        let (order, acks) = mpsc::unbounded_channel::<(Ack, oneshot::Receiver<bool>)>();
        let acker = tokio::spawn(ack_in_order(acks, client.clone()));
        let dispatcher = tokio::spawn(dispatch(queue, order, publisher, host, in_flight, stats));
        Self {
            work,
            dispatcher,
            acker,
        }
    }
}

/// Polls the connection and hands messages to the dispatcher until
/// `shutdown` completes and the messages in flight have finished, or
/// the grace runs out (or the dispatcher is gone).
async fn serve(
    poller: &mut Poller,
    connection: &mut Connection,
    routes: &Routes,
    changes: &mut watch::Receiver<()>,
    dispatching: Dispatching,
    shutdown: impl Future<Output = ()> + Send,
    shutdown_grace: Duration,
) {
    let Dispatching {
        work,
        dispatcher,
        acker,
    } = dispatching;
    let mut work = Some(work);
    tokio::pin!(shutdown);
    let drained = async {
        let _ = dispatcher.await;
        let _ = acker.await;
    };
    tokio::pin!(drained);
    let mut grace = None;
    loop {
        let sender = if poller.read_ahead.is_empty() {
            None
        } else {
            work.clone()
        };
        tokio::select! {
            happened = connection.poll(), if poller.retry.is_none() => {
                poller.on_happened(happened, connection, routes, work.is_some());
            }
            () = async { if let Some(retry) = &mut poller.retry { retry.await } }, if poller.retry.is_some() => poller.retry = None,
            permit = async { sender?.reserve_owned().await.ok() }, if work.is_some() && !poller.read_ahead.is_empty() => {
                if !poller.hand_over(permit) {
                    break;
                }
            }
            changed = changes.changed(), if work.is_some() => {
                if changed.is_ok() {
                    poller.on_routes_changed(routes);
                }
            }
            () = &mut shutdown, if work.is_some() => {
                tracing::info!("MQTT: finishing in-flight messages");
                work = None;
                poller.stop_reading();
                grace = Some(Box::pin(tokio::time::sleep(shutdown_grace)));
            }
            () = &mut drained, if work.is_none() => break,
            () = async { if let Some(grace) = &mut grace { grace.await } else { std::future::pending().await } } => {
                tracing::warn!("MQTT: shutdown grace ran out");
                break;
            }
        }
    }
}

/// Says how many QoS 0 messages were dropped in all, if any.
fn report_dropped(dropped: u64) {
    if dropped > 0 {
        tracing::warn!(
            total = dropped,
            "MQTT: QoS 0 messages dropped while functions were saturated, in all"
        );
    }
}

/// Waits for `delivery` to move what is unconfirmed to the outbox,
/// polling `connection` meanwhile so that its last publishes and acks do
/// not block; then says goodbye to the broker.
async fn finish(
    delivery: tokio::task::JoinHandle<()>,
    mut connection: Connection,
    client: &Client,
) {
    tokio::pin!(delivery);
    loop {
        tokio::select! {
            _ = &mut delivery => break,
            happened = connection.poll() => if happened.is_lost() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    // The DISCONNECT goes out with the next polls.
    client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while !connection.poll().await.is_lost() {}
    })
    .await;
}

impl<H: FunctionHost> Trigger for MqttTrigger<H> {
    fn kind(&self) -> &'static str {
        "mqtt"
    }

    /// Last: cron's results go out through this trigger's outbox.
    fn stage(&self) -> Stage {
        Stage::Carriers
    }

    fn run(self: Box<Self>, shutdown: BoxFuture) -> BoxFuture {
        Box::pin(MqttTrigger::run(*self, shutdown))
    }
}

/// Runs each message's function, at most `in_flight` at once, and queues
/// its completion for the in-order acks.
async fn dispatch<H: FunctionHost>(
    mut queue: mpsc::Receiver<(Received, Arc<Vec<MqttRoute>>)>,
    order: mpsc::UnboundedSender<(Ack, oneshot::Receiver<bool>)>,
    publisher: Publisher,
    host: Arc<H>,
    in_flight: usize,
    stats: Arc<MqttStats>,
) {
    let slots = Arc::new(Semaphore::new(in_flight));
    while let Some((publish, routes)) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        // QoS 0 needs no ack: it does not wait behind QoS 1 messages.
        let (done, finished) = oneshot::channel();
        if publish.qos > 0 && order.send((publish.ack(), finished)).is_err() {
            break;
        }
        let (publisher, host, stats) = (publisher.clone(), host.clone(), stats.clone());
        tokio::spawn(async move {
            let stored = handle(&publish, &publisher, &routes, &*host, &stats).await;
            drop(slot);
            let stored = match stored {
                Some(told) => told.await.unwrap_or(false),
                None => true,
            };
            let _ = done.send(stored);
        });
    }
}

/// Acknowledges QoS 1 messages in arrival order, each once its reply is
/// stored; one whose reply could not be stored is left for the broker to
/// send again.
async fn ack_in_order(
    mut acks: mpsc::UnboundedReceiver<(Ack, oneshot::Receiver<bool>)>,
    client: Client,
) {
    while let Some((ack, stored)) = acks.recv().await {
        if stored.await.unwrap_or(false) {
            if let Err(error) = client.ack(&ack).await {
                fenn_runtime::limited!(warn, "could not acknowledge", "", %error, "MQTT: could not acknowledge a message");
            }
        }
    }
}

/// Runs the function for one message and queues its reply; the receiver
/// says when the reply is stored (None: no reply to wait for). A message
/// whose payload was over the limit (which only MQTT 3.1.1 lets through)
/// is answered with a 413 and not run.
async fn handle<H: FunctionHost>(
    publish: &Received,
    publisher: &Publisher,
    routes: &[MqttRoute],
    host: &H,
    stats: &MqttStats,
) -> Option<oneshot::Receiver<bool>> {
    let topic = String::from_utf8_lossy(&publish.topic).into_owned();
    let (route, parameters) = route_for(routes, &topic)?;
    if publish.hops >= message::MAX_HOPS {
        refuse_loop(publish, route, stats, &topic);
        return None;
    }
    let response_topic = response_topic(publish, route, &parameters, &topic);
    if let Some(size) = publish.oversized {
        return refuse_oversized(publish, publisher, route, &topic, size, response_topic).await;
    }
    let result = run_function(publish, route, parameters, host, &topic).await?;
    let reply_topic = response_topic?;
    Some(
        publisher
            .publish(message::reply(result, publish, reply_topic))
            .await,
    )
}

/// The first route whose filter matches `topic`, and the parameters its
/// filter names; none is said in the log.
fn route_for<'r>(routes: &'r [MqttRoute], topic: &str) -> Option<(&'r MqttRoute, Map)> {
    let found = routes.iter().find_map(|route| {
        route
            .filter
            .matches(topic)
            .map(|parameters| (route, parameters))
    });
    if found.is_none() {
        fenn_runtime::limited!(warn, "no subscription matches", "", %topic, "MQTT: a message no subscription matches");
    }
    found
}

/// Counts and logs a message refused for coming through too many fenn
/// replies (a loop through the broker).
fn refuse_loop(publish: &Received, route: &MqttRoute, stats: &MqttStats, topic: &str) {
    // Not run and not answered: an answer would go round again.
    let refused = stats.refused_hops.fetch_add(1, Ordering::Relaxed) + 1;
    fenn_runtime::limited!(warn, "mqtt hops", &route.function, %topic, function = %route.function, hops = publish.hops, refused, "MQTT: a message that came through {} fenn replies was refused: replies feed subscriptions in a loop through the broker", publish.hops);
}

/// Where the reply goes: the message's own response topic (unless it has
/// wildcards, which is logged), else the route's reply template.
fn response_topic(
    publish: &Received,
    route: &MqttRoute,
    parameters: &Map,
    topic: &str,
) -> Option<String> {
    let asked = publish.response_topic.clone().filter(|asked| {
        let plain = crate::topic::is_plain_topic(asked);
        if !plain {
            fenn_runtime::limited!(warn, "response topic with wildcards", &route.function, %topic, response_topic = %asked, "MQTT: a response topic with wildcards is ignored");
        }
        plain
    });
    asked.or_else(|| route.reply.as_ref().map(|reply| reply.render(parameters)))
}

/// Logs a message over the size limit and queues its 413 reply, when it
/// has somewhere to go.
async fn refuse_oversized(
    publish: &Received,
    publisher: &Publisher,
    route: &MqttRoute,
    topic: &str,
    size: usize,
    response_topic: Option<String>,
) -> Option<oneshot::Receiver<bool>> {
    fenn_runtime::limited!(warn, "message over max_payload", &route.function, %topic, bytes = size, "MQTT: a message over the size limit (max_payload) was refused");
    let text = format!("message is {size} bytes, over the size limit");
    let mut refusal = message::refusal(413, &text, response_topic?, publish.qos.min(1));
    refusal.correlation.clone_from(&publish.correlation);
    message::set_hops(&mut refusal, publish.hops.saturating_add(1));
    Some(publisher.publish(refusal).await)
}

/// Runs the route's function on the message and logs how it went; None
/// when the message cannot be made into an event (it is dropped).
async fn run_function<H: FunctionHost>(
    publish: &Received,
    route: &MqttRoute,
    parameters: Map,
    host: &H,
    topic: &str,
) -> Option<Result<Response, fenn_runtime::Error>> {
    let event = match message::to_event(publish, parameters) {
        Ok(event) => event,
        Err(reason) => {
            fenn_runtime::limited!(warn, "message dropped", &route.function, %topic, %reason, "MQTT: message dropped");
            return None;
        }
    };
    // A busy function makes the message wait for its turn (at most
    // max_in_flight messages are handled at once), rather than answering
    // 503 and acknowledging work that was never done.
    let result = host.invoke_queued(&route.function, event).await;
    match &result {
        Ok(response) => {
            tracing::debug!(%topic, function = %route.function, status = response.status_code, "MQTT message handled");
        }
        Err(error) => {
            fenn_runtime::limited!(warn, "MQTT message failed", &route.function, %topic, function = %route.function, %error, "MQTT message failed");
        }
    }
    Some(result)
}
