//! `[[function.cron]]` through the registry's seam: settings from the
//! tables, schedules from JSON, the set's checks, `publish` checked by a
//! sink, and the running trigger's report.

use super::*;
use crate::Overlap;
use fenn_runtime::Limits;
use fenn_runtime::trigger::{Common, SinkCheck, Table};
use std::collections::BTreeMap;
use std::path::Path;

/// The setup, with or without a state directory.
fn setup(state_dir: Option<&Path>) -> Arc<dyn TriggerSetup> {
    let (sections, server) = (Table::new(), Table::new());
    let common = Common {
        config_dir: Path::new("/etc/fenn"),
        state_dir,
        shutdown_grace: Duration::from_secs(7),
    };
    let tables = Tables {
        sections: &sections,
        server: &server,
        common: &common,
    };
    let mut errors = Vec::new();
    let setup = CronKind.settings(&tables, &mut errors);
    assert_eq!(errors, []);
    setup
}

/// Takes topics without a `#`, as the MQTT trigger's check would.
struct Topics;

impl SinkCheck for Topics {
    fn check(&self, topic: &str) -> Result<(), String> {
        match topic.contains('#') {
            false => Ok(()),
            true => Err(format!(
                "'{topic}' is not a topic to publish to (no wildcards)"
            )),
        }
    }
}

/// `function`'s schedules, with the MQTT sink when `mqtt`.
fn bind(
    setup: &dyn TriggerSetup,
    function: &str,
    raw: Value,
    mqtt: bool,
) -> Vec<Result<Arc<dyn Binding>, BindingError>> {
    let mut sinks = Sinks::new();
    if mqtt {
        sinks.insert("mqtt", Arc::new(Topics));
    }
    let limits = Limits::default();
    let info = FunctionInfo {
        name: function,
        limits: &limits,
        apps: &[],
    };
    let Value::Array(raw) = raw else {
        panic!("bindings are an array: {raw}");
    };
    setup.bindings(&info, &raw, &sinks)
}

/// The one schedule of `raw`, refused.
fn refused(setup: &dyn TriggerSetup, raw: Value, mqtt: bool) -> BindingError {
    bind(setup, "f", Value::Array(vec![raw]), mqtt)
        .remove(0)
        .unwrap_err()
}

/// Every function's schedules, in order, all valid.
fn set(setup: &dyn TriggerSetup, functions: &[(&str, Value)]) -> Vec<Arc<dyn Binding>> {
    let bound = functions
        .iter()
        .flat_map(|(function, raw)| bind(setup, function, raw.clone(), false));
    bound.map(Result::unwrap).collect()
}

#[test]
fn a_cron_schedule_is_validated_into_a_spec() {
    let cron = setup(Some(Path::new("/var/lib/fenn")));
    let raw = json!([{
        "name": "every-ten",
        "schedule": "*/10 * * * * *",
        "timezone": "Europe/Berlin",
        "body": "{\"action\":\"sample\"}",
        "overlap": "allow",
        "catch_up": true,
        "jitter": "2s",
    }]);
    let bound = bind(&*cron, "sample", raw, false).remove(0).unwrap();
    let spec = bound.as_any().downcast_ref::<CronSpec>().unwrap();
    assert_eq!(
        (spec.name.as_str(), spec.function.as_str()),
        ("every-ten", "sample")
    );
    assert_eq!(spec.schedule.zone(), "Europe/Berlin");
    assert_eq!(spec.overlap, Overlap::Allow);
    assert!(spec.catch_up);
    assert_eq!(spec.jitter, Duration::from_secs(2));
}

#[test]
fn bad_schedules_zones_and_keys_are_refused_naming_the_field() {
    let cron = setup(None);
    let error = refused(
        &*cron,
        json!({"name": "t", "schedule": "*/10 * * *"}),
        false,
    );
    assert_eq!(error.field, "schedule");
    assert!(
        error.reason.starts_with("'*/10 * * *' is not a schedule"),
        "{error}"
    );
    let zone = json!({"name": "t", "schedule": "@daily", "timezone": "Europe/Atlantis"});
    assert_eq!(refused(&*cron, zone, false).field, "timezone");
    let catch_up = json!({"name": "t", "schedule": "@daily", "catch_up": true});
    assert_eq!(refused(&*cron, catch_up, false).field, "catch_up");
    let error = refused(
        &*cron,
        json!({"name": "t", "schedule": "@daily", "jiter": "1s"}),
        false,
    );
    assert_eq!(error.field, "jiter");
    assert!(error.reason.starts_with("unknown field `jiter`"), "{error}");
}

#[test]
fn a_publish_topic_needs_the_mqtt_sink_and_its_consent() {
    let cron = setup(None);
    let publish = |topic: &str| json!({"name": "t", "schedule": "every 5s", "publish": topic});
    let error = refused(&*cron, publish("results/t"), false);
    assert_eq!(
        (error.field.as_str(), error.reason.as_str()),
        ("publish", "needs an [mqtt] section naming the broker")
    );
    let error = refused(&*cron, publish("results/#"), true);
    assert_eq!(
        (error.field.as_str(), error.reason.as_str()),
        (
            "publish",
            "'results/#' is not a topic to publish to (no wildcards)"
        )
    );
    let bound = bind(&*cron, "f", json!([publish("results/t")]), true);
    assert!(bound[0].is_ok());
}

#[test]
fn a_schedule_name_used_twice_refuses_the_set_naming_its_holder() {
    let cron = setup(None);
    let tick = json!([{"name": "tick", "schedule": "every 5s"}]);
    let two =
        json!([{"name": "tick", "schedule": "every 5s"}, {"name": "tock", "schedule": "every 9s"}]);
    assert_eq!(cron.check(&set(&*cron, &[("a", two.clone())])), Ok(()));
    let collision = cron.check(&set(&*cron, &[("a", two), ("b", tick.clone())]));
    assert_eq!(
        collision,
        Err(Collision {
            at: 2,
            field: "name".into(),
            reason: "cron schedule 'tick' already belongs to function 'a'".into(),
        })
    );
    let twice = json!([tick[0], tick[0]]);
    let collision = cron.check(&set(&*cron, &[("a", twice)])).unwrap_err();
    assert_eq!((collision.at, collision.field.as_str()), (1, "name"));
    assert_eq!(collision.reason, "schedule 'tick' is declared twice");
}

#[test]
fn a_schedule_shows_its_name_its_schedule_and_its_next_fire() {
    let cron = setup(None);
    let raw = json!([{"name": "heartbeat", "schedule": "every 30s"}]);
    let bound = set(&*cron, &[("hello", raw)]).remove(0);
    let [label, what, note] = bound.announce();
    let line = format!("  {label:<8} {what:<22} -> {}{note}", bound.function());
    assert_eq!(
        line,
        "  CRON     heartbeat              -> hello (every 30s, UTC)"
    );
    assert_eq!(bound.summary(), "cron heartbeat");
    let view = bound.view();
    assert_eq!(
        (&view["name"], &view["schedule"]),
        (&json!("heartbeat"), &json!("every 30s"))
    );
    let next = view["next"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(next).is_ok() && next.ends_with('Z'),
        "{next}"
    );
}

#[test]
fn the_started_trigger_counts_for_the_metrics_and_refuses_a_name_twice() {
    let cron = setup(None);
    let raw = json!([{"name": "tick", "schedule": "every 5s"}]);
    let bound = set(&*cron, &[("f", raw)]);
    let sinks = BTreeMap::new();
    let host = Host {
        dispatcher: Arc::new(fenn_runtime::Dispatcher::new(1, 1 << 20)),
        bindings: bound.clone(),
        listener: None,
        sinks: &sinks,
    };
    let running = cron.start(host).unwrap();
    assert_eq!(running.trigger.kind(), "cron");
    assert!(running.sink.is_none() && running.address.is_none());
    let metrics = running.report.metrics();
    let names: Vec<&str> = metrics
        .iter()
        .map(|metric| match metric {
            Metric::Counter { name, .. }
            | Metric::Gauge { name, .. }
            | Metric::Histogram { name, .. } => *name,
        })
        .collect();
    assert_eq!(
        names,
        [
            "fenn_cron_skipped",
            "fenn_cron_caught_up",
            "fenn_cron_lateness_seconds"
        ]
    );
    assert_eq!(running.report.readiness(), None);
    let twice = [bound[0].clone(), bound[0].clone()];
    assert_eq!(
        running.apply.apply(&twice),
        Err("schedule 'tick' is declared twice".into())
    );
    assert_eq!(running.apply.apply(&bound), Ok(()));
}
