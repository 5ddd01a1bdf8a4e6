//! Whole configs validated: typed values, errors with their keys, the
//! board profiles and the bundled config.

use super::*;
use fenn_cron::{CronSpec, Overlap};
use fenn_http::{HttpSetup, ResponseMode, RouteSpec};
use fenn_mqtt::MqttRoute;
use fenn_mqtt::kind::MqttSetup;

fn http(config: &Config) -> &HttpSetup {
    config.setups.get().unwrap()
}

fn mqtt(config: &Config) -> &MqttSetup {
    config.setups.get().unwrap()
}

/// The `index`th binding of `kind`, of every function, as its type.
fn bound<'c, T: 'static>(config: &'c Config, kind: &str, index: usize) -> &'c T {
    let all = config.functions.iter().flat_map(|f| f.bindings.of(kind));
    let binding = all.into_iter().nth(index).unwrap();
    binding.as_any().downcast_ref().unwrap()
}

/// The config, or its first error.
fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("/etc/fenn/fenn.toml"), text, crate::TEST_REGISTRY)
        .map_err(|errors| errors.0.into_iter().next().unwrap())
}

const GOOD: &str = r#"
        [server]
        listen = "0.0.0.0:9000"
        max_body = "64KiB"

        [[function]]
        name = "hello"
        module = "functions/hello.wasm"
        timeout = "2s"
        fuel = 50_000_000
        memory = "16MiB"

          [[function.http]]
          route = "/testfunc"
          methods = ["post"]
          response = "envelope"
    "#;

#[test]
fn a_full_config_is_validated_into_typed_values() {
    let config = parse(GOOD).unwrap();
    assert_eq!(http(&config).listen().port(), 9000);
    assert_eq!(http(&config).settings().max_body_bytes, 64 << 10);
    let function = &config.functions[0];
    assert_eq!(function.limits.timeout, std::time::Duration::from_secs(2));
    assert_eq!(function.limits.fuel, 50_000_000);
    assert_eq!(
        function.module,
        ModuleSource::File("/etc/fenn/functions/hello.wasm".into())
    );
    let route: &RouteSpec = bound(&config, "http", 0);
    assert_eq!(route.methods, ["POST"]);
    assert_eq!(route.response, ResponseMode::Envelope);
}

#[test]
fn an_unknown_key_is_refused_with_its_path() {
    let error = parse(&GOOD.replace("timeout = \"2s\"", "timeoot = \"2s\"")).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("/etc/fenn/fenn.toml: function[0]"),
        "{message}"
    );
    assert!(message.contains("unknown field `timeoot`"), "{message}");
}

#[test]
fn a_bad_value_names_the_file_the_key_and_the_reason() {
    let error = parse(&GOOD.replace("\"2s\"", "\"2 fortnights\"")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "/etc/fenn/fenn.toml: function[0].timeout: '2 fortnights' has no known unit (ms, s, m or h)"
    );
    let error = parse(&GOOD.replace("\"post\"", "\"p0st\"")).unwrap_err();
    assert_eq!(error.key, "function[0].http[0].methods");
}

#[test]
fn a_route_conflict_names_the_route_key() {
    let text = format!(
        "{GOOD}\n[[function]]\nname = \"other\"\nmodule = \"example:echo\"\n[[function.http]]\nroute = \"/testfunc\"\nmethods = [\"POST\"]\n"
    );
    let error = parse(&text).unwrap_err();
    assert_eq!(error.key, "function[1].http[0].route");
    assert!(
        error.reason.contains("already served by function 'hello'"),
        "{error}"
    );
}

#[test]
fn duplicate_names_and_unknown_examples_are_refused() {
    let twice = format!("{GOOD}\n[[function]]\nname = \"hello\"\nmodule = \"x.wasm\"\n");
    assert_eq!(parse(&twice).unwrap_err().key, "function[1].name");
    let unknown = GOOD.replace("functions/hello.wasm", "example:nope");
    assert!(
        parse(&unknown)
            .unwrap_err()
            .reason
            .contains("no bundled example 'nope'")
    );
}

#[test]
fn every_board_profile_and_the_bundled_config_are_valid() {
    let profiles = [
        (
            "rpi-zero-2w",
            include_str!("../../../boards/rpi-zero-2w/fenn.toml"),
        ),
        ("rpi-3", include_str!("../../../boards/rpi-3/fenn.toml")),
        ("rpi-4", include_str!("../../../boards/rpi-4/fenn.toml")),
        ("rpi-5", include_str!("../../../boards/rpi-5/fenn.toml")),
        (
            "x86-gateway",
            include_str!("../../../boards/x86-gateway/fenn.toml"),
        ),
        ("examples", include_str!("../../fenn/examples.toml")),
    ];
    for (board, text) in profiles {
        let config = Config::parse(Path::new(board), text, crate::TEST_REGISTRY)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!config.functions.is_empty(), "{board}");
    }
}

const CRON: &str = r#"
        [server]
        state_dir = "state"

        [[function]]
        name = "sample"
        module = "example:echo"

          [[function.cron]]
          name = "every-ten"
          schedule = "*/10 * * * * *"
          timezone = "Europe/Berlin"
          body = '{"action":"sample"}'
          overlap = "allow"
          catch_up = true
          jitter = "2s"
    "#;

#[test]
fn a_cron_schedule_is_validated_into_a_spec() {
    let config = parse(CRON).unwrap();
    let spec: &CronSpec = bound(&config, "cron", 0);
    assert_eq!(
        (spec.name.as_str(), spec.function.as_str()),
        ("every-ten", "sample")
    );
    assert_eq!(spec.schedule.zone(), "Europe/Berlin");
    assert_eq!(spec.overlap, Overlap::Allow);
    assert!(spec.catch_up);
    assert_eq!(spec.jitter, std::time::Duration::from_secs(2));
    assert_eq!(config.state_dir, Some(PathBuf::from("/etc/fenn/state")));
}

#[test]
fn bad_schedules_and_zones_are_refused_naming_the_schedule() {
    let error = parse(&CRON.replace("*/10 * * * * *", "*/10 * * *")).unwrap_err();
    assert_eq!(error.key, "function[0].cron[0].schedule");
    assert!(
        error.reason.starts_with("'*/10 * * *' is not a schedule"),
        "{error}"
    );
    let error = parse(&CRON.replace("Europe/Berlin", "Europe/Atlantis")).unwrap_err();
    assert_eq!(error.key, "function[0].cron[0].timezone");
    let error = parse(&CRON.replace("state_dir = \"state\"", "")).unwrap_err();
    assert_eq!(error.key, "function[0].cron[0].catch_up");
}

#[test]
fn mqtt_subscriptions_are_validated_naming_the_key() {
    let text = r#"
            [mqtt]
            url = "mqtt://broker.local:1884"
            [[function]]
            name = "echo"
            module = "example:echo"
              [[function.mqtt]]
              topic = "sensors/{room}/temp"
              reply = "sensors/{room}/temp/result"
        "#;
    let config = parse(text).unwrap();
    let broker = mqtt(&config).settings().unwrap();
    assert_eq!((broker.host.as_str(), broker.port), ("broker.local", 1884));
    let route: &MqttRoute = bound(&config, "mqtt", 0);
    assert_eq!(route.filter.subscription(), "sensors/+/temp");
    assert_eq!(route.qos, 1);
    let looping = text.replace("sensors/{room}/temp/result", "sensors/{room}/temp");
    assert_eq!(
        parse(&looping).unwrap_err().key,
        "function[0].mqtt[0].reply"
    );
    let bad = text.replace("sensors/{room}/temp\"\n", "sensors/#/temp\"\n");
    assert_eq!(parse(&bad).unwrap_err().key, "function[0].mqtt[0].topic");
    let tls = text.replace("mqtt://broker.local:1884", "mqtts://broker.local");
    // A build without TLS refuses the scheme itself (workspace builds turn
    // the feature on or off in every crate at once).
    let refused = if cfg!(feature = "tls") {
        "mqtt.ca_file"
    } else {
        "mqtt.url"
    };
    assert_eq!(parse(&tls).unwrap_err().key, refused);
    let old = text.replace(
        "url = \"mqtt://broker.local:1884\"",
        "url = \"mqtt://broker.local:1884\"\n            version = \"3.1.1\"",
    );
    let old_config = parse(&old).unwrap();
    let version = mqtt(&old_config).settings().unwrap().version;
    assert_eq!(version, fenn_mqtt::Version::V311);
    let unknown = old.replace("3.1.1", "3.1");
    assert_eq!(parse(&unknown).unwrap_err().key, "mqtt.version");
    let embedded = old.replace("version", "embedded = true\n            version");
    assert_eq!(parse(&embedded).unwrap_err().key, "mqtt.embedded");
    let no_broker = text.replace("[mqtt]\n            url = \"mqtt://broker.local:1884\"", "");
    assert_eq!(parse(&no_broker).unwrap_err().key, "function[0].mqtt[0]");
}

#[test]
fn a_syntax_error_is_refused_with_the_file() {
    let error = parse("[server\nlisten = 1").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("/etc/fenn/fenn.toml: (syntax)"),
        "{error}"
    );
}
