//! The schedules a running cron trigger serves, and changing them without a
//! restart: [`CronBindings`]'s `apply` hands over a new set, and the trigger
//! stops the loops of schedules that went or changed (their runs finish)
//! and starts loops for those that came or changed. A schedule that stayed
//! as it was keeps its loop, and so its next fire.

use crate::CronSpec;
use fenn_runtime::Bindings;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

/// A handle that changes a running trigger's schedules.
#[derive(Debug, Clone)]
pub struct CronBindings {
    specs: Arc<watch::Sender<Arc<Vec<CronSpec>>>>,
}

impl CronBindings {
    /// A handle and the end the trigger watches, starting with `specs`.
    pub(crate) fn new(specs: Vec<CronSpec>) -> (Self, watch::Receiver<Arc<Vec<CronSpec>>>) {
        let (sender, receiver) = watch::channel(Arc::new(specs));
        let bindings = Self {
            specs: Arc::new(sender),
        };
        (bindings, receiver)
    }
}

/// A set of schedules that names one schedule twice.
#[derive(Debug, thiserror::Error)]
#[error("schedule '{0}' is declared twice")]
pub struct DuplicateSchedule(pub String);

impl Bindings for CronBindings {
    type Binding = CronSpec;
    type Error = DuplicateSchedule;

    /// Serves `specs` from now on, in place of the schedules before; a set
    /// that names a schedule twice is refused and nothing changes.
    fn apply(&self, specs: Vec<CronSpec>) -> Result<(), Self::Error> {
        let mut names = std::collections::HashSet::new();
        if let Some(twice) = specs.iter().find(|spec| !names.insert(spec.name.as_str())) {
            return Err(DuplicateSchedule(twice.name.clone()));
        }
        self.specs.send_replace(Arc::new(specs));
        Ok(())
    }
}

/// What the trigger runs now: a loop per schedule, by name, with what it
/// was started from and the switch that stops it.
#[derive(Default)]
pub(crate) struct Running {
    loops: HashMap<String, (String, watch::Sender<bool>)>,
}

impl Running {
    /// Stops the loops `specs` no longer has, or has changed; returns the
    /// specs to start a loop for, each with the switch that will stop it.
    pub(crate) fn reconcile(
        &mut self,
        specs: &[CronSpec],
    ) -> Vec<(CronSpec, watch::Receiver<bool>)> {
        let wanted: HashMap<&str, String> = specs
            .iter()
            .map(|spec| (spec.name.as_str(), fingerprint(spec)))
            .collect();
        self.loops.retain(|name, (print, stop)| {
            let keep = wanted.get(name.as_str()) == Some(&*print);
            if !keep {
                let _ = stop.send(true);
            }
            keep
        });
        let mut start = Vec::new();
        for spec in specs {
            if self.loops.contains_key(&spec.name) {
                continue;
            }
            let (stop, stopped) = watch::channel(false);
            self.loops
                .insert(spec.name.clone(), (fingerprint(spec), stop));
            start.push((spec.clone(), stopped));
        }
        start
    }

    /// Stops every loop.
    pub(crate) fn stop_all(&mut self) {
        for (_, (_, stop)) in self.loops.drain() {
            let _ = stop.send(true);
        }
    }
}

/// Everything that makes a schedule what it is: a change to any of it
/// starts the schedule afresh.
fn fingerprint(spec: &CronSpec) -> String {
    format!(
        "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{:?}\u{0}{}\u{0}{:?}\u{0}{:?}",
        spec.function,
        spec.schedule.describe(),
        spec.schedule.zone(),
        spec.body,
        spec.overlap,
        spec.catch_up,
        spec.jitter,
        spec.publish
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Overlap, Schedule};
    use std::time::Duration;

    fn spec(name: &str, schedule: &str) -> CronSpec {
        CronSpec {
            name: name.into(),
            function: "f".into(),
            schedule: Schedule::parse(schedule, "UTC").unwrap(),
            body: String::new(),
            overlap: Overlap::Skip,
            catch_up: false,
            jitter: Duration::ZERO,
            publish: None,
        }
    }

    #[test]
    fn only_schedules_that_came_or_changed_start_and_only_those_that_went_or_changed_stop() {
        let mut running = Running::default();
        let started = running.reconcile(&[spec("a", "every 1s"), spec("b", "every 2s")]);
        assert_eq!(started.len(), 2);
        let (a, b) = (started[0].1.clone(), started[1].1.clone());
        let started = running.reconcile(&[spec("b", "every 5s"), spec("c", "every 1s")]);
        let names: Vec<&str> = started.iter().map(|(s, _)| s.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
        assert!(*a.borrow(), "a went: stopped");
        assert!(*b.borrow(), "b changed: its old loop stopped");
        let c = started[1].1.clone();
        assert!(
            running
                .reconcile(&[spec("b", "every 5s"), spec("c", "every 1s")])
                .is_empty()
        );
        assert!(!*c.borrow(), "c stayed as it was: still running");
        running.stop_all();
        assert!(*c.borrow());
    }

    /// Counts the events each function got, and says when one came.
    #[derive(Default)]
    struct Counting {
        calls: std::sync::Mutex<HashMap<String, u64>>,
        called: tokio::sync::Notify,
    }

    impl Counting {
        fn count(&self, function: &str) -> u64 {
            self.calls
                .lock()
                .unwrap()
                .get(function)
                .copied()
                .unwrap_or(0)
        }

        /// Waits until `function` got `count` events; fails the test after
        /// 30 s.
        async fn wait_for(&self, function: &str, count: u64) {
            let waited = tokio::time::timeout(Duration::from_secs(30), async {
                while self.count(function) < count {
                    let called = self.called.notified();
                    if self.count(function) >= count {
                        break;
                    }
                    called.await;
                }
            });
            assert!(waited.await.is_ok(), "{function} never got {count} events");
        }
    }

    impl fenn_runtime::FunctionHost for Counting {
        async fn invoke(
            &self,
            function: &str,
            _event: fenn_abi::Event,
        ) -> Result<fenn_abi::Response, fenn_runtime::Error> {
            *self
                .calls
                .lock()
                .unwrap()
                .entry(function.into())
                .or_default() += 1;
            self.called.notify_waiters();
            Ok(fenn_abi::Response::ok("ok"))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_trigger_follows_a_new_set_of_schedules() {
        let host = Arc::new(Counting::default());
        let mut a = spec("a", "every 20ms");
        a.function = "old".into();
        let trigger = crate::CronTrigger::new(vec![a], host.clone(), None);
        let bindings = trigger.bindings();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(trigger.run(async {
            let _ = stopped.await;
        }));
        host.wait_for("old", 2).await;
        let mut b = spec("b", "every 20ms");
        b.function = "new".into();
        bindings.apply(vec![b]).unwrap();
        // Once the new schedule fires, the change is in; three more fires
        // take 40 ms at least: were the old one still running, it would
        // fire again meanwhile (one run may have been on its way).
        host.wait_for("new", 1).await;
        let before = host.count("old");
        host.wait_for("new", 4).await;
        assert!(
            host.count("old") <= before + 1,
            "the old schedule kept firing"
        );
        let twice = vec![spec("c", "every 1s"), spec("c", "every 2s")];
        assert!(bindings.apply(twice).is_err());
        let _ = stop.send(());
        running.await.unwrap();
    }
}
