//! Applying a deployment: each function whose module or definition
//! changes is served from a kept version or deployed from the broker's
//! chunks (compiled and checked first), then the health check runs (each
//! test event must answer its status, and the device must be ready); on
//! any failure every change is undone, so the device serves what it
//! served before. Functions the deployment in force named and this one
//! does not are deleted last, once the new one is healthy. Applying again
//! changes nothing.

use crate::deployment::{Deployment, Function};
use crate::device::{Boxed, Device};
use crate::report::Phase;

/// Where a module comes from when no kept version has it.
pub trait Modules: Send {
    /// `function`'s module, checked against its hash.
    fn fetch<'a>(
        &'a mut self,
        deployment: &'a Deployment,
        function: &'a Function,
    ) -> Boxed<'a, Result<Vec<u8>, String>>;
}

/// How an apply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Active, failed (nothing changed) or rolled back.
    pub phase: Phase,
    /// Why, when it did not become active.
    pub reason: Option<String>,
    /// Failed for want of a module from the broker: worth another try.
    pub retry: bool,
}

impl Outcome {
    fn ended(phase: Phase, reason: String) -> Self {
        Self {
            phase,
            reason: Some(reason),
            retry: false,
        }
    }
}

/// Why a change could not be made.
struct Failure {
    reason: String,
    /// The module did not come from the broker.
    fetch: bool,
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Self {
            reason,
            fetch: false,
        }
    }
}

/// A change made, and how to undo it.
enum Undo {
    /// Serve this kept version again.
    Select(String, u64),
    /// The function was new: delete it.
    Remove(String),
}

/// Applies `deployment` over `in_force` (the deployment before it),
/// telling `phase` where it stands; with `check`, the health check runs
/// (putting back the deployment in force at start does without it: the
/// triggers are not up yet).
pub async fn apply(
    device: &dyn Device,
    modules: &mut dyn Modules,
    deployment: &Deployment,
    in_force: Option<&Deployment>,
    check: bool,
    phase: &mut (dyn FnMut(Phase) + Send),
) -> Outcome {
    let mut undo = Vec::new();
    for function in &deployment.functions {
        if let Err(failure) = change(device, modules, deployment, function, &mut undo, phase).await
        {
            revert(device, undo).await;
            let mut outcome = Outcome::ended(
                Phase::Failed,
                format!("{}: {}", function.name, failure.reason),
            );
            outcome.retry = failure.fetch;
            return outcome;
        }
    }
    phase(Phase::Validating);
    let health = if check {
        healthy(device, deployment).await
    } else {
        Ok(())
    };
    if let Err(reason) = health {
        revert(device, undo).await;
        return Outcome::ended(Phase::RolledBack, reason);
    }
    let named = |name: &str| deployment.functions.iter().any(|f| f.name == name);
    for gone in in_force.map_or(&[][..], |d| &d.functions) {
        if !named(&gone.name) {
            if let Err(reason) = device.remove(&gone.name).await {
                tracing::warn!(function = gone.name, %reason, "fleet: not deleted");
            }
        }
    }
    Outcome {
        phase: Phase::Active,
        reason: None,
        retry: false,
    }
}

/// Serves `function` as the deployment names it, noting how to undo it.
async fn change(
    device: &dyn Device,
    modules: &mut dyn Modules,
    deployment: &Deployment,
    function: &Function,
    undo: &mut Vec<Undo>,
    phase: &mut (dyn FnMut(Phase) + Send),
) -> Result<(), Failure> {
    let name = &function.name;
    let current = device.current(name).await;
    let definition = if function.definition.is_null() {
        serde_json::json!({})
    } else {
        function.definition.clone()
    };
    if let Some(current) = &current {
        if current.serving.sha256 == function.sha256 && current.definition == definition {
            return Ok(());
        }
    }
    let before = match &current {
        Some(current) => Undo::Select(name.clone(), current.serving.version),
        None => Undo::Remove(name.clone()),
    };
    if let Some(version) = device.kept(name, &function.sha256, &definition).await {
        phase(Phase::Validating);
        device.select(name, version).await?;
    } else {
        phase(Phase::Downloading);
        let wasm = (modules.fetch(deployment, function).await).map_err(|reason| Failure {
            reason,
            fetch: true,
        })?;
        phase(Phase::Validating);
        device.deploy(name, definition, wasm).await?;
    }
    undo.push(before);
    Ok(())
}

/// The health check: every test event answers its status, and the
/// device is ready.
async fn healthy(device: &dyn Device, deployment: &Deployment) -> Result<(), String> {
    for function in &deployment.functions {
        let Some(test) = &function.test else {
            continue;
        };
        match device.test(&function.name, &test.event).await {
            Ok(status) if status == test.status => {}
            Ok(status) => {
                return Err(format!(
                    "health check: {} answered {status}, not {}",
                    function.name, test.status
                ));
            }
            Err(reason) => return Err(format!("health check: {}: {reason}", function.name)),
        }
    }
    device
        .ready()
        .map_err(|reason| format!("health check: not ready: {reason}"))
}

/// Modules from the device's own kept versions only: what putting back
/// the deployment in force after an interrupted apply needs.
#[derive(Debug)]
pub struct KeptOnly;

impl Modules for KeptOnly {
    fn fetch<'a>(
        &'a mut self,
        _: &'a Deployment,
        function: &'a Function,
    ) -> Boxed<'a, Result<Vec<u8>, String>> {
        let reason = format!("{} is not kept on the device", function.sha256);
        Box::pin(async move { Err(reason) })
    }
}

/// Undoes `changes`, newest first.
async fn revert(device: &dyn Device, changes: Vec<Undo>) {
    for change in changes.into_iter().rev() {
        let (name, result) = match &change {
            Undo::Select(name, version) => (name, device.select(name, *version).await),
            Undo::Remove(name) => (name, device.remove(name).await),
        };
        if let Err(reason) = result {
            tracing::error!(function = name, %reason, "fleet: could not undo a change");
        }
    }
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
