//! `[[flow]]`: functions chained in a DAG. A flow's own keys, its steps
//! and their edges are read here into a [`FlowSpec`], checked for shape at
//! once (cycles, unreachable steps, conditions that do not parse…); its
//! bindings are read by the triggers as a function's are. That its steps'
//! functions exist is checked when fenn loads them (they may be deployed
//! ones), by [`FlowConfig::graph`].

use super::bindings::Declared;
use super::{BindingSet, ConfigError, Setups, Validator};
use fenn_runtime::flow::{
    FlowLimits, FlowSpec, Graph, GraphError, Join, OnTimeout, Retry, StepSpec,
};
use fenn_runtime::trigger::{FunctionInfo, Table};
use fenn_runtime::units;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Most runs in flight one flow may allow (`max_runs`).
const MAX_RUNS: usize = 100_000;

/// `[[flow]]`: functions chained in a DAG, triggered like a function; its
/// bindings (`[[flow.http]]`, `[[flow.mqtt]]`, `[[flow.cron]]`) are read
/// by their triggers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlow {
    /// `name`: unique among functions and flows.
    pub(crate) name: String,
    /// `start`: the steps that receive the flow's event (default: the
    /// first step).
    #[serde(default)]
    pub(crate) start: Vec<String>,
    /// `response`: the step whose result answers the source (default: the
    /// last step).
    pub(crate) response: Option<String>,
    /// `max_runs`: runs in flight at once (default 64); past it a request
    /// is answered 503, an MQTT message waits, a cron fire is skipped.
    pub(crate) max_runs: Option<usize>,
    /// `max_steps`: steps running at once across its runs (default 64).
    pub(crate) max_steps: Option<usize>,
    /// `deadline`: how long a run may take from its start (default `60s`).
    pub(crate) deadline: Option<String>,
    /// `max_bytes`: bytes of results one run carries (default `1MiB`).
    pub(crate) max_bytes: Option<String>,
    /// `apps`: the apps its routes authorize, where a route names none.
    #[serde(default)]
    pub(crate) apps: Vec<String>,
    /// `step`: its steps (`[[flow.step]]`).
    #[serde(default)]
    pub(crate) step: Vec<RawStep>,
}

/// `[[flow.step]]`: one step, the function it runs and where its result
/// goes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    /// `name`: unique in the flow.
    pub(crate) name: String,
    /// `function`: the function it runs.
    pub(crate) function: String,
    /// `next`: the steps its result feeds.
    #[serde(default)]
    pub(crate) next: Vec<String>,
    /// `on_error`: the steps its failure feeds, once its retries are spent.
    #[serde(default)]
    pub(crate) on_error: Vec<String>,
    /// `when`: a condition per target step (`[flow.step.when]`): the edge
    /// is taken only when it holds on the result.
    #[serde(default)]
    pub(crate) when: BTreeMap<String, String>,
    /// `retry`: how it is retried when it fails (`[flow.step.retry]`).
    pub(crate) retry: Option<RawRetry>,
    /// `join`: how it waits for its inputs (`[flow.step.join]`).
    pub(crate) join: Option<RawJoin>,
}

/// `[flow.step.retry]`: a step's retries, with exponential backoff.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    /// `attempts`: runs in all, the first included (default 3 once
    /// `[flow.step.retry]` is given; 1 without it).
    pub(crate) attempts: Option<u32>,
    /// `backoff`: the wait before the first retry, doubled for each one
    /// after (default `100ms`).
    pub(crate) backoff: Option<String>,
    /// `max_backoff`: the most one wait grows to (default `10s`).
    pub(crate) max_backoff: Option<String>,
    /// `jitter`: draw each wait at random up to its value (default true).
    pub(crate) jitter: Option<bool>,
}

/// `[flow.step.join]`: how a step with several inputs waits for them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJoin {
    /// `timeout`: how long it waits, from its first input, for the others
    /// (default: until each has arrived or its branch is known not to run).
    pub(crate) timeout: Option<String>,
    /// `on_timeout`: `fail` (default) or `continue` with what arrived.
    pub(crate) on_timeout: Option<String>,
}

/// A validated flow: its steps' shape checked, its functions not yet.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Its name.
    pub name: String,
    /// Its steps and edges.
    pub spec: FlowSpec,
    /// Its bounds.
    pub limits: FlowLimits,
    /// Its bindings, by trigger kind.
    pub bindings: BindingSet,
    /// Its key in the file (`flow[0]`).
    pub key: String,
}

impl FlowConfig {
    /// Its graph, with every step's function checked by `known`.
    ///
    /// # Errors
    ///
    /// Each error's key is the flow's (`flow[0].step[1].function`).
    pub fn graph(&self, known: &dyn Fn(&str) -> bool) -> Result<Graph, Vec<GraphError>> {
        Graph::build(&self.spec, known).map_err(|errors| {
            let prefix = &self.key;
            errors
                .into_iter()
                .map(|error| GraphError {
                    key: if prefix.is_empty() {
                        error.key
                    } else {
                        format!("{prefix}.{}", error.key)
                    },
                    reason: error.reason,
                })
                .collect()
        })
    }
}

impl Validator<'_> {
    /// A flow's own keys and steps, its shape checked.
    pub(crate) fn flow(&self, key: &str, raw: &RawFlow) -> Result<FlowConfig, ConfigError> {
        if let Some(reason) = fenn_runtime::trigger::name_refused(&raw.name) {
            return Err(self.error(format!("{key}.name"), reason));
        }
        let defaults = FlowLimits::default();
        let duration = |field: &str, value: &Option<String>, default| match value {
            Some(text) => {
                units::duration(text).map_err(|reason| self.error(format!("{key}.{field}"), reason))
            }
            None => Ok(default),
        };
        let limits = FlowLimits {
            max_runs: self.count(
                &format!("{key}.max_runs"),
                raw.max_runs,
                defaults.max_runs,
                MAX_RUNS,
            )?,
            max_steps: self.count(
                &format!("{key}.max_steps"),
                raw.max_steps,
                defaults.max_steps,
                MAX_RUNS,
            )?,
            deadline: duration("deadline", &raw.deadline, defaults.deadline)?,
            max_bytes: self.size(
                &format!("{key}.max_bytes"),
                &raw.max_bytes,
                defaults.max_bytes,
            )?,
        };
        let steps = (raw.step.iter().enumerate())
            .map(|(at, step)| self.step(&format!("{key}.step[{at}]"), step))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = FlowSpec {
            start: raw.start.clone(),
            response: raw.response.clone(),
            steps,
        };
        let flow = FlowConfig {
            name: raw.name.clone(),
            spec,
            limits,
            bindings: BindingSet::default(),
            key: key.to_owned(),
        };
        // The shape now; the functions once they are loaded.
        if let Err(errors) = flow.graph(&|_| true) {
            let mut errors = errors.into_iter().map(|e| self.error(e.key, e.reason));
            let first = errors.next().unwrap_or_else(|| self.error(key, "refused"));
            for error in errors {
                self.report(error);
            }
            return Err(first);
        }
        Ok(flow)
    }

    /// Every `[[flow]]` with its bindings, each name unique among
    /// functions and flows.
    pub(crate) fn flows(
        &self,
        tables: &[&Table],
        setups: &Setups,
        declared: &mut Declared,
        names: &mut Vec<Option<String>>,
    ) -> Vec<FlowConfig> {
        let mut flows = Vec::new();
        for (index, table) in tables.iter().enumerate() {
            let key = format!("flow[{index}]");
            let name = table.get("name").and_then(Value::as_str).map(str::to_owned);
            if name.is_some() && names.contains(&name) {
                let name = name.clone().unwrap_or_default();
                self.report(self.error(
                    format!("{key}.name"),
                    format!("'{name}' is declared twice (functions and flows share names)"),
                ));
            }
            names.push(name);
            if let Some(flow) = self.flow_entry(&key, table, setups, declared) {
                flows.push(flow);
            }
        }
        flows
    }

    /// One flow from its table, with its bindings; a flow in error still
    /// has its bindings checked, against the default bounds.
    pub(crate) fn flow_entry(
        &self,
        key: &str,
        table: &Table,
        setups: &Setups,
        declared: &mut Declared,
    ) -> Option<FlowConfig> {
        let kinds: Vec<&str> = setups.iter().map(|setup| setup.kind()).collect();
        let own: Table = (table.iter())
            .filter(|(name, _)| !kinds.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let raw = self.keep(self.parse::<RawFlow>(key, Value::Object(own)))?;
        let parsed = self.keep(self.flow(key, &raw));
        let limits = parsed.as_ref().map(|flow| flow.limits).unwrap_or_default();
        let as_function = fenn_runtime::Limits {
            timeout: limits.deadline,
            concurrency: limits.max_runs,
            max_response: limits.max_bytes,
            ..fenn_runtime::Limits::default()
        };
        let info = FunctionInfo {
            name: &raw.name,
            limits: &as_function,
            apps: &raw.apps,
        };
        let (set, keys) = self.bindings(key, table, &info, parsed.is_some(), setups)?;
        let mut flow = parsed?;
        declared.add(&set, &keys);
        flow.bindings = set;
        Some(flow)
    }

    fn step(&self, key: &str, raw: &RawStep) -> Result<StepSpec, ConfigError> {
        let duration = |field: &str, value: &Option<String>| match value {
            Some(text) => units::duration(text)
                .map(Some)
                .map_err(|reason| self.error(format!("{key}.{field}"), reason)),
            None => Ok(None),
        };
        let retry = match &raw.retry {
            None => Retry::default(),
            Some(retry) => {
                let defaults = Retry::default();
                let attempts = retry.attempts.unwrap_or(3);
                if attempts == 0 || attempts > fenn_runtime::flow::graph::MAX_ATTEMPTS {
                    return Err(self.error(
                        format!("{key}.retry.attempts"),
                        format!(
                            "must be from 1 to {}",
                            fenn_runtime::flow::graph::MAX_ATTEMPTS
                        ),
                    ));
                }
                Retry {
                    attempts,
                    backoff: duration("retry.backoff", &retry.backoff)?.unwrap_or(defaults.backoff),
                    max_backoff: duration("retry.max_backoff", &retry.max_backoff)?
                        .unwrap_or(defaults.max_backoff),
                    jitter: retry.jitter.unwrap_or(defaults.jitter),
                }
            }
        };
        let join = match &raw.join {
            None => None,
            Some(join) if join.timeout.is_none() && join.on_timeout.is_some() => {
                return Err(self.error(
                    format!("{key}.join.on_timeout"),
                    "needs `timeout`: without one the join waits for every input",
                ));
            }
            Some(join) => Some(Join {
                timeout: duration("join.timeout", &join.timeout)?,
                on_timeout: match join.on_timeout.as_deref() {
                    None | Some("fail") => OnTimeout::Fail,
                    Some("continue") => OnTimeout::Continue,
                    Some(other) => {
                        return Err(self.error(
                            format!("{key}.join.on_timeout"),
                            format!("'{other}' is not `fail` or `continue`"),
                        ));
                    }
                },
            }),
        };
        Ok(StepSpec {
            name: raw.name.clone(),
            function: raw.function.clone(),
            next: raw.next.clone(),
            on_error: raw.on_error.clone(),
            when: raw.when.clone(),
            retry,
            join,
        })
    }
}
