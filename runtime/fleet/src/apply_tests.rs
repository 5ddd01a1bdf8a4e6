//! Applying against a device in memory: its versions, what it served
//! before and after, and what failed.

use super::*;
use crate::deployment::Test;
use crate::deployment::tests::{deployment, function};
use crate::device::{Boxed, Current};
use crate::report::Serving;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A function's versions (sha, definition), and the one served.
type Versions = (Vec<(String, Value)>, u64);

/// A device in memory.
#[derive(Default)]
struct Fake {
    functions: Mutex<BTreeMap<String, Versions>>,
    /// Modules whose compile is refused.
    refused: Vec<String>,
    /// What the test event answers, by module.
    answers: BTreeMap<String, u16>,
    ready: bool,
}

impl Fake {
    fn serving(&self) -> BTreeMap<String, String> {
        let functions = self.functions.lock().unwrap();
        functions
            .iter()
            .map(|(name, (versions, current))| {
                (name.clone(), versions[*current as usize - 1].0.clone())
            })
            .collect()
    }
}

impl Fake {
    fn current_now(&self, name: &str) -> Option<Current> {
        let functions = self.functions.lock().unwrap();
        let (versions, current) = functions.get(name)?;
        let (sha, definition) = versions[*current as usize - 1].clone();
        Some(Current {
            serving: Serving {
                sha256: sha,
                version: *current,
            },
            definition,
        })
    }

    fn kept_now(&self, name: &str, sha256: &str, definition: &Value) -> Option<u64> {
        let functions = self.functions.lock().unwrap();
        let (versions, _) = functions.get(name)?;
        let found = versions
            .iter()
            .position(|(s, d)| s == sha256 && d == definition)?;
        Some(found as u64 + 1)
    }

    fn deploy_now(&self, name: &str, definition: Value, wasm: Vec<u8>) -> Result<u64, String> {
        let sha = String::from_utf8(wasm).unwrap();
        if self.refused.contains(&sha) {
            return Err("not a module".into());
        }
        let mut functions = self.functions.lock().unwrap();
        let (versions, current) = functions.entry(name.into()).or_default();
        versions.push((sha, definition));
        *current = versions.len() as u64;
        Ok(*current)
    }

    fn select_now(&self, name: &str, version: u64) -> Result<(), String> {
        let mut functions = self.functions.lock().unwrap();
        functions.get_mut(name).ok_or("gone")?.1 = version;
        Ok(())
    }

    fn test_now(&self, name: &str) -> Result<u16, String> {
        let sha = self.serving().get(name).cloned().ok_or("no function")?;
        Ok(self.answers.get(&sha).copied().unwrap_or(200))
    }
}

impl Device for Fake {
    fn current<'a>(&'a self, name: &'a str) -> Boxed<'a, Option<Current>> {
        let found = self.current_now(name);
        Box::pin(async move { found })
    }

    fn kept<'a>(
        &'a self,
        name: &'a str,
        sha256: &'a str,
        definition: &'a Value,
    ) -> Boxed<'a, Option<u64>> {
        let found = self.kept_now(name, sha256, definition);
        Box::pin(async move { found })
    }

    fn deploy<'a>(
        &'a self,
        name: &'a str,
        definition: Value,
        wasm: Vec<u8>,
    ) -> Boxed<'a, Result<u64, String>> {
        let done = self.deploy_now(name, definition, wasm);
        Box::pin(async move { done })
    }

    fn select<'a>(&'a self, name: &'a str, version: u64) -> Boxed<'a, Result<(), String>> {
        let done = self.select_now(name, version);
        Box::pin(async move { done })
    }

    fn remove<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<(), String>> {
        self.functions.lock().unwrap().remove(name);
        Box::pin(async move { Ok(()) })
    }

    fn test<'a>(&'a self, name: &'a str, _event: &'a Value) -> Boxed<'a, Result<u16, String>> {
        let answer = self.test_now(name);
        Box::pin(async move { answer })
    }

    fn ready(&self) -> Result<(), String> {
        if self.ready {
            Ok(())
        } else {
            Err("mqtt: not connected".into())
        }
    }
}

/// Modules whose bytes are their hash, counting fetches.
#[derive(Default)]
struct Broker {
    fetched: usize,
    missing: bool,
}

impl Modules for Broker {
    fn fetch<'a>(
        &'a mut self,
        _: &'a Deployment,
        function: &'a Function,
    ) -> Boxed<'a, Result<Vec<u8>, String>> {
        let fetched = if self.missing {
            Err("not on the broker".into())
        } else {
            self.fetched += 1;
            Ok(function.sha256.clone().into_bytes())
        };
        Box::pin(async move { fetched })
    }
}

fn run(device: &Fake, broker: &mut Broker, d: &Deployment, before: Option<&Deployment>) -> Outcome {
    let mut phases = Vec::new();
    let outcome = tokio_test_block(apply(device, broker, d, before, true, &mut |p| {
        phases.push(p);
    }));
    assert!(phases.iter().all(|p| !p.is_end()), "{phases:?}");
    outcome
}

fn tokio_test_block<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn healthy_device() -> Fake {
    Fake {
        ready: true,
        ..Fake::default()
    }
}

fn sha(c: char) -> String {
    c.to_string().repeat(64)
}

#[test]
fn a_deployment_applies_once_and_again_changes_nothing() {
    let device = healthy_device();
    let mut broker = Broker::default();
    let d = deployment(1, 'a');
    assert_eq!(run(&device, &mut broker, &d, None).phase, Phase::Active);
    assert_eq!(device.serving()["hello"], sha('a'));
    assert_eq!(run(&device, &mut broker, &d, None).phase, Phase::Active);
    assert_eq!(broker.fetched, 1);
    assert_eq!(device.functions.lock().unwrap()["hello"].0.len(), 1);
}

#[test]
fn a_kept_version_serves_again_without_a_download() {
    let device = healthy_device();
    let mut broker = Broker::default();
    run(&device, &mut broker, &deployment(1, 'a'), None);
    run(&device, &mut broker, &deployment(2, 'b'), None);
    assert_eq!(
        run(&device, &mut broker, &deployment(3, 'a'), None).phase,
        Phase::Active
    );
    assert_eq!(broker.fetched, 2);
    assert_eq!(device.serving()["hello"], sha('a'));
}

#[test]
fn a_failed_health_check_rolls_every_change_back() {
    let mut device = healthy_device();
    device.answers.insert(sha('b'), 500);
    let mut broker = Broker::default();
    let mut first = deployment(1, 'a');
    first.functions.push(function("other", 'c'));
    run(&device, &mut broker, &first, None);
    let mut second = deployment(2, 'b');
    second.functions.push(function("added", 'd'));
    second.functions[0].test = Some(Test {
        event: json!({}),
        status: 200,
    });
    let outcome = run(&device, &mut broker, &second, Some(&first));
    assert_eq!(outcome.phase, Phase::RolledBack);
    assert!(
        outcome
            .reason
            .unwrap()
            .contains("hello answered 500, not 200")
    );
    let serving = device.serving();
    assert_eq!(serving["hello"], sha('a'));
    assert_eq!(serving["other"], sha('c'), "removed only once healthy");
    assert!(!serving.contains_key("added"));
}

#[test]
fn a_device_not_ready_rolls_back_and_a_refused_module_fails_with_nothing_changed() {
    let mut device = healthy_device();
    let mut broker = Broker::default();
    run(&device, &mut broker, &deployment(1, 'a'), None);
    device.ready = false;
    let outcome = run(&device, &mut broker, &deployment(2, 'b'), None);
    assert_eq!(outcome.phase, Phase::RolledBack);
    assert!(outcome.reason.unwrap().contains("not ready"));
    assert_eq!(device.serving()["hello"], sha('a'));

    device.ready = true;
    device.refused.push(sha('c'));
    let mut d = deployment(3, 'b');
    d.functions.push(function("zz", 'c'));
    let outcome = run(&device, &mut broker, &d, None);
    assert_eq!(outcome.phase, Phase::Failed);
    assert_eq!(outcome.reason.unwrap(), "zz: not a module");
    assert_eq!(device.serving()["hello"], sha('a'));
    assert!(!device.serving().contains_key("zz"));
}

#[test]
fn a_module_missing_from_the_broker_fails_and_functions_dropped_go_once_healthy() {
    let device = healthy_device();
    let mut broker = Broker::default();
    let mut first = deployment(1, 'a');
    first.functions.push(function("old", 'c'));
    run(&device, &mut broker, &first, None);
    broker.missing = true;
    let outcome = run(&device, &mut broker, &deployment(2, 'b'), Some(&first));
    assert_eq!(outcome.phase, Phase::Failed);
    assert!(device.serving().contains_key("old"));
    assert!(outcome.retry);
    broker.missing = false;
    assert_eq!(
        run(&device, &mut broker, &deployment(3, 'b'), Some(&first)).phase,
        Phase::Active
    );
    assert!(!device.serving().contains_key("old"));
}
