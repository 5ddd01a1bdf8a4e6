//! `GET /metrics`: what fenn counts, in the Prometheus text format.
//!
//! Everything is read at scrape time from where it is counted (the
//! history's counts, the gateway's, MQTT's and cron's stats, the process),
//! so a deleted function's series go with it. prometheus-client encodes
//! them. Label values are bounded: function names, the four triggers, the
//! fixed failure kinds, route templates (never raw paths).

use super::Observe;
use fenn_cron::CronStats;
use fenn_http::RequestStats;
use fenn_http::policy::failures::AuthFailures;
use fenn_mqtt::MqttStats;
use fenn_mqtt::link::Link;
use fenn_runtime::GuestMemory;
use fenn_runtime::observe::Histogram;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::watch;

type Labels = Vec<(&'static str, String)>;
type Fmt = Result<(), std::fmt::Error>;

/// Where the metrics are read from.
pub(crate) struct Sources {
    pub(crate) observe: Arc<Observe>,
    pub(crate) guest_memory: Arc<GuestMemory>,
    pub(crate) http: Arc<RequestStats>,
    pub(crate) cron: Arc<CronStats>,
    /// Failed authentications, the gateway's and the management API's.
    pub(crate) auth_failures: [(&'static str, Arc<AuthFailures>); 2],
    /// With `[mqtt]`: its stats, its link, and the results lost.
    pub(crate) mqtt: Option<(Arc<MqttStats>, watch::Receiver<Link>, fenn_mqtt::Publisher)>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

/// The registry, with every source as one collector.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
}

impl Metrics {
    pub(crate) fn new(sources: Sources) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(sources));
        Self { registry }
    }

    /// The exposition, as text.
    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// A counter; the encoder adds the `_total` suffix to its name.
fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, u64)>,
) -> Fmt {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        metric
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
    }
    Ok(())
}

fn gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: i64) -> Fmt {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    metric.encode_gauge(&value)
}

fn histogram<'h>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, &'h Histogram)>,
) -> Fmt {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, histogram) in series {
        let (sum, count, buckets) = histogram.snapshot();
        metric
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
    }
    Ok(())
}

impl Collector for Sources {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Fmt {
        self.invocations(&mut encoder)?;
        let requests = self.http.snapshot().into_iter().map(|(route, code, n)| {
            let labels = vec![("route", route.to_string()), ("code", code.to_string())];
            (labels, n)
        });
        counter(
            &mut encoder,
            "fenn_http_requests",
            "HTTP requests answered by the gateway, by route template and status code",
            requests,
        )?;
        self.auth(&mut encoder)?;
        self.mqtt(&mut encoder)?;
        let cron = &self.cron;
        counter(
            &mut encoder,
            "fenn_cron_skipped",
            "Cron fires skipped: the previous run still going, or missed while fenn was off",
            [(vec![], cron.skipped.load(Ordering::Relaxed))],
        )?;
        counter(
            &mut encoder,
            "fenn_cron_caught_up",
            "Missed cron fires run once after downtime",
            [(vec![], cron.caught_up.load(Ordering::Relaxed))],
        )?;
        histogram(
            &mut encoder,
            "fenn_cron_lateness_seconds",
            "How late cron runs started after their fire time",
            [(vec![], &cron.lateness)],
        )?;
        let memory = &self.guest_memory;
        gauge(
            &mut encoder,
            "fenn_guest_memory_bytes",
            "Linear memory held by running guests",
            clamp(memory.used()),
        )?;
        gauge(
            &mut encoder,
            "fenn_guest_memory_budget_bytes",
            "The budget of all running guests' memory (server.guest_memory)",
            clamp(memory.total()),
        )?;
        log_lines(&mut encoder)?;
        process(&mut encoder)
    }
}

/// fenn's own log lines held back by their rate limits, by kind, and
/// dropped because stderr did not take them.
fn log_lines(encoder: &mut DescriptorEncoder<'_>) -> Fmt {
    let suppressed = fenn_runtime::log_limit::suppressed()
        .into_iter()
        .map(|(kind, n)| (vec![("kind", kind.to_owned())], n));
    counter(
        encoder,
        "fenn_log_lines_suppressed",
        "fenn's own log lines about clients, messages and guests held back by their rate limits, by kind",
        suppressed,
    )?;
    counter(
        encoder,
        "fenn_log_lines_dropped",
        "fenn's log lines dropped because stderr did not take them in time",
        [(vec![], crate::logging::dropped())],
    )
}

impl Sources {
    /// Failed authentications, and requests refused while their address
    /// waited out a penalty, by listener.
    fn auth(&self, encoder: &mut DescriptorEncoder<'_>) -> Fmt {
        let series = |pick: fn((u64, u64)) -> u64| {
            self.auth_failures.iter().map(move |(listener, failures)| {
                (
                    vec![("listener", (*listener).to_owned())],
                    pick(failures.totals()),
                )
            })
        };
        counter(
            encoder,
            "fenn_auth_failures",
            "Requests refused for missing or wrong credentials (401), by listener",
            series(|(failed, _)| failed),
        )?;
        counter(
            encoder,
            "fenn_auth_throttled",
            "Requests refused (429) while their address waited out a penalty for failed authentications, by listener",
            series(|(_, refused)| refused),
        )
    }

    fn invocations(&self, encoder: &mut DescriptorEncoder<'_>) -> Fmt {
        self.observe.read(|history| {
            let counts: Vec<_> = history.counts().collect();
            let by_status = counts.iter().flat_map(|(function, counts)| {
                counts.invocations.iter().map(|((trigger, status), n)| {
                    let labels = vec![
                        ("function", (*function).to_owned()),
                        ("trigger", (*trigger).to_owned()),
                        ("status", (*status).to_owned()),
                    ];
                    (labels, *n)
                })
            });
            counter(encoder, "fenn_invocations", "Invocations by function, trigger and status (ok, or the failure's kind)", by_status)?;
            let refused = counts.iter().flat_map(|(function, counts)| {
                counts
                    .invocations
                    .iter()
                    .filter(|((_, status), _)| matches!(*status, "busy" | "overloaded"))
                    .map(|((_, reason), n)| {
                        (vec![("function", (*function).to_owned()), ("reason", (*reason).to_owned())], *n)
                    })
            });
            counter(encoder, "fenn_refusals", "Events refused without running: the function at its concurrency limit (busy) or the guest memory budget spent (overloaded)", refused)?;
            let durations = counts
                .iter()
                .map(|(function, counts)| (vec![("function", (*function).to_owned())], &counts.duration));
            histogram(encoder, "fenn_invocation_duration_seconds", "How long invocations took, waiting for a worker included", durations)?;
            let fuel = counts
                .iter()
                .map(|(function, counts)| (vec![("function", (*function).to_owned())], counts.fuel));
            counter(encoder, "fenn_fuel_used", "Fuel (wasm instructions, roughly) guests used", fuel)?;
            gauge(encoder, "fenn_history_bytes", "Bytes the invocation history holds", clamp(history.bytes()))
        })
    }

    fn mqtt(&self, encoder: &mut DescriptorEncoder<'_>) -> Fmt {
        let Some((stats, link, publisher)) = &self.mqtt else {
            return Ok(());
        };
        let link = *link.borrow();
        gauge(
            encoder,
            "fenn_mqtt_connected",
            "1 while fenn is connected to the MQTT broker",
            i64::from(link.up),
        )?;
        counter(
            encoder,
            "fenn_mqtt_reconnects",
            "Connections to the broker made after the first",
            [(vec![], link.epoch.saturating_sub(1))],
        )?;
        gauge(
            encoder,
            "fenn_mqtt_outbox_records",
            "Results waiting in the outbox for the broker",
            clamp(stats.outbox_records.load(Ordering::Relaxed)),
        )?;
        gauge(
            encoder,
            "fenn_mqtt_outbox_bytes",
            "Bytes of the results waiting in the outbox",
            clamp(stats.outbox_bytes.load(Ordering::Relaxed)),
        )?;
        counter(
            encoder,
            "fenn_mqtt_dropped_qos0",
            "QoS 0 messages dropped while the functions were saturated",
            [(vec![], stats.dropped_qos0.load(Ordering::Relaxed))],
        )?;
        counter(
            encoder,
            "fenn_mqtt_refused_hops",
            "Messages not run: they came through too many fenn replies (a loop through the broker)",
            [(vec![], stats.refused_hops.load(Ordering::Relaxed))],
        )?;
        counter(
            encoder,
            "fenn_mqtt_results_lost",
            "Results dropped or lost before the broker or the outbox had them",
            [(vec![], publisher.lost())],
        )
    }
}

/// A count as a gauge's value, the largest one past `i64::MAX`.
fn clamp(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// The process's resident memory and open file descriptors, as the usual
/// `process_` metrics name them (Linux; elsewhere left out).
fn process(encoder: &mut DescriptorEncoder<'_>) -> Fmt {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
            let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        });
    if let Some(rss) = rss {
        gauge(
            encoder,
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            rss,
        )?;
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge(
            encoder,
            "process_open_fds",
            "Number of open file descriptors",
            clamp(fds.count()),
        )?;
    }
    Ok(())
}
