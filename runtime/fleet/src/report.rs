//! What a device reports, retained on its `reported` topic: the
//! deployment in force and the functions it serves, where an apply
//! stands, and the last deployment it refused.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Serving `deployment`, its health check passed.
    Active,
    /// Fetching `target`'s modules from the broker.
    Downloading,
    /// Compiling `target`'s modules and checking its health.
    Validating,
    /// `target` could not be applied (a module missing or refused):
    /// nothing of it serves.
    Failed,
    /// `target` was applied, failed its health check and was undone.
    RolledBack,
}

impl Phase {
    /// Whether an apply has ended in it.
    pub fn is_end(self) -> bool {
        matches!(self, Self::Active | Self::Failed | Self::RolledBack)
    }

    /// Its name, as reports write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Downloading => "downloading",
            Self::Validating => "validating",
            Self::Failed => "failed",
            Self::RolledBack => "rolled_back",
        }
    }
}

/// One function as a device serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Serving {
    /// Its module's SHA-256.
    pub sha256: String,
    /// The device's own version number of it.
    pub version: u64,
}

/// A deployment refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Its id, when it could be read.
    pub id: Option<u64>,
    /// The topic it came on.
    pub topic: String,
    /// Why.
    pub reason: String,
    /// When, RFC 3339.
    pub at: String,
}

/// A device's reported state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The device's id.
    pub device: String,
    /// Its groups.
    pub groups: Vec<String>,
    /// Where it stands.
    pub state: Phase,
    /// The deployment in force: the last one applied whole.
    pub deployment: Option<u64>,
    /// The deployment being applied, or the last one that was not.
    pub target: Option<u64>,
    /// Why `target` failed or was rolled back.
    pub reason: Option<String>,
    /// The functions the fleet manages, as served now.
    pub functions: BTreeMap<String, Serving>,
    /// The last deployment refused (unsigned, forged, replayed, …).
    pub refused: Option<Refusal>,
    /// When the report was made, RFC 3339.
    pub at: String,
    /// The fenn version.
    pub fenn: String,
}

impl Report {
    /// Whether it shows deployment `id` ended, and how: `Ok` once active
    /// on it, `Err` with the reason once it failed or rolled back.
    pub fn outcome(&self, id: u64) -> Option<Result<(), String>> {
        match self.state {
            Phase::Active if self.deployment == Some(id) => Some(Ok(())),
            Phase::Failed | Phase::RolledBack if self.target == Some(id) => Some(Err(format!(
                "{}: {}",
                self.state.name(),
                self.reason.as_deref().unwrap_or("no reason given")
            ))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(state: Phase, deployment: Option<u64>, target: Option<u64>) -> Report {
        Report {
            device: "pi".into(),
            groups: vec![],
            state,
            deployment,
            target,
            reason: Some("boom".into()),
            functions: BTreeMap::new(),
            refused: None,
            at: String::new(),
            fenn: String::new(),
        }
    }

    #[test]
    fn each_phase_is_named_as_reports_write_it() {
        for phase in [
            Phase::Active,
            Phase::Downloading,
            Phase::Validating,
            Phase::Failed,
            Phase::RolledBack,
        ] {
            assert_eq!(serde_json::to_value(phase).unwrap(), phase.name());
        }
    }

    #[test]
    fn an_outcome_is_read_only_for_the_deployment_asked_about() {
        assert_eq!(
            report(Phase::Active, Some(5), Some(5)).outcome(5),
            Some(Ok(()))
        );
        assert_eq!(report(Phase::Active, Some(4), None).outcome(5), None);
        assert_eq!(report(Phase::Active, Some(u64::MAX), None).outcome(5), None);
        assert_eq!(
            report(Phase::Downloading, Some(4), Some(5)).outcome(5),
            None
        );
        let failed = report(Phase::RolledBack, Some(4), Some(5)).outcome(5);
        assert_eq!(failed, Some(Err("rolled_back: boom".into())));
        assert_eq!(report(Phase::Failed, Some(4), Some(3)).outcome(5), None);
    }
}
