//! The config file: TOML read into raw structs that refuse unknown keys,
//! then validated once, at start, into typed config. Every error names the
//! file, the key and the reason. fenn's own keys (`[server]`'s common
//! ones, `[[function]]`, `[admin]`) are read here; every other section and
//! binding is passed through untouched to the trigger that registered it
//! (the [`Registry`] the binary passes in).

mod admin;
mod assemble;
mod bindings;
mod definition;
mod raw;
mod setups;
mod tables;

pub use admin::{AdminSettings, TOKEN_VARIABLE, Tls};
pub use bindings::BindingSet;
pub use definition::definition;
pub use setups::{Setups, from_sections};

use fenn_runtime::Limits;
use fenn_runtime::trigger::{BindingError, TriggerKind, is_name};
use fenn_runtime::units;
use raw::RawFunction;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Most events of one function at once (`concurrency`).
const MAX_CONCURRENCY: usize = 100_000;
/// Most worker threads (`server.workers`, `max_workers`).
const MAX_WORKERS: usize = 1024;

/// What a config is read against: the trigger kinds fenn has, in the
/// order they start, and the names of the examples built into it
/// (`module = "example:hello"`).
#[derive(Clone, Copy)]
pub struct Registry {
    /// The registered kinds.
    pub kinds: &'static [&'static dyn TriggerKind],
    /// The bundled examples' names.
    pub examples: &'static [&'static str],
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<&str> = self.kinds.iter().map(|kind| kind.kind()).collect();
        f.debug_struct("Registry")
            .field("kinds", &kinds)
            .field("examples", &self.examples)
            .finish()
    }
}

/// A config error: `fenn.toml: function[0].timeout: '2x' has no known unit`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {key}: {reason}", file.display())]
pub struct ConfigError {
    /// The file in error, as it was named.
    pub file: PathBuf,
    /// The key in error (`function[0].timeout`).
    pub key: String,
    /// What is wrong, for a person.
    pub reason: String,
}

/// Every error found in a config, one a line.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self(vec![error])
    }
}

/// A module's refusal as the key to change and the reason: a trial
/// instantiation that did not fit is the `memory` limit's, anything else
/// the `module`'s.
pub fn refusal(refused: &fenn_runtime::Error) -> (&'static str, String) {
    match refused {
        fenn_runtime::Error::MemoryLimit { limit } => (
            "memory",
            format!(
                "{limit} bytes is less than the module needs to start (its initial memory and data)"
            ),
        ),
        refused => ("module", format!("module refused: {refused}")),
    }
}

/// Where a function's module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleSource {
    /// A file.
    File(PathBuf),
    /// One of the examples built into the binary.
    Example(&'static str),
}

/// A validated function and its bindings.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// Its name: unique, in logs, routes and the API.
    pub name: String,
    /// Where its module comes from.
    pub module: ModuleSource,
    /// Its limits per event.
    pub limits: Limits,
    /// Its bindings, by trigger kind.
    pub bindings: BindingSet,
    /// Key of the function in the file (`function[0]`), for errors found
    /// when it is loaded; empty for a module given on the command line.
    pub key: String,
}

impl FunctionConfig {
    /// The key of one of the function's fields, such as `function[0].memory`.
    pub fn key_of(&self, field: &str) -> String {
        if self.key.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.key)
        }
    }
}

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file, as it was named.
    pub file: PathBuf,
    /// `server.workers`: threads for guests that run past their first slice.
    pub workers: usize,
    /// `server.guest_memory`.
    pub guest_memory: usize,
    /// Every function the file declares.
    pub functions: Vec<FunctionConfig>,
    /// `server.state_dir`: kept across restarts, when set.
    pub state_dir: Option<PathBuf>,
    /// Every registered trigger's settings.
    pub setups: Arc<Setups>,
    /// `[admin]`: the management API, when it is on.
    pub admin: Option<AdminSettings>,
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// # Errors
    ///
    /// Every error found, each naming the file, the key and the reason.
    pub fn load(file: &Path, registry: Registry) -> Result<Self, ConfigErrors> {
        let error = |reason: String| ConfigError {
            file: file.to_owned(),
            key: "(file)".into(),
            reason,
        };
        let bytes = fenn_runtime::files::read(
            file,
            fenn_runtime::files::MAX_CONFIG,
            "the most a config may be",
        )
        .map_err(error)?;
        let text = String::from_utf8(bytes).map_err(|_| error("is not UTF-8 text".into()))?;
        Self::parse(file, &text, registry)
    }

    /// Validates config text; `file` names it in errors and anchors paths.
    /// A file that does not parse gives that one error; past that every
    /// error found is given.
    ///
    /// # Errors
    ///
    /// Every error found, each naming the file, the key and the reason.
    pub fn parse(file: &Path, text: &str, registry: Registry) -> Result<Self, ConfigErrors> {
        let table: toml::Table = toml::from_str(text).map_err(|error| ConfigError {
            file: file.to_owned(),
            key: "(syntax)".into(),
            reason: error.to_string().trim().to_owned(),
        })?;
        let root = tables::to_json(table).map_err(|(key, reason)| ConfigError {
            file: file.to_owned(),
            key,
            reason,
        })?;
        let validator = Validator {
            file,
            registry,
            errors: std::cell::RefCell::default(),
        };
        validator.config(&root).map_err(ConfigErrors)
    }
}

struct Validator<'a> {
    file: &'a Path,
    registry: Registry,
    /// Errors found so far (see [`assemble`]).
    errors: std::cell::RefCell<Vec<ConfigError>>,
}

impl Validator<'_> {
    fn error(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The static name of a bundled example.
    fn example(&self, example: &str) -> Option<&'static str> {
        let examples = self.registry.examples.iter();
        examples.copied().find(|name| *name == example)
    }

    fn size(
        &self,
        key: &str,
        value: &Option<String>,
        default: usize,
    ) -> Result<usize, ConfigError> {
        match value {
            Some(text) => units::size(text).map_err(|reason| self.error(key, reason)),
            None => Ok(default),
        }
    }

    fn count(
        &self,
        key: &str,
        value: Option<usize>,
        default: usize,
        most: usize,
    ) -> Result<usize, ConfigError> {
        match value {
            Some(0) => Err(self.error(key, "must be at least 1")),
            Some(n) if n > most => {
                Err(self.error(key, format!("{n} is over the most fenn allows, {most}")))
            }
            Some(n) => Ok(n),
            None => Ok(default),
        }
    }

    /// A binding's result, its error keyed under `key`.
    fn binding<T>(&self, key: &str, result: Result<T, BindingError>) -> Result<T, ConfigError> {
        result.map_err(|error| {
            let key = if error.field.is_empty() {
                key.to_owned()
            } else {
                format!("{key}.{}", error.field)
            };
            self.error(key, error.reason)
        })
    }

    /// Names of functions and schedules: they appear in logs, paths and
    /// file names, so letters, digits, `-`, `_` and `.` only.
    fn name(&self, key: &str, name: &str) -> Result<(), ConfigError> {
        if is_name(name) {
            Ok(())
        } else {
            Err(self.error(
                format!("{key}.name"),
                format!("'{name}' must be letters, digits, '-', '_' or '.' (at most 128, not '.' or '..')"),
            ))
        }
    }

    fn function(&self, key: &str, raw: &RawFunction) -> Result<FunctionConfig, ConfigError> {
        self.name(key, &raw.name)?;
        let module = match raw.module.strip_prefix("example:") {
            Some(example) => ModuleSource::Example(self.example(example).ok_or_else(|| {
                self.error(
                    format!("{key}.module"),
                    format!(
                        "no bundled example '{example}' (there are: {})",
                        self.registry.examples.join(", ")
                    ),
                )
            })?),
            None => {
                let base = self.file.parent().unwrap_or(Path::new("."));
                ModuleSource::File(base.join(&raw.module))
            }
        };
        let defaults = Limits::default();
        let positive = |field: &str, value: Option<usize>, default: usize| match value {
            Some(0) => Err(self.error(format!("{key}.{field}"), "must be at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let bounded = |field: &str, value: usize, most: usize| {
            if value > most {
                Err(self.error(
                    format!("{key}.{field}"),
                    format!("{value} is over the most fenn allows, {most}"),
                ))
            } else {
                Ok(value)
            }
        };
        let sized = |field: &str, value: &Option<String>, default: usize| match value {
            Some(text) => {
                units::size(text).map_err(|reason| self.error(format!("{key}.{field}"), reason))
            }
            None => Ok(default),
        };
        let limits = Limits {
            fuel: match raw.fuel {
                Some(0) => return Err(self.error(format!("{key}.fuel"), "must be at least 1")),
                Some(fuel) => fuel,
                None => defaults.fuel,
            },
            timeout: match &raw.timeout {
                Some(text) => units::duration(text)
                    .map_err(|reason| self.error(format!("{key}.timeout"), reason))?,
                None => defaults.timeout,
            },
            memory_bytes: sized("memory", &raw.memory, defaults.memory_bytes)?,
            module_bytes: sized(
                "max_module_size",
                &raw.max_module_size,
                defaults.module_bytes,
            )?,
            max_recursion_depth: positive(
                "max_recursion_depth",
                raw.max_recursion_depth,
                defaults.max_recursion_depth,
            )?,
            concurrency: bounded(
                "concurrency",
                positive("concurrency", raw.concurrency, defaults.concurrency)?,
                MAX_CONCURRENCY,
            )?,
            table_elements: defaults.table_elements,
            max_response: sized("max_response", &raw.max_response, defaults.max_response)?,
            max_workers: match raw.max_workers {
                Some(n) => Some(bounded(
                    "max_workers",
                    positive("max_workers", Some(n), n)?,
                    MAX_WORKERS,
                )?),
                None => None,
            },
        };
        Ok(FunctionConfig {
            name: raw.name.clone(),
            module,
            limits,
            bindings: BindingSet::default(),
            key: key.to_owned(),
        })
    }
}

/// The kinds and examples of the fenn binary, for tests.
#[cfg(test)]
pub(crate) const TEST_REGISTRY: Registry = Registry {
    kinds: &[
        &fenn_http::HttpKind,
        &fenn_mqtt::MqttKind,
        &fenn_cron::CronKind,
    ],
    examples: &["hello", "echo", "sensor"],
};

#[cfg(test)]
mod tests {
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
        assert_eq!(parse(&tls).unwrap_err().key, "mqtt.ca_file");
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
}
