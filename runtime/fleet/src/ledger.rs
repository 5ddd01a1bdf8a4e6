//! The device's record of deployments, kept in `<state_dir>/fleet.json`:
//! the newest id seen on each desired-state topic (a replay is older), the
//! deployment in force, and what a new one is to the device.

use crate::Deployment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the device has seen and applied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// The newest deployment id handled, by the topic it came on.
    pub seen: BTreeMap<String, u64>,
    /// The deployment in force: the last one applied whole.
    pub applied: Option<Deployment>,
    /// The last deployment that failed or was rolled back, and why.
    pub failed: Option<(u64, String)>,
    /// The deployment being applied, written before its first change: at
    /// start, one still here was interrupted (a power cut, a kill), and
    /// the deployment in force is put back before anything else.
    #[serde(default)]
    pub applying: Option<Deployment>,
}

/// What a signed deployment is to the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it.
    Apply,
    /// Handled already: a retained message sent again.
    Seen,
    /// Not for this device (another wave's, another group's).
    NotForMe,
    /// Older than one handled from its topic: refused.
    Replay {
        /// The newest handled from its topic.
        seen: u64,
    },
    /// Signed for another topic than the one it came on: refused.
    WrongTopic,
    /// Older than the deployment in force (from another topic).
    Superseded,
}

impl Ledger {
    /// What `deployment`, come on `topic`, is to `device` of `groups`;
    /// `expected` is the topic its target publishes on.
    pub fn judge(
        &self,
        topic: &str,
        expected: &str,
        deployment: &Deployment,
        device: &str,
        groups: &[String],
    ) -> Verdict {
        if topic != expected {
            return Verdict::WrongTopic;
        }
        let id = deployment.id;
        match self.seen.get(topic) {
            Some(&seen) if id == seen => return Verdict::Seen,
            Some(&seen) if id < seen => return Verdict::Replay { seen },
            _ => {}
        }
        if !deployment.is_for(device, groups) {
            return Verdict::NotForMe;
        }
        if self
            .applied
            .as_ref()
            .is_some_and(|applied| id <= applied.id)
        {
            return Verdict::Superseded;
        }
        Verdict::Apply
    }

    /// Notes `id` handled from `topic`.
    pub fn handled(&mut self, topic: &str, id: u64) {
        let seen = self.seen.entry(topic.to_owned()).or_insert(id);
        *seen = (*seen).max(id);
    }

    /// The id of the deployment in force.
    pub fn in_force(&self) -> Option<u64> {
        self.applied.as_ref().map(|applied| applied.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::tests::deployment;

    const TOPIC: &str = "fenn/fleet/groups/lobby/desired";

    fn judge(ledger: &Ledger, d: &Deployment) -> Verdict {
        ledger.judge(TOPIC, TOPIC, d, "pi-1", &["lobby".to_owned()])
    }

    #[test]
    fn ids_only_move_forward_on_a_topic() {
        let mut ledger = Ledger::default();
        assert_eq!(judge(&ledger, &deployment(5, 'a')), Verdict::Apply);
        ledger.handled(TOPIC, 5);
        ledger.applied = Some(deployment(5, 'a'));
        assert_eq!(judge(&ledger, &deployment(5, 'a')), Verdict::Seen);
        assert_eq!(
            judge(&ledger, &deployment(4, 'b')),
            Verdict::Replay { seen: 5 }
        );
        assert_eq!(judge(&ledger, &deployment(6, 'b')), Verdict::Apply);
        ledger.handled(TOPIC, 3);
        assert_eq!(ledger.seen[TOPIC], 5);
    }

    #[test]
    fn another_topics_older_deployment_is_superseded_and_a_moved_one_refused() {
        let ledger = Ledger {
            applied: Some(deployment(9, 'a')),
            ..Ledger::default()
        };
        assert_eq!(judge(&ledger, &deployment(7, 'b')), Verdict::Superseded);
        let d = deployment(10, 'b');
        let other = "fenn/fleet/groups/roof/desired";
        assert_eq!(
            ledger.judge(other, TOPIC, &d, "pi-1", &["lobby".to_owned()]),
            Verdict::WrongTopic
        );
        assert_eq!(
            ledger.judge(TOPIC, TOPIC, &d, "pi-1", &["roof".to_owned()]),
            Verdict::NotForMe
        );
    }
}
