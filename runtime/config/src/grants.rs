//! A function's grants: its variables and secrets, its key-value store, the
//! topics it may publish to and the functions it may emit to, each in
//! error named by its key.

use super::raw::{RawFunction, RawKv, RawSecret};
use super::{ConfigError, Validator};
use fenn_runtime::grants::{self, Grants, KvGrant, Var};
use fenn_runtime::{files, units};
use std::path::Path;

/// The largest value a store may be set to allow.
const MAX_VALUE_CAP: usize = 1 << 20;
/// The most topic filters or functions a grant may list.
const MAX_LISTED: usize = 64;

impl Validator<'_> {
    pub(crate) fn grants(&self, key: &str, raw: &RawFunction) -> Result<Grants, ConfigError> {
        let mut vars = std::collections::BTreeMap::new();
        if raw.vars.len() + raw.secrets.len() > grants::MAX_VARS {
            let reason = format!("at most {} variables and secrets", grants::MAX_VARS);
            return Err(self.error(format!("{key}.vars"), reason));
        }
        for (name, value) in &raw.vars {
            let at = format!("{key}.vars.{name}");
            self.var_name(&at, name)?;
            self.var_size(&at, value.len())?;
            let var = Var {
                value: value.as_str().into(),
                secret: false,
            };
            vars.insert(name.clone(), var);
        }
        for (name, source) in &raw.secrets {
            let at = format!("{key}.secrets.{name}");
            self.var_name(&at, name)?;
            if vars.contains_key(name) {
                return Err(self.error(at, "is a variable's name too"));
            }
            let value = self.secret(&at, source)?;
            self.var_size(&at, value.len())?;
            let var = Var {
                value: value.into(),
                secret: true,
            };
            vars.insert(name.clone(), var);
        }
        Ok(Grants {
            vars,
            kv: self.kv(key, &raw.name, raw.kv.as_ref())?,
            publish: self.publish(key, &raw.name, &raw.publish)?,
            emit: self.emit(key, &raw.emit)?,
        })
    }

    fn var_name(&self, at: &str, name: &str) -> Result<(), ConfigError> {
        let fits = !name.is_empty()
            && name.len() <= 128
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if fits {
            Ok(())
        } else {
            Err(self.error(at, "names are letters, digits and _, at most 128"))
        }
    }

    fn var_size(&self, at: &str, bytes: usize) -> Result<(), ConfigError> {
        if bytes > grants::MAX_VAR_BYTES {
            let reason = format!("{bytes} bytes, over the most of {}", grants::MAX_VAR_BYTES);
            return Err(self.error(at, reason));
        }
        Ok(())
    }

    fn secret(&self, at: &str, source: &RawSecret) -> Result<String, ConfigError> {
        match (&source.env, &source.file) {
            (Some(variable), None) => std::env::var(variable).map_err(|_| {
                self.error(
                    at,
                    format!("the environment variable {variable} is not set"),
                )
            }),
            (None, Some(file)) => {
                let base = self.file.parent().unwrap_or(Path::new("."));
                let path = base.join(file);
                files::private_to_owner(&path).map_err(|reason| self.error(at, reason))?;
                let bytes = files::read(
                    &path,
                    grants::MAX_VAR_BYTES as u64,
                    "the most a secret may be",
                )
                .map_err(|reason| self.error(at, reason))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| self.error(at, "the secret's file is not UTF-8 text"))?;
                Ok(text.trim_end_matches(['\n', '\r']).to_owned())
            }
            _ => Err(self.error(at, "give either env or file")),
        }
    }

    fn kv(
        &self,
        key: &str,
        function: &str,
        raw: Option<&RawKv>,
    ) -> Result<Option<KvGrant>, ConfigError> {
        let at = format!("{key}.kv");
        let settings = match raw {
            None | Some(RawKv::On(false)) => return Ok(None),
            Some(RawKv::On(true)) => return Ok(Some(KvGrant::own(function))),
            Some(RawKv::Settings(settings)) => settings,
        };
        let mut grant = KvGrant::own(function);
        if let Some(store) = &settings.store {
            if let Some(reason) = fenn_runtime::trigger::name_refused(store) {
                return Err(self.error(format!("{at}.store"), reason));
            }
            grant.store = format!("shared:{store}").into();
        }
        if let Some(keys) = settings.max_keys {
            grant.max_keys = keys.max(1);
        }
        let size = |field: &str, text: &Option<String>| -> Result<Option<usize>, ConfigError> {
            text.as_deref()
                .map(units::size)
                .transpose()
                .map_err(|reason| self.error(format!("{at}.{field}"), reason))
        };
        if let Some(bytes) = size("max_bytes", &settings.max_bytes)? {
            grant.max_bytes = bytes as u64;
        }
        if let Some(bytes) = size("max_value", &settings.max_value)? {
            if bytes > MAX_VALUE_CAP {
                let reason = format!("{bytes} bytes, over the most fenn allows, {MAX_VALUE_CAP}");
                return Err(self.error(format!("{at}.max_value"), reason));
            }
            grant.max_value = bytes;
        }
        Ok(Some(grant))
    }

    fn publish(
        &self,
        key: &str,
        function: &str,
        filters: &[String],
    ) -> Result<Vec<String>, ConfigError> {
        let at = format!("{key}.publish");
        if filters.len() > MAX_LISTED {
            return Err(self.error(at, format!("at most {MAX_LISTED} topic filters")));
        }
        let device = device_name();
        filters
            .iter()
            .map(|filter| {
                let filter = filter
                    .replace("{function}", function)
                    .replace("{device}", &device);
                let levels: Vec<&str> = filter.split('/').collect();
                let wildcards_fit = levels.iter().enumerate().all(|(i, level)| {
                    (*level == "#" && i == levels.len() - 1)
                        || *level == "+"
                        || !level.contains(['+', '#'])
                });
                if filter.is_empty() || filter.contains(['{', '}', '\0']) || !wildcards_fit {
                    let reason = format!("'{filter}' is not an MQTT topic filter");
                    return Err(self.error(at.clone(), reason));
                }
                Ok(filter)
            })
            .collect()
    }

    fn emit(&self, key: &str, functions: &[String]) -> Result<Vec<String>, ConfigError> {
        let at = format!("{key}.emit");
        if functions.len() > MAX_LISTED {
            return Err(self.error(at, format!("at most {MAX_LISTED} functions")));
        }
        for function in functions {
            if let Some(reason) = fenn_runtime::trigger::name_refused(function) {
                return Err(self.error(at, format!("'{function}': {reason}")));
            }
        }
        Ok(functions.to_vec())
    }
}

/// The device's host name, for `{device}` in topic filters.
pub(crate) fn device_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty() && !name.contains(['+', '#', '/']))
        .unwrap_or_else(|| "localhost".into())
}
