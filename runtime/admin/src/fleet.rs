//! The device in a fleet (`[fleet]`): its agent, applying signed
//! deployments through the platform the management API changes too.
//! The platform's calls are boxed at the seam ([`Device`]).

use crate::Platform;
use fenn_config::FleetSettings;
use fenn_fleet::agent::{Agent, AgentSettings};
use fenn_fleet::device::{Boxed, Current, Device};
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
    fn current<'a>(&'a self, name: &'a str) -> Boxed<'a, Option<Current>> {
        Box::pin(async move {
            let serves = self.0.serves(name).await?;
            Some(Current {
                serving: Serving {
                    sha256: serves.sha256,
                    version: serves.version,
                },
                definition: serves.definition,
            })
        })
    }

    fn kept<'a>(
        &'a self,
        name: &'a str,
        sha256: &'a str,
        definition: &'a Value,
    ) -> Boxed<'a, Option<u64>> {
        Box::pin(self.0.kept(name, sha256, definition))
    }

    fn deploy<'a>(
        &'a self,
        name: &'a str,
        definition: Value,
        wasm: Vec<u8>,
    ) -> Boxed<'a, Result<u64, String>> {
        Box::pin(async move {
            let answer = (self.0.deploy(name, definition, wasm).await).map_err(|e| refusal(&e))?;
            Ok(answer["version"].as_u64().unwrap_or_default())
        })
    }

    fn select<'a>(&'a self, name: &'a str, version: u64) -> Boxed<'a, Result<(), String>> {
        Box::pin(async move {
            (self.0.rollback(name, Some(version)).await).map_err(|e| refusal(&e))?;
            Ok(())
        })
    }

    fn remove<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<(), String>> {
        Box::pin(async move {
            (self.0.delete(name).await).map_err(|e| refusal(&e))?;
            Ok(())
        })
    }

    fn test<'a>(&'a self, name: &'a str, event: &'a Value) -> Boxed<'a, Result<u16, String>> {
        Box::pin(self.0.status_of(name, event))
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
