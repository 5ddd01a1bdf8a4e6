//! The fleet's own MQTT 3.1.1 link to the broker (every broker fenn's
//! fleet is tested on speaks it): one task polls the connection and hands
//! what arrives to its owner through a small channel, so that a slow owner
//! slows the broker, not memory. A lost connection is retried after a
//! growing, jittered pause, on the next of the brokers named (a cluster's
//! nodes), so that a fleet that lost its broker does not come back all at
//! once.

use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use std::time::Duration;
use tokio::sync::mpsc;

/// How to reach the broker.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// The brokers, tried in turn: host and port.
    pub brokers: Vec<(String, u16)>,
    /// The MQTT client id.
    pub client_id: String,
    /// User name and password, if the broker wants them.
    pub credentials: Option<(String, String)>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// The last will: topic and payload, retained.
    pub will: Option<(String, Vec<u8>)>,
    /// Largest packet taken or sent.
    pub max_packet: usize,
}

/// What the link hands its owner.
#[derive(Debug)]
pub enum Incoming {
    /// Connected (again): subscriptions are to be made anew.
    Connected,
    /// A message on a subscribed topic.
    Message {
        /// Its topic.
        topic: String,
        /// Its payload.
        payload: bytes::Bytes,
    },
    /// The broker has a QoS 1 message published.
    Acked,
    /// The broker refused a subscription (a NATS node short of JetStream,
    /// say): it is to be made again.
    Unsubscribed,
    /// The connection was lost, and why; it is being retried.
    Lost(String),
}

/// Largest packet: a chunk of the largest size, its topic and headers.
pub const MAX_PACKET: usize = crate::deployment::MAX_CHUNK as usize + (64 << 10);

/// `FENN_MQTT_USERNAME` and `FENN_MQTT_PASSWORD`, when set: the broker's
/// credentials, as the MQTT trigger takes them.
pub fn credentials() -> Option<(String, String)> {
    let user = std::env::var("FENN_MQTT_USERNAME").ok()?;
    Some((
        user,
        std::env::var("FENN_MQTT_PASSWORD").unwrap_or_default(),
    ))
}

/// Messages waiting for the owner: a chunk may be 1 MiB.
const WAITING: usize = 4;
/// The longest pause between tries.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// Connects (in the background); the handle to publish and subscribe
/// with, and what arrives. The link ends when the receiver is dropped.
pub fn connect(settings: LinkSettings) -> (AsyncClient, mpsc::Receiver<Incoming>) {
    let mut nonce = [0u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce);
    let nonce = u32::from_le_bytes(nonce);
    let (client, mut eventloop) = AsyncClient::new(options(&settings, nonce, 0), 64);
    let (sender, receiver) = mpsc::channel(WAITING);
    tokio::spawn(async move {
        let mut failures = 0u32;
        let mut broker = 0;
        // A connection counts as good once it has lasted a keep-alive: one
        // the broker drops at once (a message over its limit, retained
        // and sent again on each subscription) keeps the pauses growing.
        let mut up_since: Option<tokio::time::Instant> = None;
        // Subscriptions the broker has not answered, and since when: a
        // node that answers pings but no longer subscriptions (a NATS node
        // whose JetStream lost a peer) is left for the next.
        let (mut unanswered, mut asked) = (0u32, None::<tokio::time::Instant>);
        let stalled = (settings.keep_alive * 2).max(Duration::from_secs(10));
        loop {
            let polled = eventloop.poll().await;
            let mut lost = None;
            let incoming = match polled {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    (unanswered, asked) = (0, None);
                    if ack.code == rumqttc::ConnectReturnCode::Success {
                        up_since = Some(tokio::time::Instant::now());
                        Some(Incoming::Connected)
                    } else {
                        Some(Incoming::Lost(format!("refused: {:?}", ack.code)))
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => Some(Incoming::Message {
                    topic: publish.topic,
                    payload: publish.payload,
                }),
                Ok(Event::Incoming(Packet::PubAck(_))) => Some(Incoming::Acked),
                Ok(Event::Outgoing(rumqttc::Outgoing::Subscribe(_))) => {
                    unanswered += 1;
                    asked.get_or_insert_with(tokio::time::Instant::now);
                    None
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    unanswered = unanswered.saturating_sub(1);
                    asked = (unanswered > 0).then(tokio::time::Instant::now);
                    (ack.return_codes.iter())
                        .any(|code| matches!(code, rumqttc::SubscribeReasonCode::Failure))
                        .then_some(Incoming::Unsubscribed)
                }
                Ok(_) => None,
                Err(error) => {
                    lost = Some(error.to_string());
                    None
                }
            };
            if lost.is_none() && asked.is_some_and(|asked| asked.elapsed() >= stalled) {
                eventloop.clean();
                lost = Some("the broker did not answer a subscription".into());
            }
            if let Some(reason) = lost {
                (unanswered, asked) = (0, None);
                let lasted = up_since
                    .take()
                    .is_some_and(|up| up.elapsed() >= settings.keep_alive);
                failures = if lasted {
                    1
                } else {
                    failures.saturating_add(1)
                };
                if sender.send(Incoming::Lost(reason)).await.is_err() {
                    break;
                }
                tokio::time::sleep(pause(failures)).await;
                broker += 1;
                eventloop.mqtt_options = options(&settings, nonce, broker);
            }
            if let Some(incoming) = incoming {
                if sender.send(incoming).await.is_err() {
                    break;
                }
            }
        }
    });
    (client, receiver)
}

/// The options for the `n`-th try: the brokers in turn.
///
/// Each try connects with a client id of its own (the configured one, this
/// process's nonce, the try's number): every session is clean, and a
/// clustered broker that lost the node holding the last one's id (NATS)
/// may hold a new connection with that id back while it finds out.
fn options(settings: &LinkSettings, nonce: u32, n: usize) -> MqttOptions {
    let (host, port) = &settings.brokers[n % settings.brokers.len().max(1)];
    let id = format!("{}-{nonce:08x}-{n}", settings.client_id);
    let mut options = MqttOptions::new(id, host, *port);
    options
        .set_keep_alive(settings.keep_alive)
        .set_clean_session(true)
        .set_max_packet_size(settings.max_packet, settings.max_packet);
    if let Some((user, password)) = &settings.credentials {
        options.set_credentials(user, password);
    }
    if let Some((topic, payload)) = &settings.will {
        options.set_last_will(LastWill::new(
            topic,
            payload.clone(),
            QoS::AtLeastOnce,
            true,
        ));
    }
    options
}

/// The pause after `failures` failed tries in a row: 0.5 s doubling to
/// 30 s, each between half and all of it at random.
fn pause(failures: u32) -> Duration {
    let full = Duration::from_millis(500)
        .saturating_mul(1 << failures.saturating_sub(1).min(6))
        .min(MAX_PAUSE);
    let mut byte = [0u8; 1];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte);
    full / 2 + full / 2 * u32::from(byte[0]) / 255
}

/// Broker addresses from `mqtt://host:port` URLs (port 1883 by default).
///
/// # Errors
///
/// The first that is not such a URL.
pub fn brokers(urls: &[String]) -> Result<Vec<(String, u16)>, String> {
    if urls.is_empty() {
        return Err("no broker: name one as mqtt://host:port".into());
    }
    urls.iter()
        .map(|url| {
            let address = url
                .strip_prefix("mqtt://")
                .ok_or_else(|| format!("'{url}' is not mqtt://host:port"))?
                .trim_end_matches('/');
            let (host, port) = match address.rsplit_once(':') {
                Some((host, port)) => (
                    host,
                    port.parse()
                        .map_err(|_| format!("'{url}': '{port}' is not a port"))?,
                ),
                None => (address, 1883),
            };
            if host.is_empty() {
                return Err(format!("'{url}' names no host"));
            }
            Ok((host.trim_matches(['[', ']']).to_owned(), port))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_are_read_with_their_default_port() {
        let urls = [
            "mqtt://a:1901".to_owned(),
            "mqtt://b".to_owned(),
            "mqtt://[::1]:7/".to_owned(),
        ];
        assert_eq!(
            brokers(&urls).unwrap(),
            [("a".into(), 1901), ("b".into(), 1883), ("::1".into(), 7)]
        );
        for bad in ["a:1", "mqtt://:1", "mqtt://a:x", "mqtts://a"] {
            assert!(brokers(&[bad.to_owned()]).is_err(), "{bad}");
        }
        assert!(brokers(&[]).is_err());
    }

    #[test]
    fn pauses_grow_to_a_bound_with_jitter() {
        assert!(pause(1) <= Duration::from_millis(500));
        assert!(pause(1) >= Duration::from_millis(250));
        assert!(pause(40) <= MAX_PAUSE && pause(40) >= MAX_PAUSE / 2);
    }
}
