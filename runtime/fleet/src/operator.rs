//! The operator's side: a rollout from a laptop or a CI job that reaches
//! the broker, with no server of its own. The modules go to the broker
//! first (retained chunks, confirmed); then the signed deployment goes out
//! in waves on the group's topic, each naming the devices reached so far,
//! the last naming none (every device, those that join later too). Each
//! wave waits for its online devices' reports; past the abort threshold
//! the group's previous desired state is put back and the rollout stops,
//! no device past the wave touched.

use crate::deployment::{Function, Target};
use crate::signed::Signer;
use crate::view::View;
use crate::waves::{Tally, plan};
use crate::{Deployment, FleetError, chunks};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What to roll out, and how.
#[derive(Debug, Clone)]
pub struct Rollout {
    /// A group, or one device.
    pub target: Scope,
    /// Functions to add or change, with their modules.
    pub changes: Vec<(Function, Vec<u8>)>,
    /// Instead of changes: back to what the deployment in force replaced.
    pub rollback: bool,
    /// Devices in the first wave.
    pub canary: usize,
    /// Then waves reaching these shares of the group, cumulative.
    pub waves: Vec<u32>,
    /// Failed devices the rollout bears before it stops.
    pub max_failed: usize,
    /// Time a wave's devices have to report.
    pub wave_timeout: Duration,
    /// Bytes of each chunk.
    pub chunk: u32,
    /// Build on the broker's desired state even when devices run a newer
    /// deployment than it.
    pub force: bool,
}

/// Who a rollout is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every device of a group, in waves.
    Group(String),
    /// One device.
    Device(String),
}

/// How a rollout ended.
#[derive(Debug, Default)]
pub struct Summary {
    /// The deployment's id.
    pub id: u64,
    /// Each wave's outcome, in order.
    pub waves: Vec<Tally>,
    /// Time from each device's wave to its report of success.
    pub converged: BTreeMap<String, Duration>,
    /// Whether it stopped at the abort threshold.
    pub stopped: bool,
}

impl Summary {
    /// Devices that failed, in every wave.
    pub fn failed(&self) -> BTreeMap<&str, &str> {
        (self.waves.iter())
            .flat_map(|tally| tally.failed.iter().map(|(d, r)| (d.as_str(), r.as_str())))
            .collect()
    }

    /// The `q`-quantile of the times to converge.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let mut times: Vec<Duration> = self.converged.values().copied().collect();
        times.sort();
        let index = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len().max(1)) - 1;
        times.get(index).copied()
    }
}

/// Runs `rollout` signed by `signer`.
///
/// # Errors
///
/// The broker failed, or there is nothing to roll back to.
pub async fn roll_out(
    view: &mut View,
    signer: &Signer,
    rollout: Rollout,
) -> Result<Summary, FleetError> {
    let topic = match &rollout.target {
        Scope::Group(group) => view.topics.group(group),
        Scope::Device(device) => view.topics.device(device),
    };
    let previous = base(view, &rollout.target, &topic, signer);
    let reached = match &rollout.target {
        Scope::Group(group) => view.members(Some(group)),
        Scope::Device(device) => vec![device.clone()],
    };
    let in_force = view.newest_in_force(&reached);
    let known = previous.as_ref().map(|(d, _)| d.id);
    if in_force > known && !rollout.force {
        return Err(FleetError::Invalid(format!(
            "devices run deployment {}, newer than the desired state on the broker ({}): it was replaced or cleared since. Check the broker (its access rules), then run again with --force to build on what the broker has",
            in_force.unwrap_or_default(),
            known.map_or_else(|| "none".to_owned(), |id| id.to_string())
        )));
    }
    let prefix = view.topics.prefix().to_owned();
    let deployment = next(&rollout, &prefix, previous.as_ref().map(|(d, _)| d))?;
    let mut chunks_out = Vec::new();
    for (function, wasm) in &rollout.changes {
        for (index, chunk) in chunks::split(wasm, rollout.chunk).enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            chunks_out.push((view.topics.chunk(&function.sha256, index), chunk.to_vec()));
        }
    }
    view.publish(chunks_out).await?;
    let waves = match &rollout.target {
        Scope::Group(group) => plan(&view.members(Some(group)), rollout.canary, &rollout.waves),
        Scope::Device(_) => vec![None],
    };
    let mut summary = Summary {
        id: deployment.id,
        ..Summary::default()
    };
    for wave in waves {
        let mut signed = deployment.clone();
        if let Target::Group { devices, .. } = &mut signed.target {
            devices.clone_from(&wave);
        }
        let text =
            serde_json::to_string(&signed).map_err(|e| FleetError::Invalid(e.to_string()))?;
        let envelope = serde_json::to_vec(&signer.sign(text))
            .map_err(|e| FleetError::Invalid(e.to_string()))?;
        let started = Instant::now();
        view.publish(vec![(topic.clone(), envelope)]).await?;
        let devices = wave.unwrap_or_else(|| match &rollout.target {
            Scope::Group(group) => view.members(Some(group)),
            Scope::Device(device) => vec![device.clone()],
        });
        let tally = watch(
            view,
            deployment.id,
            &devices,
            started,
            rollout.wave_timeout,
            &mut summary,
        )
        .await;
        let stop = tally.aborts(rollout.max_failed);
        summary.waves.push(tally);
        if stop {
            let restore = previous
                .map(|(_, bytes)| bytes.to_vec())
                .unwrap_or_default();
            view.publish(vec![(topic, restore)]).await?;
            summary.stopped = true;
            break;
        }
    }
    Ok(summary)
}

/// What a rollout builds on: the newest deployment signed by `signer` on
/// its topic; for one device, on its groups' topics too (so that a
/// device's own deployment keeps its group's other functions).
fn base(
    view: &View,
    target: &Scope,
    topic: &str,
    signer: &Signer,
) -> Option<(Deployment, bytes::Bytes)> {
    let trusted = signer.trusted();
    let mut topics = vec![topic.to_owned()];
    if let Scope::Device(device) = target {
        let report = view
            .devices
            .get(device)
            .and_then(|seen| seen.report.as_ref());
        let groups = report
            .map(|report| report.groups.clone())
            .unwrap_or_default();
        topics.extend(groups.iter().map(|group| view.topics.group(group)));
    }
    (topics.iter())
        .filter_map(|topic| view.deployment(topic, &trusted))
        .max_by_key(|(deployment, _)| deployment.id)
}

/// The deployment a rollout signs: the previous one's functions with the
/// changes, or, for a rollback, what the previous one replaced.
fn next(
    rollout: &Rollout,
    prefix: &str,
    previous: Option<&Deployment>,
) -> Result<Deployment, FleetError> {
    let before: Vec<Function> = previous.map(|d| d.functions.clone()).unwrap_or_default();
    let functions = if rollout.rollback {
        let Some(previous) = previous.filter(|d| !d.previous.is_empty()) else {
            return Err(FleetError::Invalid(
                "nothing to roll back to: the deployment in force replaced nothing (or none signed by this key is on the broker)".into(),
            ));
        };
        previous.previous.clone()
    } else {
        let mut functions = before.clone();
        for (change, _) in &rollout.changes {
            functions.retain(|f| f.name != change.name);
            functions.push(change.clone());
        }
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        functions
    };
    let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    let id = now.max(previous.map_or(0, |d| d.id + 1));
    let target = match &rollout.target {
        Scope::Group(group) => Target::Group {
            group: group.clone(),
            devices: None,
        },
        Scope::Device(device) => Target::Device {
            device: device.clone(),
        },
    };
    Ok(Deployment {
        id,
        prefix: prefix.to_owned(),
        target,
        functions,
        previous: before,
        chunk: rollout.chunk,
        issued_at: crate::now(),
    })
}

/// Waits until each online device of `devices` has reported how
/// deployment `id` ended, or `timeout` has passed.
async fn watch(
    view: &mut View,
    id: u64,
    devices: &[String],
    started: Instant,
    timeout: Duration,
    summary: &mut Summary,
) -> Tally {
    let deadline = started + timeout;
    loop {
        let mut tally = Tally::default();
        for device in devices {
            let seen = view.devices.get(device);
            let outcome = seen
                .and_then(|s| s.report.as_ref())
                .and_then(|r| r.outcome(id));
            match outcome {
                Some(Ok(())) => {
                    let at = seen.and_then(|s| s.updated).unwrap_or_else(Instant::now);
                    summary
                        .converged
                        .entry(device.clone())
                        .or_insert(at.saturating_duration_since(started));
                    tally.done.push(device.clone());
                }
                Some(Err(reason)) => {
                    tally.failed.insert(device.clone(), reason);
                }
                None => tally.pending.push(device.clone()),
            }
        }
        let waiting = tally.pending.iter().any(|device| view.is_online(device));
        if !waiting || Instant::now() >= deadline {
            for device in tally.pending.iter().filter(|d| view.is_online(d)) {
                tally.failed.insert(
                    device.clone(),
                    format!("no report within {}s", timeout.as_secs()),
                );
            }
            tally
                .pending
                .retain(|device| !tally.failed.contains_key(device));
            return tally;
        }
        view.pump(deadline).await;
    }
}
