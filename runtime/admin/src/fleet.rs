//! The device in a fleet (`[fleet]`): its agent, applying signed
//! deployments through the platform the management API changes too.
//! Here rather than in `fenn`, so that the agent, generic over the
//! device, is compiled with this crate's settings (for size), not with
//! those of `fenn`'s event paths (for speed): at `opt-level = 3` it took
//! about 600 KB more of the binary.

use crate::Platform;
use fenn_config::FleetSettings;
use fenn_fleet::agent::{Agent, AgentSettings};
use fenn_fleet::device::{Current, Device};
use fenn_fleet::link::LinkSettings;
use fenn_fleet::report::Serving;
use fenn_fleet::{Report, Topics};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// The platform, as a deployment is applied through it.
struct Platformed(Arc<Platform>);

impl Device for Platformed {
    async fn current(&self, name: &str) -> Option<Current> {
        let serves = self.0.serves(name).await?;
        Some(Current {
            serving: Serving {
                sha256: serves.sha256,
                version: serves.version,
            },
            definition: serves.definition,
        })
    }

    async fn kept(&self, name: &str, sha256: &str, definition: &Value) -> Option<u64> {
        self.0.kept(name, sha256, definition).await
    }

    async fn deploy(&self, name: &str, definition: Value, wasm: Vec<u8>) -> Result<u64, String> {
        let answer = (self.0.deploy(name, definition, wasm).await).map_err(|e| refusal(&e))?;
        Ok(answer["version"].as_u64().unwrap_or_default())
    }

    async fn select(&self, name: &str, version: u64) -> Result<(), String> {
        (self.0.rollback(name, Some(version)).await).map_err(|e| refusal(&e))?;
        Ok(())
    }

    async fn remove(&self, name: &str) -> Result<(), String> {
        (self.0.delete(name).await).map_err(|e| refusal(&e))?;
        Ok(())
    }

    async fn test(&self, name: &str, event: &Value) -> Result<u16, String> {
        self.0.status_of(name, event).await
    }

    fn ready(&self) -> Result<(), String> {
        self.0.ready()
    }
}

/// A platform's refusal, with every reason it gives.
fn refusal(error: &crate::ApiError) -> String {
    match error {
        crate::ApiError::Refused { reason, errors } if !errors.is_empty() => {
            format!("{reason}: {}", errors.join("; "))
        }
        other => other.to_string(),
    }
}

/// Starts the agent on `platform` until `stops` says stop; its reports
/// as they change.
pub async fn start(
    fleet: FleetSettings,
    state_dir: PathBuf,
    platform: Arc<Platform>,
    mut stops: watch::Receiver<bool>,
) -> watch::Receiver<Report> {
    let settings = AgentSettings {
        device: fleet.device.clone(),
        groups: fleet.groups.clone(),
        topics: Topics::new(&fleet.prefix),
        trusted: fleet.trusted.clone(),
        max_module: platform.settings.max_module_bytes as u64,
        state_dir,
        fetch_timeout: fleet.fetch_timeout,
        resync: fleet.keep_alive * 4,
        link: LinkSettings {
            brokers: fleet.brokers.clone(),
            client_id: format!("fenn-fleet-{}", fleet.device),
            credentials: fenn_fleet::link::credentials(),
            keep_alive: fleet.keep_alive,
            will: None,
            max_packet: fenn_fleet::link::MAX_PACKET,
        },
    };
    let (agent, reports) = Agent::start(Arc::new(Platformed(platform)), settings).await;
    tokio::spawn(agent.run(async move {
        let _ = stops.wait_for(|stop| *stop).await;
    }));
    reports
}
