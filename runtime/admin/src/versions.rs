//! What a fleet's deployment asks of the platform beside deploy, rollback
//! and delete: the version a function serves, a kept version of a module,
//! a test event's status and the device's readiness.

use super::platform::Platform;
use fenn_abi::Event;
use serde_json::Value;

/// A deployed function's version as it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Serves {
    /// The version's number.
    pub version: u64,
    /// Its module's SHA-256.
    pub sha256: String,
    /// Its definition.
    pub definition: Value,
}

impl Platform {
    /// The version deployed function `name` serves.
    pub async fn serves(&self, name: &str) -> Option<Serves> {
        let state = self.state.lock().await;
        if state.broken.contains_key(name) {
            return None;
        }
        let current = state.manifest.current(name)?;
        Some(Serves {
            version: current.version,
            sha256: current.sha256.clone(),
            definition: current.definition.clone(),
        })
    }

    /// The number of a kept version of `name` with module `sha256` and
    /// `definition`.
    pub async fn kept(&self, name: &str, sha256: &str, definition: &Value) -> Option<u64> {
        let state = self.state.lock().await;
        let record = state.manifest.functions.get(name)?;
        (record.versions.iter().rev())
            .find(|v| v.sha256 == sha256 && &v.definition == definition)
            .map(|v| v.version)
    }

    /// The status `name` answers `event` with.
    ///
    /// # Errors
    ///
    /// The event is not one, or the function failed.
    pub async fn status_of(&self, name: &str, event: &Value) -> Result<u16, String> {
        let event: Event = crate::event::parse_event("the test event", &event.to_string())
            .map_err(|error| format!("{error:#}"))?;
        let answer = self
            .invoke(name, event)
            .await
            .map_err(|error| error.to_string())?;
        if let Some(status) = answer["response"]["statusCode"].as_u64() {
            return u16::try_from(status).map_err(|_| format!("status {status}"));
        }
        Err(answer["error"].as_str().unwrap_or("no response").to_owned())
    }

    /// Whether the device is ready, as `/readyz` says it; what is not.
    ///
    /// # Errors
    ///
    /// What is not ready.
    pub fn ready(&self) -> Result<(), String> {
        let (ready, words) = self.triggers.readiness();
        if ready {
            Ok(())
        } else {
            Err(Value::Object(words).to_string())
        }
    }
}
