//! The cron trigger in fenn's registry: [`CronKind`] keeps what cron needs
//! of `[server]` (the state directory, the shutdown grace), and
//! [`CronSetup`] reads `[[function.cron]]`, checks the schedules as a set
//! and starts the trigger, its results published through the MQTT
//! trigger's sink when a schedule names a `publish` topic.

use crate::{CronBindings, CronSpec, CronStats, CronTrigger, RawSchedule};
use fenn_runtime::Bindings as _;
use fenn_runtime::trigger::kind::parse;
use fenn_runtime::trigger::{
    Apply, Binding, BindingError, Collision, FunctionInfo, Host, KeyError, Metric, Report, Running,
    Sinks, Tables, TriggerKind, TriggerSetup,
};
use serde_json::{Value, json};
use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The kind whose sink takes the results of a schedule's `publish`.
const PUBLISH_SINK: &str = "mqtt";

/// The cron trigger's kind: `[[function.cron]]`, no section of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct CronKind;

impl TriggerKind for CronKind {
    fn kind(&self) -> &'static str {
        "cron"
    }

    fn settings(&self, tables: &Tables<'_>, _errors: &mut Vec<KeyError>) -> Arc<dyn TriggerSetup> {
        Arc::new(CronSetup {
            state_dir: tables.common.state_dir.map(ToOwned::to_owned),
            shutdown_grace: tables.common.shutdown_grace,
        })
    }
}

/// What cron runs with.
#[derive(Debug, Clone)]
pub struct CronSetup {
    /// `server.state_dir`: where last fires are kept (`catch_up` needs it).
    state_dir: Option<PathBuf>,
    /// `server.shutdown_grace`: time runs get to finish at shutdown.
    shutdown_grace: Duration,
}

impl CronSetup {
    /// One schedule of `function`, its `publish` topic checked by the sink
    /// that will take its results.
    fn binding(
        &self,
        function: &FunctionInfo<'_>,
        raw: &Value,
        sinks: &Sinks,
    ) -> Result<Arc<dyn Binding>, BindingError> {
        let spec = parse::<RawSchedule>(raw)?.validate(function.name, self.state_dir.is_some())?;
        if let Some(topic) = &spec.publish {
            let sink = sinks.get(PUBLISH_SINK).ok_or_else(|| {
                BindingError::new("publish", "needs an [mqtt] section naming the broker")
            })?;
            sink.check(topic)
                .map_err(|reason| BindingError::new("publish", reason))?;
        }
        Ok(Arc::new(spec))
    }
}

impl TriggerSetup for CronSetup {
    fn kind(&self) -> &'static str {
        "cron"
    }

    fn bindings(
        &self,
        function: &FunctionInfo<'_>,
        raw: &[Value],
        sinks: &Sinks,
    ) -> Vec<Result<Arc<dyn Binding>, BindingError>> {
        raw.iter()
            .map(|value| self.binding(function, value, sinks))
            .collect()
    }

    /// A schedule's name used twice.
    fn check(&self, bindings: &[Arc<dyn Binding>]) -> Result<(), Collision> {
        let mut holders: HashMap<&str, &str> = HashMap::new();
        let specs = bindings.iter().enumerate().filter_map(|(at, binding)| {
            let spec: &CronSpec = binding.as_any().downcast_ref()?;
            Some((at, spec))
        });
        for (at, spec) in specs {
            let Some(holder) = holders.insert(&spec.name, &spec.function) else {
                continue;
            };
            let reason = if holder == spec.function {
                format!("schedule '{}' is declared twice", spec.name)
            } else {
                format!(
                    "cron schedule '{}' already belongs to function '{holder}'",
                    spec.name
                )
            };
            return Err(Collision {
                at,
                field: "name".into(),
                reason,
            });
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    /// The trigger for `host`'s schedules, its results published through
    /// the MQTT trigger's sink when that runs.
    fn start(&self, host: Host<'_>) -> Result<Running, String> {
        let specs = specs(&host.bindings)?;
        let mut trigger = CronTrigger::new(specs, host.dispatcher, self.state_dir.clone())
            .with_grace(self.shutdown_grace);
        if let Some(sink) = host.sinks.get(PUBLISH_SINK) {
            trigger = trigger.with_sink(sink.clone());
        }
        Ok(Running {
            apply: Box::new(CronApply(trigger.bindings())),
            report: Arc::new(CronReport(trigger.stats())),
            sink: None,
            trigger: Box::new(trigger),
            address: None,
        })
    }
}

/// The schedules among `bindings`.
fn specs(bindings: &[Arc<dyn Binding>]) -> Result<Vec<CronSpec>, String> {
    bindings
        .iter()
        .map(|binding| {
            binding
                .as_any()
                .downcast_ref::<CronSpec>()
                .cloned()
                .ok_or_else(|| format!("{binding:?} is not a cron schedule"))
        })
        .collect()
}

/// Changes a running cron trigger's schedules.
struct CronApply(CronBindings);

impl Apply for CronApply {
    fn apply(&self, bindings: &[Arc<dyn Binding>]) -> Result<(), String> {
        let specs = specs(bindings)?;
        self.0.apply(specs).map_err(|error| error.to_string())
    }
}

/// What a running cron trigger counts, for the metrics.
struct CronReport(Arc<CronStats>);

impl Report for CronReport {
    fn metrics(&self) -> Vec<Metric> {
        let stats = &self.0;
        vec![
            Metric::Counter {
                name: "fenn_cron_skipped",
                help: "Cron fires skipped: the previous run still going, or missed while fenn was off",
                series: vec![(Vec::new(), stats.skipped.load(Ordering::Relaxed))],
            },
            Metric::Counter {
                name: "fenn_cron_caught_up",
                help: "Missed cron fires run once after downtime",
                series: vec![(Vec::new(), stats.caught_up.load(Ordering::Relaxed))],
            },
            Metric::Histogram {
                name: "fenn_cron_lateness_seconds",
                help: "How late cron runs started after their fire time",
                series: vec![(Vec::new(), stats.lateness.snapshot())],
            },
        ]
    }
}

impl Binding for CronSpec {
    fn function(&self) -> &str {
        &self.function
    }

    /// Its name, its schedule and when it fires next (UTC, RFC 3339).
    fn view(&self) -> Value {
        let next = self.schedule.next_after(chrono::Utc::now());
        let next = next.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        json!({"name": self.name, "schedule": self.schedule.describe(), "next": next})
    }

    /// `cron heartbeat`.
    fn summary(&self) -> String {
        format!("cron {}", self.name)
    }

    /// `CRON heartbeat … (every 30s, UTC)`.
    fn announce(&self) -> [String; 3] {
        let note = format!(" ({}, {})", self.schedule.describe(), self.schedule.zone());
        ["CRON".into(), self.name.clone(), note]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests;
