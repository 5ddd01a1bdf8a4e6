//! `GET /metrics`: what fenn counts, in the Prometheus text format.
//!
//! Everything is read at scrape time from where it is counted (the
//! history's counts, each running trigger's report, the process), so a
//! deleted function's series go with it. prometheus-client encodes them. Label values are bounded: function names, the four triggers, the
//! fixed failure kinds, route templates (never raw paths).

use super::Recorder;
use fenn_runtime::GuestMemory;
use fenn_runtime::observe::Histogram;
use fenn_runtime::trigger::kind::clamp;
use fenn_runtime::trigger::{Metric, Report};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::Arc;

type Labels = Vec<(&'static str, String)>;
type Fmt = Result<(), std::fmt::Error>;

/// Where the metrics are read from.
pub struct Sources {
    /// The history, whose counts are the invocation metrics.
    pub observe: Arc<Recorder>,
    /// All guests' memory and its budget.
    pub guest_memory: Arc<GuestMemory>,
    /// Each running trigger's report, and the management API's: families
    /// of one name (failed authentications, by listener) are joined.
    pub reports: Vec<Arc<dyn Report>>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

/// The registry, with every source as one collector.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    /// The metrics, read from `sources` at each scrape.
    pub fn new(sources: Sources) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(sources));
        Self { registry }
    }

    /// The exposition, as text.
    pub fn render(&self) -> String {
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
        self.flows(&mut encoder)?;
        let mut families = Vec::new();
        for report in &self.reports {
            families.extend(report.metrics());
        }
        for metric in merged(families) {
            encode(&mut encoder, &metric)?;
        }
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

/// The families, those of one name (the gateway's and the management
/// API's failed authentications, say) as one, where the first is.
fn merged(families: Vec<Metric>) -> Vec<Metric> {
    let mut merged: Vec<Metric> = Vec::new();
    for metric in families {
        let same = merged.iter_mut().find(|m| name(m) == name(&metric));
        match (same, metric) {
            (Some(Metric::Counter { series, .. }), Metric::Counter { series: more, .. }) => {
                series.extend(more);
            }
            (Some(Metric::Histogram { series, .. }), Metric::Histogram { series: more, .. }) => {
                series.extend(more);
            }
            (Some(_), _) => {}
            (None, metric) => merged.push(metric),
        }
    }
    merged
}

fn name(metric: &Metric) -> &'static str {
    match metric {
        Metric::Counter { name, .. }
        | Metric::Gauge { name, .. }
        | Metric::Histogram { name, .. } => name,
    }
}

/// One of a trigger's families.
fn encode(encoder: &mut DescriptorEncoder<'_>, metric: &Metric) -> Fmt {
    match metric {
        Metric::Counter { name, help, series } => counter(encoder, name, help, series.clone()),
        Metric::Gauge { name, help, value } => gauge(encoder, name, help, *value),
        Metric::Histogram { name, help, series } => {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            for (labels, (sum, count, buckets)) in series {
                family
                    .encode_family(labels)?
                    .encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?;
            }
            Ok(())
        }
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
            let calls = counts.iter().flat_map(|(function, counts)| {
                counts.host_calls.iter().filter(|(_, n)| **n > 0).map(|((call, failed), n)| {
                    let result = if *failed { "failed" } else { "ok" };
                    (vec![("function", (*function).to_owned()), ("call", (*call).to_owned()), ("result", result.to_owned())], *n)
                })
            });
            counter(encoder, "fenn_host_calls", "Host calls functions made (store, publish, emit, variables), by call and result", calls)?;
            gauge(encoder, "fenn_history_bytes", "Bytes the invocation history holds", clamp(history.bytes()))
        })
    }
}

impl Sources {
    /// Flows' runs by status, and their steps by state.
    fn flows(&self, encoder: &mut DescriptorEncoder<'_>) -> Fmt {
        self.observe.runs(|runs| {
            let counts: Vec<_> = runs.counts().collect();
            let by_status = counts.iter().flat_map(|(flow, counts)| {
                (counts.runs.iter()).map(|(status, n)| {
                    (
                        vec![
                            ("flow", (*flow).to_owned()),
                            ("status", (*status).to_owned()),
                        ],
                        *n,
                    )
                })
            });
            counter(
                encoder,
                "fenn_flow_runs",
                "Flows' runs by flow and status (ok, or failed when a failure took no error edge)",
                by_status,
            )?;
            let steps = counts.iter().flat_map(|(flow, counts)| {
                (counts.steps.iter()).map(|((step, state), n)| {
                    let labels = vec![
                        ("flow", (*flow).to_owned()),
                        ("step", step.clone()),
                        ("state", (*state).to_owned()),
                    ];
                    (labels, *n)
                })
            });
            counter(
                encoder,
                "fenn_flow_steps",
                "Steps of flows' runs by flow, step and how they ended (done, failed, skipped)",
                steps,
            )
        })
    }
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
