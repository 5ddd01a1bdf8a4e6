//! A rollout's plan: a canary of a few devices, then waves that reach a
//! share of the group each (cumulative), the last one every device,
//! those not known yet included; and the judgement of each wave against
//! the abort threshold.

use std::collections::BTreeMap;

/// The devices each wave adds, in order; the last wave is the whole
/// group (`None`: every device, known or not).
pub fn plan(devices: &[String], canary: usize, percents: &[u32]) -> Vec<Option<Vec<String>>> {
    let mut devices = devices.to_vec();
    devices.sort();
    devices.dedup();
    let total = devices.len();
    let mut waves = Vec::new();
    let mut reached = 0;
    let mut cuts: Vec<usize> = Vec::new();
    if canary > 0 {
        cuts.push(canary.min(total));
    }
    for percent in percents {
        let percent = (*percent).min(100) as usize;
        cuts.push((total * percent).div_ceil(100));
    }
    for cut in cuts {
        if cut >= total {
            break;
        }
        if cut > reached {
            waves.push(Some(devices[..cut].to_vec()));
            reached = cut;
        }
    }
    waves.push(None);
    waves
}

/// How a wave's devices ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Active on the deployment.
    pub done: Vec<String>,
    /// Failed or rolled back, with why.
    pub failed: BTreeMap<String, String>,
    /// Offline, or not answered yet.
    pub pending: Vec<String>,
}

impl Tally {
    /// Whether the failures are past `max_failed`.
    pub fn aborts(&self, max_failed: usize) -> bool {
        self.failed.len() > max_failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("d{i:03}")).collect()
    }

    #[test]
    fn a_canary_then_growing_waves_then_everyone() {
        let waves = plan(&devices(100), 2, &[5, 25, 100]);
        let sizes: Vec<Option<usize>> = waves.iter().map(|w| w.as_ref().map(Vec::len)).collect();
        assert_eq!(sizes, [Some(2), Some(5), Some(25), None]);
        assert_eq!(waves[0].as_ref().unwrap(), &["d000", "d001"]);
    }

    #[test]
    fn small_groups_skip_empty_and_repeated_waves() {
        let sizes = |n, canary, p: &[u32]| -> Vec<Option<usize>> {
            plan(&devices(n), canary, p)
                .iter()
                .map(|w| w.as_ref().map(Vec::len))
                .collect()
        };
        assert_eq!(sizes(3, 1, &[5, 25, 100]), [Some(1), None]);
        assert_eq!(sizes(3, 5, &[50]), [None]);
        assert_eq!(sizes(0, 1, &[5]), [None]);
        assert_eq!(sizes(10, 0, &[]), [None]);
        assert_eq!(sizes(10, 0, &[30, 20, 60]), [Some(3), Some(6), None]);
    }

    #[test]
    fn a_wave_aborts_past_the_threshold() {
        let mut tally = Tally::default();
        assert!(!tally.aborts(0));
        tally.failed.insert("d1".into(), "rolled_back".into());
        assert!(tally.aborts(0));
        assert!(!tally.aborts(1));
    }
}
