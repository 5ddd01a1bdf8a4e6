//! [`MqttStats`]: what the trigger counts for the metrics, beyond the
//! link's state ([`crate::link::Link`]) and the results the publisher lost
//! ([`crate::Publisher::lost`]).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters and gauges the trigger keeps as it runs.
#[derive(Debug, Default)]
pub struct MqttStats {
    /// QoS 0 messages dropped while the functions were saturated.
    pub dropped_qos0: AtomicU64,
    /// Messages refused for their hop count (a loop through the broker).
    pub refused_hops: AtomicU64,
    /// Messages in the outbox now.
    pub outbox_records: AtomicU64,
    /// Bytes in the outbox now.
    pub outbox_bytes: AtomicU64,
}

impl MqttStats {
    /// The outbox holds `records` messages of `bytes` in all.
    pub(crate) fn outbox(&self, records: usize, bytes: u64) {
        self.outbox_records.store(records as u64, Ordering::Relaxed);
        self.outbox_bytes.store(bytes, Ordering::Relaxed);
    }
}
