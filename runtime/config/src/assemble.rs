//! The whole config from its sections. Each section, function and binding
//! is validated on its own and an error in one does not stop the others,
//! so a config with several mistakes is reported in one go; a value in
//! error stands in as its default meanwhile, so no error follows from
//! another.

use super::bindings::Declared;
use super::raw::{RawAdmin, RawFleet, RawFunction, RawServer, SECTIONS};
use super::{Config, ConfigError, FunctionConfig, MAX_WORKERS, Setups, Validator};
use fenn_runtime::trigger::{Common, FunctionInfo, KeyError, Table, Tables};
use fenn_runtime::units;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What `[server]` gives every trigger.
struct Server {
    shutdown_grace: Duration,
    guest_memory: usize,
    workers: usize,
}

impl Validator<'_> {
    /// The validated config, or every error found.
    pub(crate) fn config(&self, root: &Table) -> Result<Config, Vec<ConfigError>> {
        self.sections(root);
        let empty = Table::new();
        let server_table = self.table(root, "server").unwrap_or(&empty);
        let raw_server: RawServer = self.common(server_table, "server").unwrap_or_default();
        let admin: Option<RawAdmin> = self
            .table(root, "admin")
            .and_then(|table| self.common(table, "admin"));
        let fleet: Option<RawFleet> = self
            .table(root, "fleet")
            .and_then(|table| self.common(table, "fleet"));
        let raw_functions = self.array_tables(root, "function");
        let raw_flows = self.array_tables(root, "flow");
        let state_dir = raw_server
            .state_dir
            .as_ref()
            .map(|dir| self.base().join(dir))
            .or_else(|| std::env::var_os("STATE_DIRECTORY").map(PathBuf::from));
        // The triggers' errors come first: the gateway's keys of
        // `[server]` are read there, and are reported before the others.
        let mut kind_errors = Vec::new();
        let common_errors = self.errors.take();
        let server = self.server(&raw_server);
        let server_errors = self.errors.take();
        let common = Common {
            config_dir: self.base(),
            state_dir: state_dir.as_deref(),
            shutdown_grace: server.shutdown_grace,
        };
        let tables = Tables {
            sections: root,
            server: server_table,
            common: &common,
        };
        let setups = Setups::read(self.registry, &tables, &mut kind_errors);
        for error in common_errors {
            self.report(error);
        }
        for KeyError { key, reason } in kind_errors {
            self.report(self.error(key, reason));
        }
        for error in server_errors {
            self.report(error);
        }
        // An `[admin]` or a `function` key in error has its own message.
        let listed = matches!(root.get("function"), None | Some(Value::Array(_)));
        if raw_functions.is_empty() && listed && !root.contains_key("admin") {
            self.report(self.error("function", "no [[function]] is declared"));
        }
        let (functions, flows) = self.functions(&raw_functions, &raw_flows, &setups);
        let admin = admin
            .as_ref()
            .and_then(|admin| self.keep(self.admin(admin, state_dir.as_deref())));
        let fleet = fleet
            .as_ref()
            .and_then(|fleet| self.keep(self.fleet(fleet, admin.is_some())));
        let errors = self.errors.take();
        if !errors.is_empty() {
            return Err(errors);
        };
        Ok(Config {
            file: self.file.to_owned(),
            workers: server.workers,
            guest_memory: server.guest_memory,
            functions,
            flows,
            state_dir,
            setups: Arc::new(setups),
            admin,
            fleet,
        })
    }

    /// The folder relative paths start from.
    pub(crate) fn base(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    /// Records `error` and goes on.
    pub(crate) fn report(&self, error: ConfigError) {
        self.errors.borrow_mut().push(error);
    }

    /// The value, or None with its error recorded.
    pub(crate) fn keep<T>(&self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|error| self.report(error)).ok()
    }

    /// Refuses a top-level key that neither fenn nor a trigger owns.
    fn sections(&self, root: &Table) {
        let owned = self
            .registry
            .kinds
            .iter()
            .flat_map(|kind| kind.sections())
            .copied();
        let known: Vec<&str> = SECTIONS.iter().copied().chain(owned).collect();
        for key in root.keys().filter(|key| !known.contains(&key.as_str())) {
            let expected = known.join("`, `");
            self.report(self.error(
                key.as_str(),
                format!("unknown section `{key}`, expected one of `{expected}`"),
            ));
        }
    }

    /// The table at `key`, if there is one; another value is refused.
    fn table<'t>(&self, root: &'t Table, key: &str) -> Option<&'t Table> {
        match root.get(key)? {
            Value::Object(table) => Some(table),
            _ => {
                self.report(self.error(key, "invalid type: expected a table"));
                None
            }
        }
    }

    /// fenn's own keys of `table` as `T`: the keys a trigger owns are
    /// left to it, any other is refused as unknown.
    fn common<T: serde::de::DeserializeOwned>(&self, table: &Table, key: &str) -> Option<T> {
        let claimed: Vec<&str> = match key {
            "server" => self
                .registry
                .kinds
                .iter()
                .flat_map(|kind| kind.server_keys())
                .copied()
                .collect(),
            _ => Vec::new(),
        };
        let own: Table = table
            .iter()
            .filter(|(name, _)| !claimed.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        self.keep(self.parse(key, Value::Object(own)))
    }

    /// Reads `value` as `T`, an error naming the key within it.
    pub(crate) fn parse<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        value: Value,
    ) -> Result<T, ConfigError> {
        serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            let key = match path.as_str() {
                "." => key.to_owned(),
                path => format!("{key}.{path}"),
            };
            self.error(key, error.into_inner().to_string())
        })
    }

    /// The tables of `[[function]]` or `[[flow]]`.
    fn array_tables<'t>(&self, root: &'t Table, section: &str) -> Vec<&'t Table> {
        match root.get(section) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| match item {
                    Value::Object(table) => Some(table),
                    _ => {
                        let key = format!("{section}[{index}]");
                        self.report(self.error(key, "invalid type: expected a table"));
                        None
                    }
                })
                .collect(),
            Some(_) => {
                self.report(self.error(section, "invalid type: expected an array of tables"));
                Vec::new()
            }
        }
    }

    fn server(&self, server: &RawServer) -> Server {
        let shutdown_grace = match &server.shutdown_grace {
            Some(text) => self
                .keep(
                    units::duration(text)
                        .map_err(|reason| self.error("server.shutdown_grace", reason)),
                )
                .unwrap_or(DEFAULT_GRACE),
            None => DEFAULT_GRACE,
        };
        let guest_memory = self
            .keep(self.size(
                "server.guest_memory",
                &server.guest_memory,
                fenn_runtime::limits::DEFAULT_GUEST_MEMORY,
            ))
            .unwrap_or(fenn_runtime::limits::DEFAULT_GUEST_MEMORY);
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let workers = self
            .keep(self.count("server.workers", server.workers, cores, MAX_WORKERS))
            .unwrap_or(cores);
        Server {
            shutdown_grace,
            guest_memory,
            workers,
        }
    }

    /// Every function and flow and their bindings, and the check that no
    /// two bindings collide.
    fn functions(
        &self,
        tables: &[&Table],
        flow_tables: &[&Table],
        setups: &Setups,
    ) -> (Vec<FunctionConfig>, Vec<super::FlowConfig>) {
        let mut functions = Vec::new();
        let mut declared = Declared::default();
        let mut names: Vec<Option<String>> = Vec::new();
        for (index, table) in tables.iter().enumerate() {
            let key = format!("function[{index}]");
            let name = table.get("name").and_then(Value::as_str).map(str::to_owned);
            if name.is_some() && names.contains(&name) {
                let name = name.clone().unwrap_or_default();
                self.report(
                    self.error(format!("{key}.name"), format!("'{name}' is declared twice")),
                );
            }
            names.push(name);
            if let Some(function) = self.function_entry(&key, table, setups, &mut declared) {
                functions.push(function);
            }
        }
        let flows = self.flows(flow_tables, setups, &mut declared, &mut names);
        self.collisions(&declared, setups);
        (functions, flows)
    }

    /// One function from its table, with its bindings; a function in
    /// error still has its bindings checked, against the default limits.
    pub(crate) fn function_entry(
        &self,
        key: &str,
        table: &Table,
        setups: &Setups,
        declared: &mut Declared,
    ) -> Option<FunctionConfig> {
        let kinds: Vec<&str> = setups.iter().map(|setup| setup.kind()).collect();
        let own: Table = table
            .iter()
            .filter(|(name, _)| !kinds.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let raw: RawFunction = self.keep(self.parse(key, Value::Object(own)))?;
        let parsed = self.keep(self.function(key, &raw));
        let defaults = fenn_runtime::Limits::default();
        let info = FunctionInfo {
            name: &raw.name,
            limits: parsed.as_ref().map_or(&defaults, |parsed| &parsed.limits),
            apps: &raw.apps,
        };
        let (set, keys) = self.bindings(key, table, &info, parsed.is_some(), setups)?;
        let mut function = parsed?;
        declared.add(&set, &keys);
        function.bindings = set;
        Some(function)
    }
}

/// `server.shutdown_grace` unless set.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::path::Path;

    #[test]
    fn every_error_in_a_config_is_reported_at_once() {
        let text = r#"
            [server]
            listen = "nowhere"
            workers = 0

            [[function]]
            name = "hello"
            module = "example:hello"
            timeout = "2x"
              [[function.cron]]
              name = "tick"
              schedule = "0 25 * * *"
              [[function.mqtt]]
              topic = "a/b"

            [[function]]
            name = "hello"
            module = "example:bogus"
        "#;
        let errors = Config::parse(Path::new("fenn.toml"), text, crate::TEST_REGISTRY).unwrap_err();
        let keys: Vec<&str> = errors.0.iter().map(|error| error.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.listen",
                "server.workers",
                "function[0].timeout",
                "function[0].mqtt[0]",
                "function[0].cron[0].schedule",
                "function[1].name",
                "function[1].module",
            ]
        );
        let text = errors.to_string();
        assert_eq!(text.lines().count(), 7, "{text}");
        assert!(
            text.starts_with("fenn.toml: server.listen: 'nowhere'"),
            "{text}"
        );
    }

    #[test]
    fn replies_that_feed_each_other_across_functions_are_refused_naming_the_loop() {
        let text = r#"
            [mqtt]
            url = "mqtt://127.0.0.1:1883"

            [[function]]
            name = "logger"
            module = "example:echo"
              [[function.mqtt]]
              topic = "logs/#"

            [[function]]
            name = "ping"
            module = "example:echo"
              [[function.mqtt]]
              topic = "atk/pa/{x}"
              reply = "atk/pb/{x}"

            [[function]]
            name = "pong"
            module = "example:echo"
              [[function.mqtt]]
              topic = "atk/pb/{x}"
              reply = "atk/pa/{x}"
        "#;
        let errors = Config::parse(Path::new("fenn.toml"), text, crate::TEST_REGISTRY).unwrap_err();
        assert_eq!(
            errors.to_string().trim(),
            "fenn.toml: function[1].mqtt[0].reply: mqtt loop: ping (atk/pa/{x}) -> pong (atk/pb/{x}) -> ping (atk/pa/{x})"
        );
        let chain = text.replace("reply = \"atk/pa/{x}\"", "reply = \"logs/{x}\"");
        assert!(Config::parse(Path::new("fenn.toml"), &chain, crate::TEST_REGISTRY).is_ok());
    }

    #[test]
    fn the_embedded_broker_listens_on_loopback_only() {
        let config = |url: &str| {
            format!(
                "[mqtt]\nurl = \"{url}\"\nembedded = true\n[[function]]\nname = \"hello\"\nmodule = \"example:hello\"\n"
            )
        };
        for url in ["mqtt://127.0.0.1:1883", "mqtt://[::1]:1883"] {
            let parsed =
                Config::parse(Path::new("fenn.toml"), &config(url), crate::TEST_REGISTRY).unwrap();
            let mqtt: &fenn_mqtt::kind::MqttSetup = parsed.setups.get().unwrap();
            assert!(mqtt.embedded().is_some(), "{url}");
        }
        let errors = Config::parse(
            Path::new("fenn.toml"),
            &config("mqtt://0.0.0.0:1883"),
            crate::TEST_REGISTRY,
        )
        .unwrap_err();
        let text = errors.to_string();
        assert!(
            text.contains(
                "mqtt.embedded: the embedded broker is for trying fenn and listens on loopback only"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_value_in_error_does_not_make_errors_of_its_own() {
        // Were the bad buffer_memory's default (64 MiB) checked against,
        // max_body and max_response would be reported too.
        let text = r#"
            [server]
            buffer_memory = "lots"
            max_body = "100MiB"

            [[function]]
            name = "hello"
            module = "example:hello"
            max_response = "100MiB"
              [[function.http]]
              route = "/hello"
        "#;
        let errors = Config::parse(Path::new("fenn.toml"), text, crate::TEST_REGISTRY).unwrap_err();
        let keys: Vec<&str> = errors.0.iter().map(|error| error.key.as_str()).collect();
        assert_eq!(keys, ["server.buffer_memory"]);
    }
}
