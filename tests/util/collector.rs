//! A subscriber that survives broker restarts: a persistent session, so
//! the broker keeps what arrives for it while it reconnects.

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{Client, Event, MqttOptions};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

type Messages = Arc<(Mutex<Vec<(String, String)>>, Condvar)>;

/// Every message on a filter, in arrival order, as (topic, payload).
pub(crate) struct Collector {
    messages: Messages,
    stop: Arc<AtomicBool>,
}

impl Collector {
    /// Subscribes to `filter` (QoS 1) on the broker at `port`; returns
    /// once the subscription is in place.
    pub(crate) fn start(port: u16, filter: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = format!(
            "collector-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options
            .set_clean_start(false)
            .set_session_expiry_interval(Some(3600))
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(Some(1 << 20));
        let (client, mut connection) = Client::new(options, 64);
        let messages: Messages = Messages::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (subscribed, filter) = (
            Arc::new((Mutex::new(false), Condvar::new())),
            filter.to_owned(),
        );
        {
            let (messages, stop, subscribed) = (messages.clone(), stop.clone(), subscribed.clone());
            std::thread::spawn(move || {
                for notification in connection.iter() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match notification {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            let _ = client.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            *subscribed.0.lock().unwrap() = true;
                            subscribed.1.notify_all();
                        }
                        Ok(Event::Incoming(Packet::Publish(publish))) => {
                            let topic = String::from_utf8_lossy(&publish.topic).into_owned();
                            let payload = String::from_utf8_lossy(&publish.payload).into_owned();
                            messages.0.lock().unwrap().push((topic, payload));
                            messages.1.notify_all();
                        }
                        Ok(_) => {}
                        // The broker is away: try again at a modest pace.
                        Err(_) => std::thread::sleep(Duration::from_millis(100)),
                    }
                }
            });
        }
        let (done, changed) = &*subscribed;
        let guard = changed
            .wait_timeout_while(done.lock().unwrap(), Duration::from_secs(20), |done| !*done)
            .unwrap()
            .0;
        assert!(*guard, "the collector could not subscribe to port {port}");
        Self { messages, stop }
    }

    /// Waits until `done` holds for the messages, failing the test after
    /// `limit`; returns them.
    pub(crate) fn wait_until(
        &self,
        limit: Duration,
        what: &str,
        done: impl Fn(&[(String, String)]) -> bool,
    ) -> Vec<(String, String)> {
        let (messages, changed) = &*self.messages;
        let deadline = Instant::now() + limit;
        let mut guard = messages.lock().unwrap();
        while !done(&guard) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited {limit:?} for {what}; {} messages arrived",
                guard.len()
            );
            guard = changed.wait_timeout(guard, left).unwrap().0;
        }
        guard.clone()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
