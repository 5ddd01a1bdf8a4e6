//! A function's own keys: its name, its module and its limits.

use super::raw::RawFunction;
use super::{
    BindingSet, ConfigError, FunctionConfig, MAX_CONCURRENCY, MAX_WORKERS, ModuleSource, Validator,
};
use fenn_runtime::Limits;
use fenn_runtime::units;
use std::path::Path;

impl Validator<'_> {
    /// Names of functions and schedules: they appear in logs, paths and
    /// file names, so letters, digits, `-`, `_` and `.` only.
    fn name(&self, key: &str, name: &str) -> Result<(), ConfigError> {
        match fenn_runtime::trigger::name_refused(name) {
            None => Ok(()),
            Some(reason) => Err(self.error(format!("{key}.name"), reason)),
        }
    }

    pub(crate) fn function(
        &self,
        key: &str,
        raw: &RawFunction,
    ) -> Result<FunctionConfig, ConfigError> {
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
        let mut limits = self.limits(key, raw)?;
        limits.grants = std::sync::Arc::new(self.grants(key, raw)?);
        Ok(FunctionConfig {
            name: raw.name.clone(),
            module,
            limits,
            bindings: BindingSet::default(),
            key: key.to_owned(),
        })
    }

    /// A function's limits, each in error named by its key.
    fn limits(&self, key: &str, raw: &RawFunction) -> Result<Limits, ConfigError> {
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
        Ok(Limits {
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
            grants: std::sync::Arc::default(),
        })
    }
}
