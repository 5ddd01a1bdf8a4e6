//! [`Reader`]: reads the gateway's config keys, recording every error
//! found and going on, so that a config with several mistakes is reported
//! in one go; a value in error stands in as its default meanwhile.

use fenn_runtime::trigger::{KeyError, Table};
use fenn_runtime::units;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::cell::RefCell;
use std::path::Path;

/// Reads keys of the config, keeping the errors it finds.
#[derive(Debug)]
pub(super) struct Reader<'a> {
    /// The folder of the config file: relative paths start here.
    pub(super) config_dir: &'a Path,
    errors: RefCell<Vec<KeyError>>,
}

impl<'a> Reader<'a> {
    /// A reader of the config in `config_dir`.
    pub(super) fn new(config_dir: &'a Path) -> Self {
        Self {
            config_dir,
            errors: RefCell::default(),
        }
    }

    /// The errors found.
    pub(super) fn into_errors(self) -> Vec<KeyError> {
        self.errors.into_inner()
    }

    /// `key` is refused for `reason`.
    pub(super) fn error(&self, key: impl Into<String>, reason: impl Into<String>) -> KeyError {
        KeyError::new(key, reason)
    }

    /// Records `error` and goes on.
    pub(super) fn report(&self, error: KeyError) {
        self.errors.borrow_mut().push(error);
    }

    /// The value, or None with its error recorded.
    pub(super) fn keep<T>(&self, result: Result<T, KeyError>) -> Option<T> {
        result.map_err(|error| self.report(error)).ok()
    }

    /// A size such as `64KiB`, or `default` when absent.
    pub(super) fn size(
        &self,
        key: &str,
        value: Option<&String>,
        default: usize,
    ) -> Result<usize, KeyError> {
        match value {
            Some(text) => units::size(text).map_err(|reason| self.error(key, reason)),
            None => Ok(default),
        }
    }

    /// A count from 1 to `most`, or `default` when absent.
    pub(super) fn count(
        &self,
        key: &str,
        value: Option<usize>,
        default: usize,
        most: usize,
    ) -> Result<usize, KeyError> {
        fenn_runtime::units::count(value, default, most).map_err(|reason| self.error(key, reason))
    }

    /// Names of apps: they appear in logs and in events, so letters,
    /// digits, `-`, `_` and `.` only.
    pub(super) fn name(&self, key: &str, name: &str) -> Result<(), KeyError> {
        match fenn_runtime::trigger::name_refused(name) {
            None => Ok(()),
            Some(reason) => Err(self.error(format!("{key}.name"), reason)),
        }
    }

    /// Reads the table `table`, keyed `key`, as `T`. A key in error (an
    /// unknown one, or one of the wrong type) is reported naming its path
    /// and left out, and the rest is read without it. Gives what was read
    /// (None when the table cannot be read at all) and the keys left out.
    pub(super) fn table<T: DeserializeOwned>(
        &self,
        key: &str,
        table: &Table,
    ) -> (Option<T>, Vec<String>) {
        let mut table = table.clone();
        let mut refused = Vec::new();
        loop {
            let error = match serde_path_to_error::deserialize(Value::Object(table.clone())) {
                Ok(value) => return (Some(value), refused),
                Err(error) => error,
            };
            let first = match error.path().iter().next() {
                Some(serde_path_to_error::Segment::Map { key }) => Some(key.clone()),
                _ => None,
            };
            self.report(self.error(
                under(key, &error.path().to_string()),
                error.into_inner().to_string(),
            ));
            match first {
                Some(first) if table.remove(&first).is_some() => refused.push(first),
                _ => return (None, refused),
            }
        }
    }

    /// Reads `value`, keyed `key`, as `T`; None with the error recorded,
    /// naming the path within it.
    pub(super) fn value<T: DeserializeOwned>(&self, key: &str, value: &Value) -> Option<T> {
        let read = serde_path_to_error::deserialize(value).map_err(|error| {
            self.error(
                under(key, &error.path().to_string()),
                error.into_inner().to_string(),
            )
        });
        self.keep(read)
    }
}

/// `path` (`allow`, `[0].name`, `.` for the whole) under `key`.
fn under(key: &str, path: &str) -> String {
    match path {
        "." | "" => key.to_owned(),
        path if path.starts_with('[') => format!("{key}{path}"),
        path => format!("{key}.{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_keyed_under_its_table() {
        assert_eq!(under("gateway", "."), "gateway");
        assert_eq!(under("app", "[0].name"), "app[0].name");
        assert_eq!(under("gateway", "jwt.issuer"), "gateway.jwt.issuer");
    }
}
