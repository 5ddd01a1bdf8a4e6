//! One connection to the broker, MQTT 5 or 3.1.1. rumqttc has a client per
//! protocol version; this is the little of either that the trigger uses:
//! [`connect`], [`Connection::poll`] (what happened, as [`Happened`]) and
//! [`Client`] (publish, acknowledge, subscribe).
//!
//! MQTT 3.1.1 has no properties: a message carries no user properties,
//! content type, response topic or correlation data, so replies go to the
//! configured reply topic only, and the status code is not sent along.

use crate::outbox::Outgoing;
use crate::settings::{MqttSettings, Version};
use bytes::Bytes;
use rumqttc::v5;
use rumqttc::v5::mqttbytes::v5::{PubAckReason, PublishProperties};
use rumqttc::{NetworkOptions, Transport};

/// Publishes awaiting the broker's PUBACK, at most: delivery's window.
/// Publishes handed to the client and not yet confirmed, at most (the
/// delivery task keeps to it; rumqttc is told it).
pub const WINDOW: usize = 64;

/// The user property that counts the fenn replies a message descends from.
pub const HOPS: &str = "fenn-hops";

/// The hop count in `properties`: the last `fenn-hops`, 0 when there is
/// none or it is not a number.
pub fn hops(properties: &[(String, String)]) -> u32 {
    properties
        .iter()
        .rfind(|(name, _)| name.eq_ignore_ascii_case(HOPS))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

/// A message from the broker.
#[derive(Debug, Clone)]
pub struct Received {
    /// The topic, as sent (MQTT 5 does not promise it is UTF-8 to rumqttc).
    pub topic: Bytes,
    /// The payload.
    pub payload: Bytes,
    /// 0 or 1.
    pub qos: u8,
    /// MQTT 5 user properties.
    pub user_properties: Vec<(String, String)>,
    /// MQTT 5 content type.
    pub content_type: Option<String>,
    /// MQTT 5 response topic.
    pub response_topic: Option<String>,
    /// MQTT 5 correlation data.
    pub correlation: Option<Bytes>,
    /// How many fenn replies and publishes led to this message (the MQTT 5
    /// user property `fenn-hops`; 0 when absent or not a number).
    pub hops: u32,
    /// The size of a message over the limit, whose payload was dropped on
    /// arrival (only MQTT 3.1.1 lets one through); it is answered with a
    /// 413.
    pub oversized: Option<usize>,
    ack: Ack,
}

/// What acknowledging a received message takes (its packet id and QoS),
/// without its payload or properties.
#[derive(Debug, Clone)]
pub struct Ack(AckFor);

#[derive(Debug, Clone)]
enum AckFor {
    V5(Box<v5::mqttbytes::v5::Publish>),
    V311(rumqttc::Publish),
}

impl Received {
    /// The handle that acknowledges this message.
    pub fn ack(&self) -> Ack {
        self.ack.clone()
    }

    /// Drops the payload of a message (topic and payload) over
    /// `max_packet` bytes at once, the limit the broker is told under MQTT
    /// 5, keeping only its size (for the 413 that answers it).
    pub fn drop_oversized(&mut self, max_packet: usize) {
        let size = self.topic.len() + self.payload.len();
        if size > max_packet {
            self.oversized = Some(size);
            self.payload = Bytes::new();
        }
    }

    /// A message received over MQTT 5.
    pub fn from_v5(mut publish: v5::mqttbytes::v5::Publish) -> Self {
        let properties = publish.properties.take().unwrap_or_default();
        let hops = hops(&properties.user_properties);
        Self {
            hops,
            topic: publish.topic.clone(),
            payload: std::mem::take(&mut publish.payload),
            qos: publish.qos as u8,
            user_properties: properties.user_properties,
            content_type: properties.content_type,
            response_topic: properties.response_topic,
            correlation: properties.correlation_data,
            oversized: None,
            ack: Ack(AckFor::V5(Box::new(publish))),
        }
    }

    fn from_v311(mut publish: rumqttc::Publish) -> Self {
        Self {
            topic: Bytes::from(std::mem::take(&mut publish.topic)),
            payload: std::mem::take(&mut publish.payload),
            qos: publish.qos as u8,
            user_properties: Vec::new(),
            content_type: None,
            response_topic: None,
            correlation: None,
            hops: 0,
            oversized: None,
            ack: Ack(AckFor::V311(publish)),
        }
    }
}

/// What one poll of the connection brought.
#[derive(Debug)]
pub enum Happened {
    /// Connected (a CONNACK).
    Connected,
    /// A message.
    Received(Box<Received>),
    /// A publish of fenn's was written to the broker.
    Written,
    /// The broker confirmed a QoS 1 publish; `refused` says why it did not
    /// take it, when it did not.
    PubAck {
        /// The broker's reason, when not a success.
        refused: Option<String>,
    },
    /// Anything else (pings, acks fenn sent, subscriptions).
    Other,
    /// The connection is gone; the next poll reconnects.
    Lost(String),
    /// The broker sent a packet fenn cannot read (over the read limit, or
    /// malformed), which ended the connection; the next poll reconnects.
    Unreadable(String),
}

impl Happened {
    /// Whether the connection is gone (lost, or on an unreadable packet).
    pub fn is_lost(&self) -> bool {
        matches!(self, Self::Lost(_) | Self::Unreadable(_))
    }
}

/// The handle that publishes, acknowledges and subscribes.
#[derive(Debug, Clone)]
pub enum Client {
    /// MQTT 5.
    V5(v5::AsyncClient),
    /// MQTT 3.1.1.
    V311(rumqttc::AsyncClient),
}

impl Client {
    /// Queues `message` for the broker.
    ///
    /// # Errors
    ///
    /// rumqttc's, as text: the event loop is gone, or the topic is invalid.
    pub async fn publish(&self, message: Outgoing) -> Result<(), String> {
        let qos1 = message.qos > 0;
        match self {
            Self::V5(client) => {
                let properties = PublishProperties {
                    content_type: message.content_type,
                    correlation_data: message.correlation,
                    user_properties: message.user_properties,
                    ..PublishProperties::default()
                };
                let qos = if qos1 {
                    v5::mqttbytes::QoS::AtLeastOnce
                } else {
                    v5::mqttbytes::QoS::AtMostOnce
                };
                client
                    .publish_with_properties(
                        message.topic,
                        qos,
                        message.retain,
                        message.payload,
                        properties,
                    )
                    .await
                    .map_err(|error| error.to_string())
            }
            Self::V311(client) => {
                let qos = if qos1 {
                    rumqttc::QoS::AtLeastOnce
                } else {
                    rumqttc::QoS::AtMostOnce
                };
                client
                    .publish_bytes(message.topic, qos, message.retain, message.payload)
                    .await
                    .map_err(|error| error.to_string())
            }
        }
    }

    /// Acknowledges a QoS 1 message.
    ///
    /// # Errors
    ///
    /// rumqttc's, as text: the event loop is gone.
    pub async fn ack(&self, ack: &Ack) -> Result<(), String> {
        match (self, &ack.0) {
            (Self::V5(client), AckFor::V5(publish)) => {
                client.ack(publish).await.map_err(|e| e.to_string())
            }
            (Self::V311(client), AckFor::V311(publish)) => {
                client.ack(publish).await.map_err(|e| e.to_string())
            }
            _ => Err("a message of another protocol version".into()),
        }
    }

    /// Subscribes to `filter`.
    ///
    /// # Errors
    ///
    /// rumqttc's, as text: the event loop is gone, or the filter is invalid.
    pub async fn subscribe(&self, filter: String, qos: u8) -> Result<(), String> {
        match self {
            Self::V5(client) => {
                let qos = if qos == 0 {
                    v5::mqttbytes::QoS::AtMostOnce
                } else {
                    v5::mqttbytes::QoS::AtLeastOnce
                };
                client
                    .subscribe(filter, qos)
                    .await
                    .map_err(|e| e.to_string())
            }
            Self::V311(client) => {
                let qos = if qos == 0 {
                    rumqttc::QoS::AtMostOnce
                } else {
                    rumqttc::QoS::AtLeastOnce
                };
                client
                    .subscribe(filter, qos)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Unsubscribes from `filter`.
    ///
    /// # Errors
    ///
    /// rumqttc's, as text: the event loop is gone.
    pub async fn unsubscribe(&self, filter: String) -> Result<(), String> {
        match self {
            Self::V5(client) => client.unsubscribe(filter).await.map_err(|e| e.to_string()),
            Self::V311(client) => client.unsubscribe(filter).await.map_err(|e| e.to_string()),
        }
    }

    /// Asks the event loop to disconnect, without waiting.
    pub fn try_disconnect(&self) {
        let _ = match self {
            Self::V5(client) => client.try_disconnect().map_err(|_| ()),
            Self::V311(client) => client.try_disconnect().map_err(|_| ()),
        };
    }
}

/// The event loop: polled by one task, which never publishes.
pub enum Connection {
    /// MQTT 5.
    V5(Box<v5::EventLoop>),
    /// MQTT 3.1.1.
    V311(Box<rumqttc::EventLoop>),
}

impl Connection {
    /// Reads or writes what is due, reconnecting when the connection is
    /// gone, and says what happened.
    pub async fn poll(&mut self) -> Happened {
        match self {
            Self::V5(eventloop) => match eventloop.poll().await {
                Ok(v5::Event::Incoming(v5::Incoming::ConnAck(_))) => Happened::Connected,
                Ok(v5::Event::Incoming(v5::Incoming::Publish(publish))) => {
                    Happened::Received(Box::new(Received::from_v5(publish)))
                }
                Ok(v5::Event::Incoming(v5::Incoming::PubAck(ack))) => Happened::PubAck {
                    refused: (!matches!(
                        ack.reason,
                        PubAckReason::Success | PubAckReason::NoMatchingSubscribers
                    ))
                    .then(|| format!("{:?}", ack.reason)),
                },
                Ok(v5::Event::Outgoing(rumqttc::Outgoing::Publish(_))) => Happened::Written,
                Ok(_) => Happened::Other,
                Err(error @ v5::ConnectionError::MqttState(v5::StateError::Deserialization(_))) => {
                    Happened::Unreadable(error.to_string())
                }
                Err(error) => Happened::Lost(error.to_string()),
            },
            Self::V311(eventloop) => match eventloop.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Incoming::ConnAck(_))) => Happened::Connected,
                Ok(rumqttc::Event::Incoming(rumqttc::Incoming::Publish(publish))) => {
                    Happened::Received(Box::new(Received::from_v311(publish)))
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Incoming::PubAck(_))) => {
                    Happened::PubAck { refused: None }
                }
                Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Publish(_))) => Happened::Written,
                Ok(_) => Happened::Other,
                Err(
                    error @ rumqttc::ConnectionError::MqttState(
                        rumqttc::StateError::Deserialization(_),
                    ),
                ) => Happened::Unreadable(error.to_string()),
                Err(error) => Happened::Lost(error.to_string()),
            },
        }
    }

    /// Forgets the publishes rumqttc kept to resend after a lost
    /// connection: delivery resends everything unconfirmed itself, from
    /// the outbox and in order (rumqttc would resend in packet-id order,
    /// and its PUBACKs would be counted as delivery's).
    pub fn forget_publishes(&mut self) {
        match self {
            Self::V5(eventloop) => eventloop
                .pending
                .retain(|request| !matches!(request, v5::Request::Publish(_))),
            Self::V311(eventloop) => eventloop
                .pending
                .retain(|request| !matches!(request, rumqttc::Request::Publish(_))),
        }
    }
}

/// TLS to the broker, for `mqtts://`.
#[cfg(feature = "tls")]
fn transport(settings: &MqttSettings) -> Option<Transport> {
    settings.tls.as_ref().map(|tls| {
        // rustls needs a process-wide crypto provider; ring is the one
        // built in. Installing it twice is harmless (the first stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        Transport::tls(tls.ca.clone(), tls.client_auth.clone(), None)
    })
}

/// Plain TCP: a build without the `tls` feature refuses `mqtts://` when
/// the config is read.
#[cfg(not(feature = "tls"))]
fn transport(_settings: &MqttSettings) -> Option<Transport> {
    None
}

/// A client and its event loop for `settings`; `receive` is how many QoS 1
/// messages the broker may send before fenn acknowledges one (MQTT 5),
/// `requests` the capacity of the client's queue.
pub fn connect(settings: &MqttSettings, receive: u16, requests: usize) -> (Client, Connection) {
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    let transport = transport(settings);
    match settings.version {
        Version::V5 => {
            let mut options =
                v5::MqttOptions::new(&settings.client_id, &settings.host, settings.port);
            // rumqttc keeps a slot per packet id up to this limit (65535
            // by default, about 13 MB); delivery has at most WINDOW out.
            options
                .set_keep_alive(settings.keep_alive)
                .set_manual_acks(true)
                .set_outgoing_inflight_upper_limit(WINDOW as u16)
                .set_receive_maximum(Some(receive))
                .set_max_packet_size(Some(settings.max_packet_bytes))
                .set_network_options(network);
            if let Some(expiry) = settings.session_expiry {
                let seconds = u32::try_from(expiry.as_secs()).unwrap_or(u32::MAX);
                options
                    .set_clean_start(false)
                    .set_session_expiry_interval(Some(seconds));
            }
            if let Some((user, password)) = &settings.credentials {
                options.set_credentials(user, password);
            }
            if let Some(transport) = transport {
                options.set_transport(transport);
            }
            let (client, eventloop) = v5::AsyncClient::new(options, requests);
            (Client::V5(client), Connection::V5(Box::new(eventloop)))
        }
        Version::V311 => {
            let mut options =
                rumqttc::MqttOptions::new(&settings.client_id, &settings.host, settings.port);
            let packet = settings.max_packet_bytes as usize;
            options
                .set_keep_alive(settings.keep_alive)
                .set_manual_acks(true)
                .set_inflight(WINDOW as u16)
                .set_max_packet_size(v311_read_limit(packet), packet)
                .set_clean_session(settings.session_expiry.is_none());
            if let Some((user, password)) = &settings.credentials {
                options.set_credentials(user, password);
            }
            if let Some(transport) = transport {
                options.set_transport(transport);
            }
            let (client, mut eventloop) = rumqttc::AsyncClient::new(options, requests);
            eventloop.network_options = network;
            (Client::V311(client), Connection::V311(Box::new(eventloop)))
        }
    }
}

/// The largest packet read under MQTT 3.1.1, which cannot tell the broker
/// fenn's limit. rumqttc drops the connection on a packet over its limit,
/// and the broker sends the same message again after the reconnect, for
/// ever; so fenn reads messages up to four times its limit (at least 1 MiB,
/// at most MQTT's own 256 MiB), drops the payload of one over the limit as
/// it arrives and answers it with a 413 ([`Received::drop_oversized`]).
/// Larger still, only the broker can drop them (its `message_size_limit`).
fn v311_read_limit(max_packet: usize) -> usize {
    max_packet.saturating_mul(4).clamp(1 << 20, 256 << 20)
}
