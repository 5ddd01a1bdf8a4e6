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
mod fleet;
mod flow;
mod function;
mod grants;
mod raw;
mod setups;
mod tables;

pub use admin::{AdminSettings, TOKEN_VARIABLE, Tls};
pub use bindings::BindingSet;
pub use definition::{definition, flow_definition};
pub use fleet::FleetSettings;
pub use flow::FlowConfig;
pub use setups::{Setups, from_sections};

use fenn_runtime::Limits;
use fenn_runtime::trigger::{BindingError, TriggerKind};
use fenn_runtime::units;
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
    /// Every flow the file declares.
    pub flows: Vec<FlowConfig>,
    /// `server.state_dir`: kept across restarts, when set.
    pub state_dir: Option<PathBuf>,
    /// Every registered trigger's settings.
    pub setups: Arc<Setups>,
    /// `[admin]`: the management API, when it is on.
    pub admin: Option<AdminSettings>,
    /// `[fleet]`: the device in a fleet, when it is one.
    pub fleet: Option<FleetSettings>,
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
        units::count(value, default, most).map_err(|reason| self.error(key, reason))
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
mod tests;
